using System.Text;

namespace LongRopeGguf.Gguf;

/// <summary>
/// The elements of a STRING array as read from a file: their UTF-8 bytes back to back and where each ends, decoded to
/// CLR strings only when asked for. A vocabulary of 150,000 tokens is then two allocations instead of 150,000, which
/// is most of the cost of reading a model header; `inspect` shows 8 of them and an edit copies them as bytes.
/// </summary>
internal sealed class Utf8StringArray
{
    private readonly byte[] _bytes;
    private readonly int[] _ends;
    private string[]? _decoded;

    /// <param name="bytes">Concatenated UTF-8 bytes of every element.</param>
    /// <param name="ends">End offset (exclusive) of each element in <paramref name="bytes"/>.</param>
    public Utf8StringArray(byte[] bytes, int[] ends)
    {
        _bytes = bytes;
        _ends = ends;
    }

    public int Count => _ends.Length;

    public ReadOnlySpan<byte> Utf8(int index)
    {
        int start = index == 0 ? 0 : _ends[index - 1];
        return _bytes.AsSpan(start, _ends[index] - start);
    }

    /// <summary>The byte length of the longest element (0 for none), from the end offsets alone.</summary>
    public int LongestElementBytes()
    {
        int longest = 0, start = 0;
        foreach (int end in _ends)
        {
            longest = Math.Max(longest, end - start);
            start = end;
        }
        return longest;
    }

    /// <summary>The first non-empty element whose bytes repeat an earlier element's, and that earlier one; null when all
    /// differ. Empty elements are passed over: llama.cpp names an empty token "[EMPTY_i]" before mapping it. Compares
    /// the kept bytes in place: no string per element (a vocabulary is checked at every model load).</summary>
    public (int First, int Repeat)? FindRepeat()
    {
        var seen = new HashSet<int>(Count, new ElementComparer(this));
        for (int i = 0; i < Count; i++)
            if (Utf8(i).Length > 0 && !seen.Add(i) && seen.TryGetValue(i, out int first)) return (first, i);
        return null;
    }

    /// <summary>Element indices compared by their bytes.</summary>
    private sealed class ElementComparer(Utf8StringArray array) : IEqualityComparer<int>
    {
        public bool Equals(int a, int b) => array.Utf8(a).SequenceEqual(array.Utf8(b));

        public int GetHashCode(int index)
        {
            var hash = new HashCode();
            hash.AddBytes(array.Utf8(index));
            return hash.ToHashCode();
        }
    }

    /// <summary>Element <paramref name="index"/>, decoded as the reader decodes strings (invalid UTF-8 as U+FFFD).</summary>
    public string Get(int index) => _decoded is { } d ? d[index] : Encoding.UTF8.GetString(Utf8(index));

    /// <summary>Every element, decoded once and cached (the cache is immutable once published; racing decoders
    /// produce equal arrays and one of them wins).</summary>
    public string[] Decoded
    {
        get
        {
            if (_decoded is { } d) return d;
            var all = new string[_ends.Length];
            for (int i = 0; i < all.Length; i++) all[i] = Encoding.UTF8.GetString(Utf8(i));
            Interlocked.CompareExchange(ref _decoded, all, null);
            return _decoded;
        }
    }

    public bool SameBytes(Utf8StringArray other) =>
        _ends.AsSpan().SequenceEqual(other._ends) && _bytes.AsSpan(0, TotalBytes).SequenceEqual(other._bytes.AsSpan(0, other.TotalBytes));

    private int TotalBytes => _ends.Length == 0 ? 0 : _ends[^1];
}
