using System.Diagnostics;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Cli.Tests;

/// <summary>
/// Standard output that fails: .NET's console drops a write that meets a closed pipe, so `generate ... | head -c 3`
/// generated all its tokens and exited 0; a full device said "No space left on device" without saying where.
/// </summary>
public class StandardOutputTests
{
    /// <summary>Runs <paramref name="pipeline"/> (with {cli} for the longrope command line) in bash, in <paramref name="dir"/>.</summary>
    private static string Bash(string dir, string pipeline)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(pipeline);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "bash did not end");
        return stdout.Trim();
    }

    [Fact]
    public void A_reader_that_goes_away_ends_generation_at_the_next_write_with_141_and_no_message()
    {
        using var dir = new TempDir();
        string generate = CliProcess.ShellCommandLine("generate", TestPaths.TinyModel, "-p", "The pass key", "-n", "400", "--temp", "0");
        Assert.Equal("141", Bash(dir.Path, $"{generate} 2>err.txt | head -c 3 >/dev/null; echo ${{PIPESTATUS[0]}}"));
        // The start-up line only: no "generated 400 tokens" summary (the run went on to the end), no error line.
        Assert.Equal(["longrope: CPU"], File.ReadAllLines(dir.File("err.txt")).Select(l => l[..Math.Min(13, l.Length)]));

        string help = CliProcess.ShellCommandLine("--help");
        // The reader is gone before the help is written (`| head -c 1` raced: the whole text fits in the pipe, and the
        // native build wrote it before head had read a byte, exit 0).
        Assert.Equal("141", Bash(dir.Path, $"(sleep 0.3; exec {help}) 2>help-err.txt | true; echo ${{PIPESTATUS[0]}}"));
        Assert.Equal("", File.ReadAllText(dir.File("help-err.txt"))); // not an internal error
    }

    [Fact]
    public void Standard_error_that_cannot_be_written_loses_the_messages_but_not_the_exit_code()
    {
        // Closed standard error aborted the process (SIGABRT, 134: the error path threw again while reporting), and a
        // full one exited 70 ("internal error") for bad input and for a run that went well.
        using var dir = new TempDir();
        string empty = CliProcess.ShellCommandLine("generate", TestPaths.TinyModel, "-p", "");
        string missing = CliProcess.ShellCommandLine("inspect", dir.File("missing.gguf"));
        string good = CliProcess.ShellCommandLine("generate", TestPaths.TinyModel, "-p", "The pass key", "-n", "3", "--temp", "0");
        Assert.Equal("2 2 0", Bash(dir.Path, $"{empty} 2>&- >/dev/null; a=$?; {missing} 2>&- >/dev/null; b=$?; {good} 2>&- >/dev/null; echo $a $b $?"));
        Assert.Equal("2 0", Bash(dir.Path, $"{empty} 2>/dev/full >/dev/null; a=$?; {good} 2>/dev/full >/dev/null; echo $a $?"));
    }

    [Fact]
    public void A_command_started_with_standard_input_or_output_closed_reads_nothing_or_says_output_is_closed()
    {
        // The runtime's own descriptors took the free numbers: a chat read its internal pipe for ever (<&-), and a
        // closed standard output said "Access to the path is denied".
        using var dir = new TempDir();
        string chat = CliProcess.ShellCommandLine("chat", TestPaths.TinyModel, "-n", "3");
        Assert.Equal("0", Bash(dir.Path, $"timeout 60 {chat} <&- >/dev/null 2>/dev/null; echo $?"));
        string generate = CliProcess.ShellCommandLine("generate", TestPaths.TinyModel, "-p", "The pass key", "-n", "3", "--temp", "0");
        string verify = CliProcess.ShellCommandLine("verify", "--json", TestPaths.TinyModel);
        Assert.Equal("2 2", Bash(dir.Path, $"{generate} >&- 2>gen.txt; a=$?; {verify} >&- 2>verify.txt; echo $a $?"));
        foreach (string err in new[] { "gen.txt", "verify.txt" })
            Assert.Equal("longrope: error: standard output: closed (the command was started with it closed)", File.ReadAllLines(dir.File(err))[^1]);
    }

    [Fact]
    public void A_prompt_file_that_names_a_closed_standard_input_is_empty_and_a_proc_file_is_read_as_a_pipe()
    {
        // -f /dev/stdin with standard input closed opened the runtime's own pipe and waited for ever; /proc files and
        // devices, whose length is 0, read as an empty prompt.
        using var dir = new TempDir();
        foreach (string name in new[] { "/dev/stdin", "/proc/self/fd/0" })
        {
            string generate = CliProcess.ShellCommandLine("generate", TestPaths.TinyModel, "-f", name, "-n", "3");
            Assert.Equal("2", Bash(dir.Path, $"timeout 60 {generate} <&- >/dev/null 2>err.txt; echo $?"));
            Assert.Equal($"longrope: error: --prompt-file {name}: the prompt is empty", File.ReadAllText(dir.File("err.txt")).Trim());
        }
        string cpuinfo = CliProcess.ShellCommandLine("generate", TestPaths.TinyModel, "-f", "/proc/self/status", "-n", "3");
        Assert.Equal("2", Bash(dir.Path, $"timeout 60 {cpuinfo} >/dev/null 2>err.txt; echo $?"));
        Assert.Matches(@"^longrope: error: \d+ tokens \(prompt \d+ \+ 3 to generate\) do not fit: the model's context_length is 512", File.ReadAllText(dir.File("err.txt")).Trim());
        string zero = CliProcess.ShellCommandLine("generate", TestPaths.TinyModel, "-f", "/dev/zero", "-n", "3");
        Assert.Equal("2", Bash(dir.Path, $"timeout 60 {zero} >/dev/null 2>err.txt; echo $?"));
        // Refused at its first chunk, as a binary file is (it was read to the size limit first: 800 MB for a corpus).
        Assert.Equal("longrope: error: --prompt-file /dev/zero: a binary file (a NUL byte at offset 0), not UTF-8 text", File.ReadAllText(dir.File("err.txt")).Trim());
        // A pipe of text with no end is refused at the limit.
        string piped = CliProcess.ShellCommandLine("generate", TestPaths.TinyModel, "-f", "/dev/stdin", "-n", "3");
        Assert.Equal("2", Bash(dir.Path, $"yes | timeout 60 {piped} >/dev/null 2>err.txt; echo $?"));
        Assert.Equal("longrope: error: --prompt-file /dev/stdin: more than 16,777,216 bytes is too big for a text file here (at most 16,777,216 bytes); is it a model or another binary file?",
            File.ReadAllText(dir.File("err.txt")).Trim());
    }

    [Fact]
    public void An_argument_that_is_not_utf8_is_refused_and_a_typed_replacement_character_is_not()
    {
        // .NET decoded the byte 0xFF as U+FFFD and the prompt went to the model so (a prompt file with it is refused).
        using var dir = new TempDir();
        string generate = CliProcess.ShellCommandLine("generate", TestPaths.TinyModel, "-n", "2", "--temp", "0", "-p");
        Assert.Equal("2", Bash(dir.Path, $"{generate} \"$(printf 'abc\\377')\" >out.txt 2>err.txt; echo $?"));
        Assert.Equal("", File.ReadAllText(dir.File("out.txt")));
        Assert.Equal($"longrope: error: argument 8 ('abc\uFFFD'): not UTF-8 text (invalid byte 0xFF at offset 3); longrope reads its command line as UTF-8 (give such text in a file, e.g. --prompt-file)",
            File.ReadAllText(dir.File("err.txt")).Trim());
        // The character itself, as UTF-8 (EF BF BD), is text like any other.
        Assert.Equal("0", Bash(dir.Path, $"{generate} \"$(printf 'abc\\357\\277\\275')\" >out.txt 2>err.txt; echo $?"));
    }

    [Fact]
    public void A_json_report_to_a_reader_that_has_gone_ends_with_141_too()
    {
        using var dir = new TempDir();
        // The reader has closed its end before longrope starts: the report's first write meets a closed pipe.
        // --json went through .NET's console stream, which drops EPIPE: each of these ended 0 (verify 1) as if read.
        foreach (string[] args in new[]
                 {
                     new[] { "inspect", "--json", TestPaths.TinyModel },
                     new[] { "verify", "--json", TestPaths.TinyModel },
                     new[] { "factors", "show", "--json", Path.Combine(TestPaths.RepoRoot, "models", "tiny-passkey-512.longrope-4096.json") },
                 })
        {
            string command = CliProcess.ShellCommandLine(args);
            Assert.Equal($"{args[0]} 141", Bash(dir.Path, $"(sleep 0.3; exec {command}) 2>err.txt | true; echo {args[0]} ${{PIPESTATUS[0]}}"));
            Assert.Equal("", File.ReadAllText(dir.File("err.txt")));
        }
        string verify = CliProcess.ShellCommandLine("verify", "--json", TestPaths.TinyModel);
        Assert.Equal("2", Bash(dir.Path, $"{verify} >/dev/full 2>full.txt; echo $?"));
        Assert.Equal(["longrope: error: standard output: No space left on device"], File.ReadAllLines(dir.File("full.txt")));
    }

    [Fact]
    public void A_full_device_is_named_as_standard_output()
    {
        using var dir = new TempDir();
        string inspect = CliProcess.ShellCommandLine("inspect", TestPaths.TinyModel);
        Assert.Equal("2", Bash(dir.Path, $"{inspect} >/dev/full 2>err.txt; echo $?"));
        Assert.Equal(["longrope: error: standard output: No space left on device"], File.ReadAllLines(dir.File("err.txt")));
    }
}
