namespace LongRopeGguf.Cli;

/// <summary>
/// Progress as plain lines, for standard error that is not a terminal (logs, CI, nohup): a line per tenth of the work
/// (unless the caller writes its own lines with <see cref="Line"/>), and at least one every <see cref="Interval"/> while the work runs, so that a long step (one 16k-token trial is
/// minutes on a small CPU) does not look hung. Thread-safe: the heartbeat runs on a thread of its own (not the thread
/// pool, which busy work can starve for seconds).
/// </summary>
public sealed class PlainProgress : IDisposable
{
    private readonly TextWriter _output;
    private readonly string _title;
    private readonly Lock _gate = new();
    private readonly System.Diagnostics.Stopwatch _sinceLine = System.Diagnostics.Stopwatch.StartNew();
    private readonly Thread _heartbeat;
    private readonly ManualResetEventSlim _stop = new();
    private int _lastDecile = -1, _done, _total;
    private string _what = "";
    private bool _started, _disposed;
    private readonly bool _linePerTenth;

    public PlainProgress(TextWriter output, string title, TimeSpan interval, bool linePerTenth = true)
    {
        _output = output;
        _title = title;
        Interval = interval;
        _linePerTenth = linePerTenth;
        // Checked several times per interval, so a silent stretch is said within 1.25 intervals of the last line.
        var tick = interval / 4;
        _heartbeat = new Thread(() => { while (!_stop.Wait(tick)) Beat(); }) { IsBackground = true, Name = "progress heartbeat" };
        _heartbeat.Start();
    }

    public TimeSpan Interval { get; }

    /// <summary>Reports <paramref name="done"/> of <paramref name="total"/> steps, the current one described by <paramref name="what"/>.</summary>
    public void Report(int done, int total, string what)
    {
        lock (_gate)
        {
            (_done, _total, _what, _started) = (done, total, what, true);
            int decile = total == 0 ? 10 : done * 10 / total;
            if ((!_linePerTenth || decile == _lastDecile) && _sinceLine.Elapsed < Interval) return;
            _lastDecile = decile;
            Write("");
        }
    }

    /// <summary>Writes a line of the caller's own (an iteration summary); the heartbeat counts from it.</summary>
    public void Line(string text)
    {
        lock (_gate)
        {
            _sinceLine.Restart();
            _output.WriteLine(text);
        }
    }

    private void Beat()
    {
        lock (_gate)
        {
            if (_disposed || !_started || _sinceLine.Elapsed < Interval) return;
            Write($" (working, {_sinceLine.Elapsed.TotalSeconds:F0} s since the last line)");
        }
    }

    private void Write(string suffix)
    {
        _sinceLine.Restart();
        _output.WriteLine($"{_title}: {_done}/{_total} {_what}".TrimEnd() + suffix);
    }

    public void Dispose()
    {
        lock (_gate) _disposed = true;
        _stop.Set();
        _heartbeat.Join();
        _stop.Dispose();
    }
}
