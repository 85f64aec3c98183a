using System.Globalization;
using System.Text;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.Evaluation.Statistics;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>
/// One mode at one length (and needle depth, when compared by depth) over the pooled trials, and how it did against the
/// baseline on the prompts both answered. The paired fields are null for the baseline itself.
/// </summary>
public sealed record NiahComparisonRow(
    int Length, string Mode, int Trials, int Correct, int? Paired, int? OnlyThisRight, int? OnlyBaselineRight, double? SignTestP,
    AnswerNllComparison? AnswerNll = null, double? Depth = null)
{
    public double Accuracy => Trials == 0 ? double.NaN : Correct / (double)Trials;
}

/// <summary>
/// A mode against the baseline on the teacher-forced NLL of the expected answer (trial lines' answer_nll), over the
/// prompts both have it for: means, on how many prompts this mode is lower (more likely to give the key) or higher, and
/// the exact sign test on those two counts. Every prompt counts here, not only those exactly one of the two answered.
/// </summary>
public sealed record AnswerNllComparison(int Prompts, double MeanNll, double BaselineMeanNll, int Lower, int Higher, double SignTestP);

/// <summary>
/// Pools the trials of several `eval niah` result folders (runs with other seeds, passages or haystacks) and compares
/// every mode with a baseline mode prompt by prompt: one run of 20 trials cannot tell two modes 10 points apart, a few
/// runs together can, and pairing the same prompts (exact sign test) removes the prompts' own difficulty from the
/// comparison.
/// </summary>
public sealed partial class NiahComparison
{
    private NiahComparison(IReadOnlyList<string> sources, string baseline, IReadOnlyList<NiahComparisonRow> rows, IReadOnlyList<string> warnings, bool byDepth)
    {
        Sources = sources;
        Baseline = baseline;
        Rows = rows;
        Warnings = warnings;
        ByDepth = byDepth;
    }

    /// <summary>The results.jsonl files pooled.</summary>
    public IReadOnlyList<string> Sources { get; }
    public string Baseline { get; }

    /// <summary>By length (then needle depth, when <see cref="ByDepth"/>), then the baseline first, then the other modes in the order they first appear.</summary>
    public IReadOnlyList<NiahComparisonRow> Rows { get; }

    /// <summary>One row per needle depth (the nominal depth of the grid, 0 = start of the haystack) as well as length.</summary>
    public bool ByDepth { get; }

