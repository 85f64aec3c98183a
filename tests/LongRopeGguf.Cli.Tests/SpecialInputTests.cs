using System.Diagnostics;
using System.Security.Cryptography;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.LongRope.Formats;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Cli.Tests;

/// <summary>
/// Inputs found by a user's review (session 23): pipes and FIFOs, an output onto its own input, numbers with a
/// decimal comma, a model whose RoPE base is broken. Each is one line and a non-zero exit, never a stack trace, a hang
/// or a changed file.
/// </summary>
public class SpecialInputTests
{
    private static string FactorsFor4x(TempDir dir)
    {
        string path = dir.File("pi4.json");
        FactorSetJson.Write(FactorRules.Make(FactorMethod.Pi, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), 4), path);
        return path;
    }

    private static string OneErrorLine(CliResult r, int exitCode = 2)
    {
        Assert.True(r.ExitCode == exitCode, r.ToString());
        Assert.True(r.Stdout.Length == 0, r.ToString());
        string line = Assert.Single(r.StderrLines);
        Assert.StartsWith("longrope: error: ", line);
        return line;
    }

    private static string MakeFifo(TempDir dir, string name) => SpecialFiles.Fifo(dir.File(name));

    [Fact]
    public void Patch_refuses_to_write_over_its_factor_file()
    {
        using var dir = new TempDir();
        string factors = FactorsFor4x(dir);
        byte[] before = File.ReadAllBytes(factors);
        string line = OneErrorLine(CliProcess.Run("patch", TestPaths.TinyModel, "-f", factors, "-o", factors));
        Assert.Equal($"longrope: error: {factors}: the output would overwrite the factor file; give another -o FILE", line);
        Assert.Equal(before, File.ReadAllBytes(factors));
    }

    [Fact]
    public void A_model_that_is_a_fifo_is_one_line_and_a_factor_file_may_come_through_a_pipe()
    {
        using var dir = new TempDir();
        string fifo = MakeFifo(dir, "model.gguf");
        foreach (string command in new[] { "inspect", "verify" })
        {
            // Opening a FIFO with no writer would block forever; the file's kind is checked first.
            string line = OneErrorLine(CliProcess.Run(command, fifo));
            Assert.Equal($"longrope: error: {fifo}: file at offset 0: not a regular file (a pipe, device or socket); GGUF files are read by offset: save it to a file first", line);
        }

        // A factor file through a pipe is read as it comes (it was a stack trace: the format check read by offset).
        string factors = FactorsFor4x(dir), output = dir.File("piped.gguf");
        var piped = RunShell($"cat {CliProcess.ShellQuote(factors)} | {CliProcess.ShellCommandLine("patch", TestPaths.TinyModel, "-f", "/dev/stdin", "-o", output, "--json")}");
        Assert.True(piped.ExitCode == 0, piped.ToString());
        var direct = CliProcess.Run("patch", TestPaths.TinyModel, "-f", factors, "-o", dir.File("direct.gguf"));
        Assert.True(direct.ExitCode == 0, direct.ToString());
        Assert.Equal(
            EmbeddedFactors.Read(GgufReader.Read(dir.File("direct.gguf")))!.LongFactors.ToArray(),
            EmbeddedFactors.Read(GgufReader.Read(output))!.LongFactors.ToArray());

        // A model through a pipe where a factor file is expected: said, not parsed as a CSV.
        var model = RunShell($"cat {CliProcess.ShellQuote(TestPaths.TinyModel)} | {CliProcess.ShellCommandLine("factors", "show", "/dev/stdin")}");
        Assert.Equal(2, model.ExitCode);
        Assert.Contains("/dev/stdin: a GGUF model through a pipe; give the model file itself to copy its factors", model.Stderr);
    }

    [Fact]
    public void A_second_signal_ends_a_patch_blocked_on_a_fifo_that_has_no_writer()
    {
        using var dir = new TempDir();
        string fifo = MakeFifo(dir, "factors.json"), output = dir.File("out.gguf");
        using var running = CliProcess.Start("patch", TestPaths.TinyModel, "-f", fifo, "-o", output);
        Assert.True(SpecialFiles.WaitUntilInFifoOpen(running.Process, TimeSpan.FromSeconds(30)), "patch never waited for the FIFO");
        // Two signals at once are one request (GNU timeout and `dotnet run` send SIGTERM twice); the work is asked to
        // stop and cannot while it is held in open(2).
        var first = System.Diagnostics.Stopwatch.StartNew();
        CliProcess.Signal(running.Process, CliProcess.SIGTERM);
        CliProcess.Signal(running.Process, CliProcess.SIGTERM);
        Assert.False(running.Process.WaitForExit(1000), "two signals at once ended the blocked patch");
        // A later one ends it.
        Thread.Sleep(TimeSpan.FromTicks(Math.Max(0, (TerminationSignals.ForceAfter - first.Elapsed + TimeSpan.FromMilliseconds(300)).Ticks)));
        CliProcess.Signal(running.Process, CliProcess.SIGTERM);
        Assert.True(running.Process.WaitForExit(10_000), "a later second signal did not end the process");
        Assert.Equal(143, running.Process.ExitCode);
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("--temp", "1e309", "out of range (at most 3.4E+38 in magnitude)")] // was "--temp Infinity: must be 0 (greedy) or more"
    [InlineData("--temp", "1e39", "out of range (at most 3.4E+38 in magnitude)")] // a double, but no float
    [InlineData("--top-p", "NaN", "not a number")]
    [InlineData("--top-p", "1e-50", "too small for a 32-bit float (it would be 0)")] // was "--top-p 0: must be in (0, 1]"
    [InlineData("--temp", "-Infinity", "out of range (at most 3.4E+38 in magnitude)")]
    public void A_number_its_option_cannot_hold_is_refused_as_typed(string option, string value, string why)
    {
        var r = CliProcess.Run("generate", TestPaths.TinyModel, "-p", "Hi", option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"longrope: error: {option} '{value}': {why}", Assert.Single(r.StderrLines));
        // A double option holds what a float cannot.
        var scale = CliProcess.Run("factors", "make", "--model", TestPaths.TinyModel, "--method", "pi", "--scale", "1e39");
        Assert.Equal(2, scale.ExitCode);
        Assert.DoesNotContain("out of range", scale.Stderr);
    }

    [Theory]
    [InlineData("factors", "make", "--scale", "8,5")]
    [InlineData("generate", "--prompt", "Hi", "--temp", "0,8")]
    public void A_decimal_comma_is_refused_not_read_as_a_thousands_separator(string command, params string[] rest)
    {
        string[] args = command == "factors"
            ? ["factors", "make", "--model", TestPaths.TinyModel, "--method", "yarn", .. rest[1..]]
            : [command, TestPaths.TinyModel, .. rest];
        var r = CliProcess.Run(args);
        Assert.Equal(2, r.ExitCode);
        string option = rest[^2], value = rest[^1];
        Assert.Contains($"longrope: error: {option} '{value}': not a number (write decimals with a point, e.g. 8.5; no thousands separators)", r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void Factors_make_refuses_a_model_whose_rope_base_is_not_a_number_and_writes_nothing()
    {
        using var dir = new TempDir();
        string model = dir.File("nan-base.gguf");
        var edit = new GgufEdit();
        edit.SetValue("llama.rope.freq_base", GgufValue.Float32(float.NaN));
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), edit, model);
        string output = dir.File("factors.json");

        string line = OneErrorLine(CliProcess.Run("factors", "make", "--model", model, "--method", "yarn", "--scale", "8", "-o", output));
        Assert.Equal($"longrope: error: {model}: llama.rope.freq_base = NaN: the yarn rule needs a finite RoPE base above 1", line);
        Assert.False(File.Exists(output));
    }

    private static CliResult RunShell(string commandLine)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(commandLine);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(CliProcess.Timeout)) { p.Kill(entireProcessTree: true); throw new TimeoutException(commandLine); }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void A_file_one_may_not_read_or_write_and_a_folder_one_may_not_write_in_are_said_as_permission_denied()
    {
        // .NET's own text came through: "file at offset 0: Access to the path '...' is denied.", and for a results
        // folder no word of which option it was.
        using var dir = new TempDir();
        string locked = dir.File("locked.gguf"), readOnly = dir.File("read-only.gguf"), folder = dir.File("ro");
        File.Copy(TestPaths.TinyModel, locked);
        File.Copy(TestPaths.TinyModel, readOnly);
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(locked, UnixFileMode.None);
        File.SetUnixFileMode(readOnly, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        string factors = FactorsFor4x(dir);

        Assert.Equal($"longrope: error: {locked}: cannot be read (permission denied)", OneErrorLine(CliProcess.RunUnprivileged("inspect", locked)));
        Assert.Equal($"longrope: error: {locked}: cannot be read (permission denied)", OneErrorLine(CliProcess.RunUnprivileged("verify", locked)));
        Assert.Equal($"longrope: error: {readOnly}: permission denied", OneErrorLine(CliProcess.RunUnprivileged("patch", readOnly, "-f", factors, "--in-place")));
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(readOnly));
        string results = Path.Combine(folder, "results");
        var eval = CliProcess.RunUnprivileged("eval", "niah", readOnly, "--lengths", "300", "--depths", "1", "--modes", "none", "--threads", "2", "--out", results);
        Assert.Equal(2, eval.ExitCode);
        Assert.Equal($"longrope: error: {results}: cannot create the results folder (permission denied; --out chooses another)", eval.StderrLines[^1]);
        // A search into a folder it cannot write was "another search is running in this folder".
        var search = CliProcess.RunUnprivileged("search", readOnly, "-L", "1024", "--text", TestPaths.ProseSearch, "--windows", "1",
            "--population", "2", "--parents", "1", "--mutations", "1", "--crossovers", "1", "--iterations", "1", "-o", folder);
        Assert.Equal(2, search.ExitCode);
        Assert.Equal($"longrope: error: {folder}: cannot write in this folder (permission denied)", search.StderrLines[^1]);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Theory]
    [InlineData("chat.json", "chat.json")]
    [InlineData("\"my chat.json\"", "my chat.json")]
    [InlineData("'my chat.json'", "my chat.json")]
    [InlineData("my\\ chat.json", "my chat.json")]
    [InlineData("\"say \\\"hi\\\".json\"", "say \"hi\".json")]
    [InlineData("'a'\"b\"c.json", "abc.json")]
    [InlineData("", "")]
    public void A_chat_file_name_is_read_as_a_shell_user_writes_it(string typed, string meant) =>
        Assert.Equal(meant, LongRopeGguf.Cli.Commands.ChatCommand.FileArgument("/save", typed));

    [Theory]
    // "/save a b" saved to "a b", "/save 'x y' extra" to "'x y' extra", "/save \"open" to a file named "open.
    [InlineData("a b", "/save a b: one file name, not 2 (quote a name with spaces)")]
    [InlineData("'x y' extra", "/save 'x y' extra: one file name, not 2 (quote a name with spaces)")]
    [InlineData("\"open", "/save \"open: a quote (\") is not closed")]
    [InlineData("'open", "/save 'open: a quote (') is not closed")]
    public void A_chat_file_argument_a_shell_would_not_read_as_one_name_is_refused(string typed, string message) =>
        Assert.Equal(message, Assert.Throws<LongRopeGguf.Runtime.RuntimeInputException>(() => LongRopeGguf.Cli.Commands.ChatCommand.FileArgument("/save", typed)).Message);

    [Fact]
    public void A_chat_file_name_under_the_home_folder_may_start_with_a_tilde()
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(home + "/chats/a.json", LongRopeGguf.Cli.Commands.ChatCommand.FileArgument("/save", "~/chats/a.json"));
        Assert.Equal("~other/a.json", LongRopeGguf.Cli.Commands.ChatCommand.FileArgument("/save", "~other/a.json")); // another user's: as written
        // Quoted or escaped anywhere in "~/": as written, as a shell has it (\~/ and ~"/" were expanded).
        foreach (string typed in new[] { "'~/a.json'", "\\~/a.json", "~\"/a.json\"", "~\\/a.json", "''~/a.json" })
            Assert.Equal("~/a.json", LongRopeGguf.Cli.Commands.ChatCommand.FileArgument("/save", typed));
        Assert.Equal(home, LongRopeGguf.Cli.Commands.ChatCommand.FileArgument("/save", "~"));
    }

    [Fact]
    public void Text_from_a_file_reaches_the_terminal_without_its_control_characters_and_an_error_stays_a_line_of_bounded_length()
    {
        // Found by fuzzing: a factor file's source, a string in an error, a GGUF architecture were printed raw (ESC
        // sequences clear the screen, retitle the window); a lone \ud800 escape ended in a stack trace (exit 1); a
        // 5,000-byte architecture made a 20,196-character error line.
        using var dir = new TempDir();
        const string evil = "\\u001b]0;pwned\\u0007\\u001b[2J"; // JSON escapes: the strings read hold ESC and BEL
        string factors = FactorsFor4x(dir);
        string json = File.ReadAllText(factors);
        string sourced = dir.File("sourced.json");
        File.WriteAllText(sourced, System.Text.RegularExpressions.Regex.Replace(json, "\"source\": \"[^\"]*\"", $"\"source\": \"{evil}made\""));
        var shown = CliProcess.Run("factors", "show", sourced);
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains("source:            \\u001b]0;pwned\\u0007\\u001b[2Jmade", shown.Stdout);
        var patched = CliProcess.Run("patch", TestPaths.TinyModel, "-f", sourced, "-o", dir.File("p.gguf"));
        Assert.True(patched.ExitCode == 0, patched.ToString());
        Assert.Contains("(source: \\u001b]0;pwned\\u0007\\u001b[2Jmade)", patched.Stdout);
        Assert.DoesNotContain('\u001b', shown.Stdout + patched.Stdout);

        string version = dir.File("version.json");
        File.WriteAllText(version, json.Replace("\"version\": 1", $"\"version\": \"{evil}\""));
        Assert.EndsWith("'version' must be a whole number, found the string \"\\u001b]0;pwned\\u0007\\u001b[2J\"", OneErrorLine(CliProcess.Run("factors", "show", version)));

        string lone = dir.File("lone.json");
        File.WriteAllText(lone, System.Text.RegularExpressions.Regex.Replace(json, "\"source\": \"[^\"]*\"", "\"source\": \"a\\ud800b\""));
        Assert.Equal($"longrope: error: {lone}: a JSON string holds an unpaired UTF-16 surrogate escape (such as \\ud800 without its pair), which is no text",
            OneErrorLine(CliProcess.Run("factors", "show", lone)));

        string arch = dir.File("arch.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue(GgufKeys.Architecture, GgufValue.String("\u001b[31mred")), arch);
        var verified = CliProcess.Run("verify", arch);
        Assert.Equal(1, verified.ExitCode);
        Assert.Contains("architecture:  \\u001b[31mred (", verified.Stdout);
        Assert.DoesNotContain('\u001b', verified.Stdout + verified.Stderr);

        string longArch = dir.File("long-arch.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue(GgufKeys.Architecture, GgufValue.String(new string('x', 5000))), longArch);
        string line = OneErrorLine(CliProcess.Run("patch", longArch, "-f", factors, "-o", dir.File("q.gguf")));
        Assert.InRange(line.Length, 1000, 1600);
        Assert.StartsWith($"longrope: error: {longArch}: ", line);
        Assert.Contains(" characters left out)... ", line);
    }
}
