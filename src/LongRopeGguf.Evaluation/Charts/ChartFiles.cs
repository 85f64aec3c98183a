using System.Text;

namespace LongRopeGguf.Evaluation.Charts;

/// <summary>File names for charts, safe whatever a mode is called.</summary>
public static class ChartFiles
{
    public static string SafeName(string name)
    {
        var sb = new StringBuilder();
        foreach (char c in name)
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        return sb.Length == 0 ? "mode" : sb.ToString();
    }
}