    /// <summary>Paths passed over (files that are no results file), then what makes the pooled prompts less independent than the sign test assumes (one line each; empty when neither).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>
    /// Pools the results of <paramref name="paths"/> (result folders or results.jsonl files); with
    /// <paramref name="byDepth"/>, each length is split by needle depth (where in the haystack a mode wins or loses).
    /// <paramref name="modes"/> (null: all) keeps only those modes' trials (the baseline is always kept), so runs that
    /// use one mode name for two files can still be pooled on the modes they share.
    /// </summary>
    public static NiahComparison Build(IReadOnlyList<string> paths, string baseline, bool byDepth = false, IReadOnlyCollection<string>? modes = null)
    {
        if (paths.Count == 0) throw new EvalInputException("no result folders given");
        // '' (an unset shell variable) was ": not found".
        if (paths.Any(p => p.Trim().Length == 0))
            throw new EvalInputException($"an empty name among the result folders ('{string.Join("' '", paths)}')");
        // A shell glob over run folders also catches the runs' own logs beside them (`runs/*`): those are passed over
        // with a warning rather than ending the comparison.
        var skipped = paths.Where(IsOtherFile).ToList();
        var sources = paths.Except(skipped).Select(ResultsFile).Distinct().ToList();
        if (sources.Count == 0)
            throw new EvalInputException($"no result folder or .jsonl file among {string.Join(", ", paths)} (give eval niah result folders or their {NiahRunner.ResultsFile})");
        var skipWarnings = skipped.Select(p => $"{p}: skipped, not a result folder or a .jsonl file").ToList();
        var records = new Dictionary<string, TrialRecord>(StringComparer.Ordinal);
        // Per mode: its first line, and its first line with a fingerprint (older lines have only the file name).
        var modelOf = new Dictionary<string, (TrialRecord first, string source)>(StringComparer.Ordinal);
        var identifiedOf = new Dictionary<string, (TrialRecord first, string source)>(StringComparer.Ordinal);
        var textOf = new Dictionary<string, (string hash, string source)>(StringComparer.Ordinal);
        var kept = modes is null ? null : new HashSet<string>(modes.Append(baseline), StringComparer.Ordinal);
        var allModes = new List<string>(); // every mode in the files, in the order they first appear
        var conflicts = new Dictionary<string, int>(StringComparer.Ordinal); // per mode: prompts answered both ways
        foreach (string source in sources)
            foreach (var r in TrialLog.ReadAll(source, tornEnd: skipWarnings.Add).Values)
            {
                if (!allModes.Contains(r.Mode)) allModes.Add(r.Mode);
                if (kept is not null && !kept.Contains(r.Mode)) continue;
                // A mode name must mean one model file everywhere, or the pooled counts would mix two factor sets.
                foreach (var seenOf in new[] { modelOf, identifiedOf })
                    if (seenOf.TryGetValue(r.Mode, out var seen) && !seen.first.IsFrom(r.Model, r.ModelId))
                        throw new EvalInputException($"mode '{r.Mode}' is {seen.first.Describe()} in {seen.source} but {r.Describe()} in {source}: pool runs of the same files");
                // Prompts are matched by id, which names the haystack by its file name: two texts of one name must not pool.
                if (r.HaystackIdentity is { } text)
                {
                    if (textOf.TryGetValue(r.Haystack, out var seenText) && seenText.hash != text)
                        throw new EvalInputException($"haystack '{r.Haystack}' is one text in {seenText.source} ({Prompts.Haystack.Describe(seenText.hash)}) and another in {source} "
                            + $"({Prompts.Haystack.Describe(text)}): pool runs of the same text");
                    textOf.TryAdd(r.Haystack, (text, source));
                }
                modelOf.TryAdd(r.Mode, (r, source));
                if (r.ModelId is not null) identifiedOf.TryAdd(r.Mode, (r, source));
                // One prompt in two files counts once; the same model should answer it the same way, and when it did not
                // (another backend, another build) the first answer is kept and the user told how often that happened.
                string key = r.Mode + "|" + PromptKey(r);
                if (!records.TryAdd(key, r) && records[key].Correct != r.Correct)
                    conflicts[r.Mode] = conflicts.GetValueOrDefault(r.Mode) + 1;
            }
        // The modes compared: those kept, baseline first, the others in the order they first appear.
        var modeOrder = allModes.Where(m => kept is null || kept.Contains(m)).ToList();
        if (allModes.Count == 0)
            throw new EvalInputException($"{string.Join(", ", sources)}: no trials in {(sources.Count == 1 ? "it" : "them")} (an empty file, or not an eval niah results.jsonl)");
        if (!modeOrder.Contains(baseline))
            throw new EvalInputException($"--baseline {baseline}: no trial of that mode in {string.Join(", ", sources)} (modes there: {(allModes.Count == 0 ? "none" : string.Join(", ", allModes))})");
        if (modes?.FirstOrDefault(m => !allModes.Contains(m)) is { } absent)
            throw new EvalInputException($"--modes: no trial of mode '{absent}' in {string.Join(", ", sources)} (modes there: {string.Join(", ", allModes)})");
        modeOrder.Remove(baseline);
        modeOrder.Insert(0, baseline);

        var rows = new List<NiahComparisonRow>();
        var unpaired = new List<string>(); // "mode at length" rows that share no prompt with the baseline
        // Depths are the grid's nominal fractions (i / (depths - 1)), rounded so that runs with the same --depths meet.
        var cells = records.Values
            .GroupBy(r => (r.Length, Depth: byDepth ? Math.Round(r.Depth, 4) : (double?)null))
            .OrderBy(g => g.Key.Length).ThenBy(g => g.Key.Depth);
        foreach (var cell in cells)
        {
            var (length, depth) = cell.Key;
            var byMode = cell.GroupBy(r => r.Mode).ToDictionary(g => g.Key, g => g.ToDictionary(PromptKey, StringComparer.Ordinal));
            byMode.TryGetValue(baseline, out var reference);
            foreach (string mode in modeOrder)
            {
                if (!byMode.TryGetValue(mode, out var answers)) continue;
                int trials = answers.Count, correct = answers.Values.Count(r => r.Correct);
                if (mode == baseline || reference is null)
                {
                    rows.Add(new NiahComparisonRow(length, mode, trials, correct, null, null, null, null, Depth: depth));
                    continue;
                }
                int paired = 0, onlyThis = 0, onlyBaseline = 0;
                var nlls = new List<(double mode, double baseline)>();
                foreach (var (prompt, trial) in answers)
                {
                    if (!reference.TryGetValue(prompt, out var baselineTrial)) continue;
                    paired++;
                    if (trial.Correct && !baselineTrial.Correct) onlyThis++;
                    if (baselineTrial.Correct && !trial.Correct) onlyBaseline++;
                    if (trial.AnswerNll is { } nll && baselineTrial.AnswerNll is { } baselineNll) nlls.Add((nll, baselineNll));
                }
                // No prompt in common: nothing was compared, which a p of 1 ("no difference") would hide.
                if (paired == 0 && depth is null) unpaired.Add($"{mode} at {length} tokens");
                rows.Add(new NiahComparisonRow(length, mode, trials, correct, paired, onlyThis, onlyBaseline, paired == 0 ? null : SignTest.TwoSidedP(onlyThis, onlyBaseline),
                    CompareNll(nlls), depth));
            }
        }
        var conflictWarnings = modeOrder.Where(conflicts.ContainsKey).Select(m =>
            $"mode '{m}': {conflicts[m]} prompt{(conflicts[m] == 1 ? "" : "s")} right in one file and wrong in another (the first file's answer is counted)");
        var unpairedWarnings = unpaired.Count == 0 ? [] : new[]
        {
            $"no prompt in common with {baseline} for {string.Join(", ", unpaired)} (runs of other seeds, lengths or haystacks): nothing compared, no sign test",
        };
        return new NiahComparison(sources, baseline, rows, [.. skipWarnings, .. conflictWarnings, .. unpairedWarnings, .. SharedKeyWarnings(records.Values)], byDepth);
    }

