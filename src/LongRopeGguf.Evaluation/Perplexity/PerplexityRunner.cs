using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.Evaluation.Charts;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Evaluation.Perplexity;

public sealed record PerplexityOptions
{
    /// <summary>The unpatched model: none / pi / yarn run on it, and its tokenizer reads the text.</summary>
    public required string ModelPath { get; init; }
    public required string TextPath { get; init; }
    public IReadOnlyList<int> Lengths { get; init; } = [512, 1024, 2048, 4096];
    public IReadOnlyList<RopeMode> Modes { get; init; } = [RopeMode.None, RopeMode.Pi, RopeMode.Yarn];

    /// <summary>Windows per length (fewer when the text runs out).</summary>
    public int Windows { get; init; } = 8;

    /// <summary>When above 0, also the NLL by position in the window, in this many ranges (ppl-by-position.*).</summary>
    public int PositionBuckets { get; init; }
    public required string OutputDirectory { get; init; }
    public EngineOptions Engine { get; init; } = EngineOptions.Default;

    /// <summary>Checks what can be checked without a model.</summary>
    public void Validate()
    {
        if (Lengths.Count == 0) throw new EvalInputException("no lengths given");
        foreach (int l in Lengths)
            if (l < 4) throw new EvalInputException($"length {l}: must be at least 4 tokens");
        if (Windows < 1) throw new EvalInputException($"--windows {Windows}: need at least one window");
        // As eval niah: an empty --modes and no --patched would measure nothing and print an empty table, exit 0.
        if (Modes.Count == 0) throw new EvalInputException("no modes given");
        if (Modes.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1) is { } dup)
            throw new EvalInputException($"mode '{dup.Key}' is given twice");
        if (Directory.Exists(TextPath)) throw new EvalInputException($"--text {TextPath}: is a folder, not a text file");
        if (!File.Exists(TextPath)) throw new EvalInputException($"--text {TextPath}: no such file");
        if (PositionBuckets < 0 || PositionBuckets > Lengths.Min() - 1)
            throw new EvalInputException($"--by-position {PositionBuckets}: expected 1 to {Lengths.Min() - 1} ranges (the shortest length less one)");
        Engine.Validate();
    }
}

/// <summary>Perplexity of one mode at one length.</summary>
public sealed record PerplexityRow(string Mode, int Length, int Windows, long ScoredTokens, double MeanNll, string FactorSet, int NCtx, double Seconds)
{
    /// <summary>NLL by position in the window (<see cref="PerplexityOptions.PositionBuckets"/>); empty when not asked for.</summary>
    public IReadOnlyList<PositionBucket> ByPosition { get; init; } = [];

    public double Perplexity => Math.Exp(MeanNll);
}

/// <param name="TextTokens">The tokens of the text read: all of them, or (<see cref="TextReadToEnd"/> false) a start
/// of the text that holds every window.</param>
public sealed record PerplexityReport(string Model, string Text, int TextTokens, IReadOnlyList<string> Modes, IReadOnlyList<int> Lengths, IReadOnlyList<PerplexityRow> Rows, IReadOnlyList<string> Files)
{
    public bool TextReadToEnd { get; init; } = true;

    /// <summary>"70,001 tokens", or "its first 24,832 tokens" where only a start of the text was read.</summary>
    public string DescribeTextTokens() => TextReadToEnd ? $"{TextTokens:N0} tokens" : $"its first {TextTokens:N0} tokens";
}

