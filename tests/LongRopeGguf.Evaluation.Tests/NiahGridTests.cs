using System.Globalization;
using System.Text.Json;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Niah;
using LongRopeGguf.Tests;
using SkiaSharp;

namespace LongRopeGguf.Evaluation.Tests;

[Collection(TinyModelCollection.Name)]
public sealed class NiahGridTests(NiahGridFixture grid)
{
    private NiahSummary Summary => grid.Result.Summary;

    [Fact]
    public void Without_rescaling_the_pass_key_is_found_at_512_and_lost_at_2048()
    {
        Assert.Equal(1.0, Summary.Cell("none", 512).Accuracy);
        Assert.Equal(0.0, Summary.Cell("none", 2048).Accuracy);
        Assert.Equal(NiahGridFixture.Depths, Summary.Cell("none", 2048).Trials);
    }

    [Fact]
    public void Built_in_yarn_recovers_the_pass_key_at_1024()
    {
        Assert.Equal(0.0, Summary.Cell("none", 1024).Accuracy);
        Assert.True(Summary.Cell("yarn", 1024).Accuracy >= 0.8, $"yarn@1024 accuracy {Summary.Cell("yarn", 1024).Accuracy}");
    }

    [Fact]
    public void Patched_file_runs_its_short_set_at_512_and_its_long_set_beyond()
    {
        var records = grid.Records.Values.Where(r => r.Mode == NiahGridFixture.PatchedMode).ToList();
        Assert.All(records.Where(r => r.Length == 512), r => { Assert.Equal("short", r.FactorSet); Assert.Equal(512, r.NCtxSeq); });
        Assert.All(records.Where(r => r.Length > 512), r => { Assert.Equal("long", r.FactorSet); Assert.Equal(r.Length, r.NCtxSeq); });
        Assert.All(grid.Records.Values.Where(r => r.Mode is "none" or "yarn"), r => Assert.Equal("none", r.FactorSet));
        // Short set = ones, run at the model's own attention magnitude (the 2x file's attn_factor 1.069 undone, which the
        // trial line records): at 512 the patched file answers exactly like the unpatched one, to the answer NLL.
        Assert.All(records.Where(r => r.Length == 512), r => Assert.EndsWith("; model's own attention magnitude (yarn_attn_factor 0.935178)", r.Rope));
        Assert.All(records.Where(r => r.Length > 512), r => Assert.DoesNotContain("attention magnitude", r.Rope));
        Assert.Equal(Summary.Cell("none", 512).Correct, Summary.Cell(NiahGridFixture.PatchedMode, 512).Correct);
        var none512 = grid.Records.Values.Where(r => r.Mode == "none" && r.Length == 512).ToDictionary(r => r.DepthIndex);
        Assert.All(records.Where(r => r.Length == 512), r => Assert.Equal(none512[r.DepthIndex].AnswerNll!.Value, r.AnswerNll!.Value, 5));
    }

    [Fact]
    public void Yarn_rule_file_scores_like_built_in_yarn_at_the_length_it_was_made_for()
    {
        // Same factors as llama.cpp's YaRN at s = 2 (its ramp over dimensions, its 0.1 ln s + 1 attention factor):
        // at 1024 the patched file and the built-in option must give the same answers to the same prompts.
        var yarn = grid.Records.Values.Where(r => r.Mode == "yarn" && r.Length == 1024).OrderBy(r => r.DepthIndex).ToList();
        var patched = grid.Records.Values.Where(r => r.Mode == NiahGridFixture.PatchedMode && r.Length == 1024).OrderBy(r => r.DepthIndex).ToList();
        Assert.Equal(yarn.Select(r => r.Expected), patched.Select(r => r.Expected));
        Assert.Equal(yarn.Select(r => r.Answer), patched.Select(r => r.Answer));
        Assert.Equal(Summary.Cell("yarn", 1024).Accuracy, Summary.Cell(NiahGridFixture.PatchedMode, 1024).Accuracy);
    }

