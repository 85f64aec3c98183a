using System.Globalization;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.LongRope.Formats;
using LongRopeGguf.Search.Evolution;
using LongRopeGguf.Search.Llama;

namespace LongRopeGguf.Search;

/// <summary>What a search run produced.</summary>
/// <param name="Factors">The factor set written to <paramref name="FactorsPath"/> (best candidate).</param>
/// <param name="Space">The space searched.</param>
/// <param name="Outcome">Every candidate, the seeds and the per-iteration bests.</param>
public sealed record SearchReport(
    SearchRequest Request,
    int OriginalContextLength,
    SearchSpace Space,
    SearchOutcome Outcome,
    FactorSet Factors,
    string FactorsPath,
    string LogPath,
    string ChartPath)
{
    public double Scale => (double)Request.Fitness.TargetLength / OriginalContextLength;

    /// <summary>The text perplexity bound the search ran under (--max-ppl: the number, or the seed's measurement); null: none.</summary>
    public double? MaxPerplexity { get; init; }
}

/// <summary>What <see cref="SearchRunner.Check"/> found: the search as it would run.</summary>
/// <param name="LoggedCandidates">Candidates a log in the folder holds for this search (0 without one).</param>
public sealed record SearchCheck(IReadOnlyList<string> Seeds, long PlannedCandidates, int LoggedCandidates, int PassKeyPrompts, int TextTokens, IReadOnlyList<string> Warnings);

/// <summary>
/// Runs `longrope search`: checks the request against the model, makes the seeds (the --seed-rules sets for the target scale,
/// or ones for the short set, plus an optional factor file), patches one working copy, and runs the evolution search
/// with the llama.cpp fitness, logging to a JSONL file that a later run with the same arguments resumes.
/// </summary>
public static class SearchRunner
{
    public const string FactorsFile = "factors.json";
    public const string LogFile = "search.jsonl";
    public const string ChartFile = "best-fitness.png";
    public const string WorkingFile = ".working-copy.gguf";
    public const string LockFile = ".search.lock";

    /// <summary>
    /// Everything a search checks before its first candidate, without evaluating any (`search --check`): the options,
    /// the model, the --init file, the text and its windows, the pass-key prompts (the working copy is made and loaded,
    /// then deleted) and, when the folder holds a log, that the log is this search's. A results folder it made is
    /// removed again. Not measured: the --max-ppl seed's perplexity (the search's first evaluation).
    /// </summary>
    public static SearchCheck Check(SearchRequest request, CancellationToken ct = default)
    {
        var plan = Plan(request);
        string? created = PrepareFolder(request);
        try
        {
            using var folderLock = LockFolder(request.OutputDirectory);
            using var copy = WorkingCopy.Create(request.ModelPath, Path.Combine(request.OutputDirectory, WorkingFile), plan.SetOf(plan.FirstSeed), ct);
            var fitness = new LlamaFitness(copy, request.ModelPath, request.Fitness, request.Engine, plan.SetOf, request.Set, ct);
            var search = new EvolutionSearch(plan.Space, request.Evolution, plan.Seeds, fitness);
            string logPath = Path.Combine(request.OutputDirectory, LogFile);
            int logged = 0;
            // An empty log (a search killed before its header) is not opened: that would write this search's header.
            if (File.Exists(logPath) && new FileInfo(logPath).Length > 0)
            {
                // The search takes a bound from its log; one measured otherwise is not checked here (the first evaluation).
                if (plan.BoundSeed is { } boundSeed && !TakeLoggedBound(logPath, boundSeed, fitness))
                    throw new SearchLogException($"{logPath}: written by a different search (its perplexity bound is not the {boundSeed.Name} seed's); resume only with the same settings, or choose another --out");
                using var log = SearchLog.Open(logPath, search.Describe()); // refuses another search's log
                search.RefuseShorterThan(log);
                logged = log.CandidateCount;
            }
            return new SearchCheck(plan.Seeds.Select(s => s.Name).ToList(), request.Evolution.PlannedCandidates(plan.Seeds.Count), logged,
                fitness.PromptCount, fitness.TextTokens, plan.Warnings);
        }
        finally
        {
            Evaluation.Engine.ResultsFolder.RemoveIfEmpty(request.OutputDirectory, created);
        }
    }

