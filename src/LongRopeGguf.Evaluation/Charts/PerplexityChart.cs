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
        double maxY = 0;
        int i = 0;
        foreach (var mode in r.Modes)
        {
            double[] ys = r.Lengths.Select(l => Math.Log10(r.Rows.Single(x => x.Mode == mode && x.Length == l).Perplexity)).ToArray();
            maxY = Math.Max(maxY, ys.Max());
            Style(plot.Add.Scatter(xs, ys), mode, i++, largestMarker: 15, markerStep: 3, smallestMarker: 6);
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
        int i = 0;
        foreach (var mode in r.Modes)
        {
            var buckets = r.Rows.Single(x => x.Mode == mode && x.Length == length).ByPosition;
            Style(plot.Add.Scatter(buckets.Select(b => (b.Start + b.End - 1) / 2.0).ToArray(), buckets.Select(b => b.MeanNll).ToArray()),
                mode, i++, largestMarker: 11, markerStep: 2, smallestMarker: 5);
        }
        plot.Title($"{r.Model}: NLL of {r.Text} by position in {length}-token windows");
        plot.XLabel("position in the window (tokens before the scored one)");
        plot.YLabel("mean NLL (nats/token)");
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>Mode <paramref name="index"/>'s line: modes often agree (at 1x, or near the window's start), so
    /// shrinking markers and alternating dashes keep overlapping lines visible.</summary>
    private static void Style(ScottPlot.Plottables.Scatter line, string mode, int index, int largestMarker, int markerStep, int smallestMarker)
    {
        line.LegendText = mode;
        line.Color = new ScottPlot.Palettes.Category10().GetColor(index);
        line.LineWidth = 2;
        line.MarkerSize = Math.Max(smallestMarker, largestMarker - markerStep * index);
        line.LinePattern = (index % 3) switch { 0 => LinePattern.Solid, 1 => LinePattern.Dashed, _ => LinePattern.Dotted };
    }
}