/// <summary>
/// Perplexity of a text per mode and length (method: <see cref="PerplexityScorer"/>), written as ppl.csv, ppl.json,
/// ppl.md and ppl-vs-length.png. The text is read as UTF-8 with whitespace runs collapsed to single spaces (as
/// haystacks are), and tokenized once without BOS.
/// </summary>
public static class PerplexityRunner
{
    public static PerplexityReport Run(PerplexityOptions o, IProgress<(int done, int total)>? progress = null, CancellationToken ct = default)
    {
        o.Validate();
        CheckTargets(o);

        using var baseModel = EvalModel.Load(o.ModelPath, o.Engine);
        foreach (int l in o.Lengths) baseModel.EnsureContextFits(l);
        string text = Haystack.NormalizeWhitespace(Runtime.TextFiles.Read(o.TextPath, "--text", Runtime.TextFiles.CorpusLimitBytes));
        ct.ThrowIfCancellationRequested(); // between the steps of the set-up: each can take a while for a big text
        int bos = baseModel.Tokenize("", addBos: true).Length;
        int maxLength = o.Lengths.Max();
        var read = TextTokens.Start(baseModel, text, (long)o.Windows * Math.Max(1, maxLength - bos), ct);
        int[] tokens = read.Tokens;
        if (PerplexityScorer.WindowsAvailable(tokens.Length, maxLength, bos) < 1) // (only a whole text can have too few)
            throw new EvalInputException($"text {o.TextPath} has {tokens.Length} tokens, fewer than one {maxLength}-token window needs");

        // Every patched file is loaded and its tokenizer checked before the first window: its perplexity would be of
        // other tokens than the base model's.
        string probe = text[..Math.Min(text.Length, 4096)];
        foreach (var mode in o.Modes.Where(m => m.Kind == RopeModeKind.Patched)) baseModel.LoadPatched(mode, probe).Dispose();
        string? createdFolder = ResultsFolder.Create(o.OutputDirectory); // after every check: a refused run leaves no folder behind
        try
        {
            return Measure(o, baseModel, read, probe, progress, ct);
        }
        catch when (createdFolder is not null)
        {
            // Stopped (Ctrl-C) or failed before the results were written: no empty folder made for them.
            ResultsFolder.RemoveIfEmpty(o.OutputDirectory, createdFolder);
            throw;
        }
    }

    private const string Csv = "ppl.csv", Json = "ppl.json", Markdown = "ppl.md", Chart = "ppl-vs-length.png",
        PositionCsv = "ppl-by-position.csv", PositionChart = "ppl-by-position.png";

    /// <summary>The files a run writes (or, for the by-position ones of an earlier run, deletes) in its folder.</summary>
    private static readonly (string Name, string What)[] OutputFiles =
        [(Csv, "table"), (Json, "JSON"), (Markdown, "table"), (Chart, "chart"), (PositionCsv, "by-position table"), (PositionChart, "by-position chart")];

    /// <summary>Refuses a results file the run could not write or that is one of its inputs (<see cref="ResultsFolder.CheckTargets"/>):
    /// run first in <see cref="Run"/>, and by the command before it patches copies for factor-file modes.</summary>
    public static void CheckTargets(PerplexityOptions o) =>
        ResultsFolder.CheckTargets(o.OutputDirectory, "eval ppl", OutputFiles,
            [("MODEL", o.ModelPath), ("--text", o.TextPath), .. o.Modes.Where(m => m.PatchedPath is not null).Select(m => ($"mode {m.Name}", m.PatchedPath!))]);

