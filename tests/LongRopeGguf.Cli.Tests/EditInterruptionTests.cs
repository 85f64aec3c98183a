using System.Diagnostics;
using LongRopeGguf.Cli.Commands;
using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Cli.Tests;

/// <summary>A ~300 MB model, written once for the tests of this class.</summary>
public sealed class BigModelFixture : IDisposable
{
    public BigModelFixture()
    {
        Path = TestModels.Big(Dir.File("big.gguf"), 300L << 20);
        File = GgufReader.Read(Path);
    }

    public TempDir Dir { get; } = new();
    public string Path { get; }
    public GgufFile File { get; }

    public void Dispose() => Dir.Dispose();
}

/// <summary>
/// `longrope edit` (and `patch`) stopped in the middle of copying a large model: the target is never a half-written
/// file. SIGINT and SIGTERM unwind cleanly (no temporary file); SIGKILL cannot be caught, so its temporary file may
/// stay until the next write to the same target removes it.
/// </summary>
public class EditInterruptionTests(BigModelFixture big) : IClassFixture<BigModelFixture>
{
    private const string TempMarker = ".longrope-tmp-";

    [Fact]
    public void Sigint_mid_copy_exits_130_and_leaves_neither_target_nor_temporary_file()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        var r = InterruptMidCopy(target, CliProcess.SIGINT);
        Assert.True(r.ExitCode == ExitCodes.Interrupted, r.ToString());
        Assert.Equal("longrope: interrupted", Assert.Single(r.StderrLines));
        Assert.Empty(r.Stdout);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Sigterm_mid_copy_exits_143_and_leaves_the_existing_target_untouched()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        File.Copy(TestPaths.TinyModel, target);
        var r = InterruptMidCopy(target, CliProcess.SIGTERM);
        Assert.True(r.ExitCode == ExitCodes.Terminated, r.ToString());
        Assert.Equal("longrope: terminated", Assert.Single(r.StderrLines));
        Assert.Equal([target], Directory.GetFileSystemEntries(dir.Path));
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(target));
    }

    [Fact]
    public void Patch_sigterm_mid_copy_exits_143_and_leaves_no_temporary_file()
    {
        using var dir = new TempDir();
        string factors = dir.File("yarn-8x.json");
        var made = CliProcess.Run("factors", "make", "--model", big.Path, "--method", "yarn", "-s", "8", "-o", factors);
        Assert.True(made.ExitCode == 0, made.ToString());
        string target = dir.File("out.gguf");
        var r = InterruptMidCopy(target, CliProcess.SIGTERM, "patch", big.Path, "-f", factors, "-o", target);
        Assert.True(r.ExitCode == ExitCodes.Terminated, r.ToString());
        Assert.Equal("longrope: terminated", r.StderrLines[^1]);
        Assert.Equal([factors], Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Sigkill_mid_copy_leaves_the_target_untouched_and_the_next_write_removes_the_stale_temporary_file()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        File.Copy(TestPaths.TinyModel, target);
        var r = InterruptMidCopy(target, CliProcess.SIGKILL);
        Assert.True(r.ExitCode == 128 + CliProcess.SIGKILL, r.ToString());
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(target));
        string stale = Assert.Single(Directory.GetFiles(dir.Path, "*" + TempMarker + "*"));
        Assert.True(new FileInfo(stale).Length < new FileInfo(big.Path).Length, "the killed copy was not complete");

        // The next write to the same target (a small one, in this process) removes what the killed one left.
        var request = EditCommand.ParseRequest(TestPaths.TinyModel, target, ["general.name=string:after kill"], [], inPlace: false);
        EditCommand.Execute(request, TextWriter.Null, _ => false, CancellationToken.None);
        Assert.Equal([target], Directory.GetFileSystemEntries(dir.Path));
        Assert.Equal("after kill", GgufReader.Read(target).GetString("general.name"));
    }

    [Fact]
    public void Sighup_mid_copy_cleans_up_as_sigterm_does_and_exits_129()
    {
        // The terminal closed or the SSH link dropped: its default action left the temporary file (282 MB of a 4 GB copy).
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        var r = InterruptMidCopy(target, CliProcess.SIGHUP);
        Assert.True(r.ExitCode == 128 + CliProcess.SIGHUP, r.ToString());
        Assert.Equal("longrope: terminated", r.StderrLines[^1]);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Ctrl_c_mid_copy_stops_the_script_that_ran_the_command_as_it_stops_any_program()
    {
        // Exiting 130 told bash that the command had handled Ctrl-C itself, and a loop over models went on to the next
        // one. Dying of SIGINT (after the cleanup) makes the script stop too.
        Assert.False(SigintIgnored(), "SIGINT is ignored in this test process: run the tests in the foreground");
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        string edit = CliProcess.ShellCommandLine("edit", big.Path, "-o", target, "--set", "general.name=string:loop");
        // setsid: a process group of its own, the shell and the command in it, as a terminal's Ctrl-C reaches them.
        var psi = new ProcessStartInfo("setsid", ["bash", "-c", $"for i in 1 2; do {edit} >/dev/null; echo \"went on after $?\"; done; echo finished"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var sw = Stopwatch.StartNew();
        bool sent = false;
        while (!p.HasExited && sw.Elapsed < CliProcess.Timeout && !sent)
        {
            var temp = new DirectoryInfo(dir.Path).GetFiles("*" + TempMarker + "*").FirstOrDefault();
            if (temp is not null && temp.Length > big.File.DataOffset + (16L << 20))
            {
                Assert.Equal(0, kill(-p.Id, CliProcess.SIGINT)); // the whole group, as the terminal does
                sent = true;
            }
            Thread.Sleep(1);
        }
        Assert.True(p.WaitForExit(CliProcess.Timeout), "the script did not end");
        Assert.True(sent, $"the first edit ended before it could be interrupted: {stdout.Result}{stderr.Result}");
        Assert.Equal("", stdout.Result); // neither "went on after 130" nor "finished"
        Assert.Equal("longrope: interrupted", stderr.Result.Trim());
        Assert.Equal(128 + CliProcess.SIGINT, p.ExitCode);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void One_sigterm_ends_a_run_blocked_on_a_pipe_that_sends_nothing_after_a_grace_period()
    {
        // `timeout 5 longrope patch M -f FIFO` with no writer: the SIGTERM was taken, nothing saw it, and the process
        // waited for ever (`timeout` sends one signal).
        using var dir = new TempDir();
        string fifo = SpecialFiles.Fifo(dir.File("factors.fifo"));
        // The wait is 30 s unless LONGROPE_STOP_GRACE says otherwise.
        Assert.Equal(TimeSpan.FromSeconds(30), TerminationSignals.GiveUpAfter);
        using var running = CliProcess.StartWith(new Dictionary<string, string?> { [TerminationSignals.GraceVariable] = "4" },
            "patch", TestPaths.TinyModel, "-f", fifo, "-o", dir.File("out.gguf"));
        Assert.True(SpecialFiles.WaitUntilInFifoOpen(running.Process, TimeSpan.FromSeconds(30)), "patch never waited for the FIFO");
        var sw = Stopwatch.StartNew();
        CliProcess.Signal(running.Process, CliProcess.SIGTERM);
        var r = CliProcess.Finish(running);
        Assert.True(r.ExitCode == ExitCodes.Terminated, r.ToString());
        Assert.Equal("longrope: did not stop within 4 s of SIGTERM (blocked on a pipe or file that sends nothing, or in a step that cannot be interrupted, such as tokenizing a big text); ending now (LONGROPE_STOP_GRACE sets the wait)", r.StderrLines[^1]);
        Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(3), CliProcess.Timeout);
        Assert.Equal([fifo], Directory.GetFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData(null, 30.0, false)]
    [InlineData("", 30.0, false)]
    [InlineData("4", 4.0, false)]
    [InlineData("0.5", 0.5, false)]
    [InlineData("abc", 30.0, true)]
    [InlineData("-5", 30.0, true)]
    [InlineData("0", 30.0, true)]
    [InlineData("86400", 30.0, true)]
    [InlineData("4,5", 30.0, true)]
    public void The_stop_grace_comes_from_the_environment_and_a_value_that_sets_none_is_warned_about(string? value, double seconds, bool warned)
    {
        var (wait, warning) = TerminationSignals.GraceFrom(value);
        Assert.Equal(TimeSpan.FromSeconds(seconds), wait);
        Assert.Equal(warned, warning is not null);
        if (warning is not null)
            Assert.Equal($"longrope: warning: LONGROPE_STOP_GRACE={value} is not a number of seconds above 0 and below 86400; a stop waits 30 s", warning);
    }

    [Fact]
    public void A_run_with_an_unusable_stop_grace_says_so_once_and_goes_on()
    {
        // It fell back to 30 s without a word: `LONGROPE_STOP_GRACE=5s` looked set.
        using var dir = new TempDir();
        var r = CliProcess.RunWith(new Dictionary<string, string?> { [TerminationSignals.GraceVariable] = "5s" }, CliProcess.Timeout,
            "edit", TestPaths.TinyModel, "-o", dir.File("out.gguf"), "--set", "general.name=string:g");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["longrope: warning: LONGROPE_STOP_GRACE=5s is not a number of seconds above 0 and below 86400; a stop waits 30 s"],
            r.StderrLines.Where(l => l.Contains("LONGROPE_STOP_GRACE", StringComparison.Ordinal)));
        Assert.Equal("g", GgufReader.Read(dir.File("out.gguf")).GetString("general.name"));
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    [Fact]
    public async Task A_progress_bar_is_drawn_on_a_terminal_and_the_copy_is_complete()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        string terminal = await OnTerminal(CliProcess.ShellCommandLine("edit", big.Path, "-o", target, "--set", "general.name=string:tty"));

        Assert.Contains("writing out.gguf", terminal);
        Assert.Contains("\u001b[", terminal); // drawn with terminal control sequences
        Assert.Contains("wrote " + target, terminal);
        Assert.Equal("tty", GgufReader.Read(target).GetString("general.name"));
        EditCommandTests.AssertSameTensorData(big.File, GgufReader.Read(target));
    }


    [Fact]
    public async Task Eval_draws_its_live_progress_on_the_terminal_when_its_output_goes_to_a_file()
    {
        // Spectre judged by standard output: with `> out.txt` the terminal got a line per cell change and never 100 %.
        using var dir = new TempDir();
        string results = dir.File("niah"), stdoutFile = dir.File("out.txt");
        string terminal = await OnTerminal(CliProcess.ShellCommandLine("eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--depths", "2", "--modes", "none",
            "--threads", "2", "--out", results) + " > " + CliProcess.ShellQuote(stdoutFile));
        Assert.Contains("100%", terminal); // the bar, drawn to the end
        Assert.Contains("\u001b[2A", terminal); // redrawn in place, as a live display is
        Assert.DoesNotContain("\u001b", File.ReadAllText(stdoutFile)); // the results table, clean
        Assert.Contains("| none |", File.ReadAllText(stdoutFile).Replace("  ", " "));
    }

    /// <summary>Runs a shell command line on a pseudo-terminal (`script`), so that standard error is a terminal as for a
    /// user, and returns what the terminal received; the command must succeed.</summary>
    private static async Task<string> OnTerminal(string command)
    {
        var psi = new ProcessStartInfo("script", ["-qefc", command, "/dev/null"]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.Environment["TERM"] = "xterm-256color";
        psi.Environment["COLUMNS"] = "120";
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        string terminal = await p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(CliProcess.Timeout), "script did not finish");
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {terminal}{await stderr}");
        return terminal;
    }

    /// <summary>Whether this process ignores SIGINT (bit 1 of the SigIgn mask in /proc/self/status).</summary>
    private static bool SigintIgnored()
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (CliProcess.SIGINT - 1))) != 0;
    }

    /// <summary>Starts `edit BIG -o TARGET` (or the command <paramref name="args"/> writing TARGET), waits until the
    /// temporary file holds some tensor data but not all of it, and sends <paramref name="signal"/>. A machine fast
    /// enough to finish the copy before the signal lands gets another try (the target is reset to what it was).</summary>
    private CliResult InterruptMidCopy(string target, int signal, params string[] args)
    {
        if (args.Length == 0) args = ["edit", big.Path, "-o", target, "--set", "general.name=string:interrupted"];
        // A shell without job control starts `cmd &` with SIGINT ignored, and children inherit that: the signal would
        // never arrive, which must not read as a bug of the command.
        Assert.False(signal == CliProcess.SIGINT && SigintIgnored(),
            "SIGINT is ignored in this test process (started in the background, e.g. with nohup or &): run the tests in the foreground");
        byte[]? before = File.Exists(target) ? File.ReadAllBytes(target) : null;
        string dir = Path.GetDirectoryName(target)!;
        long full = big.File.FileLength;
        for (int attempt = 1; ; attempt++)
        {
            using var running = CliProcess.Start(args);
            bool sent = false;
            var sw = Stopwatch.StartNew();
            while (!running.Process.HasExited && sw.Elapsed < CliProcess.Timeout)
            {
                var temp = new DirectoryInfo(dir).GetFiles("*" + TempMarker + "*").FirstOrDefault();
                if (temp is not null && temp.Length > big.File.DataOffset + (16L << 20) && temp.Length < full - (64L << 20))
                {
                    CliProcess.Signal(running.Process, signal);
                    sent = true;
                    break;
                }
                Thread.Sleep(1);
            }
            var result = CliProcess.Finish(running);
            if (sent && result.ExitCode != 0) return result;
            // The copy finished before the signal arrived: put the target back and try again.
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.True(attempt < 5, "the copy always finished before the signal could interrupt it");
            if (before is null) File.Delete(target); else File.WriteAllBytes(target, before);
        }
    }
}
