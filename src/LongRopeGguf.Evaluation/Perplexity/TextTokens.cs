using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Evaluation.Perplexity;

/// <summary>The tokens of a text's start that the perplexity windows score, and how many there are.</summary>
/// <param name="Tokens">At least the tokens asked for, when the text has them; all of them otherwise.</param>
/// <param name="Whole">The text was tokenized to its end (it has no more tokens than <see cref="Tokens"/>).</param>
public sealed record TextTokens(int[] Tokens, bool Whole)
{
    /// <summary>Tokens past those asked for that are dropped from a cut: a cut between words may tokenize the last
    /// ones differently from the whole text, never this far back.</summary>
    public const int CutMargin = 256;

    /// <summary>
    /// The first <paramref name="needed"/> tokens of <paramref name="text"/> (no BOS), as tokenizing the whole text gives
    /// them, tokenizing only a start of the text long enough for them: the windows read only the start, and the whole of
    /// a 100 MB text took 107 s and 4.3 GB to tokenize for one window. The start is cut at a space, 8 characters a token
    /// (twice as many each try when that is too few), and the tokens near the cut are dropped.
    /// </summary>
    public static TextTokens Start(ITextTokenizer tokenizer, string text, long needed, CancellationToken ct = default)
    {
        for (long chars = Math.Max(1 << 16, (needed + CutMargin) * 8); ; chars *= 2)
        {
            ct.ThrowIfCancellationRequested();
            if (chars >= text.Length) return new TextTokens(tokenizer.Tokenize(text, addBos: false), Whole: true);
            int cut = text.LastIndexOf(' ', (int)chars);
            if (cut <= 0) continue; // no space to cut at this early: a longer start
            int[] tokens = tokenizer.Tokenize(text[..cut], addBos: false);
            if (tokens.Length - CutMargin >= needed) return new TextTokens(tokens[..^CutMargin], Whole: false);
        }
    }
}
