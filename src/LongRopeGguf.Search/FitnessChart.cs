using System.Globalization;
using LongRopeGguf.Search.Evolution;
using ScottPlot;

namespace LongRopeGguf.Search;

/// <summary>The best fitness after each iteration (0 = the initial population), with the seeds' fitness as dashed
/// reference lines when they fall near the curve (a rule that is far worse would flatten it).</summary>
public static class FitnessChart
{
    public const int Width = 800, Height = 500;

    public static Plot Plot(SearchOutcome outcome, string title, string unit)
    {
        var plot = new Plot();
        var points = outcome.Iterations.Where(i => double.IsFinite(i.Best.Fitness.Value)).ToList();
        double[] xs = points.Select(i => (double)i.Iteration).ToArray();
        double[] ys = points.Select(i => i.Best.Fitness.Value).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        if (xs.Length > 0)
        {
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = "best so far";
            line.Color = palette.GetColor(0);
            line.LineWidth = 2;
            line.MarkerSize = 6;
            line.ConnectStyle = ConnectStyle.StepHorizontal;

            double low = ys.Min(), high = ys.Max();
            double span = Math.Max(high - low, Math.Abs(high) * 0.02 + 1e-9);
            int colour = 1;
            foreach (var seed in outcome.Seeds.DistinctBy(s => s.Serial).OrderBy(s => s.Rank))
            {
                double v = seed.Fitness.Value;
                if (!double.IsFinite(v) || v > high + 2 * span) continue;
                var h = plot.Add.HorizontalLine(v);
                h.LineColor = palette.GetColor(colour++ % 10);
                h.LinePattern = LinePattern.Dashed;
                h.LineWidth = 1.5f;
                h.LegendText = $"seed {seed.SeedName} ({v.ToString("G5", CultureInfo.InvariantCulture)})";
                high = Math.Max(high, v);
            }
            double pad = (high - low) * 0.08 + 1e-9;
            double right = Math.Max(1, xs[^1]);
            // Whole iterations only: ticks at integers, at most ~20 of them.
            int every = Math.Max(1, (int)Math.Ceiling(right / 20));
            var ticks = Enumerable.Range(0, (int)right + 1).Where(i => i % every == 0).Select(i => (double)i).ToArray();
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, ticks.Select(t => t.ToString(CultureInfo.InvariantCulture)).ToArray());
            plot.Axes.SetLimits(-0.3, right + 0.3, low - pad, high + pad);
        }
        plot.Title(title);
        plot.XLabel("iteration (0 = initial population)");
        plot.YLabel($"best fitness: {unit}");
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    public static void Save(SearchOutcome outcome, string path, string title, string unit) =>
        Evaluation.Charts.ChartFiles.SavePng(Plot(outcome, title, unit), path, Width, Height);
}
