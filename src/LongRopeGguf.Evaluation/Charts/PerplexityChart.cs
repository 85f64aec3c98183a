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
            line.Color = palette.GetColor(i++);
            line.LineWidth = 2;
            line.MarkerSize = 8;
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
}