    /// <summary>
    /// A pass key is a function of (seed, length, depth index, trial) alone (<see cref="Prompts.TrialKeys"/>), so runs of
    /// one seed with other --depths, haystacks or passages ask for the same keys in different prompts: pooled, those
    /// prompts are counted as independent evidence when they are not. Prompts that are the same in two folders count once
    /// and are not meant here.
    /// </summary>
    private static List<string> SharedKeyWarnings(IEnumerable<TrialRecord> records)
    {
        var warnings = new List<string>();
        // A fixed --answer has no keys to share.
        foreach (var byLength in records.Where(r => r.Scoring == TrialRecord.PassKeyScoring).GroupBy(r => r.Length).OrderBy(g => g.Key))
        {
            var shared = byLength
                .GroupBy(r => (r.Seed, r.DepthIndex, r.Trial))
                .Select(g => (g.Key.Seed, prompts: g.Select(PromptKey).Distinct(StringComparer.Ordinal).Count()))
                .Where(g => g.prompts > 1)
                .ToList();
            if (shared.Count == 0) continue;
            int prompts = byLength.Select(PromptKey).Distinct(StringComparer.Ordinal).Count();
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{shared.Sum(g => g.prompts)} of the {prompts} prompts at {byLength.Key} tokens ask for a pass key another pooled prompt asks for (key seed {string.Join(", ", shared.Select(g => g.Seed).Distinct().Order())} in runs with other depths, haystacks or passages): the sign test counts them as independent"));
        }
        return warnings;
    }

    private static AnswerNllComparison? CompareNll(List<(double mode, double baseline)> nlls)
    {
        if (nlls.Count == 0) return null;
        int lower = nlls.Count(p => p.mode < p.baseline), higher = nlls.Count(p => p.mode > p.baseline);
        return new AnswerNllComparison(nlls.Count, nlls.Average(p => p.mode), nlls.Average(p => p.baseline), lower, higher, SignTest.TwoSidedP(lower, higher));
    }

    /// <summary>What a trial asked, the same for every mode: its id without the mode, and with the depth said as the
    /// fraction it is rather than as "index of N": the depth-0 prompt of a `--depths 3` run and of a `--depths 2` run
    /// of one seed is one prompt (same key, same text), and was counted twice in the sign test.</summary>
    private static string PromptKey(TrialRecord r)
    {
        string id = r.Id.StartsWith(r.Mode + "|", StringComparison.Ordinal) ? r.Id[(r.Mode.Length + 1)..] : r.Id;
        return DepthOfN().Replace(id, m => string.Create(CultureInfo.InvariantCulture, $"|d{m.Groups[1].Value}@{r.Depth:R}|"), 1);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\|d(\d+)/\d+\|")]
    private static partial System.Text.RegularExpressions.Regex DepthOfN();

    /// <summary>An existing file that is no results file by its name (a run's .log, a chart).</summary>
    private static bool IsOtherFile(string path) =>
        File.Exists(path) && !path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);

