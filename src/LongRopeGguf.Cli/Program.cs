using System.CommandLine;
using LongRopeGguf.Cli.Commands;

namespace LongRopeGguf.Cli;

public static class Program
{
    /// <summary>The process: its standard output and error set up (<see cref="StandardOutput"/>, <see cref="StandardError"/>), then the command.</summary>
    public static int Main(string[] args)
    {
        // A closed standard input reads as empty (as </dev/null), not from the runtime pipe that took its place.
        if (StandardStreams.WasClosed(0)) Console.SetIn(TextReader.Null);
        StandardOutput.Install();
        StandardError.Install();
        if (CommandLineBytes.FirstProblem(args) is { } problem)
        {
            Console.Error.WriteLine($"longrope: error: {problem}");
            return ExitCodes.BadInput;
        }
        return Run(args);
    }

    /// <summary>The command alone, on the Console.Out and Console.Error the caller set (an in-process test's writers).</summary>
    public static int Run(string[] args) => SignalExit.Finish(UsageErrors.Invoke(BuildRootCommand(), args));

    public static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("longrope: give llama.cpp models a longer context with LongRoPE (inspect, edit, patch, verify, factors, generate, chat, bench, eval, search).");
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(EditCommand.Create());
        root.Subcommands.Add(PatchCommand.Create());
        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(FactorsCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ChatCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(SearchCommand.Create());
        StrictNumbers.Apply(root);
        return root;
    }
}
