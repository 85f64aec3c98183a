using LongRopeGguf.Evaluation.Charts;
using LongRopeGguf.Evaluation.Niah;
using LongRopeGguf.Evaluation.Prompts;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

public sealed class ChartFilesTests
{
    [Fact]
    public void Modes_whose_safe_forms_meet_get_a_chart_each()
    {
        // "a/b" and "a_b" both became heatmap-a_b.png: one mode's heatmap overwrote the other's.
        var names = ChartFiles.SafeNames(["a/b", "a_b", "x y", "x?y", "yarn", "yarn"]);
        Assert.Equal("a_b", names["a_b"]); // a name already safe keeps it, wherever it stands
        Assert.Equal("a_b-2", names["a/b"]);
        Assert.Equal("x_y", names["x y"]);
        Assert.Equal("x_y-2", names["x?y"]);
        Assert.Equal("yarn", names["yarn"]);
        Assert.Equal(5, names.Values.Distinct().Count());
    }

    [Fact]
    public void A_suffixed_name_does_not_take_the_name_of_another_mode()
    {
        var names = ChartFiles.SafeNames(["a/b", "a_b", "a_b-2"]);
        Assert.Equal(["a_b-3", "a_b", "a_b-2"], new[] { names["a/b"], names["a_b"], names["a_b-2"] });
    }

    [Fact]
    public void Two_modes_with_one_safe_form_leave_two_heatmaps()
    {
        using var dir = new TempDir();
        string[] modes = ["a/b", "a_b"];
        var summary = new NiahSummary
        {
            ModelName = "m.gguf", Haystack = "filler", PassageOffsets = [0], Needle = NeedleSpec.PassKey, Seed = 1, Depths = 1,
            TrialsPerDepth = 1, AnswerTokens = 5, Modes = modes, Lengths = [512],
            Cells = [.. modes.Select((m, i) => new NiahCell(m, "filler", 512, 1, i, "short", 512, 512, 512, 512, 1, 1))],
            DepthCells = [.. modes.Select((m, i) => new NiahDepthCell(m, 512, 0, 0, 1, i))],
            Work = new NiahWork(2, 1024, 1024, 1), ExpectedTrials = 2,
        };

        var files = NiahCharts.WriteAll(summary, dir.Path);

        var heatmaps = files.Where(f => Path.GetFileName(f).StartsWith("heatmap-", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, heatmaps.Distinct().Count());
        Assert.All(heatmaps, f => Assert.True(File.Exists(f), f));
        Assert.NotEqual(File.ReadAllBytes(heatmaps[0]), File.ReadAllBytes(heatmaps[1])); // accuracy 0 and 1: two pictures
    }
}
