namespace LongRopeGguf.Gguf;

/// <summary>Where the bytes of an output tensor come from.</summary>
public abstract record TensorData
{
    public abstract long Length { get; }

    /// <summary>Bytes at an absolute offset of the source file being rewritten: streamed, never loaded.</summary>
    public sealed record FromSource(long AbsoluteOffset, long ByteLength) : TensorData
    {
        public override long Length => ByteLength;
    }

    /// <summary>Bytes held in memory (small tensors such as RoPE factor arrays).</summary>
    public sealed record FromMemory(ReadOnlyMemory<byte> Bytes) : TensorData
    {
        public override long Length => Bytes.Length;
    }

    /// <summary>Bytes produced by a callback that writes exactly <see cref="ByteLength"/> bytes (generated test files).</summary>
    public sealed record Generated(long ByteLength, Action<Stream> Write) : TensorData
    {
        public override long Length => ByteLength;
    }

    public static TensorData Float32(ReadOnlySpan<float> values) =>
        new FromMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray());
}

/// <summary>A tensor to be written: its descriptor (the offset is assigned by the writer) and its data.</summary>
public sealed record OutputTensor(string Name, GgmlType Type, IReadOnlyList<ulong> Dimensions, TensorData Data);
