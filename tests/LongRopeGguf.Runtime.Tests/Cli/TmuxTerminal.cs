using System.Diagnostics;

namespace LongRopeGguf.Runtime.Tests.Cli;

/// <summary>
/// A terminal program under tmux: the test types with send-keys and reads the screen with capture-pane, as a person
/// would see it. tools/test.sh installs tmux where it is missing.
/// </summary>
public sealed class TmuxTerminal : IDisposable
{
    private readonly string _session = "longrope-test-" + Guid.NewGuid().ToString("N")[..8];

    public TmuxTerminal(string shellCommand)
    {
        // The pane stays after the program ends (the echo shows its exit code), so the last screen can be read.
        Tmux("new-session", "-d", "-s", _session, "-x", "220", "-y", "60", $"{shellCommand}; echo \"[exit $?]\"; sleep 600");
    }

    public void Type(string text)
    {
        Tmux("send-keys", "-t", _session, "-l", text);
        Tmux("send-keys", "-t", _session, "Enter");
    }

    public void CtrlC() => Tmux("send-keys", "-t", _session, "C-c");

    /// <summary>The whole scrollback, lines joined (tmux wraps long lines; the test reads them unwrapped).</summary>
    public string Screen() => Tmux("capture-pane", "-p", "-J", "-S", "-1000", "-t", _session);

    /// <summary>Waits until the screen contains <paramref name="text"/> <paramref name="count"/> times; returns the screen.</summary>
    public string WaitFor(string text, int count = 1, int seconds = 90)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            string screen = Screen();
            if (Occurrences(screen, text) >= count) return screen;
            if (sw.Elapsed.TotalSeconds > seconds)
                throw new TimeoutException($"'{text}' (x{count}) did not appear within {seconds} s; screen:\n{screen}");
            Thread.Sleep(100);
        }
    }

    public static int Occurrences(string s, string text)
    {
        int n = 0;
        for (int i = s.IndexOf(text, StringComparison.Ordinal); i >= 0; i = s.IndexOf(text, i + text.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static string Tmux(params string[] args)
    {
        var psi = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("tmux is needed for the terminal tests (tools/test.sh installs it: apt-get install -y tmux)", e);
        }
        using (p)
        {
            string output = p.StandardOutput.ReadToEnd();
            string error = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"tmux {string.Join(' ', args)}: {error.Trim()}");
            return output;
        }
    }

    public void Dispose()
    {
        try { Tmux("kill-session", "-t", _session); } catch (InvalidOperationException) { }
    }
}
