using LongRopeGguf.Evaluation.Perplexity;
using ScottPlot;

namespace LongRopeGguf.Evaluation.Charts;

/// <summary>Perplexity against length, both on log axes, one line per mode.</summary>
public static class PerplexityChart
{
    public const int Width = 800, Height = 500;

    public static Plot Plot(PerplexityReport r)
    {
        var plot = new Plot();
        double[] xs = r.Lengths.Select(l => Math.Log2(l)).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        double maxY = 0;
        int i = 0;
        foreach (var mode in r.Modes)
        {
            double[] ys = r.Lengths.Select(l => Math.Log10(r.Rows.Single(x => x.Mode == mode && x.Length == l).Perplexity)).ToArray();
            maxY = Math.Max(maxY, ys.Max());
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = mode;
            // Modes agree at 1x: shrinking markers and alternating dashes keep overlapping lines visible.
            line.Color = palette.GetColor(i);
            line.LineWidth = 2;
            line.MarkerSize = Math.Max(6, 15 - 3 * i);
            line.LinePattern = (i % 3) switch { 0 => LinePattern.Solid, 1 => LinePattern.Dashed, _ => LinePattern.Dotted };
            i++;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            xs, r.Lengths.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        int top = Math.Max(1, (int)Math.Ceiling(maxY));
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, top + 1).Select(e => (double)e).ToArray(),
            Enumerable.Range(0, top + 1).Select(e => Math.Pow(10, e).ToString("G", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        double pad = xs.Length > 1 ? (xs[^1] - xs[0]) * 0.05 : 0.5;
        plot.Axes.SetLimits(xs[0] - pad, xs[^1] + pad, 0, top + 0.1);
        plot.Title($"{r.Model}: perplexity of {r.Text} vs context length");
        plot.XLabel("context length (tokens, log scale)");
        plot.YLabel("perplexity (log scale)");
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>Mean NLL by position in the window at the longest length, one line per mode: where in a long window
    /// the text stops being predicted better from more context.</summary>
    public static Plot PlotByPosition(PerplexityReport r)
    {
        int length = r.Lengths.Max();
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var mode in r.Modes)
        {
            var buckets = r.Rows.Single(x => x.Mode == mode && x.Length == length).ByPosition;
            var line = plot.Add.Scatter(buckets.Select(b => (b.Start + b.End - 1) / 2.0).ToArray(), buckets.Select(b => b.MeanNll).ToArray());
            line.LegendText = mode;
            line.Color = palette.GetColor(i);
            line.LineWidth = 2;
            line.MarkerSize = Math.Max(5, 11 - 2 * i);
            line.LinePattern = (i % 3) switch { 0 => LinePattern.Solid, 1 => LinePattern.Dashed, _ => LinePattern.Dotted };
            i++;
        }
        plot.Title($"{r.Model}: NLL of {r.Text} by position in {length}-token windows");
        plot.XLabel("position in the window (tokens before the scored one)");
        plot.YLabel("mean NLL (nats/token)");
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }
}
