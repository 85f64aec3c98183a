using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LongRopeGguf.Cli.Tests;

/// <summary>What a finished `longrope` process printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// Runs the real `longrope` command as a child process: the build of src/LongRopeGguf.Cli that this test project
/// references is copied next to the tests (longrope.dll with its runtimeconfig and deps files) and started with the
/// same dotnet host that runs the tests.
/// </summary>
public static partial class CliProcess
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "longrope.dll");

    private static string Host => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";

    public static ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = new ProcessStartInfo(Host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Dll);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        return psi;
    }

    public static CliResult Run(params string[] args)
    {
        using var p = Start(args);
        return Finish(p);
    }

    /// <summary>Starts the process with its output being collected; finish it with <see cref="Finish"/>.</summary>
    public static RunningCli Start(params string[] args)
    {
        var p = Process.Start(StartInfo(args))!;
        p.StandardInput.Close();
        return new RunningCli(p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
    }

    public static CliResult Finish(RunningCli running)
    {
        if (!running.Process.WaitForExit(Timeout))
        {
            running.Process.Kill(entireProcessTree: true);
            throw new TimeoutException($"longrope did not finish within {Timeout.TotalSeconds} s");
        }
        return new CliResult(running.Process.ExitCode, running.Stdout.Result, running.Stderr.Result);
    }

    /// <summary>Sends a POSIX signal (2 SIGINT, 9 SIGKILL, 15 SIGTERM).</summary>
    public static void Signal(Process process, int signal)
    {
        if (kill(process.Id, signal) != 0) throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public const int SIGINT = 2, SIGKILL = 9, SIGTERM = 15;

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