    public static SearchReport Run(SearchRequest request, ISearchObserver? observer = null, CancellationToken ct = default)
    {
        var plan = Plan(request);
        foreach (string warning in plan.Warnings) observer?.OnWarning(warning);
        // The clock starts here, so the limit covers the whole run (the working copy included).
        using var timeLimit = new CancellationTokenSource();
        if (request.TimeLimit is { } limit)
        {
            if (limit <= TimeSpan.Zero) throw new BadInputException($"--time-limit {limit}: must be more than 0");
            timeLimit.CancelAfter(limit);
        }
        string? created = PrepareFolder(request);
        string logPath = Path.Combine(request.OutputDirectory, LogFile);
        SearchOutcome outcome;
        double? maxPerplexity;
        try
        {
            using var folderLock = LockFolder(request.OutputDirectory);
            using var copy = WorkingCopy.Create(request.ModelPath, Path.Combine(request.OutputDirectory, WorkingFile), plan.SetOf(plan.FirstSeed), ct);
            var fitness = new LlamaFitness(copy, request.ModelPath, request.Fitness, request.Engine, plan.SetOf, request.Set, ct);
            // A resumed search keeps the bound its log was started with; a new one measures the seed.
            if (plan.BoundSeed is { } boundSeed && !TakeLoggedBound(logPath, boundSeed, fitness))
                fitness.BoundPerplexityBy(plan.CandidateOf(boundSeed), ct);
            maxPerplexity = fitness.MaxPerplexity;
            var search = new EvolutionSearch(plan.Space, request.Evolution, plan.Seeds, fitness);
            using var log = SearchLog.Open(logPath, search.Describe());
            outcome = search.Run(log, observer, ct, timeLimit.Token);
        }
        catch when (created is not null)
        {
            // Refused before anything was logged (e.g. a text without room for the asked passages): leave no empty folder.
            Evaluation.Engine.ResultsFolder.RemoveIfEmpty(request.OutputDirectory, created);
            throw;
        }

        var best = outcome.Best.Candidate;
        string source = string.Create(CultureInfo.InvariantCulture,
            $"search {request.Set.Name()} {request.Fitness.Name} at {request.Fitness.TargetLength} tokens: best of {outcome.All.Length} candidates, "
            + $"fitness {outcome.Best.Fitness.Value:G6} (best seed {outcome.BestSeed.SeedName} {outcome.BestSeed.Fitness.Value:G6}), seed {request.Evolution.Seed}");
        if (maxPerplexity is { } bound)
        {
            source += $", text perplexity at most {bound.ToString("0.####", CultureInfo.InvariantCulture)}";
            if (request.Fitness.MaxPerplexitySeed is { } of) source += $" (the {of} seed's)";
            if (outcome.Best.Fitness.Value >= FitnessSpec.OutsideBoundBase) source += ": no candidate within it, this is the closest above";
        }
        if (outcome.StoppedEarly)
            source += $", stopped by the time limit in iteration {outcome.StoppedInIteration} of {request.Evolution.Iterations}";
        var factors = plan.SetOf(best) with { Source = source };
        string factorsPath = Path.Combine(request.OutputDirectory, FactorsFile);
        FactorSetJson.Write(factors, factorsPath);
        string chartPath = Path.Combine(request.OutputDirectory, ChartFile);
        FitnessChart.Save(outcome, chartPath,
            $"{Path.GetFileName(request.ModelPath)}: {request.Set.Name()} set search at {request.Fitness.TargetLength} tokens",
            request.Fitness.Unit);
        return new SearchReport(request, plan.Original, plan.Space, outcome, factors, factorsPath, logPath, chartPath) { MaxPerplexity = maxPerplexity };
    }

    /// <summary>Refuses settings llama.cpp cannot run before the model is copied (gigabytes for a real one), then makes
    /// the results folder; the highest folder it made, null when it was there (a refused run removes them again).</summary>
    private static string? PrepareFolder(SearchRequest request)
    {
        request.Engine.Validate();
        EvalModel.EnsureContextFits(Runtime.ModelContextInfo.Read(request.ModelPath), request.Fitness.TargetLength);
        // Before any work: a folder where the log is was found only by its open ("permission denied"), and one where the
        // factor file goes only after the whole search.
        // (An input at one of its names would be deleted or written over: the model at the working copy's name was
        // deleted before the patcher refused to write over its input.)
        Evaluation.Engine.ResultsFolder.CheckTargets(request.OutputDirectory, "the search", s_filesWritten, Inputs(request));
        return Evaluation.Engine.ResultsFolder.Create(request.OutputDirectory);
    }

