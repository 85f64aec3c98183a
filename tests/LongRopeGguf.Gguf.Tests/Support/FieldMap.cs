using System.Text;

namespace LongRopeGguf.Gguf.Tests.Support;

/// <summary>
/// Where every field of a (valid) GGUF header lies, computed by the tests from the parsed values with the format's
/// arithmetic, and what a reader must report when the file is cut short at any byte: the oracle for truncation tests.
/// The model: fields are read in file order; a fixed-size field needs all its bytes; a string needs its length to fit
/// in what is left; a count of items needs count * (smallest item) bytes to be left; after the header, every tensor's
/// data must lie inside the file.
/// </summary>
internal sealed class FieldMap
{
    public enum Kind { Fixed, StringLength, Count }

    /// <param name="Offset">Start of the field, the offset an error about it must name.</param>
    /// <param name="Size">Bytes of a fixed field (8 for lengths and counts).</param>
    /// <param name="Claim">For lengths: the byte length; for counts: the item count.</param>
    /// <param name="MinItem">For counts: the fewest bytes one item can take.</param>
    /// <param name="RemainingFrom">Where "bytes left" is measured for the length/count check.</param>
    /// <param name="Field">Text the error's field must contain, e.g. "metadata[3]".</param>
    public sealed record Step(Kind Kind, long Offset, int Size, ulong Claim, int MinItem, long RemainingFrom, string Field);

    public List<Step> Steps { get; } = [];

    /// <summary>Absolute offset of each tensor's offset field, in descriptor order.</summary>
    public List<long> TensorOffsetFields { get; } = [];

    /// <summary>Per metadata entry: (entry offset, value offset, entry length). Per tensor: descriptor offset.</summary>
    public List<(long Entry, long Value, long Length)> Entries { get; } = [];
    public List<long> TensorInfos { get; } = [];

    public long HeaderLength { get; private set; }

    private readonly GgufFile _file;

    public FieldMap(GgufFile file)
    {
        _file = file;
        Fixed(0, 4, "magic");
        Fixed(4, 4, "version");
        Fixed(8, 8, "tensor count");
        Fixed(16, 8, "metadata count");
        // Both counts are checked once both are read, metadata first.
        Steps.Add(new Step(Kind.Count, 16, 0, (ulong)file.Metadata.Count, 13, 24, "metadata count"));
        Steps.Add(new Step(Kind.Count, 8, 0, (ulong)file.Tensors.Count, 24, 24, "tensor count"));
        long pos = 24;
        for (int i = 0; i < file.Metadata.Count; i++)
        {
            var e = file.Metadata[i];
            string f = $"metadata[{i}]";
            long entry = pos;
            pos = Str(pos, e.Key, f);
            pos = Fixed(pos, 4, f);
            long value = pos;
            pos = Value(pos, e.Value, f);
            Entries.Add((entry, value, pos - entry));
        }
        for (int i = 0; i < file.Tensors.Count; i++)
        {
            var t = file.Tensors[i];
            string f = $"tensor[{i}]";
            TensorInfos.Add(pos);
            pos = Str(pos, t.Name, f);
            pos = Fixed(pos, 4, f);
            foreach (var _ in t.Dimensions) pos = Fixed(pos, 8, f);
            pos = Fixed(pos, 4, f);
            TensorOffsetFields.Add(pos);
            pos = Fixed(pos, 8, f);
        }
        HeaderLength = pos;
    }

    private long Fixed(long pos, int size, string field)
    {
        Steps.Add(new Step(Kind.Fixed, pos, size, 0, 0, 0, field));
        return pos + size;
    }

    private long Str(long pos, string s, string field)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        Steps.Add(new Step(Kind.StringLength, pos, 8, (ulong)n, 0, pos + 8, field));
        return pos + 8 + n;
    }

    private long Value(long pos, GgufValue v, string field)
    {
        switch (v.Type)
        {
            case GgufValueType.String: return Str(pos, v.AsString(), field);
            case GgufValueType.Array:
            {
                pos = Fixed(pos, 4, field);
                int min = v.ElementType switch
                {
                    GgufValueType.String => 8,
                    GgufValueType.Array => 12,
                    var t => t.FixedSize(),
                };
                Steps.Add(new Step(Kind.Count, pos, 8, (ulong)v.Count, min, pos + 8, field));
                pos += 8;
                if (v.ElementType is GgufValueType.String or GgufValueType.Array)
                {
                    foreach (object? item in v.AsUntypedArray())
                        pos = item is GgufValue inner ? Value(pos, inner, field) : Str(pos, (string)item!, field);
                    return pos;
                }
                return pos + (long)v.Count * min; // fixed-size elements: known to fit once the count is checked
            }
            default:
                return Fixed(pos, v.Type.FixedSize(), field);
        }
    }

    /// <summary>What reading the first <paramref name="length"/> bytes must report: the field's offset, text its name
    /// contains, and a word its problem contains; null when those bytes still hold a complete valid file.</summary>
    public (long Offset, string Field, string Problem)? ExpectedTruncationError(long length)
    {
        foreach (var s in Steps)
        {
            if (s.Offset + s.Size > length && s.Size > 0) return (s.Offset, s.Field, "truncated");
            long left = Math.Max(0, length - s.RemainingFrom);
            if (s.Kind == Kind.StringLength && s.Claim > (ulong)left) return (s.Offset, s.Field, "past the end");
            if (s.Kind == Kind.Count && s.MinItem > 0 && s.Claim > (ulong)left / (ulong)s.MinItem) return (s.Offset, s.Field, "cannot fit");
        }
        long dataOffset = (HeaderLength + _file.Alignment - 1) / _file.Alignment * _file.Alignment;
        for (int i = 0; i < _file.Tensors.Count; i++)
        {
            var t = _file.Tensors[i];
            if (dataOffset + (decimal)t.Offset + t.ByteSize > length) return (TensorOffsetFields[i], $"tensor[{i}]", "outside the data section");
        }
        return null;
    }
}
