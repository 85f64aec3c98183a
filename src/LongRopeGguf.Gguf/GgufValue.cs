using System.Collections;
using System.Globalization;

namespace LongRopeGguf.Gguf;

/// <summary>
/// A metadata value with its exact GGUF type. Accessors never coerce: asking a UINT32 value for an INT32 throws
/// <see cref="GgufTypeMismatchException"/>, because llama.cpp itself reads keys with exact types.
/// Arrays hold a typed CLR array: byte[], sbyte[], ushort[], short[], uint[], int[], float[], bool[], string[],
/// ulong[], long[], double[], or GgufValue[] for arrays of arrays. STRING arrays read from a file keep their UTF-8
/// bytes until an accessor needs strings (<see cref="Utf8StringArray"/>); that is invisible to callers.
/// </summary>
public sealed class GgufValue : IEquatable<GgufValue>
{
    private readonly object _payload;

    private GgufValue(GgufValueType type, object payload, GgufValueType elementType = default)
    {
        Type = type;
        _payload = payload;
        ElementType = elementType;
    }

    public GgufValueType Type { get; }

    /// <summary>For arrays, the type of every element; otherwise meaningless.</summary>
    public GgufValueType ElementType { get; }

    public static GgufValue UInt8(byte v) => new(GgufValueType.UInt8, v);
    public static GgufValue Int8(sbyte v) => new(GgufValueType.Int8, v);
    public static GgufValue UInt16(ushort v) => new(GgufValueType.UInt16, v);
    public static GgufValue Int16(short v) => new(GgufValueType.Int16, v);
    public static GgufValue UInt32(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue Int32(int v) => new(GgufValueType.Int32, v);
    public static GgufValue Float32(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue String(string v) => new(GgufValueType.String, v ?? throw new ArgumentNullException(nameof(v)));
    public static GgufValue UInt64(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue Int64(long v) => new(GgufValueType.Int64, v);
    public static GgufValue Float64(double v) => new(GgufValueType.Float64, v);

    public static GgufValue Array(byte[] items) => new(GgufValueType.Array, items, GgufValueType.UInt8);
    public static GgufValue Array(sbyte[] items) => new(GgufValueType.Array, items, GgufValueType.Int8);
    public static GgufValue Array(ushort[] items) => new(GgufValueType.Array, items, GgufValueType.UInt16);
    public static GgufValue Array(short[] items) => new(GgufValueType.Array, items, GgufValueType.Int16);
    public static GgufValue Array(uint[] items) => new(GgufValueType.Array, items, GgufValueType.UInt32);
    public static GgufValue Array(int[] items) => new(GgufValueType.Array, items, GgufValueType.Int32);
    public static GgufValue Array(float[] items) => new(GgufValueType.Array, items, GgufValueType.Float32);
    public static GgufValue Array(bool[] items) => new(GgufValueType.Array, items, GgufValueType.Bool);
    public static GgufValue Array(string[] items) => new(GgufValueType.Array, items, GgufValueType.String);
    public static GgufValue Array(ulong[] items) => new(GgufValueType.Array, items, GgufValueType.UInt64);
    public static GgufValue Array(long[] items) => new(GgufValueType.Array, items, GgufValueType.Int64);
    public static GgufValue Array(double[] items) => new(GgufValueType.Array, items, GgufValueType.Float64);

    /// <summary>An array whose elements are themselves arrays.</summary>
    public static GgufValue Array(GgufValue[] arrays)
    {
        foreach (var a in arrays)
            if (a.Type != GgufValueType.Array) throw new ArgumentException("every element of an array of arrays must be an array", nameof(arrays));
        return new(GgufValueType.Array, arrays, GgufValueType.Array);
    }

    /// <summary>A STRING array read from a file, decoded lazily.</summary>
    internal static GgufValue Array(Utf8StringArray items) => new(GgufValueType.Array, items, GgufValueType.String);

    /// <summary>The lazily decoded form of a STRING array read from a file, or null.</summary>
    internal Utf8StringArray? Utf8Strings => _payload as Utf8StringArray;

    /// <summary>The payload with a lazily decoded STRING array decoded.</summary>
    private object Materialized => _payload is Utf8StringArray u ? u.Decoded : _payload;

    public byte AsUInt8() => Scalar<byte>(GgufValueType.UInt8);
    public sbyte AsInt8() => Scalar<sbyte>(GgufValueType.Int8);
    public ushort AsUInt16() => Scalar<ushort>(GgufValueType.UInt16);
    public short AsInt16() => Scalar<short>(GgufValueType.Int16);
    public uint AsUInt32() => Scalar<uint>(GgufValueType.UInt32);
    public int AsInt32() => Scalar<int>(GgufValueType.Int32);
    public float AsFloat32() => Scalar<float>(GgufValueType.Float32);
    public bool AsBool() => Scalar<bool>(GgufValueType.Bool);
    public string AsString() => Scalar<string>(GgufValueType.String);
    public ulong AsUInt64() => Scalar<ulong>(GgufValueType.UInt64);
    public long AsInt64() => Scalar<long>(GgufValueType.Int64);
    public double AsFloat64() => Scalar<double>(GgufValueType.Float64);

    /// <summary>The elements of an array of <paramref name="elementType"/>, as the matching CLR array type.</summary>
    public T[] AsArray<T>(GgufValueType elementType)
    {
        if (Type != GgufValueType.Array || ElementType != elementType)
            throw new GgufTypeMismatchException($"expected ARRAY of {elementType.ToGgufName()}, found {DescribeType()}");
        return (T[])Materialized;
    }

    public float[] AsFloat32Array() => AsArray<float>(GgufValueType.Float32);
    public string[] AsStringArray() => AsArray<string>(GgufValueType.String);

    /// <summary>The raw array (typed CLR array) of an ARRAY value.</summary>
    public System.Array AsUntypedArray() =>
        Type == GgufValueType.Array ? (System.Array)Materialized : throw new GgufTypeMismatchException($"expected ARRAY, found {DescribeType()}");

    /// <summary>The boxed scalar (byte, int, float, string, ...) or the CLR array.</summary>
    public object Payload => Materialized;

    /// <summary>Number of elements of an array value.</summary>
    public int Count => _payload is Utf8StringArray u ? u.Count : AsUntypedArray().Length;

    /// <summary>
    /// For a STRING array: the first non-empty element whose bytes repeat an earlier one's, and that earlier one; null
    /// when all differ. Compared as bytes, as llama.cpp's vocabulary map does (decoding would make two invalid sequences
    /// equal); empty elements are passed over, as llama.cpp renames an empty token "[EMPTY_i]" before mapping it.
    /// </summary>
    public (int First, int Repeat)? FindRepeatedString()
    {
        if (Type != GgufValueType.Array || ElementType != GgufValueType.String)
            throw new GgufTypeMismatchException($"expected ARRAY of STRING, found {DescribeType()}");
        if (_payload is Utf8StringArray u) return u.FindRepeat();
        var strings = (string[])_payload;
        var seen = new Dictionary<string, int>(strings.Length, StringComparer.Ordinal);
        for (int i = 0; i < strings.Length; i++)
            if (strings[i].Length > 0 && !seen.TryAdd(strings[i], i)) return (seen[strings[i]], i);
        return null;
    }

    /// <summary>For a STRING array: the UTF-8 byte length of its longest element (0 when it has none).</summary>
    public int LongestStringBytes()
    {
        if (Type != GgufValueType.Array || ElementType != GgufValueType.String)
            throw new GgufTypeMismatchException($"expected ARRAY of STRING, found {DescribeType()}");
        if (_payload is Utf8StringArray u) return u.LongestElementBytes();
        return ((string[])_payload).Select(System.Text.Encoding.UTF8.GetByteCount).DefaultIfEmpty(0).Max();
    }

    /// <summary>"UINT32", "STRING", "ARRAY[FLOAT32]".</summary>
    public string DescribeType() => Type == GgufValueType.Array ? $"ARRAY[{ElementType.ToGgufName()}]" : Type.ToGgufName();

    private T Scalar<T>(GgufValueType expected) =>
        Type == expected ? (T)_payload : throw new GgufTypeMismatchException($"expected {expected.ToGgufName()}, found {DescribeType()}");

    /// <summary>A short human rendering: arrays longer than <paramref name="maxItems"/> are abbreviated.</summary>
    public string ToDisplayString(int maxItems = 8)
    {
        if (Type == GgufValueType.String) return Quote((string)_payload);
        if (Type != GgufValueType.Array) return FormatScalar(_payload);
        if (_payload is Utf8StringArray lazy)
        {
            // Decode only what is shown.
            var first = new string[Math.Min(lazy.Count, maxItems)];
            for (int i = 0; i < first.Length; i++) first[i] = Quote(lazy.Get(i));
            return "[" + string.Join(", ", first) + (lazy.Count > maxItems ? $", ... ({lazy.Count} items)" : "") + "]";
        }
        var items = (System.Array)_payload;
        var shown = new List<string>();
        for (int i = 0; i < items.Length && i < maxItems; i++)
        {
            object? item = items.GetValue(i);
            shown.Add(item switch
            {
                string s => Quote(s),
                GgufValue v => v.ToDisplayString(maxItems),
                _ => FormatScalar(item!),
            });
        }
        string more = items.Length > maxItems ? $", ... ({items.Length} items)" : "";
        return "[" + string.Join(", ", shown) + more + "]";
    }

    public override string ToString() => ToDisplayString();

    private static string FormatScalar(object v) => v switch
    {
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    private static string Quote(string s)
    {
        const int max = 120;
        string shown = s.Length > max ? s[..max] + "..." : s;
        return "\"" + DisplayText.Escape(shown.Replace("\\", "\\\\").Replace("\"", "\\\"")) + "\"";
    }

    public bool Equals(GgufValue? other)
    {
        if (other is null || other.Type != Type) return false;
        if (Type != GgufValueType.Array) return Type switch
        {
            // Bitwise for floats, so that NaN payloads and -0 compare as the bytes in the file do.
            GgufValueType.Float32 => BitConverter.SingleToInt32Bits((float)_payload) == BitConverter.SingleToInt32Bits((float)other._payload),
            GgufValueType.Float64 => BitConverter.DoubleToInt64Bits((double)_payload) == BitConverter.DoubleToInt64Bits((double)other._payload),
            _ => _payload.Equals(other._payload),
        };
        if (other.ElementType != ElementType) return false;
        if (_payload is Utf8StringArray ua && other._payload is Utf8StringArray ub) return ua.SameBytes(ub) || ua.Decoded.AsSpan().SequenceEqual(ub.Decoded);
        var a = (System.Array)Materialized;
        var b = (System.Array)other.Materialized;
        if (a.Length != b.Length) return false;
        return ElementType switch
        {
            // Bitwise, like scalars: float.Equals would call -0 and +0 equal (different bytes in the file).
            GgufValueType.Float32 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(((float[])a).AsSpan())
                .SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(((float[])b).AsSpan())),
            GgufValueType.Float64 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(((double[])a).AsSpan())
                .SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(((double[])b).AsSpan())),
            _ => StructuralComparisons.StructuralEqualityComparer.Equals(a, b),
        };
    }

    public override bool Equals(object? obj) => obj is GgufValue v && Equals(v);

    public override int GetHashCode() => HashCode.Combine(Type, ElementType, Type == GgufValueType.Array ? Count : _payload.GetHashCode());
}

/// <summary>A value was read or set with a type other than the one it has.</summary>
public sealed class GgufTypeMismatchException(string message) : BadInputException(message);
