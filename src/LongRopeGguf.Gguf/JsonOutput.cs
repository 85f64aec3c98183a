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
}
