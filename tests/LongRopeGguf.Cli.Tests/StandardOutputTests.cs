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
        Assert.Equal("141", Bash(dir.Path, $"{help} 2>help-err.txt | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}"));
        Assert.Equal("", File.ReadAllText(dir.File("help-err.txt"))); // not an internal error
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
