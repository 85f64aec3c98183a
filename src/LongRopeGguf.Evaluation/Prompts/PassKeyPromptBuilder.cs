namespace LongRopeGguf.Evaluation.Prompts;

/// <summary>Turns text into a model's token ids.</summary>
public interface ITextTokenizer
{
    int[] Tokenize(string text, bool addBos);
}

/// <summary>
/// A needle-in-a-haystack prompt as the model sees it. <see cref="SharedPrefixTokens"/> leading tokens hold only
/// haystack (BOS included), so prompts of the same haystack can share their KV cells up to there.
/// </summary>
public sealed record PassKeyPrompt(
    int[] Tokens,
    int[] AnswerTokens,
    string Expected,
    int SharedPrefixTokens,
    double Depth,
    double DepthActual,
    int HaystackChars,
    int NeedleChar,
    string Text)
{
    public int Length => Tokens.Length;
}

/// <summary>
/// Builds prompts of an exact token count: haystack with the needle inserted at a depth (where the needle starts, as a
/// fraction of the haystack; in a text snapped to the nearest sentence start), then the question. The haystack is cut at a
/// character so that BOS + haystack + needle + question tokenizes to the requested count; with tokenizers that cannot
/// hit it exactly the prompt is the longest one not above it.
/// </summary>
public sealed class PassKeyPromptBuilder
{
    private readonly ITextTokenizer _tokenizer;
    private double? _charsPerToken;

    public PassKeyPromptBuilder(ITextTokenizer tokenizer, Haystack haystack, NeedleSpec needle)
    {
        _tokenizer = tokenizer;
        Haystack = haystack;
        Needle = needle;
    }

    public Haystack Haystack { get; }
    public NeedleSpec Needle { get; }

    /// <summary>A prompt of <paramref name="promptTokens"/> tokens (BOS included) with the needle for <paramref name="key"/> at <paramref name="depth"/> (0..1).</summary>
    public PassKeyPrompt Build(int promptTokens, double depth, int key)
    {
        if (depth is < 0 or > 1 || double.IsNaN(depth)) throw new EvalInputException($"depth {depth}: must be between 0 and 1");
        string expected = Needle.ExpectedFor(key);
        string needle = Needle.NeedleText(expected);
        int fixedTokens = _tokenizer.Tokenize(needle + Needle.Question, addBos: true).Length;
        if (promptTokens <= fixedTokens)
            throw new EvalInputException($"a {promptTokens}-token prompt leaves no room for a haystack: BOS, needle and question alone take {fixedTokens} tokens");

        double ratio = CharsPerToken();
        int chars = (int)Math.Round((promptTokens - fixedTokens) * ratio);
        int bestChars = -1, bestCount = -1;
        var tried = new HashSet<int>();
        // Secant-like steps from an estimate, then settle on the longest haystack whose prompt is not too long.
        for (int iter = 0; iter < 40 && tried.Add(chars); iter++)
        {
            RequireAvailable(chars, promptTokens, ratio);
            int count = Compose(chars, depth, needle).tokens.Length;
            if (count <= promptTokens && chars > bestChars) { bestChars = chars; bestCount = count; }
            if (count == promptTokens) break;
            int step = (int)Math.Round((promptTokens - count) * ratio);
            if (step == 0) step = count < promptTokens ? 1 : -1;
            chars = Math.Max(0, chars + step);
        }
        // Walk up one character at a time while that still fits (multi-character tokens may absorb them).
        while (bestCount < promptTokens && bestChars >= 0)
        {
            if (bestChars + 1 > Haystack.AvailableChars) break;
            int count = Compose(bestChars + 1, depth, needle).tokens.Length;
            if (count > promptTokens) break;
            bestChars++; bestCount = count;
        }
        if (bestChars < 0)
            throw new EvalInputException($"could not build a {promptTokens}-token prompt from haystack {Haystack.Name}");

        var (tokens, text, insertAt) = Compose(bestChars, depth, needle);
        int prefix = CommonPrefix(_tokenizer.Tokenize(Haystack.Take(insertAt), addBos: true), tokens);
        int haystackTokens = Math.Max(1, tokens.Length - fixedTokens);
        double actual = Math.Clamp((prefix - 1) / (double)haystackTokens, 0, 1);
        int[] answer = AnswerTokensAfter(text, tokens, expected);
        return new PassKeyPrompt(tokens, answer, expected, prefix, depth, actual, bestChars, insertAt, text);
    }

    /// <summary>Tokens the expected answer adds after the prompt (as the tokenizer splits prompt + answer).</summary>
    private int[] AnswerTokensAfter(string promptText, int[] promptTokens, string expected)
    {
        int[] all = _tokenizer.Tokenize(promptText + expected, addBos: true);
        if (all.Length > promptTokens.Length && CommonPrefix(all, promptTokens) == promptTokens.Length)
            return all[promptTokens.Length..];
        return _tokenizer.Tokenize(expected, addBos: false);
    }

    private (int[] tokens, string text, int insertAt) Compose(int haystackChars, double depth, string needle)
    {
        string hay = Haystack.Take(haystackChars);
        int insertAt = Haystack.InsertionPoint((int)Math.Round(depth * haystackChars), haystackChars);
        string text = string.Concat(hay.AsSpan(0, insertAt), needle, hay.AsSpan(insertAt), Needle.Question);
        return (_tokenizer.Tokenize(text, addBos: true), text, insertAt);
    }

    private void RequireAvailable(int chars, int promptTokens, double ratio)
    {
        if (chars <= Haystack.AvailableChars) return;
        throw new EvalInputException(
            $"haystack {Haystack.SourcePath ?? Haystack.Name} is too short: {Haystack.AvailableChars} characters (about {(int)(Haystack.AvailableChars / ratio)} tokens), a {promptTokens}-token prompt needs about {chars}");
    }

    /// <summary>Average characters per token of this haystack, from a sample.</summary>
    private double CharsPerToken()
    {
        if (_charsPerToken is { } r) return r;
        int n = Math.Min(4000, Haystack.AvailableChars);
        int tokens = Math.Max(1, _tokenizer.Tokenize(Haystack.Take(n), addBos: false).Length);
        _charsPerToken = Math.Max(0.05, n / (double)tokens);
        return _charsPerToken.Value;
    }

    public static int CommonPrefix(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
