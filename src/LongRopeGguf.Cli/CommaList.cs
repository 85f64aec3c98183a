using LongRopeGguf.Gguf;

namespace LongRopeGguf.Cli;

/// <summary>
/// The entries of a comma-separated option value (--modes, --lengths, --seed-rules), trimmed. A value of only
/// whitespace is an empty list; an empty entry among others ("none,,yarn", "yarn,") is a typo, refused naming the
/// option and the value rather than passed over.
/// </summary>
internal static class CommaList
{
    public static string[] Entries(string text, string option)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        string[] entries = text.Split(',', StringSplitOptions.TrimEntries);
        if (entries.Contains(""))
            throw new BadInputException($"{option} '{text}': an empty entry (two commas, or one at an end)");
        return entries;
    }
}
