using System.Globalization;
using System.Text;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>Accuracy of one mode at one length.</summary>
/// <param name="MeanAnswerNll">Mean over the trials that carry it of the expected key's teacher-forced NLL (nats/token); null when none does (lines from before it was recorded).</param>
public sealed record NiahCell(
    string Mode, string Haystack, int Length, int Trials, int Correct, string FactorSet, int NCtx, int NCtxSeq,
    long PrefillTokens, long NaivePrefillTokens, double MeanPrefillMs, double MeanDecodeMs, double? MeanAnswerNll = null)
{
    public double Accuracy => Trials == 0 ? double.NaN : Correct / (double)Trials;
}

/// <summary>Accuracy of one mode at one length and one depth (a heatmap cell).</summary>
public sealed record NiahDepthCell(string Mode, int Length, int DepthIndex, double Depth, int Trials, int Correct)
{
    public double Accuracy => Trials == 0 ? double.NaN : Correct / (double)Trials;
}

/// <summary>Work the recorded trials took: tokens actually prefilled against one prefill per trial, and trial time.</summary>
public sealed record NiahWork(int Trials, long PrefilledTokens, long NaivePrefillTokens, double TrialSeconds)
{
    public double TrialsPerMinute => TrialSeconds <= 0 ? 0 : Trials / TrialSeconds * 60;
    public double PrefillFraction => NaivePrefillTokens == 0 ? 0 : PrefilledTokens / (double)NaivePrefillTokens;
}

/// <summary>
/// The grid's results, computed from results.jsonl (only the lines that belong to this grid), so a resumed run
/// summarizes every trial, not only the ones it ran.
/// </summary>
public sealed class NiahSummary
{
    public required string ModelName { get; init; }
    public required string Haystack { get; init; }

    /// <summary>Where the haystack passages the prompts take turns in start (characters; one passage: [0]).</summary>
    public required IReadOnlyList<int> PassageOffsets { get; init; }

    public required NeedleSpec Needle { get; init; }
    public required int Seed { get; init; }
    public required int Depths { get; init; }
    public required int TrialsPerDepth { get; init; }
    public required int AnswerTokens { get; init; }
    public required IReadOnlyList<string> Modes { get; init; }
    public required IReadOnlyList<int> Lengths { get; init; }
    public required IReadOnlyList<NiahCell> Cells { get; init; }
    public required IReadOnlyList<NiahDepthCell> DepthCells { get; init; }
    public required NiahWork Work { get; init; }
    public required int ExpectedTrials { get; init; }

    public static NiahSummary Build(NiahPlan plan, IReadOnlyList<string> modes, IReadOnlyDictionary<string, TrialRecord> all)
    {
        var o = plan.Options;
        var records = new List<TrialRecord>();
        foreach (var mode in modes)
            foreach (var t in plan.Trials)
                if (all.TryGetValue(plan.TrialId(mode, t), out var r)) records.Add(r);

        var lengths = o.Lengths.Order().ToList();
        var cells = new List<NiahCell>();
        var depthCells = new List<NiahDepthCell>();
        foreach (var mode in modes)
            foreach (int length in lengths)
            {
                var rs = records.Where(r => r.Mode == mode && r.Length == length).ToList();
                var nlls = rs.Where(r => r.AnswerNll is not null).Select(r => r.AnswerNll!.Value).ToList();
                cells.Add(new NiahCell(
                    mode, o.Haystack.Name, length, rs.Count, rs.Count(r => r.Correct),
                    string.Join("+", rs.Select(r => r.FactorSet).Distinct().Order()),
                    rs.Count == 0 ? 0 : rs.Max(r => r.NCtx), rs.Count == 0 ? 0 : rs.Max(r => r.NCtxSeq),
                    rs.Sum(r => (long)r.PrefillTokens), rs.Sum(r => (long)r.PromptTokens),
                    rs.Count == 0 ? 0 : rs.Average(r => r.PrefillMs), rs.Count == 0 ? 0 : rs.Average(r => r.DecodeMs),
                    nlls.Count == 0 ? null : nlls.Average()));
                for (int d = 0; d < o.Depths; d++)
                {
                    var ds = rs.Where(r => r.DepthIndex == d).ToList();
                    depthCells.Add(new NiahDepthCell(mode, length, d, NiahOptions.DepthAt(d, o.Depths), ds.Count, ds.Count(r => r.Correct)));
                }
            }
        var work = new NiahWork(records.Count, records.Sum(r => (long)r.PrefillTokens), records.Sum(r => (long)r.PromptTokens),
            records.Sum(r => r.WallMs) / 1000);
        return new NiahSummary
        {
            ModelName = Path.GetFileName(o.ModelPath), Haystack = o.Haystack.Name, PassageOffsets = plan.PassageOffsets, Needle = o.Needle, Seed = o.Seed,
            Depths = o.Depths, TrialsPerDepth = o.TrialsPerDepth, AnswerTokens = plan.AnswerTokens, Modes = modes,
            Lengths = lengths, Cells = cells, DepthCells = depthCells, Work = work,
            ExpectedTrials = plan.Trials.Count * modes.Count,
        };
    }

