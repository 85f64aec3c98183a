using LongRopeGguf.Tests;

namespace LongRopeGguf.Cli.Tests;

/// <summary>What every command owes the user: help, and one clear line (never a stack trace) for bad input.</summary>
public class CommandLineContractTests
{
    /// <summary>Every registered command, found from the real root command so that new ones are covered too.</summary>
    public static TheoryData<string> Commands()
    {
        var data = new TheoryData<string>();
        foreach (var c in Program.BuildRootCommand().Subcommands) data.Add(c.Name);
        return data;
    }

    [Fact]
    public void Root_help_lists_every_command()
    {
        var r = CliProcess.Run("--help");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Empty(r.Stderr);
        Assert.Contains("Usage:", r.Stdout);
        foreach (var c in Program.BuildRootCommand().Subcommands)
            Assert.Matches($@"(?m)^\s+{c.Name}\b", r.Stdout);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_works_for_every_command(string command)
    {
        var r = CliProcess.Run(command, "--help");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Empty(r.Stderr);
        var cmd = Program.BuildRootCommand().Subcommands.Single(c => c.Name == command);
        Assert.Contains($"longrope {command}", r.Stdout);
        Assert.Contains(cmd.Description!, r.Stdout.ReplaceLineEndings(" "));
        foreach (var option in cmd.Options) Assert.Contains(option.Name, r.Stdout);
    }

    public enum BadFile { Missing, Empty, NotGguf, TruncatedHeader, TruncatedData, Directory }

    public static TheoryData<string, BadFile> BadInputs()
    {
        var data = new TheoryData<string, BadFile>();
        foreach (string command in new[] { "inspect", "edit" })
            foreach (var bad in Enum.GetValues<BadFile>())
                data.Add(command, bad);
        return data;
    }

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_file_gives_one_error_line_naming_it_and_exit_code_2(string command, BadFile bad)
    {
        using var dir = new TempDir();
        string path = dir.File($"bad {bad}.gguf");
        string expectedProblem = Make(path, bad);
        string output = dir.File("out.gguf");
        string[] args = command == "edit" ? ["edit", path, "-o", output, "--set", "general.name=string:x"] : ["inspect", path];

        var r = CliProcess.Run(args);

        Assert.True(r.ExitCode == 2, r.ToString());
        // inspect still shows the header of a file cut short in its tensor data (an incomplete download): what the
        // file was meant to be, before the one error line.
        if (command == "inspect" && bad == BadFile.TruncatedData) Assert.Contains("architecture:  llama", r.Stdout);
        else Assert.Empty(r.Stdout);
        string line = Assert.Single(r.StderrLines);
        Assert.StartsWith("longrope: error: ", line);
        Assert.Contains(path, line);
        Assert.Contains(expectedProblem, line);
        Assert.False(File.Exists(output), "edit must not create its output when the input is bad");
        Assert.Equal(bad == BadFile.Missing || bad == BadFile.Directory ? 0 : 1, Directory.GetFiles(dir.Path).Length);
    }

    /// <summary>Creates the bad file; returns a phrase the error must contain.</summary>
    private static string Make(string path, BadFile bad)
    {
        byte[] tiny = File.ReadAllBytes(TestPaths.TinyModel);
        switch (bad)
        {
            case BadFile.Missing: return "no such GGUF model file";
            case BadFile.Empty: File.WriteAllBytes(path, []); return "magic at offset 0: file is truncated";
            case BadFile.NotGguf: File.WriteAllText(path, "this is a text file, not a model\n"); return "not a GGUF file";
            case BadFile.TruncatedHeader: File.WriteAllBytes(path, tiny[..5000]); return "file is truncated";
            case BadFile.TruncatedData: File.WriteAllBytes(path, tiny[..(tiny.Length / 2)]); return "lies outside the data section";
            case BadFile.Directory: Directory.CreateDirectory(path); return "is a folder, not a GGUF model file";
            default: throw new ArgumentOutOfRangeException(nameof(bad));
        }
    }
}

/// <summary>An empty value for an option that names a file or folder: one line saying so, on every command.</summary>
public class EmptyPathOptionTests
{
    public static TheoryData<string, string> PathOptions()
    {
        var data = new TheoryData<string, string>();
        void Visit(System.CommandLine.Command command, string path)
        {
            foreach (var option in command.Options)
            {
                bool isPath = typeof(FileSystemInfo).IsAssignableFrom(option.ValueType) || option.ValueType == typeof(FileInfo[])
                    || option.HelpName is "FILE" or "DIR" or "PATH";
                if (isPath) data.Add(path, option.Name);
            }
            foreach (var sub in command.Subcommands) Visit(sub, path + " " + sub.Name);
        }
        foreach (var c in Program.BuildRootCommand().Subcommands) Visit(c, c.Name);
        // Text options that take a file or the word filler.
        data.Add("eval niah", "--haystack");
        data.Add("search", "--haystack");
        return data;
    }

    [Fact]
    public void The_commands_have_path_options_to_check()
    {
        // The discovery below finds the options it is meant to (a rename of the help names would empty it).
        var found = PathOptions().Select(row => $"{row[0]} {row[1]}").ToList();
        Assert.Contains("patch --output", found);
        Assert.Contains("generate --native-lib", found);
        Assert.Contains("generate --log-file", found);
        Assert.Contains("eval niah --out", found);
    }

    [Theory]
    [MemberData(nameof(PathOptions))]
    public void An_empty_path_is_one_line_naming_the_option(string command, string option)
    {
        var r = CliProcess.Run([.. command.Split(' '), option, ""]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Empty(r.Stdout);
        string line = Assert.Single(r.StderrLines);
        Assert.Contains($"{option}: an empty path", line);
    }
}
