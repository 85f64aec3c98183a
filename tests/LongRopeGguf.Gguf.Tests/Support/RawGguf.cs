using System.Buffers.Binary;
using System.Text;

namespace LongRopeGguf.Gguf.Tests.Support;

/// <summary>
/// A GGUF encoder written for the tests from the format description, independent of the library's writer: it emits
/// fields one at a time (little- or big-endian), remembers where each labelled field starts, and lets a test write
/// anything, valid or not. Tests use it to craft bad files with known offsets and to check the writer byte for byte.
/// </summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _bytes = new();
    private readonly bool _bigEndian;

    public RawGguf(bool bigEndian = false) => _bigEndian = bigEndian;

    /// <summary>Start offset of every labelled field written so far.</summary>
    public Dictionary<string, long> At { get; } = new(StringComparer.Ordinal);

    public long Position => _bytes.Position;

    public RawGguf Mark(string label)
    {
        At[label] = Position;
        return this;
    }

    public RawGguf Bytes(ReadOnlySpan<byte> bytes)
    {
        _bytes.Write(bytes);
        return this;
    }

    public RawGguf U8(byte v) => Bytes([v]);

    public RawGguf U16(ushort v)
    {
        Span<byte> b = stackalloc byte[2];
        if (_bigEndian) BinaryPrimitives.WriteUInt16BigEndian(b, v); else BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        return Bytes(b);
    }

    public RawGguf U32(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        if (_bigEndian) BinaryPrimitives.WriteUInt32BigEndian(b, v); else BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return Bytes(b);
    }

    public RawGguf U64(ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        if (_bigEndian) BinaryPrimitives.WriteUInt64BigEndian(b, v); else BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return Bytes(b);
    }

    public RawGguf Str(string s) => StrBytes(Encoding.UTF8.GetBytes(s));

    public RawGguf StrBytes(byte[] utf8) => U64((ulong)utf8.Length).Bytes(utf8);

    /// <summary>The 24-byte header. The magic is the four bytes "GGUF" in either byte order (as gguf-py writes it).</summary>
    public RawGguf Header(uint version, ulong tensorCount, ulong metadataCount) =>
        Mark("magic").Bytes("GGUF"u8).Mark("version").U32(version)
            .Mark("tensor count").U64(tensorCount).Mark("metadata count").U64(metadataCount);

    /// <summary>A key/value pair; labels "kv KEY", "kv KEY type", "kv KEY value".</summary>
    public RawGguf Kv(string key, GgufValue value) =>
        Mark($"kv {key}").Str(key).Mark($"kv {key} type").U32((uint)value.Type).Mark($"kv {key} value").Value(value);

    /// <summary>The encoding of a value without its type tag (arrays: element type, count, elements).</summary>
    public RawGguf Value(GgufValue v)
    {
        switch (v.Type)
        {
            case GgufValueType.UInt8: return U8(v.AsUInt8());
            case GgufValueType.Int8: return U8((byte)v.AsInt8());
            case GgufValueType.Bool: return U8(v.AsBool() ? (byte)1 : (byte)0);
            case GgufValueType.UInt16: return U16(v.AsUInt16());
            case GgufValueType.Int16: return U16((ushort)v.AsInt16());
            case GgufValueType.UInt32: return U32(v.AsUInt32());
            case GgufValueType.Int32: return U32((uint)v.AsInt32());
            case GgufValueType.Float32: return U32(BitConverter.SingleToUInt32Bits(v.AsFloat32()));
            case GgufValueType.UInt64: return U64(v.AsUInt64());
            case GgufValueType.Int64: return U64((ulong)v.AsInt64());
            case GgufValueType.Float64: return U64(BitConverter.DoubleToUInt64Bits(v.AsFloat64()));
            case GgufValueType.String: return Str(v.AsString());
            case GgufValueType.Array:
                U32((uint)v.ElementType).U64((ulong)v.Count);
                foreach (object? item in v.AsUntypedArray())
                {
                    switch (item)
                    {
                        case GgufValue inner: Value(inner); break;
                        case string s: Str(s); break;
                        default: Value(Scalar(v.ElementType, item!)); break;
                    }
                }
                return this;
            default:
                throw new ArgumentException($"cannot encode {v.Type}");
        }
    }

    /// <summary>The GGUF value of one boxed array element of <paramref name="type"/> (what GgufValue.Array holds).</summary>
    public static GgufValue Scalar(GgufValueType type, object item) => type switch
    {
        GgufValueType.UInt8 => GgufValue.UInt8((byte)item),
        GgufValueType.Int8 => GgufValue.Int8((sbyte)item),
        GgufValueType.UInt16 => GgufValue.UInt16((ushort)item),
        GgufValueType.Int16 => GgufValue.Int16((short)item),
        GgufValueType.UInt32 => GgufValue.UInt32((uint)item),
        GgufValueType.Int32 => GgufValue.Int32((int)item),
        GgufValueType.Float32 => GgufValue.Float32((float)item),
        GgufValueType.Bool => GgufValue.Bool((bool)item),
        GgufValueType.String => GgufValue.String((string)item),
        GgufValueType.UInt64 => GgufValue.UInt64((ulong)item),
        GgufValueType.Int64 => GgufValue.Int64((long)item),
        GgufValueType.Float64 => GgufValue.Float64((double)item),
        _ => throw new ArgumentException($"not a scalar element type: {type}"),
    };

    /// <summary>A tensor descriptor; labels "tensor NAME", "... ndims", "... ne[i]", "... type", "... offset".</summary>
    public RawGguf TensorInfo(string name, IReadOnlyList<ulong> dims, uint type, ulong offset)
    {
        Mark($"tensor {name}").Str(name).Mark($"tensor {name} ndims").U32((uint)dims.Count);
        for (int i = 0; i < dims.Count; i++) Mark($"tensor {name} ne[{i}]").U64(dims[i]);
        return Mark($"tensor {name} type").U32(type).Mark($"tensor {name} offset").U64(offset);
    }

    public RawGguf PadTo(long alignment, byte fill = 0)
    {
        while (Position % alignment != 0) U8(fill);
        return this;
    }

    public byte[] ToArray() => _bytes.ToArray();

    public string WriteTo(string path)
    {
        File.WriteAllBytes(path, ToArray());
        return path;
    }

    /// <summary>A complete valid file: header, metadata, descriptors, then each tensor at the next multiple of the
    /// alignment, the file padded to the alignment at the end (the layout the library's writer must produce).</summary>
    public static RawGguf Complete(IReadOnlyList<GgufMetadataEntry> metadata, IReadOnlyList<(string Name, GgmlType Type, ulong[] Dims, byte[] Data)> tensors,
        uint version = 3, uint alignment = 32, bool bigEndian = false)
    {
        var g = new RawGguf(bigEndian).Header(version, (ulong)tensors.Count, (ulong)metadata.Count);
        foreach (var e in metadata) g.Kv(e.Key, e.Value);
        ulong offset = 0;
        foreach (var t in tensors)
        {
            g.TensorInfo(t.Name, t.Dims, (uint)t.Type, offset);
            offset = AlignUp(offset + (ulong)t.Data.Length, alignment);
        }
        g.PadTo(alignment).Mark("data");
        foreach (var t in tensors) g.Bytes(t.Data).PadTo(alignment);
        return g;
    }

    public static ulong AlignUp(ulong v, ulong alignment) => (v + alignment - 1) / alignment * alignment;
}
