using System.Text;

namespace LongRopeGguf.Gguf;

/// <summary>
/// Bytes read back as text, strictly: read loosely, a bad byte becomes U+FFFD and is blamed on whatever it lands in (a
/// "number" of a factor file, a prompt the model then reads). UTF-8 by default, a leading byte-order mark dropped;
/// UTF-16 or UTF-32 where their byte-order mark says so (Windows PowerShell 5 writes UTF-16). The one decoder of the
/// text files this tool reads: factor files, prompts and texts, chat lines, results lines.
/// </summary>
public static class StrictText
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>UTF-8's byte-order mark, as editors write it before the text.</summary>
    public static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>"UTF-8", "UTF-16" or "UTF-32": what <see cref="Decode"/> reads <paramref name="bytes"/> as.</summary>
    public static string EncodingOf(ReadOnlySpan<byte> bytes) => UnicodeByBom(bytes)?.Name ?? "UTF-8";

    /// <summary>The text of <paramref name="bytes"/>, or null with <paramref name="problem"/> naming the encoding and the
    /// byte offset (counted from <paramref name="offsetBase"/>) of the first bad sequence.</summary>
    public static string? Decode(ReadOnlySpan<byte> bytes, out string? problem, long offsetBase = 0)
    {
        if (UnicodeByBom(bytes) is var (encoding, bomLength, name))
        {
            try
            {
                problem = null;
                return encoding.GetString(bytes[bomLength..]);
            }
            catch (DecoderFallbackException e)
            {
                // The UTF-16 decoder notices a lone high surrogate only at the unit after it: the unit itself is named.
                long at = encoding is UnicodeEncoding && FirstUnpairedSurrogate(bytes, bomLength, bytes[0] == 0xFE) is int unit ? unit : bomLength + Math.Max(0, e.Index);
                problem = $"not {name} text, though it starts with {name}'s byte order mark (invalid at offset {offsetBase + at})";
                return null;
            }
        }
        string? text = DecodeUtf8(bytes, out problem, offsetBase);
        return text is not null && text.StartsWith('\uFEFF') ? text[1..] : text;
    }

    /// <summary>UTF-8 only (a byte-order mark kept as U+FEFF): the text, or null with <paramref name="problem"/> = "not
    /// UTF-8 text (invalid byte 0xE9 at offset 8)".</summary>
    public static string? DecodeUtf8(ReadOnlySpan<byte> bytes, out string? problem, long offsetBase = 0)
    {
        try
        {
            problem = null;
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            int at = Math.Clamp(e.Index, 0, Math.Max(0, bytes.Length - 1));
            problem = $"not UTF-8 text (invalid byte 0x{bytes[at]:X2} at offset {offsetBase + at})";
            return null;
        }
    }

    /// <summary>The byte offset of the first UTF-16 unit that is half a pair.</summary>
    private static int? FirstUnpairedSurrogate(ReadOnlySpan<byte> b, int start, bool bigEndian)
    {
        for (int at = start; at + 1 < b.Length; at += 2)
        {
            char c = Unit(b, at, bigEndian);
            if (char.IsLowSurrogate(c)) return at;
            if (!char.IsHighSurrogate(c)) continue;
            if (at + 3 >= b.Length || !char.IsLowSurrogate(Unit(b, at + 2, bigEndian))) return at;
            at += 2;
        }
        return null;
    }

    private static char Unit(ReadOnlySpan<byte> b, int at, bool bigEndian) => (char)(bigEndian ? b[at] << 8 | b[at + 1] : b[at + 1] << 8 | b[at]);

    /// <summary>The encodings read besides UTF-8, by their byte-order mark (UTF-32 LE's starts like UTF-16 LE's: first).</summary>
    private static (Encoding Encoding, int BomLength, string Name)? UnicodeByBom(ReadOnlySpan<byte> b) => b switch
    {
        [0xFF, 0xFE, 0x00, 0x00, ..] => (new UTF32Encoding(bigEndian: false, byteOrderMark: false, throwOnInvalidCharacters: true), 4, "UTF-32"),
        [0x00, 0x00, 0xFE, 0xFF, ..] => (new UTF32Encoding(bigEndian: true, byteOrderMark: false, throwOnInvalidCharacters: true), 4, "UTF-32"),
        [0xFF, 0xFE, ..] => (new UnicodeEncoding(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true), 2, "UTF-16"),
        [0xFE, 0xFF, ..] => (new UnicodeEncoding(bigEndian: true, byteOrderMark: false, throwOnInvalidBytes: true), 2, "UTF-16"),
        _ => null,
    };
}