    /// <summary>The files the search reads, by what the command line calls them.</summary>
    private static IEnumerable<(string Name, string Path)> Inputs(SearchRequest request)
    {
        yield return ("MODEL", request.ModelPath);
        if (request.InitPath is { } init) yield return ("--init", init);
        if (request.Fitness.TextPath is { } text) yield return ("--text", text);
        if (request.Fitness.Haystack is { } haystack && !string.Equals(haystack, "filler", StringComparison.OrdinalIgnoreCase)) // the keyword, as Haystack.Parse reads it
            yield return ("--haystack", haystack);
    }

    /// <summary>The files a search writes in its --out folder, and what each is.</summary>
    private static readonly (string Name, string What)[] s_filesWritten =
        [(LogFile, "log"), (FactorsFile, "factor file"), (ChartFile, "chart"), (WorkingFile, "working copy of the model"), (LockFile, "lock")];

    /// <summary>Gives <paramref name="fitness"/> the perplexity bound the log at <paramref name="logPath"/> recorded for
    /// <paramref name="boundSeed"/>; false when the log has none for it (or there is no log).</summary>
    private static bool TakeLoggedBound(string logPath, SearchSeed boundSeed, LlamaFitness fitness)
    {
        var logged = SearchLog.ReadLoggedSearch(logPath)?["fitness"] as System.Text.Json.Nodes.JsonObject;
        if (logged?["max_ppl_of"]?.ToString() != boundSeed.Name || logged["max_ppl"] is not { } b || b.GetValueKind() != System.Text.Json.JsonValueKind.Number)
            return false;
        fitness.UseLoggedBound(b.GetValue<double>());
        return true;
    }

