using System.Text.Json;

namespace LongRopeGguf.Gguf;

/// <summary>
/// What is wrong with a JSON document, in its own terms (field names, 1-based byte in the line), not the serializer's
/// (.NET type names, "Path: $.x | LineNumber: 0 | BytePositionInLine: 9"). For the files this tool reads back: results
/// lines, chat transcripts.
/// </summary>
public static class JsonErrors
{
    private const string Missing = "missing required properties including: ";

    public static string Describe(JsonException e)
    {
        string at = e.BytePositionInLine is { } b ? $" near byte {b + 1}" : "";
        string field = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : "";
        int missing = e.Message.IndexOf(Missing, StringComparison.Ordinal);
        if (missing >= 0) return "missing " + e.Message[(missing + Missing.Length)..].TrimEnd('.', ' ');
        if (e.Message.Contains("could not be converted", StringComparison.Ordinal))
            return field.Length > 0 ? $"'{field}' has the wrong type{at}" : $"not a JSON object{at}";
        string message = e.Message.ReplaceLineEndings(" ");
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0) cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim().TrimEnd('.') + at;
    }
}
