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

    /// <summary>The text of <paramref name="path"/>: UTF-8 (or UTF-16/32 with a byte-order mark, as Windows tools
    /// write them); a problem throws <see cref="RuntimeInputException"/> as "<paramref name="what"/> PATH: problem"
    /// (what = the option, e.g. "--prompt-file"). Pipes and /dev/stdin are read up to the limit.</summary>
    public static string Read(string path, string what, long maxBytes)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new RuntimeInputException($"{what} {full}: is a folder, not a text file");
        if (!File.Exists(full)) throw new RuntimeInputException($"{what} {full}: no such file");
        byte[] bytes = ReadBounded(full, what, maxBytes);
        // A NUL byte in what reads as UTF-8 is a binary file (a model given by mistake): said as such, before decoding.
        string encoding = Gguf.StrictText.EncodingOf(bytes);
        if (encoding == "UTF-8" && Array.IndexOf(bytes, (byte)0) is >= 0 and int nul)
            throw Binary(what, full, nul);
        string text = Gguf.StrictText.Decode(bytes, out string? problem)
            ?? throw new RuntimeInputException($"{what} {full}: {problem}");
        int nulChar = text.IndexOf('\0');
        if (nulChar >= 0) throw new RuntimeInputException($"{what} {full}: a NUL character (character {nulChar} of the {encoding} text), not a text file");
        return text;
    }

    private static RuntimeInputException Binary(string what, string full, long nul) =>
        new($"{what} {full}: a binary file (a NUL byte at offset {nul}), not UTF-8 text");

    /// <summary>The file's bytes, refused past <paramref name="maxBytes"/> before they are read (from the length when
    /// the file has one, else after maxBytes + 1 bytes of a pipe).</summary>
    private static byte[] ReadBounded(string full, string what, long maxBytes)
    {
        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        // /dev/stdin of a command whose standard input was closed: what the runtime opened in its place (its own pipe,
        // which never ends, or /dev/urandom). A closed standard input reads as empty, as everywhere else.
        // (The cheap comparison first: only a file that is descriptor 0's own is looked at further.)
        if (FileDescriptors.Target((int)stream.SafeFileHandle.DangerousGetHandle()) is { } target && target == FileDescriptors.Target(0)
            && FileDescriptors.StandardInputClosed())
            return [];
        string TooBig(string size) => $"{what} {full}: {size} is too big for a text file here (at most {maxBytes:N0} bytes); is it a model or another binary file?";
        // A length of 0 is no promise for /proc files and devices (/proc/cpuinfo, /dev/zero): they are read as a pipe is.
        if (stream.CanSeek && stream.Length > 0)
        {
            if (stream.Length > maxBytes) throw new RuntimeInputException(TooBig($"{stream.Length:N0} bytes"));
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int n;
        bool? utf8 = null; // known once 4 bytes (the longest byte order mark) are in, or at the end
        long searched = 0;
        while ((n = stream.Read(chunk)) > 0)
        {
            buffer.Write(chunk, 0, n);
            // A NUL in what reads as UTF-8 is a binary file: /dev/zero or a model through a pipe is refused at its first
            // chunk, as a file is, not after maxBytes read into memory (three times that at the peak: 800 MB for a corpus).
            if (utf8 is null && buffer.Length >= 4) utf8 = Gguf.StrictText.EncodingOf(buffer.GetBuffer().AsSpan(0, 4)) == "UTF-8";
            if (utf8 == true)
            {
                int nul = buffer.GetBuffer().AsSpan((int)searched, (int)(buffer.Length - searched)).IndexOf((byte)0);
                if (nul >= 0) throw Binary(what, full, searched + nul);
                searched = buffer.Length;
            }
            if (buffer.Length > maxBytes) throw new RuntimeInputException(TooBig($"more than {maxBytes:N0} bytes"));
        }
        return buffer.ToArray();
    }
}
