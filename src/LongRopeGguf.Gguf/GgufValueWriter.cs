using System.Buffers.Binary;
using System.Text;

namespace LongRopeGguf.Gguf;

/// <summary>Encodes header fields: the write-side twin of <see cref="HeaderReader"/> and <see cref="GgufReader"/>.</summary>
internal static class GgufValueWriter
{
    public static void WriteUInt32(Stream s, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        s.Write(b);
    }

    public static void WriteUInt64(Stream s, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        s.Write(b);
    }

    public static void WriteString(Stream s, string v)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(v);
        WriteUInt64(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    public static void WriteEntry(Stream s, string key, GgufValue value)
    {
        WriteString(s, key);
        WriteUInt32(s, (uint)value.Type);
        WriteValue(s, value);
    }

    public static void WriteValue(Stream s, GgufValue value)
    {
        switch (value.Type)
        {
            case GgufValueType.String:
                WriteString(s, value.AsString());
                return;
            case GgufValueType.Array:
                WriteArray(s, value);
                return;
            default:
                Span<byte> b = stackalloc byte[8];
                int n = EncodeScalar(value, b);
                s.Write(b[..n]);
                return;
        }
    }

    /// <summary>Encodes a fixed-size scalar into <paramref name="destination"/>; returns its length.</summary>
    public static int EncodeScalar(GgufValue value, Span<byte> destination)
    {
        switch (value.Type)
        {
            case GgufValueType.UInt8: destination[0] = value.AsUInt8(); return 1;
            case GgufValueType.Int8: destination[0] = (byte)value.AsInt8(); return 1;
            case GgufValueType.Bool: destination[0] = value.AsBool() ? (byte)1 : (byte)0; return 1;
            case GgufValueType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(destination, value.AsUInt16()); return 2;
            case GgufValueType.Int16: BinaryPrimitives.WriteInt16LittleEndian(destination, value.AsInt16()); return 2;
            case GgufValueType.UInt32: BinaryPrimitives.WriteUInt32LittleEndian(destination, value.AsUInt32()); return 4;
            case GgufValueType.Int32: BinaryPrimitives.WriteInt32LittleEndian(destination, value.AsInt32()); return 4;
            case GgufValueType.Float32: BinaryPrimitives.WriteSingleLittleEndian(destination, value.AsFloat32()); return 4;
            case GgufValueType.UInt64: BinaryPrimitives.WriteUInt64LittleEndian(destination, value.AsUInt64()); return 8;
            case GgufValueType.Int64: BinaryPrimitives.WriteInt64LittleEndian(destination, value.AsInt64()); return 8;
            case GgufValueType.Float64: BinaryPrimitives.WriteDoubleLittleEndian(destination, value.AsFloat64()); return 8;
            default: throw new ArgumentException($"{value.DescribeType()} is not a fixed-size scalar", nameof(value));
        }
    }

    private static void WriteArray(Stream s, GgufValue value)
    {
        WriteUInt32(s, (uint)value.ElementType);
        if (value.Utf8Strings is { } utf8)
        {
            // Strings as read: their bytes go back out without a decode/encode round trip.
            WriteUInt64(s, (ulong)utf8.Count);
            for (int i = 0; i < utf8.Count; i++)
            {
                var bytes = utf8.Utf8(i);
                WriteUInt64(s, (ulong)bytes.Length);
                s.Write(bytes);
            }
            return;
        }
        var items = value.AsUntypedArray();
        WriteUInt64(s, (ulong)items.Length);
        switch (value.ElementType)
        {
            case GgufValueType.String:
                foreach (string item in (string[])items) WriteString(s, item);
                break;
            case GgufValueType.Array:
                foreach (GgufValue item in (GgufValue[])items) WriteArray(s, item);
                break;
            case GgufValueType.Bool:
                foreach (bool item in (bool[])items) s.WriteByte(item ? (byte)1 : (byte)0);
                break;
            default:
                // Numeric arrays are stored exactly as their little-endian in-memory layout.
                s.Write(AsBytes(items));
                break;
        }
    }

    private static ReadOnlySpan<byte> AsBytes(System.Array items) => items switch
    {
        byte[] a => a,
        sbyte[] a => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
        ushort[] a => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
        short[] a => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
        uint[] a => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
        int[] a => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
        float[] a => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
        ulong[] a => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
        long[] a => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
        double[] a => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
        _ => throw new ArgumentException($"unsupported array payload {items.GetType()}"),
    };

    public static void WriteTensorInfo(Stream s, string name, GgmlType type, IReadOnlyList<ulong> dims, ulong offset)
    {
        WriteString(s, name);
        WriteUInt32(s, (uint)dims.Count);
        foreach (ulong d in dims) WriteUInt64(s, d);
        WriteUInt32(s, (uint)type);
        WriteUInt64(s, offset);
    }
}