    /// <summary>Scores every mode at every length and writes the results into the folder.</summary>
    private static PerplexityReport Measure(PerplexityOptions o, EvalModel baseModel, TextTokens read, string probe,
        IProgress<(int done, int total)>? progress, CancellationToken ct)
    {
        int[] tokens = read.Tokens;
        var rows = new List<PerplexityRow>();
        int total = o.Modes.Count * o.Lengths.Count, done = 0;
        progress?.Report((0, total));
        foreach (var mode in o.Modes)
        {
            EvalModel model = mode.Kind == RopeModeKind.Patched ? baseModel.LoadPatched(mode, probe) : baseModel;
            try
            {
                foreach (int length in o.Lengths.Order())
                {
                    var clock = Stopwatch.StartNew();
                    using var context = model.CreateContext(mode, length, length);
                    var r = new PerplexityScorer(context).Score(tokens, length, o.Windows, o.PositionBuckets, ct);
                    rows.Add(new PerplexityRow(mode.Name, length, r.Windows, r.ScoredTokens, r.MeanNll, context.FactorSet, context.ContextSize, clock.Elapsed.TotalSeconds)
                    {
                        ByPosition = r.ByPosition,
                    });
                    progress?.Report((++done, total));
                }
            }
            finally
            {
                if (!ReferenceEquals(model, baseModel)) model.Dispose();
            }
        }

        var modes = o.Modes.Select(m => m.Name).ToList();
        var lengths = o.Lengths.Order().ToList();
        var files = new List<string>();
        var report = new PerplexityReport(Path.GetFileName(o.ModelPath), Path.GetFileName(o.TextPath), tokens.Length, modes, lengths, rows, files)
        {
            TextReadToEnd = read.Whole,
        };
        string csv = Path.Combine(o.OutputDirectory, Csv), json = Path.Combine(o.OutputDirectory, Json),
               md = Path.Combine(o.OutputDirectory, Markdown), png = Path.Combine(o.OutputDirectory, Chart);
        WriteCsv(report, csv);
        var buffer = new MemoryStream(); // in memory first: a writer that throws leaves no half-written ppl.json
        WriteJson(report, buffer);
        Gguf.AtomicFile.WriteAllBytes(json, buffer.ToArray());
        Charts.ChartFiles.SavePng(PerplexityChart.Plot(report), png, PerplexityChart.Width, PerplexityChart.Height);
        files.AddRange([csv, json, md, png]);
        string? positionChart = null;
        string positionCsv = Path.Combine(o.OutputDirectory, PositionCsv), positionPng = Path.Combine(o.OutputDirectory, PositionChart);
        if (o.PositionBuckets > 0)
        {
            positionChart = positionPng;
            WritePositionCsv(report, positionCsv);
            Charts.ChartFiles.SavePng(PerplexityChart.PlotByPosition(report), positionChart, PerplexityChart.Width, PerplexityChart.Height);
            files.AddRange([positionCsv, positionChart]);
        }
        else
        {
            // An earlier run's by-position files in this folder would sit beside this run's ppl.csv as if they were its.
            File.Delete(positionCsv);
            File.Delete(positionPng);
        }
        WriteMarkdown(report, md, png, positionChart);
        return report;
    }

    public static void WriteCsv(PerplexityReport r, string path)
    {
        var sb = new StringBuilder("mode,length,windows,scored_tokens,mean_nll,perplexity,factor_set,n_ctx,seconds\n");
        foreach (var x in r.Rows)
            sb.Append(CultureInfo.InvariantCulture, $"{x.Mode},{x.Length},{x.Windows},{x.ScoredTokens},{x.MeanNll:F6},{x.Perplexity:G6},{x.FactorSet},{x.NCtx},{x.Seconds:F2}\n");
        Gguf.AtomicFile.WriteAllText(path, sb.ToString());
    }

    public static void WritePositionCsv(PerplexityReport r, string path)
    {
        var sb = new StringBuilder("mode,length,position_start,position_end,tokens,mean_nll,perplexity\n");
        foreach (var x in r.Rows)
            foreach (var b in x.ByPosition)
                sb.Append(CultureInfo.InvariantCulture, $"{x.Mode},{x.Length},{b.Start},{b.End},{b.Tokens},{b.MeanNll:F6},{b.Perplexity:G6}\n");
        Gguf.AtomicFile.WriteAllText(path, sb.ToString());
    }

