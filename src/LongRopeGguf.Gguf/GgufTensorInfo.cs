namespace LongRopeGguf.Gguf;

/// <summary>One tensor descriptor of a GGUF header.</summary>
/// <param name="Dimensions">ne[0], ne[1], ... in file order (ne[0] is the fastest-varying dimension).</param>
/// <param name="Offset">Offset of the tensor's data relative to the start of the data section.</param>
/// <param name="InfoOffset">Absolute offset of the descriptor in the source file, or -1.</param>
public sealed record GgufTensorInfo(string Name, IReadOnlyList<ulong> Dimensions, GgmlType Type, ulong Offset, long InfoOffset = -1)
{
    public ulong ElementCount
    {
        get
        {
            ulong n = 1;
            foreach (ulong d in Dimensions) n = checked(n * d);
            return n;
        }
    }

    /// <summary>Bytes of data; validated by the reader, so it does not overflow for tensors that came from a file.</summary>
    public ulong ByteSize => GgmlTypeTraits.Get(Type).ByteSize(Dimensions)
        ?? throw new InvalidOperationException($"tensor '{Name}': size of {Type} [{string.Join(", ", Dimensions)}] is not a whole number of blocks or overflows");

    public string ShapeText => "[" + string.Join(", ", Dimensions) + "]";
}
