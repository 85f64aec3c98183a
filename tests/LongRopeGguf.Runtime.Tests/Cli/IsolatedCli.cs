namespace LongRopeGguf.Runtime.Tests.Cli;

/// <summary>
/// Runs the built `longrope` command through the shared <see cref="LongRopeGguf.Tests.CliProcess"/>, as a user would,
/// with its own cache folder (where llama.cpp's log lands) and without LONGROPE_NATIVE_LIB from the test environment.
/// </summary>
public sealed class IsolatedCli : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(3);

    private readonly LongRopeGguf.Tests.TempDir _home = new();

    /// <summary>The folder given as XDG_CACHE_HOME: llama.cpp's log lands in longrope/llama.log under it.</summary>
    public string CacheHome => _home.Path;

    public string DefaultLogFile => Path.Combine(CacheHome, "longrope", "llama.log");

    public string File(string name) => _home.File(name);

    /// <summary>The shell command line that starts longrope with this process's environment (for tmux).</summary>
    public string ShellCommand(params string[] args) =>
        $"env -u {NativeRuntime.NativeLibEnvironmentVariable} XDG_CACHE_HOME={LongRopeGguf.Tests.CliProcess.ShellQuote(CacheHome)} {LongRopeGguf.Tests.CliProcess.ShellCommandLine(args)}";

    public LongRopeGguf.Tests.CliResult Run(params string[] args) => RunWith(null, args);

    public LongRopeGguf.Tests.CliResult RunWith(IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        LongRopeGguf.Tests.CliProcess.RunWith(Environment(environment), s_timeout, args);

    /// <summary>Starts longrope (to signal it); finish it with <see cref="LongRopeGguf.Tests.CliProcess.Finish(LongRopeGguf.Tests.RunningCli)"/>.</summary>
    public LongRopeGguf.Tests.RunningCli Start(params string[] args) => LongRopeGguf.Tests.CliProcess.StartWith(Environment(null), args);

    /// <summary>Starts longrope with <paramref name="input"/> on its standard input, then closed (a piped chat to interrupt).</summary>
    public LongRopeGguf.Tests.RunningCli StartWithInput(string input, params string[] args) =>
        StartWithInput(null, input, args);

    /// <summary>The same, with <paramref name="environment"/> added to the isolated one.</summary>
    public LongRopeGguf.Tests.RunningCli StartWithInput(IReadOnlyDictionary<string, string>? environment, string input, params string[] args) =>
        LongRopeGguf.Tests.CliProcess.StartWithInput(Environment(environment), input, args);

    /// <summary>Runs longrope with <paramref name="input"/> on its standard input (a piped chat).</summary>
    public LongRopeGguf.Tests.CliResult RunWithInput(string input, params string[] args) =>
        LongRopeGguf.Tests.CliProcess.RunWithInput(Environment(null), s_timeout, input, args);

    private Dictionary<string, string?> Environment(IReadOnlyDictionary<string, string>? extra)
    {
        var env = new Dictionary<string, string?>
        {
            ["XDG_CACHE_HOME"] = CacheHome,
            [NativeRuntime.NativeLibEnvironmentVariable] = null,
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) env[k] = v;
        return env;
    }

    public void Dispose() => _home.Dispose();
}
