using System.Text;

namespace LongRopeGguf.Evaluation.Charts;

/// <summary>Chart files: names safe whatever a mode is called, written whole or not at all.</summary>
public static class ChartFiles
{
    /// <summary>Renders the chart in memory and writes it atomically: a full disk left a cut PNG (no IEND chunk) in
    /// place of the previous run's chart.</summary>
    public static void SavePng(ScottPlot.Plot plot, string path, int width, int height)
    {
        using var image = plot.GetImage(width, height);
        Gguf.AtomicFile.WriteAllBytes(path, image.GetImageBytes(ScottPlot.ImageFormat.Png));
    }

    public static string SafeName(string name)
    {
        var sb = new StringBuilder();
        foreach (char c in name)
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        return sb.Length == 0 ? "mode" : sb.ToString();
    }
}