    /// <summary>One search per folder at a time: a second one would rebuild the working copy under the first.</summary>
    private static FolderLock LockFolder(string directory)
    {
        string path = Path.Combine(directory, LockFile);
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            return new FolderLock(stream, Gguf.ScratchFiles.Track(path));
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            // Only a lock held elsewhere means another search: a read-only folder was reported as one.
            if (IsHeldByAnother(e)) throw new SearchLogException($"{directory}: another search is running in this folder ({path} is locked)");
            throw new SearchLogException($"{directory}: cannot write in this folder ({e.Message.Replace($"'{path}'", "").Replace(path, "").Trim().TrimEnd('.', ':', ' ')})");
        }
        catch (UnauthorizedAccessException)
        {
            throw new SearchLogException($"{directory}: cannot write in this folder (permission denied)");
        }
    }

    /// <summary>The lock file, open (deleted when closed), and deleted too when the process ends before it is closed.</summary>
    private sealed class FolderLock(FileStream stream, IDisposable tracked) : IDisposable
    {
        public void Dispose()
        {
            tracked.Dispose(); // first: once closed (and deleted), the lock may be another search's, which a forced exit must not delete
            stream.Dispose();
        }
    }

    /// <summary>A file lock another process holds: EWOULDBLOCK from flock (Linux 11, macOS 35), or Windows' sharing
    /// violation.</summary>
    private static bool IsHeldByAnother(IOException e) => e.HResult is 11 or 35 or unchecked((int)0x80070020);

    /// <summary>The checked plan of a search: its space, seeds and how a candidate becomes a full factor set.</summary>
    public sealed record SearchPlan(int Original, SearchSpace Space, IReadOnlyList<SearchSeed> Seeds, Func<Candidate, FactorSet> SetOf)
    {
        /// <summary>What the plan changed of what it was given, said before the search starts.</summary>
        public IReadOnlyList<string> Warnings { get; init; } = [];

        public Candidate FirstSeed => new(Space.Quantize(Seeds[0].Factors, Seeds[0].AttentionFactor), Seeds[0].Factors, Seeds[0].AttentionFactor);

        /// <summary>The seed whose perplexity bounds the search's (--max-ppl SEED); null when none does.</summary>
        public SearchSeed? BoundSeed { get; init; }

        /// <summary>The seed as the search evaluates it: on the grid of the space.</summary>
        public Candidate CandidateOf(SearchSeed seed)
        {
            var genome = Space.Quantize(seed.Factors, seed.AttentionFactor);
            return new Candidate(genome, [.. Space.FactorsOf(genome)], Space.AttentionFactorOf(genome));
        }
    }

    /// <summary>Checks the request against the model and the init file and works out space and seeds (no llama.cpp).</summary>
    public static SearchPlan Plan(SearchRequest request)
    {
        request.Fitness.Validate();
        request.Evolution.Validate();
        var header = Runtime.ModelContextInfo.ReadHeader(request.ModelPath);
        // The model's own defects, named as the model's: found on the working copy, they named that (deleted) file.
        if (Runtime.LlamaModel.WhyNotToLoad(header) is { } why) throw new BadInputException(why);
        var model = LongRopePatcher.RequireSupported(header);
        int original = model.BaseContextLength;
        int dims = model.FactorCount;
        int target = request.Fitness.TargetLength;
        FactorSet? init = request.InitPath is null ? null : ReadInit(request, model, original, dims, target);
        var plan = request.Set == SearchSet.Long ? PlanLong(request, model, init, original, dims, target) : PlanShort(request, model, init, original, dims, target);
        if (request.Fitness.MaxPerplexitySeed is not { } boundName) return plan;
        // Checked here, before the model is copied: a seed that is not in this search cannot bound it.
        // A short search's init seed is its file's short set, left out when that is all ones (a long search's result).
        if (boundName == "init" && request.Set == SearchSet.Short && plan.Seeds.All(s => s.Name != "init"))
            throw new BadInputException($"--max-ppl init: the --init file's short set is all ones, which is the ones seed; give --max-ppl ones");
        var boundSeed = plan.Seeds.FirstOrDefault(s => s.Name == boundName)
            ?? throw new BadInputException($"--max-ppl {boundName}: no seed of that name in this search; its seeds are {string.Join(", ", plan.Seeds.Select(s => s.Name))} (or give the bound as a number)");
        return plan with { BoundSeed = boundSeed };
    }

    /// <summary>
    /// The --init file as patch would take it: a set patch refuses (a NaN, a factor of 0) is refused here too, naming
    /// --init (a NaN started the search as 1, said only as "clipped"). A CSV carries no lengths: it is taken for the
    /// search's target length.
    /// </summary>
    private static FactorSet ReadInit(SearchRequest request, ModelRopeInfo model, int original, int dims, int target)
    {
        string path = request.InitPath!;
        if (Directory.Exists(path)) throw new BadInputException($"--init {path}: is a folder, not a factor file");
        // The search writes its result there: the first run replaced the file it started from, the next refused to
        // resume ("the seeds ... have other factors").
        string output = Path.Combine(request.OutputDirectory, FactorsFile);
        if (File.Exists(path) && (AtomicFile.SameFile(path, output) || FileStatus.SameInode(path, output)))
            throw new BadInputException($"--init {path}: is the factor file this search writes ({output}); copy it elsewhere, or give another --out");
        FactorSet init;
        try
        {
            init = FactorSetReader.Read(path, new FactorReadOptions
            {
                DefaultOriginalContextLength = original,
                DefaultContextLength = request.Set == SearchSet.Long ? target : null,
                ExpectedFactorCount = dims,
            });
        }
        catch (FactorSetException e)
        {
            throw new FactorSetException($"--init {e.Message}");
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"--init {e.Message}");
        }
        if (init.LongFactors.Length != dims || init.ShortFactors.Length != dims)
            throw new BadInputException($"--init {path}: {init.LongFactors.Length} long / {init.ShortFactors.Length} short factors; {model.FileName} needs {dims} ({model.FactorCountReason})");
        if (init.OriginalContextLength != original)
            throw new BadInputException($"--init {path}: original context length {init.OriginalContextLength}, but {model.FileName}'s is {original}");
        if (FactorValidator.Validate(init, model).Errors.FirstOrDefault() is { } error)
            throw new BadInputException($"--init {path}: {error.Message}");
        return init;
    }

    private static SearchPlan PlanLong(SearchRequest request, ModelRopeInfo model, FactorSet? init, int original, int dims, int target)
    {
        if (target <= original)
            throw new BadInputException($"--target-length {target}: a long set is searched for a length above the original {original} tokens of {model.FileName} "
                + $"(the short set, --set short, serves contexts up to {original})");
        double scale = (double)target / original;
        double max = request.MaxFactor ?? (request.Piecewise ? scale : 1.25 * scale);
        // Said in the user's terms (the target or --max-factor, the step) rather than as the space's grid alone; a step
        // that is no step is the space's to refuse.
        if (request.Step > 0 && double.IsFinite(request.Step) && double.IsFinite(max) && (max - 1) / request.Step > SearchSpace.MaxGridPoints)
            throw new BadInputException(request.MaxFactor is { } given
                ? string.Create(CultureInfo.InvariantCulture, $"--max-factor {given:G6}: in steps of --step {request.Step} that is more than {SearchSpace.MaxGridPoints:N0} grid points (give a smaller maximum or a larger --step)")
                : string.Create(CultureInfo.InvariantCulture, $"--target-length {target}: {scale:G6}x the original {original} tokens puts factors up to {max:G6}; in steps of --step {request.Step} that is more than {SearchSpace.MaxGridPoints:N0} grid points (give a shorter target or a larger --step)"));
        if (request.Piecewise && request.MaxFactor is { } m && Math.Abs(m - scale) > request.Step / 2)
            throw new BadInputException($"--max-factor {m.ToString(CultureInfo.InvariantCulture)} with --piecewise: dimensions above the second boundary sit at the scale {scale.ToString("G6", CultureInfo.InvariantCulture)}, which is also the largest factor");
        AttentionRange? range = null;
        float fixedAttention = 1f;
        if (request.FixedAttention is not null && (request.AttentionMin is not null || request.AttentionMax is not null))
            throw new BadInputException("--attn-range with --attn-factor: the attention factor is either fixed or searched in a range; give one of them");
        if (request.FixedAttention is { } fa)
            fixedAttention = fa.Policy == AttentionFactorPolicy.Explicit ? fa.Value!.Value : AttentionFactors.Compute(fa.Policy, scale, original);
        else
        {
            var (defaultMin, defaultMax) = SearchRequest.DefaultAttentionRange(request.Fitness.Kind, scale, original, request.AttentionStep);
            range = new AttentionRange(request.AttentionMin ?? defaultMin, request.AttentionMax ?? defaultMax, request.AttentionStep);
        }
        var space = new SearchSpace(dims, scale, max, request.Step, range, fixedAttention, request.Piecewise);
        // A grid of one factor leaves only ones to try: every seed became the same genome and the search wrote them.
        if (space.MaxIndex == 0)
            throw new BadInputException(string.Create(CultureInfo.InvariantCulture,
                $"--max-factor {max:G6} in steps of --step {request.Step:G6}: the factor grid holds only 1, so there is nothing to search (the scale is {scale:G6})"));

        var seeds = new List<SearchSeed>();
        var rules = request.SeedRules ?? SearchRequest.DefaultSeedRules;
        if (rules.Count == 0 && init is null) throw new BadInputException("--seed-rules: give at least one rule (pi, ntk, yarn, critical, ones), or an --init file");
        if (rules.GroupBy(r => r).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new BadInputException($"--seed-rules: the rule {FactorRules.Name(twice.Key)} is named twice");
        foreach (var method in rules)
        {
            // A model whose every pair turned full periods in training has no critical cut: a default seed is skipped,
            // one asked for by --seed-rules is refused with the rule's own reason.
            if (method == FactorMethod.Critical && request.SeedRules is null && !FactorRules.HasCriticalPairs(model, original)) continue;
            var rule = FactorRules.Make(method, model, scale);
            seeds.Add(new SearchSeed(FactorRules.Name(method), rule.LongFactors, range is null ? fixedAttention : rule.AttentionFactor));
        }
        if (init is not null) seeds.Add(new SearchSeed("init", init.LongFactors, range is null ? fixedAttention : init.AttentionFactor));

        var shortFactors = init?.ShortFactors ?? [.. FactorSet.Ones(dims)];
        var warnings = init is null ? [] : InitClipped(request, init, "long", init.LongFactors, space, target);
        // As factors make and patch warn of it.
        if (range is null && fixedAttention is < 1 or > 2)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"--attn-factor {fixedAttention:G6} is outside [1, 2]; it scales attention logits by its square ({fixedAttention * fixedAttention:G6})"));
        if (request.MaxFactor is { } givenMax && givenMax < scale - space.Step / 2)
            warnings.Insert(0, string.Create(CultureInfo.InvariantCulture,
                $"--max-factor {max:G6} is below the scale {scale:G6} ({target} / {original} tokens): the rule seeds, whose largest factors are the scale or more, start clipped to it"));
        FactorSet SetOf(Candidate c) =>
            FactorSet.Create(c.Factors, shortFactors, original, target, AttentionFactorPolicy.Explicit, c.AttentionFactor, "search candidate");
        return new SearchPlan(original, space, seeds, SetOf) { Warnings = warnings };
    }

    /// <summary>
    /// What the grid does to an --init set that does not fit the space (a file made for another length): its factors
    /// beyond the space's range and an attention factor outside the searched range start at the nearest value the
    /// search may take. Said, not done silently (a 4x file's factors up to 4 became 2.5 in a 2x search).
    /// </summary>
    private static List<string> InitClipped(SearchRequest request, FactorSet init, string set, IReadOnlyList<float> factors, SearchSpace space, int target)
    {
        var c = CultureInfo.InvariantCulture;
        var warnings = new List<string>();
        float high = factors.Max(), low = factors.Min();
        if (Math.Round((high - 1) / space.Step) > space.MaxIndex || low < 1 - space.Step / 2)
            warnings.Add(string.Create(c, $"--init {request.InitPath}: its {set} factors span {low:G6} to {high:G6} (made for {init.ContextLength} tokens), and this search takes factors from 1 to {space.MaxFactor:G6} for {target}: the init seed starts clipped to that range"));
        int down = Enumerable.Range(1, factors.Count - 1).FirstOrDefault(i => factors[i] < factors[i - 1]);
        if (down > 0)
            warnings.Add(string.Create(c, $"--init {request.InitPath}: its {set} factors decrease ([{down - 1}] = {factors[down - 1]:G6} > [{down}] = {factors[down]:G6}), and this search keeps them non-decreasing: the init seed starts with each factor raised to the largest before it"));
        if (space.Attention is { } range && (init.AttentionFactor < range.Min - range.Step / 2 || init.AttentionFactor > range.Max + range.Step / 2))
            warnings.Add(string.Create(c, $"--init {request.InitPath}: its attention factor {init.AttentionFactor:G6} is outside the searched range {range.Min:G6} to {range.Max:G6}: the init seed starts at the nearest end (--attn-range widens it)"));
        return warnings;
    }

    private static SearchPlan PlanShort(SearchRequest request, ModelRopeInfo model, FactorSet? init, int original, int dims, int target)
    {
        if (init is null)
            throw new BadInputException("--set short completes a long set: give the long search's factor file (or another factor file) with --init");
        if (target > original)
            throw new BadInputException($"--target-length {target}: the short set serves contexts up to the original {original} tokens of {model.FileName}; use --set long for longer ones");
        if (Runtime.ContextPlanner.RoundUp(target) > original)
            throw new BadInputException($"--target-length {target}: llama.cpp rounds the context up to {Runtime.ContextPlanner.RoundUp(target)} tokens, which is past the original {original} and would select the long set; use at most {original / Runtime.ContextPlanner.Granularity * Runtime.ContextPlanner.Granularity}");
        if (request.Piecewise) throw new BadInputException("--piecewise applies to the long set only");
        if (request.SeedRules is not null)
            throw new BadInputException("--seed-rules with --set short: the short search starts from all ones and the --init file's short set");
        if (request.AttentionMin is not null || request.AttentionMax is not null)
            throw new BadInputException($"--attn-range with --set short: the short search keeps the --init file's attention factor ({init.AttentionFactor.ToString("G6", CultureInfo.InvariantCulture)}); llama.cpp has one attn_factor for both sets");
        if (request.FixedAttention is not null)
            throw new BadInputException($"--attn-factor with --set short: llama.cpp has one attn_factor for both sets; the short search keeps the --init file's ({init.AttentionFactor.ToString("G6", CultureInfo.InvariantCulture)})");
        double max = request.MaxFactor ?? Math.Max(1.25, 1.25 * init.Scale);
        var space = new SearchSpace(dims, init.Scale, max, request.Step, null, init.AttentionFactor, piecewise: false);
        var seeds = new List<SearchSeed> { new("ones", FactorSet.Ones(dims), init.AttentionFactor) };
        if (init.ShortFactors.Any(f => f != 1f)) seeds.Add(new SearchSeed("init", init.ShortFactors, init.AttentionFactor));
        FactorSet SetOf(Candidate c) =>
            FactorSet.Create(init.LongFactors, c.Factors, original, init.ContextLength, AttentionFactorPolicy.Explicit, init.AttentionFactor, "search candidate");
        return new SearchPlan(original, space, seeds, SetOf) { Warnings = InitClipped(request, init, "short", init.ShortFactors, space, target) };
    }
}
