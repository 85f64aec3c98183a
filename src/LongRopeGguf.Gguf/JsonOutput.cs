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
        w.WritePropertyName(name);
        w.WriteMeasuredValue(value);
    }

    /// <summary>As <see cref="WriteMeasured"/>, for an array element.</summary>
    public static void WriteMeasuredValue(this Utf8JsonWriter w, double value)
    {
        if (double.IsFinite(value)) w.WriteNumberValue(value);
        else w.WriteStringValue(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>As the double overload, in a float's own shortest text (1.1, not 1.100000023841858).</summary>
    public static void WriteMeasuredValue(this Utf8JsonWriter w, float value)
    {
        if (float.IsFinite(value)) w.WriteNumberValue(value);
        else w.WriteStringValue(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
