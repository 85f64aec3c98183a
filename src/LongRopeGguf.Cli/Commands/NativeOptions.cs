using System.CommandLine;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Runtime;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// Where llama.cpp comes from and where its log goes: --native-lib, --verbose and --log-file, the same on every command
/// that runs a model (generate, chat, bench, eval niah/ppl, search).
/// </summary>
public sealed class NativeOptions
{
    public Option<string?> NativeLib { get; } = new Option<string?>("--native-lib")
    {
        Description = $"Folder with a custom llama.cpp build (libllama.so and its ggml libraries), e.g. a CUDA build; default: env {NativeRuntime.NativeLibEnvironmentVariable}, else the bundled LLamaSharp backend.",
        HelpName = "DIR",
    }.NotEmpty();

    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Show llama.cpp's own log on standard error." };

    public Option<string?> LogFile { get; } = new Option<string?>("--log-file")
    {
        Description = $"Where llama.cpp's log goes (default: {NativeRuntime.DefaultLogFile() ?? "none: no home folder, the log is discarded"}); --verbose shows it on standard error instead.",
        HelpName = "FILE",
    }.NotEmpty();

    public void AddTo(Command command)
    {
        command.Options.Add(NativeLib);
        command.Options.Add(Verbose);
        command.Options.Add(LogFile);
    }

    /// <summary>
    /// Sets up and loads llama.cpp for the evaluation and search commands, before any model loads and before anything is
    /// written: a bad folder or an unwritable log file is bad input (exit 2), a library that does not load exit 3.
    /// </summary>
    public void ConfigureForEvaluation(ParseResult r)
    {
        try
        {
            NativeLlama.EnsureConfigured(r.GetValue(Verbose), r.GetValue(NativeLib), r.GetValue(LogFile));
        }
        catch (Evaluation.LlamaFailureException e)
        {
            throw new CliException(e.Message, ExitCodes.RuntimeFailure); // the library did not load
        }
    }
}
