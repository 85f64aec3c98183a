using System.Diagnostics;

namespace LongRopeGguf.Runtime.Tests.Cli;

/// <summary>Runs the built `longrope` command as a separate process, as a user would, with its own cache folder.</summary>
public sealed class CliProcess : IDisposable
{
    private readonly LongRopeGguf.Tests.TempDir _home = new();

    /// <summary>The folder given as XDG_CACHE_HOME: llama.cpp's log lands in longrope/llama.log under it.</summary>
    public string CacheHome => _home.Path;

    public string DefaultLogFile => Path.Combine(CacheHome, "longrope", "llama.log");

    public string File(string name) => _home.File(name);

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "longrope.dll");

    /// <summary>The shell command line that starts longrope with this process's environment (for tmux).</summary>
    public string ShellCommand(params string[] args) =>
        $"env -u {NativeRuntime.NativeLibEnvironmentVariable} XDG_CACHE_HOME={Quote(CacheHome)} dotnet {Quote(Dll)} {string.Join(' ', args.Select(Quote))}";

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    public (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["XDG_CACHE_HOME"] = CacheHome;
        psi.Environment.Remove(NativeRuntime.NativeLibEnvironmentVariable);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"longrope {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public void Dispose() => _home.Dispose();
}
