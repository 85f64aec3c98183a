using System.Diagnostics;
using LongRopeGguf.Evaluation.Charts;
using LongRopeGguf.Evaluation.Engine;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>Where a grid run stands, for a progress bar.</summary>
public sealed record NiahProgress(int Done, int Total, string Mode, int Length);

/// <summary>What this run did (a resumed run may do nothing).</summary>
public sealed record NiahRunStats(int TrialsRun, int TrialsSkipped, long PrefilledTokens, long NaivePrefillTokens, TimeSpan Elapsed)
{
    public double TrialsPerMinute => Elapsed.TotalSeconds <= 0 ? 0 : TrialsRun / Elapsed.TotalMinutes;
}

/// <param name="Warnings">What the user should know about the grid (needles placed far from the depth asked).</param>
public sealed record NiahRunResult(NiahRunStats Run, NiahSummary Summary, IReadOnlyList<string> Files, IReadOnlyList<string> Warnings);

/// <summary>
/// Runs a needle-in-a-haystack grid into a results folder: results.jsonl (one line per trial, appended as trials end;
/// trials already there are skipped), summary.csv, summary.md, summary.json, heatmap-MODE.png, accuracy-vs-length.png.
/// </summary>
public static class NiahRunner
{
    public const string ResultsFile = "results.jsonl";

    public static NiahRunResult Run(NiahOptions o, IProgress<NiahProgress>? progress = null, CancellationToken ct = default)
    {
        o.Validate();
        CheckTargets(o);
        var clock = Stopwatch.StartNew();
        using var baseModel = EvalModel.Load(o.ModelPath, o.Engine);
        foreach (int length in o.Lengths) baseModel.EnsureContextFits(length);
        var plan = NiahPlan.Build(o, baseModel, ct);
        var modes = o.Modes.Select(m => m.Name).ToList();

        // Every check before the folder and its results file are made: a refused run leaves nothing behind.
        string resultsPath = Path.Combine(o.OutputDirectory, ResultsFile);
        var recorded = TrialLog.ReadForAppend(resultsPath);
        var modelIds = CheckModes(o, baseModel, plan, recorded.Records);
        bool newFile = !File.Exists(resultsPath);
        string? createdFolder = ResultsFolder.Create(o.OutputDirectory);
        using var log = TrialLog.Open(resultsPath, recorded);
        TrialCounts counts;
        try
        {
            counts = RunPending(o, plan, baseModel, modelIds, log, progress, ct);
        }
        catch when (newFile && log.Records.Count == 0)
        {
            // Stopped (Ctrl-C) or failed before its first trial: no empty results.jsonl, and no folder made for it.
            log.Dispose();
            File.Delete(resultsPath);
            ResultsFolder.RemoveIfEmpty(o.OutputDirectory, createdFolder);
            throw;
        }

        var summary = NiahSummary.Build(plan, modes, log.Records);
        var files = new List<string> { log.Path };
        files.AddRange(WriteSummary(summary, o.OutputDirectory));
        return new NiahRunResult(new NiahRunStats(counts.Run, counts.Skipped, counts.Prefilled, counts.Naive, clock.Elapsed), summary, files, PlacementWarnings(plan, o));
    }

    /// <summary>Trials run and skipped, and the prompt tokens prefilled against one prefill per trial.</summary>
    private readonly record struct TrialCounts(int Run, int Skipped, long Prefilled, long Naive);

    /// <summary>Runs every trial of the plan that <paramref name="log"/> does not hold yet, appending each as it ends.</summary>
    private static TrialCounts RunPending(NiahOptions o, NiahPlan plan, EvalModel baseModel, Dictionary<string, string> modelIds, TrialLog log,
        IProgress<NiahProgress>? progress, CancellationToken ct)
    {
        var pending = o.Modes
            .Select(m => (mode: m, trials: plan.Trials.Where(t => !log.Records.ContainsKey(plan.TrialId(m.Name, t))).ToList()))
            .ToList();
        int total = pending.Sum(p => p.trials.Count);
        int skipped = plan.Trials.Count * o.Modes.Count - total;
        int done = 0;
        long prefilled = 0, naive = 0;
        progress?.Report(new NiahProgress(0, total, "", 0));

        var sinceLast = Stopwatch.StartNew();
        foreach (var (mode, trials) in pending)
        {
            if (trials.Count == 0) continue;
            EvalModel model = mode.Kind == RopeModeKind.Patched ? baseModel.LoadPatched(mode, plan.Trials[0].Prompt.Text) : baseModel;
            try
            {
                foreach (var cell in trials.GroupBy(t => t.Length).OrderBy(g => g.Key))
                {
                    int length = cell.Key;
                    using var context = model.CreateContext(mode, length, cells: length, sequences: o.ShareWork ? 2 : 1);
                    var runner = new CellRunner(context, o.ShareWork, plan.AnswerTokens);
                    // Deeper needles extend the shared prefix: walk each passage's prompts in order of how much haystack
                    // precedes the needle.
                    foreach (var t in cell.OrderBy(t => t.Passage).ThenBy(t => t.Prompt.SharedPrefixTokens).ThenBy(t => t.DepthIndex).ThenBy(t => t.TrialIndex))
                    {
                        ct.ThrowIfCancellationRequested();
                        progress?.Report(new NiahProgress(done, total, mode.Name, length));
                        var outcome = runner.Run(t.Prompt, ct);
                        double wall = sinceLast.Elapsed.TotalMilliseconds;
                        sinceLast.Restart();
                        log.Append(Record(plan, mode, model, modelIds[mode.Name], context, t, outcome, wall));
                        prefilled += outcome.PrefillTokens;
                        naive += t.Prompt.Tokens.Length;
                        done++;
                    }
                }
            }
            finally
            {
                if (!ReferenceEquals(model, baseModel)) model.Dispose();
            }
        }
        progress?.Report(new NiahProgress(done, total, "", 0));
        return new TrialCounts(done, skipped, prefilled, naive);
    }

