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

    /// <summary>A file-safe name for each of <paramref name="names"/>, no two alike: "a/b" and "a_b" both made
    /// heatmap-a_b.png, the second chart overwriting the first. A name that is file-safe as it stands keeps it; the
    /// others take a "-2", "-3", ... suffix where their safe form is taken (in the order given, so a resumed run names
    /// its charts as before).</summary>
    public static IReadOnlyDictionary<string, string> SafeNames(IEnumerable<string> names)
    {
        var distinct = names.Distinct(StringComparer.Ordinal).ToList();
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var taken = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in distinct)
            if (SafeName(name) == name && taken.Add(name)) result[name] = name;
        foreach (var name in distinct.Where(n => !result.ContainsKey(n)))
        {
            string safe = SafeName(name), candidate = safe;
            for (int i = 2; !taken.Add(candidate); i++) candidate = $"{safe}-{i}";
            result[name] = candidate;
        }
        return result;
    }

    private static string SafeName(string name)
    {
        var sb = new StringBuilder();
        foreach (char c in name)
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        return sb.Length == 0 ? "mode" : sb.ToString();
    }
}
