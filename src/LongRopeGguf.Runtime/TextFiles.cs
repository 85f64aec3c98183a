using System.Text;

namespace LongRopeGguf.Runtime;

/// <summary>
/// Text files named on the command line (a prompt, a transcript, a text to score, a haystack): read whole, but only
/// after the size is checked, so that a model file given by mistake is one line rather than gigabytes of memory; and as
/// strict UTF-8, so that a binary or mis-encoded file is named with the offset of its first bad byte instead of being fed
/// to the model as replacement characters.
/// </summary>
public static class TextFiles
{
    /// <summary>Prompts and transcripts: far more text than any context holds.</summary>
    public const long PromptLimitBytes = 16L << 20;

    /// <summary>Texts to score and haystacks: a corpus, of which the windows use a part.</summary>
    public const long CorpusLimitBytes = 256L << 20;

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The text of <paramref name="path"/>; a problem throws <see cref="RuntimeInputException"/> as
    /// "<paramref name="what"/> PATH: problem" (what = the option, e.g. "--prompt-file").</summary>
    public static string Read(string path, string what, long maxBytes)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new RuntimeInputException($"{what} {full}: is a folder, not a text file");
        if (!File.Exists(full)) throw new RuntimeInputException($"{what} {full}: no such file");
        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (stream.Length > maxBytes)
            throw new RuntimeInputException($"{what} {full}: {stream.Length:N0} bytes is too big for a text file here (at most {maxBytes:N0}); is it a model or another binary file?");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0) throw new RuntimeInputException($"{what} {full}: a binary file (a NUL byte at offset {nul}), not UTF-8 text");
        int start = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? Encoding.UTF8.Preamble.Length : 0;
        try
        {
            return Strict.GetString(bytes, start, bytes.Length - start);
        }
        catch (DecoderFallbackException e)
        {
            throw new RuntimeInputException($"{what} {full}: not UTF-8 text (invalid byte at offset {start + Math.Max(0, e.Index)})");
        }
    }
}
