using LongRopeGguf.Gguf;

namespace LongRopeGguf.LongRope;

/// <summary>Reads the data of small tensors (factor arrays) straight from the file; never a model's weights.</summary>
public static class SmallTensorReader
{
    /// <summary>Factor tensors are a few hundred bytes; anything past this is not one and is not read.</summary>
    public const long MaxBytes = 1 << 20;

    public static byte[] ReadBytes(GgufFile file, GgufTensorInfo tensor)
    {
        string path = file.Path ?? throw new ArgumentException("the header must come from a file", nameof(file));
        if (tensor.ByteSize > MaxBytes)
            throw new LongRopePatchException($"{path}: tensor '{tensor.Name}' holds {tensor.ByteSize:N0} bytes; a factor tensor is at most {MaxBytes:N0}");
        var bytes = new byte[tensor.ByteSize];
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        int read = RandomAccess.Read(handle, bytes, file.AbsoluteOffset(tensor));
        if (read != bytes.Length)
            throw new GgufFormatException(path, $"tensor '{tensor.Name}' data", file.AbsoluteOffset(tensor), $"file ends after {read} of {bytes.Length} bytes");
        return bytes;
    }

    /// <summary>The values of an F32, F16 or BF16 tensor as floats; null for other types.</summary>
    public static float[]? ReadFloats(GgufFile file, GgufTensorInfo tensor)
    {
        if (tensor.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)) return null;
        byte[] bytes = ReadBytes(file, tensor);
        var values = new float[tensor.ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = tensor.Type switch
            {
                GgmlType.F32 => BitConverter.ToSingle(bytes, i * 4),
                GgmlType.F16 => (float)BitConverter.ToHalf(bytes, i * 2),
                _ => BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(bytes, i * 2) << 16),
            };
        }
        return values;
    }
}
