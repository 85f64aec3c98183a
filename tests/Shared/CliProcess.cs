using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LongRopeGguf.Tests;

/// <summary>What a finished `longrope` process printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// Runs the real `longrope` command as a child process: the build of src/LongRopeGguf.Cli that this test project
/// references is copied next to the tests (longrope.dll with its runtimeconfig and deps files) and started with the
/// same dotnet host that runs the tests. Only test projects that reference src/LongRopeGguf.Cli have longrope.dll.
/// With LONGROPE_CLI set to an executable (tools/test.sh sets it to the Native AOT build of tools/publish.sh), that
/// executable is run instead, so the same tests hold the published native command to the same contract.
/// </summary>
public static partial class CliProcess
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "longrope.dll");

    private static string Host => TestPaths.DotnetHost;

    /// <summary>The executable given in LONGROPE_CLI, if any (see the class summary).</summary>
    public static string? NativeExecutable => Environment.GetEnvironmentVariable("LONGROPE_CLI") is { Length: > 0 } e ? Path.GetFullPath(e) : null;

    /// <summary>The program and leading arguments that start longrope: the native executable, or the host and longrope.dll.</summary>
    public static IReadOnlyList<string> CommandPrefix => NativeExecutable is { } exe ? [exe] : [Host, Dll];

    /// <summary>A POSIX shell command line that starts longrope with <paramref name="args"/> (for `script` and tmux).</summary>
    public static string ShellCommandLine(params string[] args) => string.Join(' ', CommandPrefix.Concat(args).Select(ShellQuote));

    /// <summary>Single-quotes <paramref name="s"/> for a POSIX shell.</summary>
    public static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    public static ProcessStartInfo StartInfo(params string[] args) => StartInfo(null, args);

    /// <summary>Start info with <paramref name="environment"/> applied over this process's (a null value removes the variable).</summary>
    public static ProcessStartInfo StartInfo(IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo(CommandPrefix[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in CommandPrefix.Skip(1)) psi.ArgumentList.Add(a);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
        {
            if (v is null) psi.Environment.Remove(k);
            else psi.Environment[k] = v;
        }
        return psi;
    }

    public static CliResult Run(params string[] args) => RunWith(null, Timeout, args);

    /// <summary>Runs longrope with <paramref name="environment"/> applied (see <see cref="StartInfo(IReadOnlyDictionary{string, string?}?, string[])"/>), killing it after <paramref name="timeout"/>.</summary>
    public static CliResult RunWith(IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout, params string[] args)
    {
        using var p = Start(StartInfo(environment, args));
        return Finish(p, timeout);
    }

    /// <summary>As <see cref="RunWith"/>, in <paramref name="workingDirectory"/>.</summary>
    public static CliResult RunIn(string workingDirectory, IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout, params string[] args)
    {
        var psi = StartInfo(environment, args);
        psi.WorkingDirectory = workingDirectory;
        using var p = Start(psi);
        return Finish(p, timeout);
    }

    /// <summary>
    /// Runs longrope as a user whom file permissions bind: as root, with the capabilities that let root past them
    /// (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) dropped by util-linux's setpriv; as anyone else, as it is.
    /// </summary>
    public static CliResult RunUnprivileged(params string[] args)
    {
        var psi = StartInfo(null, args);
        if (Environment.IsPrivilegedProcess)
        {
            string[] command = [psi.FileName, .. psi.ArgumentList];
            psi.FileName = "setpriv";
            psi.ArgumentList.Clear();
            // From the inheritable and ambient sets too: where a container leaves them filled, root would keep the capabilities.
            foreach (string a in (string[])["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--", .. command]) psi.ArgumentList.Add(a);
        }
        using var p = Start(psi);
        return Finish(p, Timeout);
    }

    /// <summary>Starts the process with its output being collected; finish it with <see cref="Finish"/>.</summary>
    public static RunningCli Start(params string[] args) => Start(StartInfo(args));

    /// <summary>As <see cref="Start(string[])"/>, with <paramref name="environment"/> applied.</summary>
    public static RunningCli StartWith(IReadOnlyDictionary<string, string?>? environment, params string[] args) => Start(StartInfo(environment, args));

    /// <summary>As <see cref="StartWith"/>, with <paramref name="input"/> on standard input (then closed).</summary>
    public static RunningCli StartWithInput(IReadOnlyDictionary<string, string?>? environment, string input, params string[] args) =>
        Start(StartInfo(environment, args), input);

    /// <summary>As <see cref="RunWith"/>, with <paramref name="input"/> on standard input (then closed).</summary>
    public static CliResult RunWithInput(IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout, string input, params string[] args)
    {
        using var p = Start(StartInfo(environment, args), input);
        return Finish(p, timeout);
    }

    private static RunningCli Start(ProcessStartInfo psi, string? input = null)
    {
        var p = Process.Start(psi)!;
        var running = new RunningCli(p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
        if (input is not null) p.StandardInput.Write(input);
        p.StandardInput.Close();
        return running;
    }

    public static CliResult Finish(RunningCli running) => Finish(running, Timeout);

    public static CliResult Finish(RunningCli running, TimeSpan timeout)
    {
        if (!running.Process.WaitForExit(timeout))
        {
            running.Process.Kill(entireProcessTree: true);
            throw new TimeoutException($"longrope did not finish within {timeout.TotalSeconds} s");
        }
        return new CliResult(running.Process.ExitCode, running.Stdout.Result, running.Stderr.Result);
    }

    /// <summary>Sends a POSIX signal (2 SIGINT, 3 SIGQUIT, 9 SIGKILL, 15 SIGTERM).</summary>
    public static void Signal(Process process, int signal)
    {
        if (kill(process.Id, signal) != 0) throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGTERM = 15;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}

public sealed record RunningCli(Process Process, Task<string> Stdout, Task<string> Stderr) : IDisposable
{
    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.Dispose();
    }
}