    public NiahCell Cell(string mode, int length) => Cells.Single(c => c.Mode == mode && c.Length == length);

    public static string Format(double accuracy) =>
        double.IsNaN(accuracy) ? "" : accuracy.ToString("0.00", CultureInfo.InvariantCulture);

    public static string FormatNll(double? nll) => nll is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "";

    public void WriteCsv(string path)
    {
        var sb = new StringBuilder();
        sb.Append("mode,haystack,length,trials,correct,accuracy,factor_set,n_ctx,n_ctx_seq,prefill_tokens,naive_prefill_tokens,mean_prefill_ms,mean_decode_ms,mean_answer_nll\n");
        foreach (var c in Cells)
            sb.Append(CultureInfo.InvariantCulture,
                $"{Csv(c.Mode)},{Csv(c.Haystack)},{c.Length},{c.Trials},{c.Correct},{Format(c.Accuracy)},{c.FactorSet},{c.NCtx},{c.NCtxSeq},{c.PrefillTokens},{c.NaivePrefillTokens},{c.MeanPrefillMs:F1},{c.MeanDecodeMs:F1},{FormatNll(c.MeanAnswerNll)}\n");
        Gguf.AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>Accuracy by length (rows) and mode (columns), the factor set each cell ran on: a markdown table, each
    /// row ending in a line end (summary.md's, and what `eval niah` prints).</summary>
    public string AccuracyTable()
    {
        var sb = new StringBuilder();
        sb.Append("| length | ").Append(string.Join(" | ", Modes)).Append(" |\n");
        sb.Append("|---|").Append(string.Concat(Modes.Select(_ => "---|"))).Append('\n');
        foreach (int l in Lengths)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {l} |");
            foreach (var m in Modes)
            {
                var c = Cell(m, l);
                string set = c.FactorSet is "long" or "short" ? $" [{c.FactorSet}]" : "";
                sb.Append(CultureInfo.InvariantCulture, $" {Format(c.Accuracy)} ({c.Correct}/{c.Trials}){set} |");
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>The mean answer NLL by length and mode, as <see cref="AccuracyTable"/>; null when no trial carries one.</summary>
    public string? NllTable()
    {
        if (!Cells.Any(c => c.MeanAnswerNll is not null)) return null;
        var sb = new StringBuilder();
        sb.Append("| length | ").Append(string.Join(" | ", Modes)).Append(" |\n");
        sb.Append("|---|").Append(string.Concat(Modes.Select(_ => "---|"))).Append('\n');
        foreach (int l in Lengths)
            sb.Append(CultureInfo.InvariantCulture, $"| {l} |").AppendJoin("", Modes.Select(m => $" {FormatNll(Cell(m, l).MeanAnswerNll)} |")).Append('\n');
        return sb.ToString();
    }

    public void WriteMarkdown(string path, IReadOnlyList<string> chartFiles)
    {
        var sb = new StringBuilder();
        string needle = Needle.FixedAnswer is null ? "pass key (exact match of the first number)" : $"text needle, answer \"{Needle.FixedAnswer}\" (case-insensitive containment)";
        sb.Append(CultureInfo.InvariantCulture, $"# Needle in a haystack: {ModelName}\n\n");
        string passages = PassageOffsets.Count > 1 ? $" ({PassageOffsets.Count} passages, from characters {string.Join(", ", PassageOffsets)})" : "";
        sb.Append(CultureInfo.InvariantCulture, $"haystack: {Haystack}{passages}; needle: {needle}; seed {Seed}; {Depths} depths x {TrialsPerDepth} trial(s) per length; greedy {AnswerTokens}-token answers.\n");
        sb.Append("Length = KV positions a trial occupies (prompt tokens incl. BOS + answer tokens fed back), i.e. the llama.cpp context it fits.\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"## Accuracy (haystack: {Haystack})\n\n");
        sb.Append(AccuracyTable());
        sb.Append("\n[long]/[short]: the LongRoPE factor set llama.cpp used (n_ctx_seq above / within the original context).\n\n");
        if (NllTable() is { } nll)
        {
            // Right or wrong hides how near a mode came; the expected key's likelihood shows it on every trial.
            sb.Append("## Answer NLL (the expected key's tokens teacher-forced after the prompt, mean nats/token, lower is better)\n\n");
            sb.Append(nll).Append('\n');
        }
        sb.Append("## Work\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"- trials recorded: {Work.Trials} of {ExpectedTrials}\n");
        sb.Append(CultureInfo.InvariantCulture, $"- prefilled tokens: {Work.PrefilledTokens:N0}; naive one-prefill-per-trial count: {Work.NaivePrefillTokens:N0} ({Work.PrefillFraction:P1} of it)\n");
        sb.Append(CultureInfo.InvariantCulture, $"- trial time: {Work.TrialSeconds:F1} s; {Work.TrialsPerMinute:F1} trials/minute\n\n");
        if (chartFiles.Count > 0)
        {
            sb.Append("## Charts\n\n");
            foreach (var f in chartFiles) sb.Append(CultureInfo.InvariantCulture, $"![{Path.GetFileNameWithoutExtension(f)}]({Path.GetFileName(f)})\n");
        }
        Gguf.AtomicFile.WriteAllText(path, sb.ToString());
    }

    public void WriteJson(Stream output)
    {
        using var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented);
        w.WriteStartObject();
        w.WriteString("model", ModelName);
        w.WriteString("haystack", Haystack);
        if (PassageOffsets.Count > 1)
        {
            w.WriteStartArray("passage_offsets");
            foreach (int offset in PassageOffsets) w.WriteNumberValue(offset);
            w.WriteEndArray();
        }
        w.WriteString("scoring", TrialRecord.ScoringName(Needle.Scoring));
        w.WriteNumber("seed", Seed);
        w.WriteNumber("depths", Depths);
        w.WriteNumber("trials_per_depth", TrialsPerDepth);
        w.WriteNumber("answer_tokens", AnswerTokens);
        w.WriteStartArray("cells");
        foreach (var c in Cells)
        {
            w.WriteStartObject();
            WriteCounts(w, c.Mode, c.Length, c.Trials, c.Correct);
            w.WriteString("factor_set", c.FactorSet);
            w.WriteNumber("n_ctx", c.NCtx);
            if (c.MeanAnswerNll is { } nll) w.WriteMeasured("mean_answer_nll", Math.Round(nll, 6)); else w.WriteNull("mean_answer_nll");
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("work");
        w.WriteNumber("trials", Work.Trials);
        w.WriteNumber("expected_trials", ExpectedTrials);
        w.WriteNumber("prefilled_tokens", Work.PrefilledTokens);
        w.WriteNumber("naive_prefill_tokens", Work.NaivePrefillTokens);
        w.WriteNumber("trial_seconds", Math.Round(Work.TrialSeconds, 3));
        w.WriteNumber("trials_per_minute", Math.Round(Work.TrialsPerMinute, 2));
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
    }

    /// <summary>A mode's keys at one length as JSON fields (accuracy null without trials); shared with <see cref="NiahComparison"/>.</summary>
    internal static void WriteCounts(Utf8JsonWriter w, string mode, int length, int trials, int correct)
    {
        w.WriteString("mode", mode);
        w.WriteNumber("length", length);
        w.WriteNumber("trials", trials);
        w.WriteNumber("correct", correct);
        if (trials > 0) w.WriteNumber("accuracy", correct / (double)trials); else w.WriteNull("accuracy");
    }

    private static string Csv(string s) => s.IndexOfAny([',', '"', '\n']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";
}
