using System.CommandLine;
using System.Globalization;
using LongRopeGguf.Evaluation;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Niah;
using LongRopeGguf.Evaluation.Perplexity;
using LongRopeGguf.Evaluation.Prompts;
using Spectre.Console;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// `longrope eval niah MODEL ...` (needle-in-a-haystack / pass-key grid), `longrope eval ppl MODEL... --text FILE`
/// (perplexity per mode and length) and `longrope eval compare DIR...` (niah runs pooled, each mode against a baseline
/// on the same prompts): what a factor set does to long-context ability, against llama.cpp's own linear (PI) and YaRN
/// scaling on the unpatched file.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var cmd = new Command("eval", "Measure long-context ability: pass-key retrieval grids (niah) and perplexity (ppl) per rescaling mode, and pooled comparisons of niah runs (compare).");
        cmd.Subcommands.Add(CreateNiah());
        cmd.Subcommands.Add(CreatePpl());
        cmd.Subcommands.Add(CreateCompare());
        return cmd;
    }

    private static Option<string> Lengths(string description) => new("--lengths")
    {
        Description = description,
        DefaultValueFactory = _ => "512,1024,2048,4096",
    };

    private static Option<string> Modes() => new("--modes")
    {
        Description = "Built-in modes on the unpatched MODEL, comma-separated: none (no rescaling), pi (llama.cpp linear), yarn (llama.cpp YaRN).",
        DefaultValueFactory = _ => "none,pi,yarn",
    };

    private static Option<string[]> Patched() => new("--patched")
    {
        Description = "One more mode, NAME=FILE: a LongRoPE-patched GGUF file, or a factor file (any format patch --factors reads) that the model is patched with for this run (a copy in the results folder until the run ends); repeat for several.",
        DefaultValueFactory = _ => [],
    };

    private static Option<int?> Threads() => new("--threads", "-t") { Description = "CPU threads for llama.cpp (default: half the cores, LLamaSharp's default).", HelpName = "N" };

    private static Option<int> GpuLayers() => new("--gpu-layers", "-ngl")
    {
        Description = "Layers to offload when the llama.cpp backend has a GPU (999: all).",
        DefaultValueFactory = _ => EngineOptions.Default.GpuLayers,
        HelpName = "N",
    };

    private static Option<int> BatchSize() => new("--batch-size")
    {
        Description = "Tokens per llama_decode call.",
        DefaultValueFactory = _ => EngineOptions.Default.BatchSize,
        HelpName = "N",
    };

    private static EngineOptions Engine(ParseResult r, Option<int?> threads, Option<int> gpuLayers, Option<int> batchSize) =>
        new() { Threads = r.GetValue(threads), GpuLayers = r.GetValue(gpuLayers), BatchSize = r.GetValue(batchSize) };

    private static Command CreateNiah()
    {
        var model = CommonOptions.Model();
        var lengths = Lengths("Context lengths in tokens, comma-separated (a trial's prompt + fed-back answer tokens fill exactly this many positions).");
        var depths = new Option<int>("--depths") { Description = "Needle depths per length, evenly spaced from 0 % to 100 % of the haystack.", DefaultValueFactory = _ => 10 };
        var trials = new Option<int>("--trials-per-depth") { Description = "Prompts (different keys) per length and depth.", DefaultValueFactory = _ => 1 };
        var modes = Modes();
        var patched = Patched();
        var haystack = new Option<string>("--haystack") { Description = "'filler' (the pass-key filler) or a text file (needles go in at sentence starts; a file named filler: ./filler).", DefaultValueFactory = _ => "filler" }.NotEmpty();
        var passages = new Option<int>("--haystack-passages") { Description = "Passages of a text haystack that each length's prompts take turns in, spread evenly over the text (1: all start at its beginning).", DefaultValueFactory = _ => 1 };
        var needle = new Option<string?>("--needle") { Description = "Needle template with a {key} placeholder (default: the pass-key needle)." };
        var question = new Option<string?>("--question") { Description = "Text after the haystack that asks for the needle (default: the pass-key question)." };
        var answer = new Option<string?>("--answer") { Description = "Expected answer, put in for {key} and scored by case-insensitive containment (default: random 5-digit keys, exact first number)." };
        var answerTokens = new Option<int?>("--answer-tokens") { Description = "Greedy tokens per answer (default: 5 for pass keys, answer tokens + 4 for --answer)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the keys.", DefaultValueFactory = _ => 1 };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Results folder (results.jsonl, summary.csv/.md/.json, PNG charts); trials already in it are skipped.", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("results", "niah")) }.ResultsFolder();
        var noShare = new Option<bool>("--no-share") { Description = "One full prefill per trial instead of sharing the haystack prefix (for comparison)." };
        var threads = Threads();
        var gpuLayers = GpuLayers();
        var batchSize = BatchSize();
        var json = CommonOptions.Json();
        var native = new NativeOptions();
        var cmd = new Command("niah", "Needle-in-a-haystack grid: lengths x depths x trials x modes; writes JSON lines, summary tables and charts.")
        {
            model, lengths, depths, trials, modes, patched, haystack, passages, needle, question, answer, answerTokens, seed, output, noShare, threads, gpuLayers, batchSize, json,
        };
        native.AddTo(cmd);
        cmd.SetAction((r, outer) => Guarded(r, native, ct =>
        {
            string modelPath = r.GetValue(model)!.FullName, outDir = r.GetValue(output)!.FullName;
            var options = new NiahOptions
            {
                ModelPath = modelPath,
                Lengths = TokenCountList.Parse(r.GetValue(lengths)!, minimum: 1),
                Depths = r.GetValue(depths),
                TrialsPerDepth = r.GetValue(trials),
                Modes = ParseModes(r.GetValue(modes)!, r.GetValue(patched)!),
                Haystack = Haystack.Parse(r.GetValue(haystack)!),
                HaystackPassages = r.GetValue(passages),
                Needle = NeedleSpec.Create(r.GetValue(needle), r.GetValue(question), r.GetValue(answer)),
                AnswerTokens = r.GetValue(answerTokens),
                Seed = r.GetValue(seed),
                OutputDirectory = outDir,
                ShareWork = !r.GetValue(noShare),
                Engine = Engine(r, threads, gpuLayers, batchSize),
            };
            // Factor files become patched copies only once the cheap checks passed: a copy of a large model takes a while.
            options.Validate();
            RopeMode.RefuseBuiltInModesOnPatchedModel(modelPath, options.Modes);
            NiahRunner.CheckTargets(options); // before the copies of factor-file modes are made (a model's size each)
            using var factorModes = FactorFileModes.Resolve(modelPath, options.Modes, outDir, Console.Error, ct);
            options = options with { Modes = factorModes.Modes };
            foreach (string warning in RopeMode.PatchedModesWithoutRescaling(options.Modes)) Console.Error.WriteLine($"longrope: warning: {warning}");
            var result = WithProgress("niah", report => NiahRunner.Run(options,
                new Reporter<NiahProgress>(p => report(p.Done, p.Total, p.Mode.Length == 0 ? "" : $"{p.Mode} @ {p.Length}")), ct));
            foreach (string warning in result.Warnings) Console.Error.WriteLine($"longrope: warning: {warning}");
            if (r.GetValue(json))
                WriteJson(result.Summary.WriteJson);
            else
                PrintNiah(result, options.OutputDirectory);
            return ExitCodes.Success;
        }, outer));
        return cmd;
    }

    private static Command CreatePpl()
    {
        var models = new Argument<FileInfo[]>("MODEL")
        {
            Description = "GGUF files: the first is the unpatched model (none/pi/yarn run on it); each further file (a patched model or a factor file, as --patched) is one more mode, named after the file.",
            Arity = ArgumentArity.OneOrMore,
        };
        // The parser hands an unknown option ("-x") to this argument, which takes any number of files; say what it is
        // instead of looking for a model file named "-x".
        models.Validators.Add(result =>
        {
            foreach (var token in result.Tokens.Where(t => t.Value.StartsWith('-') && !File.Exists(t.Value)))
                result.AddError($"Unrecognized option '{token.Value}'");
        });
        var text = new Option<FileInfo>("--text") { Description = "UTF-8 text to score (whitespace runs become single spaces).", Required = true };
        var lengths = Lengths("Context lengths in tokens, comma-separated: the window length scored at each.");
        var modes = Modes();
        var patched = Patched();
        var windows = new Option<int>("--windows") { Description = "Windows per length (fewer if the text runs out).", DefaultValueFactory = _ => 8 };
        var byPosition = new Option<int>("--by-position")
        {
            Description = "Also score every position of each window and report the mean NLL in N equal ranges of positions (ppl-by-position.csv/.png; chart at the longest length): where in a long window a factor set stops using the context.",
            HelpName = "N",
        }
        // 0 is what "not asked" means inside: given on the command line it would be silently ignored.
        .Positive("expected 1 or more ranges of positions (leave the option out for none)");
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Results folder (ppl.csv, ppl.json, ppl.md, ppl-vs-length.png; ppl-by-position.csv/.png with --by-position).", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("results", "ppl")) }.ResultsFolder();
        var threads = Threads();
        var gpuLayers = GpuLayers();
        var batchSize = BatchSize();
        var json = CommonOptions.Json();
        var native = new NativeOptions();
        var cmd = new Command("ppl", "Perplexity of a text per mode and context length (non-overlapping windows, second half of each scored).")
        {
            models, text, lengths, modes, patched, windows, byPosition, output, threads, gpuLayers, batchSize, json,
        };
        native.AddTo(cmd);
        cmd.SetAction((r, outer) => Guarded(r, native, ct =>
        {
            var files = r.GetValue(models)!;
            var extra = files.Skip(1).Select(f => RopeMode.FromModelFile(f.FullName));
            string outDir = r.GetValue(output)!.FullName;
            var options = new PerplexityOptions
            {
                ModelPath = files[0].FullName,
                TextPath = r.GetValue(text)!.FullName,
                Lengths = TokenCountList.Parse(r.GetValue(lengths)!, minimum: 1),
                Modes = [.. ParseModes(r.GetValue(modes)!, r.GetValue(patched)!), .. extra],
                Windows = r.GetValue(windows),
                PositionBuckets = r.GetValue(byPosition),
                OutputDirectory = outDir,
                Engine = Engine(r, threads, gpuLayers, batchSize),
            };
            options.Validate();
            RopeMode.RefuseBuiltInModesOnPatchedModel(files[0].FullName, options.Modes);
            PerplexityRunner.CheckTargets(options); // before the copies of factor-file modes are made (a model's size each)
            using var factorModes = FactorFileModes.Resolve(files[0].FullName, options.Modes, outDir, Console.Error, ct);
            options = options with { Modes = factorModes.Modes };
            foreach (string warning in RopeMode.PatchedModesWithoutRescaling(options.Modes)) Console.Error.WriteLine($"longrope: warning: {warning}");
            var report = WithProgress("ppl", update => PerplexityRunner.Run(options,
                new Reporter<(int done, int total)>(p => update(p.done, p.total, "")), ct));
            if (r.GetValue(json))
                WriteJson(stream => PerplexityRunner.WriteJson(report, stream));
            else
            {
                Console.WriteLine($"perplexity of {report.Text} ({report.DescribeTextTokens()}), results in {options.OutputDirectory}:");
                Console.WriteLine(PerplexityRunner.Table(report).TrimEnd('\n'));
            }
            return ExitCodes.Success;
        }, outer));
        return cmd;
    }

    private static Command CreateCompare()
    {
        var folders = new Argument<string[]>("DIR")
        {
            Description = "Result folders of eval niah (or their results.jsonl); trials of the same prompt in two folders count once.",
            Arity = ArgumentArity.OneOrMore,
        };
        var baseline = new Option<string>("--baseline") { Description = "The mode every other mode is compared with, prompt by prompt.", DefaultValueFactory = _ => "yarn" };
        var byDepth = new Option<bool>("--by-depth") { Description = "One row per needle depth as well as per length: where in the haystack a mode wins or loses." };
        var modes = new Option<string?>("--modes")
        {
            Description = "Only these modes (comma-separated; the baseline is always kept): pools runs that use one mode name for two different files, on the modes they share.",
            HelpName = "MODES",
        };
        var json = CommonOptions.Json();
        var cmd = new Command("compare", "Pool several niah runs and compare each mode with a baseline on the same prompts (exact sign test on the prompts where one of them is right).")
        {
            folders, baseline, byDepth, modes, json,
        };
        cmd.SetAction((r, ct) => CliErrors.Run(() =>
        {
            string[]? only = r.GetValue(modes) is { } m ? CommaList.Entries(m, "--modes") : null;
            var comparison = NiahComparison.Build(r.GetValue(folders)!, r.GetValue(baseline)!, r.GetValue(byDepth), only);
            foreach (string warning in comparison.Warnings) Console.Error.WriteLine($"longrope: warning: {warning}");
            if (r.GetValue(json))
                WriteJson(comparison.WriteJson);
            else
            {
                Console.WriteLine($"pass-key accuracy pooled over {comparison.Sources.Count} result file(s), against {comparison.Baseline} on the same prompts:");
                Console.Write(comparison.ToMarkdown());
                Console.WriteLine();
                Console.WriteLine("sign test p: chance of a split of the prompts only one of the two got right at least this uneven if both modes were equally good (two-sided, exact).");
            }
            return ExitCodes.Success;
        }, ct));
        return cmd;
    }

    /// <summary>Sets up llama.cpp (--native-lib, its log to --log-file or stderr with --verbose), turns evaluation failures into one-line errors with the right exit code, and Ctrl-C / SIGTERM into cancellation (exit 130 / 143).</summary>
    private static Task<int> Guarded(ParseResult r, NativeOptions native, Func<CancellationToken, int> action, CancellationToken outer) => TerminationSignals.Run(outer, ct =>
    {
        native.ConfigureForEvaluation(r);
        return action(ct);
    });

    /// <summary>JSON to standard output through Console.Out (so redirection of Console.Out sees it).</summary>
    private static void WriteJson(Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    internal static IReadOnlyList<RopeMode> ParseModes(string modes, IEnumerable<string> patched)
    {
        var list = CommaList.Entries(modes, "--modes").Select(RopeMode.ParseBuiltIn).ToList();
        if (list.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new EvalInputException($"--modes '{modes}': {twice.Key} is given twice");
        list.AddRange(patched.Select(RopeMode.ParsePatched));
        return list;
    }

    private static readonly TimeSpan PlainProgressInterval = TimeSpan.FromSeconds(30);

    /// <summary>A progress bar with ETA on standard error (plain lines when it is not a terminal).</summary>
    private static T WithProgress<T>(string title, Func<Action<int, int, string>, T> work)
    {
        if (Console.IsErrorRedirected)
        {
            using var plain = new PlainProgress(Console.Error, title, PlainProgressInterval);
            return work(plain.Report);
        }
        var console = ErrorConsole.Create();
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(title, autoStart: true, maxValue: 1);
                result = work((done, total, what) =>
                {
                    task.MaxValue = Math.Max(1, total);
                    task.Value = done;
                    task.Description = what.Length == 0 ? title : $"{title} {Markup.Escape(what)}";
                });
                task.Value = task.MaxValue;
            });
        return result;
    }

    private static void PrintNiah(NiahRunResult result, string directory)
    {
        var s = result.Summary;
        var run = result.Run;
        Console.WriteLine($"pass-key accuracy ({s.Haystack}), results in {directory}:");
        Console.WriteLine(s.AccuracyTable());
        if (s.NllTable() is { } nll)
        {
            // The same table as summary.md's, under a one-line title.
            Console.WriteLine("answer NLL (expected key teacher-forced, nats/token, lower is better):");
            Console.WriteLine(nll);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"this run: {run.TrialsRun} trials ({run.TrialsSkipped} already recorded, skipped) in {run.Elapsed.TotalSeconds:F1} s = {run.TrialsPerMinute:F1} trials/minute; prefilled {run.PrefilledTokens:N0} tokens vs {run.NaivePrefillTokens:N0} for one prefill per trial"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"all recorded trials: {s.Work.Trials}/{s.ExpectedTrials}, prefilled {s.Work.PrefilledTokens:N0} of {s.Work.NaivePrefillTokens:N0} naive tokens ({s.Work.PrefillFraction:P1}), {s.Work.TrialsPerMinute:F1} trials/minute"));
    }

    /// <summary>Reports synchronously on the worker's thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Reporter<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
