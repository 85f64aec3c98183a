namespace LongRopeGguf.Gguf;

/// <summary>The type tag of a GGUF metadata value, as stored in the file (uint32).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

public static class GgufValueTypeExtensions
{
    public static bool IsKnown(this GgufValueType type) => (uint)type <= (uint)GgufValueType.Float64;

    /// <summary>Bytes a scalar of this type occupies; 0 for string and array (variable length).</summary>
    public static int FixedSize(this GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    /// <summary>The fewest bytes a value of this type can take: bounds element counts before anything is allocated.</summary>
    internal static int MinimumEncodedSize(this GgufValueType type) => type switch
    {
        GgufValueType.String => FieldLengths.Length,
        GgufValueType.Array => FieldLengths.ValueType + FieldLengths.Length,
        _ => type.FixedSize(),
    };

    /// <summary>The name gguf-py and llama.cpp print (UINT32, FLOAT32, STRING, ...).</summary>
    public static string ToGgufName(this GgufValueType type) => type.IsKnown() ? type.ToString().ToUpperInvariant() : $"TYPE_{(uint)type}";
}
