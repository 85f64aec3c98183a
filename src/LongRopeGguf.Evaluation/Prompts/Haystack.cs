using System.Text;

namespace LongRopeGguf.Evaluation.Prompts;

/// <summary>
/// The text a needle is hidden in: the pass-key filler (repeated without end, cut at an arbitrary character) or the
/// text of a file (whitespace runs, line breaks included, collapsed to single spaces so hard-wrapped text reads as
/// prose; never repeated, so a file shorter than a prompt needs is an error). Needles go in at any character of the
/// filler, at sentence boundaries of a text.
/// </summary>
public sealed class Haystack
{
    /// <summary>The pass-key filler the tiny model was trained on (model card).</summary>
    public const string FillerUnit = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";

    private readonly string? _fixedText;
    private string _text;
    private int[] _boundaries;

    private Haystack(string name, string? source, string? fixedText)
    {
        Name = name;
        SourcePath = source;
        _fixedText = fixedText;
        _text = fixedText ?? "";
        _boundaries = SentenceBoundaries(_text);
    }

    /// <summary>"filler", or the file's name.</summary>
    public string Name { get; }

    /// <summary>The file the text came from; null for the filler.</summary>
    public string? SourcePath { get; }

    /// <summary>Characters available; unbounded for the filler.</summary>
    public int AvailableChars => _fixedText?.Length ?? int.MaxValue;

    public bool IsFiller => _fixedText is null;

    /// <summary>The built-in filler's name in trial records; a text file of that name is told apart by its hash.</summary>
    public const string FillerName = "filler";

    /// <summary>What stands for the built-in filler where texts are told apart by hash.</summary>
    public const string FillerIdentity = "the built-in filler";

    public static Haystack Filler() => new(FillerName, null, null);