    private static string ResultsFile(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, NiahRunner.ResultsFile);
        if (!File.Exists(path)) throw new EvalInputException($"{path}: not found (give eval niah result folders or their {NiahRunner.ResultsFile})");
        return Path.GetFullPath(path);
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        string depthHead = ByDepth ? " depth |" : "", depthRule = ByDepth ? "---:|" : "";
        string DepthCell(NiahComparisonRow r) => ByDepth ? $" {r.Depth!.Value.ToString("0.###", CultureInfo.InvariantCulture)} |" : "";
        sb.Append(CultureInfo.InvariantCulture, $"| length |{depthHead} mode | trials | correct | accuracy | paired with {Baseline} | only this right | only {Baseline} right | sign test p |\n");
        sb.Append(CultureInfo.InvariantCulture, $"|---:|{depthRule}---|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var r in Rows)
            sb.Append(CultureInfo.InvariantCulture,
                $"| {r.Length} |{DepthCell(r)} {r.Mode} | {r.Trials} | {r.Correct} | {NiahSummary.Format(r.Accuracy)} | {r.Paired} | {r.OnlyThisRight} | {r.OnlyBaselineRight} | {(r.SignTestP is { } p ? p.ToString("0.000", CultureInfo.InvariantCulture) : "")} |\n");
        var withNll = Rows.Where(r => r.AnswerNll is not null).ToList();
        if (withNll.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\nAnswer NLL (the expected key's tokens teacher-forced, nats/token, lower is better) on the prompts both modes have it for:\n\n");
            sb.Append(CultureInfo.InvariantCulture, $"| length |{depthHead} mode | prompts | mean NLL | {Baseline} mean NLL | lower than {Baseline} | higher | sign test p |\n");
            sb.Append(CultureInfo.InvariantCulture, $"|---:|{depthRule}---|---:|---:|---:|---:|---:|---:|\n");
            foreach (var r in withNll)
            {
                var n = r.AnswerNll!;
                sb.Append(CultureInfo.InvariantCulture,
                    $"| {r.Length} |{DepthCell(r)} {r.Mode} | {n.Prompts} | {n.MeanNll:0.000} | {n.BaselineMeanNll:0.000} | {n.Lower} | {n.Higher} | {n.SignTestP:0.000} |\n");
            }
        }
        return sb.ToString();
    }

    public void WriteJson(Stream output)
    {
        using var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented);
        w.WriteStartObject();
        w.WriteStartArray("sources");
        foreach (string s in Sources) w.WriteStringValue(s);
        w.WriteEndArray();
        w.WriteString("baseline", Baseline);
        w.WriteStartArray("rows");
        foreach (var r in Rows)
        {
            w.WriteStartObject();
            NiahSummary.WriteCounts(w, r.Mode, r.Length, r.Trials, r.Correct);
            if (r.Depth is { } depth) w.WriteNumber("depth", depth);
            if (r.Paired is { } paired)
            {
                w.WriteNumber("paired", paired);
                w.WriteNumber("only_this_right", r.OnlyThisRight!.Value);
                w.WriteNumber("only_baseline_right", r.OnlyBaselineRight!.Value);
                if (r.SignTestP is { } p) w.WriteMeasured("sign_test_p", p);
                else w.WriteNull("sign_test_p"); // no prompt in common: nothing tested
            }
            if (r.AnswerNll is { } n)
            {
                w.WriteStartObject("answer_nll");
                w.WriteNumber("prompts", n.Prompts);
                w.WriteMeasured("mean", n.MeanNll);
                w.WriteMeasured("baseline_mean", n.BaselineMeanNll);
                w.WriteNumber("lower", n.Lower);
                w.WriteNumber("higher", n.Higher);
                w.WriteMeasured("sign_test_p", n.SignTestP);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("warnings");
        foreach (string warning in Warnings) w.WriteStringValue(warning);
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
    }
}