    private const string SummaryCsv = "summary.csv", SummaryMarkdown = "summary.md", SummaryJson = "summary.json";

    /// <summary>Refuses a results file the run could not write or that is one of its inputs (<see cref="ResultsFolder.CheckTargets"/>):
    /// run first in <see cref="Run"/>, and by the command before it patches copies for factor-file modes.</summary>
    public static void CheckTargets(NiahOptions o) =>
        ResultsFolder.CheckTargets(o.OutputDirectory, "eval niah", OutputFiles([.. o.Modes.Select(m => m.Name)]), Inputs(o));

    /// <summary>The files a run writes in its folder, and what each is.</summary>
    private static IEnumerable<(string Name, string What)> OutputFiles(IReadOnlyList<string> modes) =>
        [(ResultsFile, "results"), (SummaryCsv, "summary"), (SummaryMarkdown, "summary"), (SummaryJson, "summary"),
         (NiahCharts.AccuracyChartFile, "chart"), .. NiahCharts.HeatmapFiles(modes).Values.Select(f => (f, "chart"))];

    /// <summary>The files a run reads, by what the command line calls them.</summary>
    private static IEnumerable<(string Name, string Path)> Inputs(NiahOptions o) =>
        [("MODEL", o.ModelPath), .. o.Modes.Where(m => m.PatchedPath is not null).Select(m => ($"--patched {m.Name}", m.PatchedPath!)),
         .. o.Haystack.SourcePath is { } haystack ? [("--haystack", haystack)] : Array.Empty<(string, string)>()];

    /// <summary>summary.csv, summary.md, summary.json and the charts.</summary>
    public static IReadOnlyList<string> WriteSummary(NiahSummary summary, string directory)
    {
        var charts = NiahCharts.WriteAll(summary, directory);
        string csv = Path.Combine(directory, SummaryCsv), md = Path.Combine(directory, SummaryMarkdown), json = Path.Combine(directory, SummaryJson);
        summary.WriteCsv(csv);
        summary.WriteMarkdown(md, charts);
        // Made in memory first: a writer that throws leaves the previous summary, not half of a new one.
        var buffer = new MemoryStream();
        summary.WriteJson(buffer);
        Gguf.AtomicFile.WriteAllBytes(json, buffer.ToArray());
        return [csv, md, json, .. charts];
    }

    /// <summary>Needles go in at sentence ends: a text with few of them (no full stops) puts them far from the depth
    /// asked, silently in the heatmaps, which label rows by the depth asked. Said once per run.</summary>
    internal static IReadOnlyList<string> PlacementWarnings(NiahPlan plan, NiahOptions o)
    {
        const double Tolerance = 0.1;
        var off = plan.Trials.Where(t => Math.Abs(t.Prompt.DepthActual - t.Prompt.Depth) > Tolerance).ToList();
        if (off.Count == 0) return [];
        var worst = off.MaxBy(t => Math.Abs(t.Prompt.DepthActual - t.Prompt.Depth))!;
        static string F(double d) => d.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
        return [$"haystack '{o.Haystack.Name}': {off.Count} of {plan.Trials.Count} needles landed more than {F(Tolerance)} from the depth asked "
            + $"(worst: {F(worst.Prompt.Depth)} asked, {F(worst.Prompt.DepthActual)} placed at {worst.Length} tokens); needles go in at sentence ends, "
            + "and the text has few of them (depth_actual in results.jsonl)"];
    }