    [Fact]
    public void Every_trial_line_has_its_fields_and_the_prompt_fills_the_length()
    {
        var records = grid.Records.Values.ToList();
        Assert.Equal(NiahGridFixture.Lengths.Length * NiahGridFixture.Depths * 3, records.Count);
        foreach (var r in records)
        {
            Assert.Equal(r.Length, r.PromptTokens + 5 - 1);
            Assert.Matches("^[0-9]{5}$", r.Expected);
            Assert.Equal(r.Answer.Length > 0 && NeedleFirstNumber(r.Answer) == r.Expected, r.Correct);
            Assert.True(r.PrefillMs > 0 && r.DecodeMs > 0 && r.WallMs > 0);
            Assert.Equal(r.PromptTokens, r.PrefillTokens + r.ReusedTokens);
            Assert.Equal(r.Length, r.NCtx);
            Assert.InRange(r.DepthActual, r.Depth - 0.01, r.Depth + 0.01);
        }
        // Modes answer identical prompts: same keys at the same (length, depth).
        foreach (var g in records.GroupBy(r => (r.Length, r.DepthIndex)))
            Assert.Single(g.Select(r => r.Expected).Distinct());
        // Deeper needles reuse the prefix decoded for shallower ones.
        Assert.True(grid.Result.Run.PrefilledTokens < grid.Result.Run.NaivePrefillTokens * 0.9);
    }

