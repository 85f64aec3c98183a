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
    /// <param name="resultsFolder">The results folder when the command works it out itself (search's MODEL.search-SET-LENGTH).</param>
    public void ConfigureForEvaluation(ParseResult r, string? resultsFolder = null)
    {
        RefuseLogOverInputs(r, resultsFolder);
        NativeLlama.EnsureConfigured(r.GetValue(Verbose), r.GetValue(NativeLib), r.GetValue(LogFile));
    }

    /// <summary>
    /// Refuses a --log-file that names a file another option or argument of the command line names (the text, a factor
    /// file, the prompt, the model), or that lies in the results folder (-o) under another name than *.log: llama.cpp's
    /// log truncates its file at start, and an evaluation that then read its own log as the text reported a perplexity
    /// of 85 with exit 0, one whose log replaced results.jsonl lost its trials.
    /// </summary>
    public void RefuseLogOverInputs(ParseResult r, string? resultsFolder = null)
    {
        // Both given: the log went to standard error and the file was silently never written (a missing folder not said).
        if (r.GetValue(Verbose) && r.GetValue(LogFile) is { Length: > 0 } file)
            throw new CliException($"--log-file {file} with --verbose: --verbose sends llama.cpp's log to standard error instead of a file; give one of them");
        if (r.GetValue(Verbose)) return;
        // The default log is truncated at start as a given one is (an eval of --text ~/.cache/longrope/llama.log measured it).
        bool given = r.GetValue(LogFile) is { Length: > 0 };
        if ((given ? r.GetValue(LogFile) : Runtime.NativeRuntime.DefaultLogFile()) is not { Length: > 0 } log) return;
        string logPath;
        try { logPath = Path.GetFullPath(log); }
        catch (Exception e) when (e is ArgumentException or PathTooLongException or NotSupportedException) { return; } // said when it is opened
        if (Gguf.FileKinds.Of(logPath) is not (Gguf.FileKind.Regular or Gguf.FileKind.Missing)) return; // /dev/stderr and the like
        foreach (var (name, value) in GivenValues(r.CommandResult))
        {
            if (name == LogFile.Name) continue;
            // A value may be a path or NAME=PATH (eval's --patched); a folder option holds the results.
            foreach (string candidate in value.Contains('=') ? [value, value[(value.IndexOf('=') + 1)..]] : (string[])[value])
            {
                if (candidate.Length == 0 || candidate.Contains('\0')) continue;
                string full;
                try { full = Path.GetFullPath(candidate); }
                catch (Exception e) when (e is ArgumentException or PathTooLongException or NotSupportedException) { continue; }
                if (File.Exists(full) && (Gguf.AtomicFile.SameFile(full, logPath) || Gguf.FileStatus.SameInode(full, logPath)))
                    throw new CliException(given
                        ? $"--log-file {logPath}: is also this run's {name}; refusing to overwrite it (give another file name)"
                        : $"{name} {full}: is llama.cpp's log, which this run overwrites (the default --log-file); give --log-file another file, or use a copy");
                if (name is "--out" or "--output") RefuseInResults(logPath, full, name, given);
            }
        }
        if (resultsFolder is not null) RefuseInResults(logPath, Path.GetFullPath(resultsFolder), "--out", given);
    }

    /// <summary>A log among the results is fine as long as it cannot be one of them: the run writes no *.log.</summary>
    private static void RefuseInResults(string logPath, string folder, string option, bool given)
    {
        if (IsInside(logPath, folder) && !logPath.EndsWith(".log", StringComparison.Ordinal))
            throw new CliException($"{(given ? "--log-file" : "llama.cpp's log (the default --log-file)")} {logPath}: is inside the results folder {option} {folder}, "
                + "whose files the run writes (name it *.log, or give a path outside it)");
    }

    private static bool IsInside(string file, string folder)
    {
        string prefix = Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar;
        return file.StartsWith(prefix, StringComparison.Ordinal)
            || (Directory.Exists(folder) && Path.GetDirectoryName(file) is { } dir && Directory.Exists(dir) && Gguf.AtomicFile.SameFile(dir, folder));
    }

    /// <summary>Every option and argument value given on the command line, with the option's name (or the argument's).</summary>
    private static IEnumerable<(string Name, string Value)> GivenValues(System.CommandLine.Parsing.CommandResult command)
    {
        foreach (var child in command.Children)
        {
            string name = child switch
            {
                System.CommandLine.Parsing.OptionResult o => o.Option.Name,
                System.CommandLine.Parsing.ArgumentResult a => a.Argument.Name,
                _ => "",
            };
            if (name.Length == 0) continue;
            foreach (var token in child.Tokens) yield return (name, token.Value);
            // A default folder or file (eval's results/niah) is as much the run's as a given one.
            if (child is System.CommandLine.Parsing.OptionResult { Implicit: true } implicitOption
                && implicitOption.GetValueOrDefault<object?>() is FileSystemInfo defaultPath)
                yield return (name, defaultPath.FullName);
        }
    }
}
