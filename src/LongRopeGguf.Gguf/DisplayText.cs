using System.Globalization;
using System.Text;

namespace LongRopeGguf.Gguf;

/// <summary>
/// Text from a file made safe to print on a terminal: control characters (C0, DEL, C1) become \n, \r, \t or \uXXXX, so
/// that a key, tensor name or string value cannot move the cursor, clear the screen or retitle the window.
/// </summary>
public static class DisplayText
{
    public static string Escape(string s)
    {
        if (!s.Any(IsControl)) return s;
        var sb = new StringBuilder(s.Length + 16);
        foreach (char c in s)
        {
            if (!IsControl(c)) { sb.Append(c); continue; }
            sb.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
            });
        }
        return sb.ToString();
    }

    private static bool IsControl(char c) => c < 0x20 || c is >= '\u007f' and <= '\u009f';
}
