using System.Runtime.InteropServices;

namespace LongRopeGguf.Cli;

/// <summary>
/// Turns SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGQUIT into cancellation while a long write runs, so that the writer stops at its next
/// chunk, deletes its temporary file and leaves the target untouched.
/// </summary>
/// <remarks>
/// System.CommandLine's own handler is not enough here: it is attached only to actions that return an unfinished
/// task, and after its 2-second grace period it lets Main return while the write may still be running, which would
/// end the process before the temporary file is removed. With this registration the process waits for the writer
/// to unwind however long the current chunk takes.
/// </remarks>
public sealed class TerminationSignals : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _received;
    private static int _graceWarned;

    private TerminationSignals(CancellationToken outer)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        // Said when the run starts, not when a signal comes (a handler is no place for console writes).
        if (Grace.Value.Warning is { } warning && Interlocked.Exchange(ref _graceWarned, 1) == 0) Console.Error.WriteLine(warning);
        // SIGHUP (the terminal closed, the SSH link dropped) and SIGQUIT (Ctrl-\) too: with their default action a
        // write's temporary file stayed behind (hundreds of MB of a model, found by review).
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT })
        {
            try
            {
                _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
            }
            catch (PlatformNotSupportedException)
            {
                // Platforms without POSIX signals keep their default behaviour.
            }
        }
    }

    /// <summary>
    /// Runs a command's synchronous action with SIGINT and SIGTERM turned into cancellation of the token it gets, and
    /// its failures into one-line errors (<see cref="CliErrors"/>): a killed patch, edit, search or eval removes its
    /// temporary files before the process ends, and ends with the signal's status (130 for SIGINT, 143 for SIGTERM).
    /// </summary>
    public static Task<int> Run(CancellationToken outer, Func<CancellationToken, int> action)
    {
        using var signals = Listen(outer);
        var task = CliErrors.Run(() => action(signals.Token), signals.Token, () => signals.Received is { } r && r != PosixSignal.SIGINT);
        if (task.IsCompletedSuccessfully && task.Result == ExitCodes.Interrupted) return Task.FromResult(signals.InterruptedExitCode);
        return task;
    }

    /// <summary>Starts listening; the token is also cancelled when <paramref name="outer"/> is.</summary>
    public static TerminationSignals Listen(CancellationToken outer) => new(outer);

    public CancellationToken Token => _cts.Token;

    /// <summary>The first signal received, if any.</summary>
    public PosixSignal? Received => _received == 0 ? null : (PosixSignal)_received;

    /// <summary>The exit code for an interrupted run: 128 + the signal (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP,
    /// 131 for SIGQUIT); 130 for cancellation from outside.</summary>
    public int InterruptedExitCode => Received is { } r ? SignalExit.ExitCode(r) : ExitCodes.Interrupted;

    /// <summary>How long a run may take to stop after the first signal before the process ends anyway: work blocked in
    /// the kernel (opening a FIFO nobody writes, a pipe that sends nothing) never sees the cancellation, and `timeout`
    /// or a service manager sends one signal, not two. Cancelled work stops at its next chunk or decode, well within it.</summary>
    public static TimeSpan GiveUpAfter => Grace.Value.Wait;

    /// <summary>LONGROPE_STOP_GRACE (seconds) sets it: a machine where one llama.cpp decode of a big model takes longer
    /// wants more, a test less.</summary>
    public const string GraceVariable = "LONGROPE_STOP_GRACE";

    public static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(30);

    private static readonly Lazy<(TimeSpan Wait, string? Warning)> Grace = new(() => GraceFrom(Environment.GetEnvironmentVariable(GraceVariable)));

    /// <summary>The wait a value of <see cref="GraceVariable"/> sets, and the warning for a value that sets none (the
    /// default wait is used: a typo must not stop a run, but it must not pass unnoticed either).</summary>
    public static (TimeSpan Wait, string? Warning) GraceFrom(string? value)
    {
        if (string.IsNullOrEmpty(value)) return (DefaultGrace, null); // unset, or exported empty: the default
        if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double s) && s is > 0 and < 86400)
            return (TimeSpan.FromSeconds(s), null);
        return (DefaultGrace, $"longrope: warning: {GraceVariable}={LongRopeGguf.Gguf.DisplayText.Escape(value)} is not a number of seconds above 0 and below 86400; a stop waits {DefaultGrace.TotalSeconds:0} s");
    }

    private Timer? _giveUp;

    /// <summary>How long after the first signal a second one ends the process at once. Two signals within it are one
    /// request: GNU timeout and `dotnet run` deliver SIGTERM twice (to the child, then its process group).</summary>
    public static readonly TimeSpan ForceAfter = TimeSpan.FromSeconds(2);

    private readonly Lock _signalLock = new();
    private long _firstSignalTicks;

    private void OnSignal(PosixSignalContext context)
    {
        // A second signal, ForceAfter or more after the first, ends the process at once (the signal's default action),
        // as in most tools: the first may not be seen by work blocked in the kernel (opening a FIFO that has no
        // writer). A temporary file it leaves is removed by the next write to the same target.
        // Handlers may run at once on two threads: the first signal's time is set before a second can read it.
        lock (_signalLock)
        {
            if (_received == 0)
            {
                _received = (int)context.Signal;
                _firstSignalTicks = Environment.TickCount64;
                SignalExit.Record(context.Signal);
                var signal = context.Signal;
                if (!_disposed) _giveUp = GiveUpTimer(signal);
            }
            else if (Environment.TickCount64 - _firstSignalTicks >= ForceAfter.TotalMilliseconds)
                return;
        }
        context.Cancel = true; // keep the process alive until the writer has cleaned up
        try { _cts.Cancel(); }
        catch (ObjectDisposedException) { } // the run ended (and disposed this) while the signal was delivered
    }

    private bool _disposed;

    /// <summary>A timer that ends the process by <paramref name="signal"/> when the run has not stopped within
    /// <see cref="GiveUpAfter"/> (work blocked in the kernel never looks at the token); disposed when it has.</summary>
    internal static Timer GiveUpTimer(PosixSignal signal) =>
        new(_ => SignalExit.Now(signal, $"longrope: did not stop within {GiveUpAfter.TotalSeconds:0.#} s of {signal} (blocked on a pipe or file that sends nothing, or in a step that cannot be interrupted, such as tokenizing a big text); ending now ({GraceVariable} sets the wait)"),
            null, GiveUpAfter, Timeout.InfiniteTimeSpan);

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        lock (_signalLock)
        {
            _disposed = true; // a handler still running makes no timer now
            _giveUp?.Dispose(); // the run stopped in time (or was never signalled)
        }
        _cts.Dispose();
    }
}
