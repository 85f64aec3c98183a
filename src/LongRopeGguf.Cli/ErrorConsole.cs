using Spectre.Console;

namespace LongRopeGguf.Cli;

/// <summary>The console progress displays draw on: standard error, live when it is a terminal whatever standard output
/// is (Spectre judges by standard output, and `eval ... > out.txt` drew only a line per cell change, never 100 %).</summary>
internal static class ErrorConsole
{
    public static IAnsiConsole Create() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
        Interactive = Console.IsErrorRedirected ? InteractionSupport.No : InteractionSupport.Yes,
    });
}