    [Fact]
    public void Summary_csv_markdown_and_json_agree_with_the_trial_lines()
    {
        string dir = grid.Options.OutputDirectory;
        var records = grid.Records.Values.ToList();
        var csv = File.ReadAllLines(Path.Combine(dir, "summary.csv"));
        string[] header = csv[0].Split(',');
        int Col(string name) => Array.IndexOf(header, name);
        Assert.Equal(3 * NiahGridFixture.Lengths.Length, csv.Length - 1);
        string md = File.ReadAllText(Path.Combine(dir, "summary.md"));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        var jsonCells = json.RootElement.GetProperty("cells").EnumerateArray().ToList();

        foreach (var line in csv.Skip(1))
        {
            string[] f = line.Split(',');
            string mode = f[Col("mode")];
            int length = int.Parse(f[Col("length")], CultureInfo.InvariantCulture);
            var cell = records.Where(r => r.Mode == mode && r.Length == length).ToList();
            int correct = cell.Count(r => r.Correct);
            Assert.Equal(cell.Count, int.Parse(f[Col("trials")], CultureInfo.InvariantCulture));
            Assert.Equal(correct, int.Parse(f[Col("correct")], CultureInfo.InvariantCulture));
            Assert.Equal((correct / (double)cell.Count).ToString("0.00", CultureInfo.InvariantCulture), f[Col("accuracy")]);
            Assert.Equal(cell.Sum(r => r.PrefillTokens), long.Parse(f[Col("prefill_tokens")], CultureInfo.InvariantCulture));
            double meanNll = cell.Average(r => r.AnswerNll!.Value);
            Assert.Equal(meanNll.ToString("0.000", CultureInfo.InvariantCulture), f[Col("mean_answer_nll")]);

            var j = jsonCells.Single(c => c.GetProperty("mode").GetString() == mode && c.GetProperty("length").GetInt32() == length);
            Assert.Equal(correct, j.GetProperty("correct").GetInt32());
            Assert.Equal(meanNll, j.GetProperty("mean_answer_nll").GetDouble(), 1e-6); // written rounded to 6 decimals
        }

        // Markdown: one row per length, one column per mode, "accuracy (correct/trials)"; then the same grid of answer NLLs.
        int nllTitle = md.IndexOf("## Answer NLL", StringComparison.Ordinal);
        Assert.True(nllTitle > 0, "summary.md has no answer NLL table");
        List<string> Rows(string section) => section.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)).ToList();
        var rows = Rows(md[..nllTitle]);
        var nllRows = Rows(md[nllTitle..]);
        Assert.Equal(rows[0], nllRows[0]);
        var modes = rows[0].Trim('|', ' ').Split(" | ").Skip(1).ToList();
        Assert.Equal(["none", "yarn", NiahGridFixture.PatchedMode], modes);
        foreach (int length in NiahGridFixture.Lengths)
        {
            var cells = rows.Single(r => r.StartsWith($"| {length} |", StringComparison.Ordinal)).Trim('|', ' ').Split(" | ").Skip(1).ToList();
            for (int m = 0; m < modes.Count; m++)
            {
                var cell = records.Where(r => r.Mode == modes[m] && r.Length == length).ToList();
                Assert.StartsWith($"{cell.Count(r => r.Correct) / (double)cell.Count:0.00} ({cell.Count(r => r.Correct)}/{cell.Count})", cells[m]);
            }
            var nlls = nllRows.Single(r => r.StartsWith($"| {length} |", StringComparison.Ordinal)).Trim('|', ' ').Split(" | ").Skip(1).ToList();
            for (int m = 0; m < modes.Count; m++)
                Assert.Equal(records.Where(r => r.Mode == modes[m] && r.Length == length).Average(r => r.AnswerNll!.Value).ToString("0.000", CultureInfo.InvariantCulture), nlls[m]);
        }
        Assert.Contains($"prefilled tokens: {records.Sum(r => (long)r.PrefillTokens):N0}", md.Replace(",", ","));
    }

    [Fact]
    public void Charts_are_pngs_of_the_expected_size_and_show_the_accuracy_colours()
    {
        string dir = grid.Options.OutputDirectory;
        using var line = SKBitmap.Decode(Path.Combine(dir, "accuracy-vs-length.png"));
        Assert.NotNull(line);
        Assert.Equal((Charts.NiahCharts.LineWidth, Charts.NiahCharts.LineHeight), (line.Width, line.Height));
        foreach (var mode in new[] { "none", "yarn", NiahGridFixture.PatchedMode })
        {
            using var bmp = SKBitmap.Decode(Path.Combine(dir, $"heatmap-{mode}.png"));
            Assert.NotNull(bmp);
            Assert.Equal((Charts.NiahCharts.HeatmapWidth, Charts.NiahCharts.HeatmapHeight), (bmp.Width, bmp.Height));
        }
        // "none": 1.0 at 512, 0.0 beyond: the heatmap holds the colour scale's two ends (viridis yellow and purple).
        using var none = SKBitmap.Decode(Path.Combine(dir, "heatmap-none.png"));
        Assert.True(CountNear(none, new SKColor(253, 231, 37)) > 1000, "no 'accuracy 1' cells");
        Assert.True(CountNear(none, new SKColor(68, 1, 84)) > 1000, "no 'accuracy 0' cells");
    }

    [Fact]
    public void A_second_run_into_the_same_folder_runs_no_trial_and_changes_nothing()
    {
        string dir = grid.Options.OutputDirectory;
        string before = File.ReadAllText(Path.Combine(dir, NiahRunner.ResultsFile));
        string csvBefore = File.ReadAllText(Path.Combine(dir, "summary.csv"));
        var again = NiahRunner.Run(grid.Options);
        Assert.Equal(0, again.Run.TrialsRun);
        Assert.Equal(grid.Result.Summary.ExpectedTrials, again.Run.TrialsSkipped);
        Assert.Equal(before, File.ReadAllText(Path.Combine(dir, NiahRunner.ResultsFile)));
        Assert.Equal(csvBefore, File.ReadAllText(Path.Combine(dir, "summary.csv")));
    }

    private static string? NeedleFirstNumber(string s) => Prompts.NeedleSpec.FirstNumber(s);

    private static int CountNear(SKBitmap bmp, SKColor c)
    {
        int n = 0;
        for (int y = 0; y < bmp.Height; y++)
            for (int x = 0; x < bmp.Width; x++)
            {
                var p = bmp.GetPixel(x, y);
                if (Math.Abs(p.Red - c.Red) + Math.Abs(p.Green - c.Green) + Math.Abs(p.Blue - c.Blue) < 30) n++;
            }
        return n;
    }
}