    /// <summary>The text of a file (UTF-8), whitespace collapsed. "filler" names the built-in filler.</summary>
    /// <param name="option">The option that named the file, for messages (search's --text reads its text here too).</param>
    public static Haystack FromFile(string path, string option = "--haystack")
    {
        string text = NormalizeWhitespace(Runtime.TextFiles.Read(path, option, Runtime.TextFiles.CorpusLimitBytes));
        if (text.Length == 0) throw new EvalInputException($"{option} {path}: the file holds no text");
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..16];
        return new Haystack(System.IO.Path.GetFileName(path), System.IO.Path.GetFullPath(path), text) { ContentHash = hash };
    }

    /// <summary>16 hex digits of SHA-256 over the whole text as used (whitespace collapsed), for a file; null for the
    /// filler. Trials are named by <see cref="Name"/>; this tells two texts of one name apart (a resumed run or a pooled
    /// comparison must not mix them).</summary>
    public string? ContentHash { get; private init; }

    /// <summary><see cref="ContentHash"/>, or <see cref="FillerIdentity"/> for the filler.</summary>
    public string Identity => ContentHash ?? FillerIdentity;

    /// <summary>An <see cref="Identity"/> as a message says it: "sha256 HASH", or "the built-in filler".</summary>
    public static string Describe(string identity) => identity == FillerIdentity ? identity : "sha256 " + identity;

    /// <summary>"filler" or a path.</summary>
    public static Haystack Parse(string spec) =>
        string.Equals(spec, "filler", StringComparison.OrdinalIgnoreCase) ? Filler() : FromFile(spec);

    /// <summary>Where this haystack starts in its file's text (0 unless it came from <see cref="From"/>).</summary>
    public int Offset { get; private init; }

    /// <summary>
    /// The text from the sentence start at or before character <paramref name="offset"/> on: another passage of the same
    /// file, so that prompts need not all share one haystack. The filler repeats, so it is its own every passage.
    /// </summary>
    public Haystack From(int offset)
    {
        if (IsFiller || offset <= 0) return this;
        if (offset >= _fixedText!.Length) throw new EvalInputException($"haystack {SourcePath}: offset {offset} is beyond its {_fixedText.Length} characters");
        int i = Array.BinarySearch(_boundaries, offset);
        int start = _boundaries[i >= 0 ? i : ~i - 1];
        return new Haystack(Name, SourcePath, _fixedText[start..]) { Offset = Offset + start, ContentHash = ContentHash };
    }

    /// <summary>
    /// Where <paramref name="count"/> passages of the text start so that they spread evenly over it: the first at 0,
    /// the last leaving room for <paramref name="charsPerPrompt"/> characters (+2 %, as another stretch of text may
    /// tokenize a little longer), each snapped back to a sentence start. A text too short for <paramref name="count"/>
    /// different starts is bad input, and so is more than one passage of the filler (it repeats one paragraph, so they
    /// would all be the same): the errors name <paramref name="option"/>.
    /// </summary>
    public int[] SpreadPassages(int count, int charsPerPrompt, string option, int promptTokens)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var offsets = new int[count];
        if (count == 1) return offsets;
        if (IsFiller)
            throw new EvalInputException($"{option} {count}: the filler haystack repeats one paragraph, so all its passages are the same: give a text with --haystack FILE");
        int room = Math.Max(0, AvailableChars - charsPerPrompt - charsPerPrompt / 50);
        for (int p = 1; p < count; p++) offsets[p] = From((int)((long)room * p / (count - 1))).Offset;
        // Snapping back to sentence starts can put two passages of a short text on the same one.
        for (int p = 1; p < count; p++)
            if (offsets[p] <= offsets[p - 1])
                throw new EvalInputException(
                    $"{option} {count}: {SourcePath} holds {AvailableChars} characters and one {promptTokens}-token prompt takes about {charsPerPrompt}: no room for {count} different passages");
        return offsets;
    }

    /// <summary>The first <paramref name="chars"/> characters.</summary>
    public string Take(int chars)
    {
        Ensure(chars);
        return _text[..chars];
    }

    /// <summary>
    /// Where a needle aimed at character <paramref name="target"/> of a haystack cut to <paramref name="limit"/> characters
    /// goes: exactly there in the filler (the model was trained with needles at any character of it), at the nearest
    /// sentence start (or the very end) in a text.
    /// </summary>
    public int InsertionPoint(int target, int limit)
    {
        target = Math.Clamp(target, 0, limit);
        if (IsFiller) return target;
        return NearestBoundary(target, limit);
    }

    /// <summary>Sentence start nearest to <paramref name="target"/> within [0, <paramref name="limit"/>]; <paramref name="limit"/> itself counts (the end of the cut haystack).</summary>
    public int NearestBoundary(int target, int limit)
    {
        Ensure(limit);
        int best = Math.Abs(limit - target) <= target ? limit : 0;
        int i = Array.BinarySearch(_boundaries, target);
        if (i < 0) i = ~i;
        foreach (int j in (ReadOnlySpan<int>)[i - 1, i])
        {
            if (j < 0 || j >= _boundaries.Length) continue;
            int b = _boundaries[j];
            if (b > limit) continue;
            if (Math.Abs(b - target) < Math.Abs(best - target)) best = b;
        }
        return best;
    }

    private void Ensure(int chars)
    {
        if (chars < 0) throw new ArgumentOutOfRangeException(nameof(chars));
        if (chars <= _text.Length) return;
        if (_fixedText is not null)
            throw new EvalInputException($"haystack {SourcePath}: {_fixedText.Length} characters, shorter than the {chars} needed");
        var sb = new StringBuilder(_text, Math.Max(chars, _text.Length * 2));
        while (sb.Length < chars) sb.Append(FillerUnit);
        _text = sb.ToString();
        _boundaries = SentenceBoundaries(_text);
    }

    /// <summary>Positions where a sentence starts: after '.', '!' or '?' (and any closing quotes/brackets) and a space.</summary>
    internal static int[] SentenceBoundaries(string text)
    {
        var result = new List<int> { 0 };
        for (int i = 1; i < text.Length; i++)
        {
            if (text[i - 1] != ' ') continue;
            int k = i - 2;
            while (k >= 0 && text[k] is '"' or '\'' or ')' or ']' or '\u201D' or '\u2019') k--;
            if (k >= 0 && text[k] is '.' or '!' or '?') result.Add(i);
        }
        return result.ToArray();
    }

    internal static string NormalizeWhitespace(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c)) { pendingSpace = sb.Length > 0; continue; }
            if (pendingSpace) { sb.Append(' '); pendingSpace = false; }
            sb.Append(c);
        }
        if (sb.Length > 0) sb.Append(' '); // a haystack ends like the filler: with a space before what follows
        return sb.ToString();
    }
}