    public static void WriteJson(PerplexityReport r, Stream output)
    {
        using var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented);
        w.WriteStartObject();
        w.WriteString("model", r.Model);
        w.WriteString("text", r.Text);
        w.WriteNumber("text_tokens", r.TextTokens);
        w.WriteBoolean("text_read_to_end", r.TextReadToEnd); // false: text_tokens counts a start of the text that holds every window
        w.WriteString("method", "non-overlapping windows of `length` tokens (BOS + length-1 text tokens); the second half of each window is scored");
        w.WriteStartArray("rows");
        foreach (var x in r.Rows)
        {
            w.WriteStartObject();
            w.WriteString("mode", x.Mode);
            w.WriteNumber("length", x.Length);
            w.WriteNumber("windows", x.Windows);
            w.WriteNumber("scored_tokens", x.ScoredTokens);
            w.WriteMeasured("mean_nll", x.MeanNll);
            w.WriteMeasured("perplexity", x.Perplexity);
            w.WriteString("factor_set", x.FactorSet);
            w.WriteNumber("n_ctx", x.NCtx);
            w.WriteNumber("seconds", Math.Round(x.Seconds, 3));
            if (x.ByPosition.Count > 0)
            {
                w.WriteStartArray("by_position");
                foreach (var b in x.ByPosition)
                {
                    w.WriteStartObject();
                    w.WriteNumber("start", b.Start);
                    w.WriteNumber("end", b.End);
                    w.WriteNumber("tokens", b.Tokens);
                    w.WriteMeasured("mean_nll", b.MeanNll);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
    }

    /// <summary>Perplexity by length (rows) and mode (columns), with the windows and the factor set of each cell: a
    /// markdown table, each row ending in a line end (ppl.md's, and what `eval ppl` prints).</summary>
    public static string Table(PerplexityReport r)
    {
        var sb = new StringBuilder();
        sb.Append("| length | ").Append(string.Join(" | ", r.Modes)).Append(" |\n|---|").Append(string.Concat(r.Modes.Select(_ => "---|"))).Append('\n');
        foreach (int l in r.Lengths)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {l} |");
            foreach (var m in r.Modes)
            {
                var x = r.Rows.Single(y => y.Mode == m && y.Length == l);
                string set = x.FactorSet is "long" or "short" ? $" [{x.FactorSet}]" : "";
                sb.Append(CultureInfo.InvariantCulture, $" {x.Perplexity:G4} ({x.Windows} w){set} |");
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static void WriteMarkdown(PerplexityReport r, string path, string chart, string? positionChart)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"# Perplexity: {r.Model} on {r.Text} ({r.DescribeTextTokens()})\n\n");
        sb.Append("Non-overlapping windows of `length` tokens (BOS + length-1 text tokens), each in a fresh KV cache; the tokens in the second half of each window are scored.\n\n");
        sb.Append(Table(r));
        sb.Append(CultureInfo.InvariantCulture, $"\n![perplexity vs length]({Path.GetFileName(chart)})\n");
        if (positionChart is not null)
        {
            // By position: every token of the windows scored, grouped by how much of the window came before it.
            sb.Append("\n## Mean NLL by position in the window (nats/token; every window, every position)\n\n");
            sb.Append("| length | positions | ").Append(string.Join(" | ", r.Modes)).Append(" |\n|---|---|").Append(string.Concat(r.Modes.Select(_ => "---|"))).Append('\n');
            foreach (int l in r.Lengths)
            {
                var buckets = r.Rows.First(y => y.Length == l).ByPosition;
                for (int k = 0; k < buckets.Count; k++)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"| {l} | {buckets[k].Start}-{buckets[k].End - 1} |");
                    foreach (var m in r.Modes)
                        sb.Append(CultureInfo.InvariantCulture, $" {r.Rows.Single(y => y.Mode == m && y.Length == l).ByPosition[k].MeanNll:F3} |");
                    sb.Append('\n');
                }
            }
            sb.Append(CultureInfo.InvariantCulture, $"\n![NLL by position]({Path.GetFileName(positionChart)})\n");
        }
        Gguf.AtomicFile.WriteAllText(path, sb.ToString());
    }
}
