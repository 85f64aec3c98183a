using System.Globalization;
using LongRopeGguf.Gguf;

namespace LongRopeGguf.Cli;

/// <summary>
/// A comma-separated list of token counts (`--lengths 512,2048,4096`), for every command that takes one (eval niah and
/// ppl, bench): one parser, so that the same mistake reads the same everywhere.
/// </summary>
internal static class TokenCountList
{
    /// <summary>The counts of <paramref name="text"/> in order; a problem is one line naming the option, the value
    /// and the entry. <paramref name="minimum"/>: the smallest count the command can run.</summary>
    public static IReadOnlyList<int> Parse(string text, int minimum, string option = "--lengths")
    {
        var list = new List<int>();
        string[] parts = CommaList.Entries(text, option);
        if (parts.Length == 0) throw new BadInputException($"{option} '{text}': no count given (comma-separated token counts, e.g. 1024,2048)");
        foreach (var part in parts)
        {
            string Refused(string why) => $"{option} '{text}': {why}";
            // long first, so that a count past int.MaxValue is named as such rather than as "not a number".
            if (!long.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
                throw new BadInputException(Refused($"'{part}' is not a whole number of tokens"));
            if (v <= 0) throw new BadInputException(Refused($"{v} is not a positive number of tokens"));
            if (v < minimum) throw new BadInputException(Refused($"{v} is below the smallest count, {minimum} tokens"));
            if (v > int.MaxValue) throw new BadInputException(Refused($"{v} is beyond what llama.cpp can address"));
            if (list.Contains((int)v)) throw new BadInputException(Refused($"{v} is given twice"));
            list.Add((int)v);
        }
        return list;
    }
}
