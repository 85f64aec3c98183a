using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.Evaluation;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.LongRope;
using LongRopeGguf.Search;
using LongRopeGguf.Search.Evolution;
using LongRopeGguf.Search.Llama;
using Spectre.Console;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// `longrope search MODEL --target-length N [--set long|short] [--fitness ppl|passkey|mix] [--text FILE] ...`:
/// LongRoPE's evolution search for per-dimension factors (and the attention factor), measured through llama.cpp.
/// Writes factors.json (for `patch`), search.jsonl (re-running the same command resumes from it) and best-fitness.png.
/// </summary>
public static class SearchCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var target = new Option<int>("--target-length", "-L") { Description = "Context length to search factors for (long set: above the model's original length; short set: at most it).", Required = true };
        var set = new Option<string>("--set") { Description = "Which factor set to search: long (default) or short (short-context recovery at the original length; needs --init with the long set).", DefaultValueFactory = _ => "long" };
        var fitness = new Option<string>("--fitness") { Description = "ppl (perplexity of --text windows), passkey (loss of pass-key answers, see --passkey-loss) or mix (weighted sum of the text NLL and the pass-key loss, default).", DefaultValueFactory = _ => "mix" };
        var mixWeight = new Option<double>("--mix-weight") { Description = "Weight of the text NLL in mix; the pass-key loss gets 1 - this.", DefaultValueFactory = _ => 0.5 };
        var text = new Option<FileInfo?>("--text") { Description = "Text (UTF-8) for perplexity windows, and the default pass-key haystack." };
        var windows = new Option<int>("--windows") { Description = "Perplexity windows of the target length, from the start of the text.", DefaultValueFactory = _ => 2 };
        var prompts = new Option<int>("--passkey-prompts") { Description = "Pass-key prompts (needles at evenly spaced depths).", DefaultValueFactory = _ => 3 };
        var passages = new Option<int>("--passkey-passages") { Description = "Passages of the haystack text the prompts take turns in, spread over the text (1: all start at its beginning).", DefaultValueFactory = _ => 1 };
        var haystack = new Option<string?>("--haystack") { Description = "Pass-key haystack: filler or a text file (default: --text; a file named filler: ./filler)." }.NotEmpty();
        var passkeySeed = new Option<int>("--passkey-seed") { Description = "Seed of the pass-key keys.", DefaultValueFactory = _ => 7001 };
        var passkeyDepths = new Option<string>("--passkey-depths")
        {
            Description = "Needle depths of the pass-key prompts: centered ((i + 0.5) / n, default) or ends (i / (n - 1): from the very start to the very end, as eval niah's grid; one prompt: 0.5).",
            DefaultValueFactory = _ => "centered",
        };
        var passkeyLoss = new Option<string>("--passkey-loss")
        {
            Description = "How a pass-key answer is scored: nll (mean NLL of its tokens, default) or margin (softplus of minus its worst token's logit margin: every key greedy decoding gets wrong costs at least ln 2, so it tracks the keys more closely than the NLL).",
            DefaultValueFactory = _ => "nll",
        };
        var maxPpl = new Option<string?>("--max-ppl")
        {
            Description = "Bound the --text perplexity (passkey or mix): a number, or a seed's name (critical, yarn, pi, ntk, ones, init) whose perplexity, measured first, is the bound. Candidates above it rank after all within it: the pass-key (or mix) loss is minimised subject to the bound.",
            HelpName = "PPL|SEED",
        };
        var population = new Option<int>("--population") { Description = "Initial population.", DefaultValueFactory = _ => 64 };
        var parents = new Option<int>("--parents") { Description = "Survivors per iteration.", DefaultValueFactory = _ => 32 };
        var mutations = new Option<int>("--mutations") { Description = "Mutants per iteration.", DefaultValueFactory = _ => 16 };
        var crossovers = new Option<int>("--crossovers") { Description = "Crossovers per iteration.", DefaultValueFactory = _ => 16 };
        var iterations = new Option<int>("--iterations") { Description = "Iterations (a finished search re-run with more iterations goes on from its log).", DefaultValueFactory = _ => 40 };
        var mutationProbability = new Option<double>("--mutation-probability") { Description = "Probability that a mutation changes a given gene.", DefaultValueFactory = _ => 0.3 };
        var step = new Option<double>("--step") { Description = "Grid step of the factors.", DefaultValueFactory = _ => 0.01 };
        var maxFactor = new Option<double?>("--max-factor") { Description = "Largest factor (default 1.25 x the scale; the scale with --piecewise)." };
        var piecewise = new Option<bool>("--piecewise") { Description = "Two boundary genes: dimensions below the first stay at 1, from the second on at the scale; only those between are searched." };
        var attn = new Option<string?>("--attn-factor") { Description = "Fix the attention factor instead of searching it: su, yarn, none or a number." };
        var attnRange = new Option<string?>("--attn-range") { Description = "Range of the searched attention factor, MIN:MAX (default: with pass keys in the fitness, YaRN's 0.1 ln s + 1 to 0.2 above it, since a lower one costs retrieval; 1:2 for ppl)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the search's random generator (same seed, same search).", DefaultValueFactory = _ => 42 };
        var seedRules = new Option<string?>("--seed-rules")
        {
            Description = "Rules whose factor sets for the target scale seed a long search, comma-separated: pi, ntk, yarn, critical, ones (default: pi,ntk,yarn,critical).",
            HelpName = "RULES",
        };
        var init = new Option<FileInfo?>("--init") { Description = "Factor file whose factors join the seeds (required for --set short: its long set is kept)." };
        var output = new Option<DirectoryInfo?>("--out", "-o") { Description = "Output folder (default: MODEL.search-SET-LENGTH beside MODEL)." }.ResultsFolder();
        var threads = new Option<int?>("--threads", "-t") { Description = "CPU threads for llama.cpp (default: all cores).", HelpName = "N" };
        var batch = new Option<int>("--batch-size") { Description = "Tokens per llama_decode call.", DefaultValueFactory = _ => 512 };
        var gpuLayers = new Option<int>("--gpu-layers", "-ngl") { Description = "Layers to offload when the llama.cpp backend has a GPU.", DefaultValueFactory = _ => 999 };
        var timeLimit = new Option<string?>("--time-limit")
        {
            Description = "Stop starting new candidates after this wall time (e.g. 90s, 20m, 1.5h; a bare number is minutes) and write the best so far; the same command continues the search.",
            HelpName = "DURATION",
        };
        var check = new Option<bool>("--check")
        {
            Description = "Check everything the search checks before its first candidate (options, model, --init, text windows, pass-key prompts, a log in --out) and say what it would do, without evaluating any (exit 0: it would start).",
        };
        var json = CommonOptions.Json();
        var native = new NativeOptions();
        var cmd = new Command("search", "Search LongRoPE rescale factors (and the attention factor) by evolution, measured through llama.cpp; writes a factor file for `patch`.")
        {
            model, target, set, fitness, mixWeight, text, windows, prompts, passages, haystack, passkeySeed, passkeyDepths, passkeyLoss, maxPpl, population, parents, mutations, crossovers,
            iterations, mutationProbability, step, maxFactor, piecewise, attn, attnRange, seed, seedRules, init, output, threads, batch, gpuLayers, timeLimit, check, json,
        };
        native.AddTo(cmd);
        cmd.SetAction((r, outer) => TerminationSignals.Run(outer, ct =>
        {
            // The model first: a missing one is the mistake to report, not the options that would follow from it.
            string modelPath = InputFiles.Existing(r.GetValue(model)!, "GGUF model file");
            int length = r.GetValue(target);
            var which = r.GetValue(set)!.Trim().ToLowerInvariant() switch
            {
                "long" => SearchSet.Long,
                "short" => SearchSet.Short,
                var s => throw new CliException($"--set {s}: expected long or short"),
            };
            (double Min, double Max)? givenRange = r.GetValue(attnRange) is { } rangeText ? ParseRange(rangeText) : null;
            (AttentionFactorPolicy, float?)? fixedAttention = r.GetValue(attn) is { } a ? AttentionFactors.ParseChoice(a) : null;
            string outDir = r.GetValue(output)?.FullName ?? DefaultOutput(modelPath, which, length);
            (double? Value, string? Seed) bound = r.GetValue(maxPpl) is { } boundText ? FitnessSpec.ParseMaxPerplexity(boundText) : (null, null);
            var fitnessKind = FitnessSpec.ParseKind(r.GetValue(fitness)!);
            // A weight given for another fitness would be ignored without a word.
            if (fitnessKind != FitnessKind.Mix && r.GetResult(mixWeight) is { Implicit: false })
                throw new CliException($"--mix-weight weighs the two parts of --fitness mix; this search's fitness is {r.GetValue(fitness)}");
            // So would the pass-key settings of a perplexity search, and the windows of a pass-key search without a
            // perplexity bound (they measure only what --max-ppl bounds).
            if (fitnessKind == FitnessKind.Perplexity && new Option[] { prompts, passages, haystack, passkeySeed }.FirstOrDefault(o => r.GetResult(o) is { Implicit: false }) is { } passKeyOption)
                throw new CliException($"{passKeyOption.Name}: fitness ppl has no pass-key prompts; use --fitness passkey or mix");
            if (fitnessKind == FitnessKind.PassKey && r.GetValue(maxPpl) is null && r.GetResult(windows) is { Implicit: false })
                throw new CliException("--windows: fitness passkey measures no perplexity (the windows serve --max-ppl); use --fitness ppl or mix, or bound it with --max-ppl");
            var request = new SearchRequest
            {
                ModelPath = modelPath,
                Set = which,
                Fitness = new FitnessSpec
                {
                    Kind = fitnessKind,
                    MixWeight = r.GetValue(mixWeight),
                    TargetLength = length,
                    TextPath = r.GetValue(text)?.FullName,
                    Windows = r.GetValue(windows),
                    PassKeyPrompts = r.GetValue(prompts),
                    PassKeyPassages = r.GetValue(passages),
                    Haystack = r.GetValue(haystack) is { } h && !h.Equals("filler", StringComparison.OrdinalIgnoreCase) ? Path.GetFullPath(h) : r.GetValue(haystack),
                    PassKeySeed = r.GetValue(passkeySeed),
                    PassKeyLoss = FitnessSpec.ParseLoss(r.GetValue(passkeyLoss)!),
                    PassKeyDepths = FitnessSpec.ParseDepths(r.GetValue(passkeyDepths)!),
                    MaxPerplexity = bound.Value,
                    MaxPerplexitySeed = bound.Seed,
                },
                Evolution = new EvolutionSettings
                {
                    Population = r.GetValue(population),
                    Parents = r.GetValue(parents),
                    Mutations = r.GetValue(mutations),
                    Crossovers = r.GetValue(crossovers),
                    Iterations = r.GetValue(iterations),
                    MutationProbability = r.GetValue(mutationProbability),
                    Seed = r.GetValue(seed),
                },
                Step = r.GetValue(step),
                MaxFactor = r.GetValue(maxFactor),
                Piecewise = r.GetValue(piecewise),
                FixedAttention = fixedAttention,
                AttentionMin = givenRange?.Min,
                AttentionMax = givenRange?.Max,
                SeedRules = r.GetValue(seedRules) is { } rulesText ? ParseRules(rulesText) : null,
                InitPath = r.GetValue(init)?.FullName,
                OutputDirectory = outDir,
                Engine = new EngineOptions { Threads = r.GetValue(threads) ?? Math.Min(Environment.ProcessorCount, Runtime.RunnerOptions.MaxThreads), BatchSize = r.GetValue(batch), GpuLayers = r.GetValue(gpuLayers) },
                TimeLimit = r.GetValue(timeLimit) is { } limitText ? ParseDuration(limitText) : null,
            };
            native.ConfigureForEvaluation(r, outDir);
            if (r.GetValue(check))
            {
                SearchCheck found = SearchRunner.Check(request, ct);
                if (r.GetValue(json)) WriteJson(found, StandardOutput.OpenStream());
                else WriteText(found, request, Console.Out);
                return ExitCodes.Success;
            }
            var display = new SearchProgressDisplay(request);
            SearchReport report = display.Run(observer => SearchRunner.Run(request, observer, ct));
            if (r.GetValue(json)) WriteJson(report, StandardOutput.OpenStream());
            else WriteText(report, Console.Out);
            return ExitCodes.Success;
        }));
        return cmd;
    }

    public static string DefaultOutput(string modelPath, SearchSet set, int length)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        string name = Path.GetFileName(modelPath);
        string stem = name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? name[..^5] : name;
        return Path.Combine(dir, $"{stem}.search-{set.Name()}-{length}");
    }

    /// <summary>A duration like 90s, 20m, 1.5h or a bare number of minutes.</summary>
    internal static TimeSpan ParseDuration(string text)
    {
        string t = text.Trim();
        double unit = 60;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            unit = char.ToLowerInvariant(t[^1]) switch { 's' => 1, 'm' => 60, 'h' => 3600, _ => double.NaN };
            t = t[..^1];
        }
        // From 1 ms to the longest timer .NET runs (uint.MaxValue - 1 ms, about 49.7 days).
        if (!double.IsNaN(unit) && double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
            && double.IsFinite(v) && v * unit >= 0.001 && v * unit * 1000 <= uint.MaxValue - 1)
            return TimeSpan.FromSeconds(v * unit);
        throw new CliException($"--time-limit '{text}': expected a duration in s, m or h from 0.001s to 1193h, such as 90s, 20m or 1.5h (a bare number is minutes)");
    }

    private static (double Min, double Max) ParseRange(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double min)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double max))
            return double.IsFinite(min) && double.IsFinite(max) ? (min, max)
                : throw new CliException($"--attn-range '{text}': MIN and MAX must be finite numbers");
        throw new CliException($"--attn-range '{text}': expected MIN:MAX, e.g. 1:2");
    }

    private static List<FactorMethod> ParseRules(string text)
    {
        var rules = new List<FactorMethod>();
        foreach (var name in CommaList.Entries(text, "--seed-rules"))
        {
            try { rules.Add(FactorRules.ParseMethod(name)); }
            catch (FactorSetException) { throw new CliException($"--seed-rules '{text}': unknown rule '{name}'; expected pi, ntk, yarn, critical or ones, comma-separated"); }
        }
        return rules;
    }

    private static string F(double v, string format = "G6") => v.ToString(format, CultureInfo.InvariantCulture);

    public static void WriteText(SearchReport report, TextWriter o)
    {
        var outcome = report.Outcome;
        var request = report.Request;
        o.WriteLine($"search:        {request.Set.Name()} set of {Path.GetFileName(request.ModelPath)} at {request.Fitness.TargetLength} tokens (scale {F(report.Scale, "0.###")}), fitness {request.Fitness.Name}: {request.Fitness.Unit}");
        o.WriteLine($"space:         {report.Space.Dimensions} factors in [1, {F(report.Space.MaxFactor, "0.###")}] step {F(report.Space.Step)}{(report.Space.Piecewise ? ", piecewise" : "")}, attention factor "
            + (report.Space.Attention is { } a ? $"searched in [{F(a.Min)}, {F(a.Max)}]" : $"fixed at {F(report.Space.FixedAttentionFactor)}"));
        o.WriteLine($"candidates:    {outcome.All.Length} ({outcome.NewEvaluations} evaluated now, {outcome.All.Length - outcome.NewEvaluations} from the log), {outcome.CompletedIterations} iterations");
        if (report.MaxPerplexity is { } maxPpl)
            o.WriteLine($"bound:         text perplexity at most {F(maxPpl, "0.####")}{(request.Fitness.MaxPerplexitySeed is { } of ? $" (the {of} seed's, measured on --text)" : "")}, "
                + $"above it a candidate scores {F(FitnessSpec.OutsideBoundBase)} + ln(ppl / bound); {WithinBound(outcome, maxPpl)} of {outcome.All.Length} candidates within it");
        if (outcome.StoppedInIteration is { } stoppedIn)
            o.WriteLine($"stopped:       at --time-limit, in iteration {stoppedIn} of {request.Evolution.Iterations}; the best so far is written, and the same command continues the search");
        if (outcome.CandidatesPerMinute is { } rate) o.WriteLine($"speed:         {F(rate, "0.0")} candidates/minute (all evaluations in the log)");
        o.WriteLine("seeds:");
        foreach (var s in outcome.Seeds)
            o.WriteLine($"  {s.SeedName,-8} fitness {F(s.Fitness.Value),-10} attn {F(s.Candidate.AttentionFactor, "0.###")}  {Components(s)}");
        var best = outcome.Best;
        o.WriteLine($"best:          fitness {F(best.Fitness.Value)} ({best.Describe()}, iteration {best.Iteration}), {Components(best)}");
        o.WriteLine($"               {(best.Fitness.Value < outcome.BestSeed.Fitness.Value ? "better" : "no better")} than the best seed ({outcome.BestSeed.SeedName}, {F(outcome.BestSeed.Fitness.Value)})");
        o.WriteLine($"attn_factor:   {F(best.Candidate.AttentionFactor, "0.###")}");
        o.WriteLine($"factors:       {string.Join(" ", best.Candidate.Factors.Select(f => F(f, "0.##")))}");
        o.WriteLine("best per iteration: " + string.Join(" ", outcome.Iterations.Select(i => F(i.Best.Fitness.Value, "G5"))));
        o.WriteLine($"factor file:   {report.FactorsPath}");
        o.WriteLine($"log:           {report.LogPath} (run the same command again to resume or extend)");
        o.WriteLine($"chart:         {report.ChartPath}");
    }

    /// <summary>The candidates whose text perplexity kept to the bound.</summary>
    private static int WithinBound(SearchOutcome outcome, double bound) =>
        outcome.All.Count(c => c.Fitness.Components.TryGetValue("ppl", out double p) && p <= bound);

    private static string Components(EvaluatedCandidate c) =>
        string.Join(", ", c.Fitness.Components.Select(kv => $"{kv.Key} {F(kv.Value, "G4")}"));

    public static void WriteText(SearchCheck found, SearchRequest request, TextWriter o)
    {
        foreach (string warning in found.Warnings) Console.Error.WriteLine($"longrope: warning: {warning}");
        o.WriteLine($"search --check: ready to search the {request.Set.Name()} set at {request.Fitness.TargetLength} tokens ({request.Fitness.Name}); nothing evaluated");
        o.WriteLine($"seeds:         {string.Join(", ", found.Seeds)}");
        o.WriteLine($"candidates:    up to {found.PlannedCandidates:N0}{(found.LoggedCandidates > 0 ? $", {found.LoggedCandidates:N0} in the log of {request.OutputDirectory} (resumed)" : "")}");
        if (found.TextTokens > 0) o.WriteLine($"text:          {found.TextTokens:N0} tokens read, {request.Fitness.Windows} window(s) of {request.Fitness.TargetLength}");
        if (found.PassKeyPrompts > 0) o.WriteLine($"pass keys:     {found.PassKeyPrompts} prompts of {request.Fitness.TargetLength} tokens");
    }

    public static void WriteJson(SearchCheck found, Stream output)
    {
        foreach (string warning in found.Warnings) Console.Error.WriteLine($"longrope: warning: {warning}");
        using var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented);
        w.WriteStartObject();
        w.WriteBoolean("ready", true);
        w.WriteStartArray("seeds");
        foreach (string seed in found.Seeds) w.WriteStringValue(seed);
        w.WriteEndArray();
        w.WriteNumber("planned_candidates", found.PlannedCandidates);
        w.WriteNumber("logged_candidates", found.LoggedCandidates);
        w.WriteNumber("passkey_prompts", found.PassKeyPrompts);
        w.WriteNumber("text_tokens", found.TextTokens);
        w.WriteStartArray("warnings");
        foreach (string warning in found.Warnings) w.WriteStringValue(warning);
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
        output.Write("\n"u8);
    }

    public static void WriteJson(SearchReport report, Stream output)
    {
        var outcome = report.Outcome;
        using var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented);
        void Candidate(EvaluatedCandidate c)
        {
            w.WriteStartObject();
            if (c.SeedName is not null) w.WriteString("seed", c.SeedName);
            w.WriteNumber("serial", c.Serial);
            w.WriteNumber("iteration", c.Iteration);
            w.WriteString("origin", c.Origin.ToString().ToLowerInvariant());
            Number("fitness", c.Fitness.Value);
            w.WriteStartObject("components");
            foreach (var (k, v) in c.Fitness.Components) Number(k, v);
            w.WriteEndObject();
            w.WriteNumber("attn_factor", c.Candidate.AttentionFactor);
            w.WriteStartArray("factors");
            foreach (float f in c.Candidate.Factors) w.WriteNumberValue(f);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        void Number(string name, double v) => w.WriteMeasured(name, v);
        w.WriteStartObject();
        w.WriteString("model", report.Request.ModelPath);
        w.WriteString("set", report.Request.Set.Name());
        w.WriteNumber("target_length", report.Request.Fitness.TargetLength);
        w.WriteNumber("original_context_length", report.OriginalContextLength);
        w.WriteString("fitness", report.Request.Fitness.Name);
        w.WriteString("fitness_unit", report.Request.Fitness.Unit);
        if (report.Request.Fitness.UsesPassKey)
        {
            w.WriteString("passkey_loss", report.Request.Fitness.PassKeyLoss.Name());
            w.WriteString("passkey_depths", report.Request.Fitness.PassKeyDepths.Name());
        }
        if (report.MaxPerplexity is { } maxPpl)
        {
            w.WriteNumber("max_ppl", maxPpl);
            if (report.Request.Fitness.MaxPerplexitySeed is { } of) w.WriteString("max_ppl_of", of); else w.WriteNull("max_ppl_of");
            w.WriteNumber("max_ppl_within", WithinBound(outcome, maxPpl));
        }
        w.WriteNumber("candidates", outcome.All.Length);
        w.WriteNumber("evaluated_now", outcome.NewEvaluations);
        w.WriteNumber("iterations", outcome.CompletedIterations);
        w.WriteBoolean("stopped_by_time_limit", outcome.StoppedEarly);
        if (outcome.StoppedInIteration is { } stoppedIn) w.WriteNumber("stopped_in_iteration", stoppedIn); else w.WriteNull("stopped_in_iteration");
        if (outcome.CandidatesPerMinute is { } rate) w.WriteNumber("candidates_per_minute", Math.Round(rate, 2));
        w.WriteNumber("attn_factor", outcome.Best.Candidate.AttentionFactor);
        if (report.Space.Attention is { } range)
        {
            w.WriteStartObject("attn_range");
            w.WriteNumber("min", range.Min);
            w.WriteNumber("max", range.Max);
            w.WriteEndObject();
        }
        w.WritePropertyName("best");
        Candidate(outcome.Best);
        w.WriteStartArray("seeds");
        foreach (var s in outcome.Seeds) Candidate(s);
        w.WriteEndArray();
        w.WriteStartArray("best_per_iteration");
        foreach (var i in outcome.Iterations)
            if (double.IsFinite(i.Best.Fitness.Value)) w.WriteNumberValue(i.Best.Fitness.Value); else w.WriteNullValue();
        w.WriteEndArray();
        w.WriteString("factors_file", report.FactorsPath);
        w.WriteString("log", report.LogPath);
        w.WriteString("chart", report.ChartPath);
        w.WriteEndObject();
        w.Flush();
        output.WriteByte((byte)'\n');
        output.Flush();
    }
}

/// <summary>
/// Progress on standard error: a live line (iteration, best fitness, candidates/minute, ETA) on a terminal, one line
/// per iteration otherwise (logs, CI). Standard output stays for the result.
/// </summary>
internal sealed class SearchProgressDisplay(SearchRequest request) : ISearchObserver
{
    // Live display when standard error is a terminal, whatever standard output is (the result may go to a file).
    private readonly IAnsiConsole _console = ErrorConsole.Create();
    private ProgressTask? _task;
    private PlainProgress? _plain;
    private int _planned;

    /// <summary>How long plain output (standard error not a terminal) may stay silent: one 16k-token candidate is
    /// minutes on a small CPU, an iteration of them an hour.</summary>
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(30);

    public SearchReport Run(Func<ISearchObserver, SearchReport> search)
    {
        if (!_console.Profile.Capabilities.Interactive || Console.IsErrorRedirected)
        {
            using var plain = _plain = new PlainProgress(Console.Error, "search", PlainInterval, linePerTenth: false);
            return search(this);
        }
        SearchReport? report = null;
        _console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                _task = ctx.AddTask("starting", maxValue: 1);
                report = search(this);
                _task.Value = _task.MaxValue;
            });
        return report!;
    }

    public void OnStart(int plannedCandidates, bool resumed)
    {
        _planned = plannedCandidates;
        if (_task is not null) _task.MaxValue = plannedCandidates;
        else Plain($"search: up to {plannedCandidates} candidates{(resumed ? ", resuming from the log" : "")}");
    }

    public void OnWarning(string message) => Plain($"longrope: warning: {message}");

    private void Plain(string line)
    {
        if (_plain is not null) _plain.Line(line);
        else _console.WriteLine(line); // plain text: WriteLine(string) takes no markup, so nothing to escape
    }

    public void OnCandidate(EvaluatedCandidate candidate, SearchProgress p)
    {
        _plain?.Report(p.Candidates, _planned, Describe(p));
        if (_task is null) return;
        _task.Value = p.Candidates;
        _task.Description = Markup.Escape(Describe(p));
    }

    public void OnIteration(IterationSummary summary, SearchProgress p)
    {
        if (_task is not null) { _task.Description = Markup.Escape(Describe(p)); return; }
        Plain(Describe(p) + $" ({p.Candidates}/{_planned} candidates)");
    }

    private string Describe(SearchProgress p)
    {
        string best = p.Best is { } b ? b.Fitness.Value.ToString("G5", CultureInfo.InvariantCulture) : "-";
        string rate = p.CandidatesPerMinute is { } r ? r.ToString("0.0", CultureInfo.InvariantCulture) + "/min" : "-/min";
        string eta = p.Eta is { } e ? $"ETA {(int)e.TotalHours}:{e.Minutes:00}:{e.Seconds:00}" : "ETA -";
        return $"iteration {p.Iteration}/{p.Iterations}  best {best} ({request.Fitness.Name})  {rate}  {eta}";
    }
}
