using System.Globalization;
using System.Text;

namespace LongRopeGguf.Gguf;

/// <summary>
/// Text from a file made safe to print on a terminal: control characters (C0, DEL, C1) become \n, \r, \t or \uXXXX, so
/// that a key, tensor name or string value cannot move the cursor, clear the screen or retitle the window; so do the
/// line and paragraph separators (U+2028, U+2029: a line break to many viewers, which split one line in two) and the
/// bidirectional controls (U+202A-U+202E, U+2066-U+2069: they reorder how the rest of the line reads).
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

    private static bool IsControl(char c) =>
        c < 0x20 || c is >= '\u007f' and <= '\u009f' or '\u2028' or '\u2029' or >= '\u202a' and <= '\u202e' or >= '\u2066' and <= '\u2069';
}
