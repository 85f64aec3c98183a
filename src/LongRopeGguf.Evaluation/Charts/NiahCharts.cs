using LongRopeGguf.Evaluation.Niah;
using ScottPlot;

namespace LongRopeGguf.Evaluation.Charts;

/// <summary>Pictures of a needle-in-a-haystack grid: a depth x length heatmap per mode, accuracy vs length per mode.</summary>
public static class NiahCharts
{
    public const int HeatmapWidth = 720, HeatmapHeight = 560;
    public const int LineWidth = 800, LineHeight = 500;

    public const string AccuracyChartFile = "accuracy-vs-length.png";

    /// <summary>The heatmap file of each mode: heatmap-MODE.png, MODE made file-safe.</summary>
    public static IReadOnlyDictionary<string, string> HeatmapFiles(IReadOnlyList<string> modes) =>
        ChartFiles.SafeNames(modes).ToDictionary(p => p.Key, p => $"heatmap-{p.Value}.png", StringComparer.Ordinal);

    /// <summary>Writes heatmap-MODE.png for every mode and accuracy-vs-length.png; returns the paths.</summary>
    public static IReadOnlyList<string> WriteAll(NiahSummary s, string directory)
    {
        var files = new List<string>();
        string line = Path.Combine(directory, AccuracyChartFile);
        Charts.ChartFiles.SavePng(AccuracyVsLength(s), line, LineWidth, LineHeight);
        files.Add(line);
        var heatmaps = HeatmapFiles(s.Modes);
        foreach (var mode in s.Modes)
        {
            string path = Path.Combine(directory, heatmaps[mode]);
            Charts.ChartFiles.SavePng(Heatmap(s, mode), path, HeatmapWidth, HeatmapHeight);
            files.Add(path);
        }
        return files;
    }

    /// <summary>Rows: depths (0 % at the top), columns: lengths; colour: accuracy from 0 (dark) to 1 (bright); each cell labelled.</summary>
    public static Plot Heatmap(NiahSummary s, string mode)
    {
        int rows = s.Depths, cols = s.Lengths.Count;
        var values = new double[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                values[r, c] = s.DepthCells.Single(d => d.Mode == mode && d.Length == s.Lengths[c] && d.DepthIndex == r).Accuracy;

        var plot = new Plot();
        var hm = plot.Add.Heatmap(values);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.ManualRange = new ScottPlot.Range(0, 1);
        hm.FlipVertically = false;
        // Cell (r, c) centred at x = c, y = rows - 1 - r so that depth 0 % is the top row.
        hm.Rectangle = new CoordinateRect(-0.5, cols - 0.5, -0.5, rows - 0.5); // edges, so cell c spans c +- 0.5
        var bar = plot.Add.ColorBar(hm);
        bar.Label = "accuracy";
        double[] ticks = [0, 0.25, 0.5, 0.75, 1];
        bar.Axis.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, ticks.Select(t => t.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)).ToArray());

        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                double v = values[r, c];
                var text = plot.Add.Text(double.IsNaN(v) ? "–" : v.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), c, rows - 1 - r);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = rows > 12 ? 11 : 14;
                text.LabelBold = true;
                text.LabelFontColor = v > 0.6 ? Colors.Black : Colors.White;
            }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, cols).Select(c => (double)c).ToArray(),
            s.Lengths.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, rows).Select(r => (double)(rows - 1 - r)).ToArray(),
            Enumerable.Range(0, rows).Select(r => $"{NiahOptions.DepthAt(r, rows) * 100:0}%").ToArray());
        plot.Axes.SetLimits(-0.5, cols - 0.5, -0.5, rows - 0.5);
        plot.Title($"{s.ModelName}: {mode} ({s.Haystack})");
        plot.XLabel("context length (tokens)");
        plot.YLabel("needle depth");
        return plot;
    }

    /// <summary>Accuracy (0..1) against length on a log2 axis, one line per mode.</summary>
    public static Plot AccuracyVsLength(NiahSummary s)
    {
        var plot = new Plot();
        double[] xs = s.Lengths.Select(l => Math.Log2(l)).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        var markers = new[] { MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond, MarkerShape.OpenCircle, MarkerShape.OpenSquare };
        int i = 0;
        foreach (var mode in s.Modes)
        {
            double[] ys = s.Lengths.Select(l => s.Cell(mode, l).Accuracy).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = mode;
            line.Color = palette.GetColor(i);
            // Modes often agree exactly (e.g. none and pi at 0): shrinking markers and alternating dash patterns keep
            // every line visible where they overlap.
            line.LineWidth = 2;
            line.MarkerSize = Math.Max(6, 15 - 3 * i);
            line.MarkerShape = markers[i % markers.Length];
            line.LinePattern = (i % 3) switch { 0 => LinePattern.Solid, 1 => LinePattern.Dashed, _ => LinePattern.Dotted };
            i++;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            xs, s.Lengths.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        double pad = xs.Length > 1 ? (xs[^1] - xs[0]) * 0.05 : 0.5;
        plot.Axes.SetLimits(xs[0] - pad, xs[^1] + pad, -0.05, 1.05);
        plot.Title($"{s.ModelName}: needle retrieval vs context length ({s.Haystack})");
        plot.XLabel("context length (tokens, log scale)");
        plot.YLabel("accuracy");
        plot.ShowLegend(Alignment.LowerLeft);
        return plot;
    }
}
