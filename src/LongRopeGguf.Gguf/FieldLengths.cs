namespace LongRopeGguf.Gguf;

/// <summary>Sizes in bytes of the fixed-width fields of a GGUF header (all little-endian).</summary>
internal static class FieldLengths
{
    public const int Magic = 4;
    public const int Version = 4;
    public const int TensorCount = 8;
    public const int MetadataCount = 8;
    public const int Header = Magic + Version + TensorCount + MetadataCount;

    /// <summary>String and array lengths are uint64.</summary>
    public const int Length = 8;
    public const int ValueType = 4;
    public const int DimensionCount = 4;
    public const int Dimension = 8;
    public const int TensorType = 4;
    public const int TensorOffset = 8;

    /// <summary>Smallest possible tensor info: empty name, zero dimensions.</summary>
    public const int MinimumTensorInfo = Length + DimensionCount + TensorType + TensorOffset;

    /// <summary>Smallest possible key/value pair: empty key, one-byte value.</summary>
    public const int MinimumMetadataEntry = Length + ValueType + 1;
}