    /// <summary>
    /// Checks every mode's file before any trial runs (a patched file that is no model, or tokenizes otherwise than the
    /// base model), and that the folder's lines for a mode name were run on the same file: resuming would otherwise
    /// skip trials that another file answered. Returns each mode's <see cref="ModelFingerprint"/>.
    /// </summary>
    private static Dictionary<string, string> CheckModes(NiahOptions o, EvalModel baseModel, NiahPlan plan, IReadOnlyDictionary<string, TrialRecord> recorded)
    {
        // Trials are named by the haystack's file name: a folder whose trials read another text of that name would
        // otherwise be resumed as if they had read this one.
        // The built-in filler and a file named filler are two texts of one name too.
        string text = o.Haystack.Identity;
        if (recorded.Values.FirstOrDefault(r => r.Haystack == o.Haystack.Name && r.HaystackIdentity is { } h && h != text) is { } otherText)
            throw new EvalInputException($"{o.OutputDirectory}: its trials on haystack '{o.Haystack.Name}' read another text ({Prompts.Haystack.Describe(otherText.HaystackIdentity!)}, "
                + $"now {Prompts.Haystack.Describe(text)}{(o.Haystack.SourcePath is { } from ? " from " + from : "")}): give another --out");
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        var idOfPath = new Dictionary<string, string>(StringComparer.Ordinal); // the built-in modes share the base model
        foreach (var mode in o.Modes)
        {
            var info = baseModel.Info;
            if (mode.Kind == RopeModeKind.Patched)
                using (var patched = baseModel.LoadPatched(mode, plan.Trials[0].Prompt.Text)) info = patched.Info;
            string path = mode.PatchedPath ?? o.ModelPath;
            if (!idOfPath.TryGetValue(path, out string? id)) idOfPath[path] = id = ModelFingerprint.Of(path);
            ids[mode.Name] = id;
            var other = recorded.Values.FirstOrDefault(r => r.Mode == mode.Name && !r.IsFrom(Path.GetFileName(path), id));
            if (other is not null)
                throw new EvalInputException($"{o.OutputDirectory}: its trials of mode '{mode.Name}' ran on {other.Describe()}, not on {Path.GetFileName(path)} ({id}{(mode.FactorFile is { } factors ? $", made from {factors}" : "")}): give another --out or another mode name");
            // Short contexts of a file this tool patched run at the model's own attention magnitude since session 17;
            // short-set trials recorded before ran at the file's and must not be pooled with new ones.
            if (mode.RunsFileRope && info.ShortContextAttnParameter is not null
                && recorded.Values.FirstOrDefault(r => r.Mode == mode.Name && r.FactorSet == "short" && !r.Rope.Contains(EvalContext.OwnMagnitudeNote, StringComparison.Ordinal)) is { } before)
                throw new EvalInputException($"{o.OutputDirectory}: its short-set trials of mode '{mode.Name}' (length {before.Length}) ran at the file's attention factor, as older versions did; short contexts now run at the model's own magnitude: give another --out");
        }
        return ids;
    }

    private static TrialRecord Record(NiahPlan plan, RopeMode mode, EvalModel model, string modelId, EvalContext context, PlannedTrial t, TrialOutcome outcome, double wallMs)
    {
        var o = plan.Options;
        return new TrialRecord
        {
            Id = plan.TrialId(mode.Name, t),
            Mode = mode.Name,
            ModeKind = mode.Kind.ToString().ToLowerInvariant(),
            Model = Path.GetFileName(model.Path),
            ModelId = modelId,
            Factors = mode.FactorFile,
            Haystack = o.Haystack.Name,
            HaystackSha256 = o.Haystack.ContentHash,
            HaystackOffset = plan.HaystackOffset(t),
            Needle = o.Needle.Fingerprint(),
            Seed = o.Seed,
            Length = t.Length,
            PromptTokens = t.Prompt.Tokens.Length,
            Depth = Math.Round(t.Prompt.Depth, 6),
            DepthActual = Math.Round(t.Prompt.DepthActual, 6),
            DepthIndex = t.DepthIndex,
            Trial = t.TrialIndex,
            Expected = t.Prompt.Expected,
            Answer = outcome.Answer,
            Correct = o.Needle.IsCorrect(outcome.Answer, t.Prompt.Expected),
            AnswerNll = outcome.AnswerNll is { } nll ? Math.Round(nll, 6) : null,
            Scoring = TrialRecord.ScoringName(o.Needle.Scoring),
            FactorSet = context.FactorSet,
            Rope = context.RopeDescription,
            NCtx = context.ContextSize,
            NCtxSeq = context.ContextPerSequence,
            PrefillTokens = outcome.PrefillTokens,
            ReusedTokens = outcome.ReusedTokens,
            PrefillMs = Math.Round(outcome.PrefillMs, 2),
            DecodeMs = Math.Round(outcome.DecodeMs, 2),
            WallMs = Math.Round(wallMs, 2),
        };
    }
}
