using System.Text.Encodings.Web;
using System.Text.Json;

namespace LongRopeGguf.Gguf;

/// <summary>
/// How the JSON reports this tool writes for people and scripts (--json, result summaries, factor files) are written: indented, and with non-ASCII text and
/// HTML-sensitive characters (&lt; &gt; &amp; ') as themselves. The default encoder writes them as \uXXXX, which is
/// valid JSON but makes a chat template or a model name in `inspect --json` impossible to grep. Control characters
/// and quotes are still escaped, so the output stays valid JSON.
/// </summary>
public static class JsonOutput
{
    public static JsonWriterOptions Indented => new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// A measured number as a JSON number, or, when it is NaN or infinite (a model whose logits are NaN), as the string
    /// "NaN" / "Infinity" / "-Infinity", as the search log and results.jsonl write it: JSON has no such numbers, and
    /// Utf8JsonWriter throws on them halfway through a file.
    /// </summary>
    public static void WriteMeasured(this Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteString(name, value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
