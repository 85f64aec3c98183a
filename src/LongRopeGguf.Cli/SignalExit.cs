using System.Runtime.InteropServices;

namespace LongRopeGguf.Cli;

/// <summary>
/// Ends a run that a signal stopped by that signal, once its cleanup is done: the process dies of SIGINT (SIGTERM,
/// SIGHUP, SIGQUIT) instead of exiting 130 (143, 129, 131). The status reads the same ($? is 128 + the signal), but a
/// shell running a script stops the script only when its child died of SIGINT: exiting 130 says "I handled Ctrl-C", and
/// a loop over models went on to the next one after Ctrl-C.
/// </summary>
public static partial class SignalExit
{
    /// <summary>Bit n set: signal n was received (a chat may see a Ctrl-C that stops one reply, then a SIGTERM).</summary>
    private static int s_received;

    /// <summary>A signal that stopped (or will stop) the work in progress.</summary>
    public static void Record(PosixSignal signal)
    {
        if (Number(signal) is int n) Interlocked.Or(ref s_received, 1 << n);
    }

    /// <summary>The exit status for a run stopped by <paramref name="signal"/>: 128 + its number.</summary>
    public static int ExitCode(PosixSignal signal) => 128 + (Number(signal) ?? 2);

    /// <summary>
    /// Called last in Main with the run's exit code: when the run ended because of a recorded signal (its code is
    /// 128 + that signal), standard output and error are flushed and the signal is raised again with its default
    /// action, which ends the process. Otherwise (or where that cannot be done) the code is returned.
    /// </summary>
    public static int Finish(int exitCode) => Finish(exitCode, flushConsole: true);

    private static int Finish(int exitCode, bool flushConsole)
    {
        int signal = exitCode - 128;
        if (signal is < 1 or > 15 || (Volatile.Read(ref s_received) & (1 << signal)) == 0 || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return exitCode;
        Gguf.ScratchFiles.DeleteAll(); // what ProcessExit would have done: a process killed by a signal runs no handlers
        if (flushConsole)
        {
            // The terminal may be gone (SIGHUP: writes fail with EIO) or a reader may have stopped: nothing to save.
            try { Console.Out.Flush(); } catch (IOException) { }
            try { Console.Error.Flush(); } catch (IOException) { }
        }
        try
        {
            signal_default(signal, IntPtr.Zero); // SIG_DFL
            kill(getpid(), signal);
            Thread.Sleep(1000); // delivered at once; this only covers a signal that is blocked
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        return exitCode;
    }

    /// <summary>Ends the process now, by <paramref name="signal"/>'s default action, after saying why and deleting the
    /// temporary files of writes in flight: for a run that did not stop in time after the signal.</summary>
    /// <remarks>Runs on a timer thread while the main thread may be blocked inside a console write (a full pipe), which
    /// holds the console's lock: the message goes straight to file descriptor 2, errors ignored, and nothing is flushed.</remarks>
    public static void Now(PosixSignal signal, string message)
    {
        Record(signal);
        int code = ExitCode(signal);
        Gguf.ScratchFiles.DeleteAll();
        try
        {
            byte[] line = System.Text.Encoding.UTF8.GetBytes(message + "\n");
            _ = write(2, line, line.Length);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        Finish(code, flushConsole: false);
        Environment.Exit(code); // where the signal could not be raised again
    }

    /// <summary>Linux and macOS number these four alike.</summary>
    private static int? Number(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGQUIT => 3,
        PosixSignal.SIGTERM => 15,
        _ => null,
    };

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial IntPtr signal_default(int signal, IntPtr handler);

    [LibraryImport("libc")]
    private static partial int kill(int pid, int signal);

    [LibraryImport("libc")]
    private static partial int getpid();

    [LibraryImport("libc")]
    private static partial nint write(int fd, byte[] buffer, nint count);
}
