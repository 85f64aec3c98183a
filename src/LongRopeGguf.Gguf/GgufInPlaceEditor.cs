namespace LongRopeGguf.Gguf;

/// <summary>
/// Overwrites, inside an existing file, tensor data and metadata values whose encoded size does not change: no copy
/// of the file, so it takes the same few milliseconds for a 10 MB and a 100 GB model (used by the factor search).
/// Not atomic (the writes are small and in place): use <see cref="GgufRewriter"/> when that matters.
/// </summary>
public sealed class GgufInPlaceEditor : IDisposable
{
    private readonly FileStream _stream;

    private GgufInPlaceEditor(GgufFile file, FileStream stream)
    {
        File = file;
        _stream = stream;
    }

    /// <summary>The header as read when the editor was opened (values changed since are not reflected).</summary>
    public GgufFile File { get; }

    public static GgufInPlaceEditor Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        try
        {
            return new GgufInPlaceEditor(GgufReader.Read(stream, path), stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Replaces the data of tensor <paramref name="name"/>; <paramref name="data"/> must have its exact byte size.</summary>
    public void WriteTensorData(string name, ReadOnlySpan<byte> data)
    {
        var t = File.GetTensor(name);
        if ((ulong)data.Length != t.ByteSize)
            throw new ArgumentException($"{File.Path}: tensor '{name}' holds {t.ByteSize} bytes ({t.Type} {t.ShapeText}), given {data.Length}");
        RandomAccess.Write(_stream.SafeFileHandle, data, File.AbsoluteOffset(t));
    }

    public void WriteTensorData(string name, ReadOnlySpan<float> values)
    {
        var t = File.GetTensor(name);
        if (t.Type != GgmlType.F32) throw new ArgumentException($"{File.Path}: tensor '{name}' is {t.Type}, not F32");
        WriteTensorData(name, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
    }

    /// <summary>Overwrites the value of an existing key with a value of the same type and encoded size
    /// (any fixed-size scalar; a string of the same UTF-8 length; an array of the same type and length).</summary>
    public void SetValue(string key, GgufValue value)
    {
        if (!File.TryGetEntry(key, out var entry)) throw new KeyNotFoundException($"{File.Path}: no metadata key '{key}' to update in place");
        var old = entry.Value;
        if (old.Type != value.Type || (old.Type == GgufValueType.Array && old.ElementType != value.ElementType))
            throw new GgufTypeMismatchException($"{File.Path}: key '{key}' is {old.DescribeType()}, cannot store {value.DescribeType()} in place");
        // The alignment decides where the data section and every tensor start: changing it without moving the data
        // would leave a file that no reader can load.
        if (key == GgufKeys.Alignment && !value.Equals(old))
            throw new ArgumentException($"{File.Path}: {GgufKeys.Alignment} cannot change in place (the tensor data would have to move): rewrite the file instead");
        using var encoded = new MemoryStream();
        GgufValueWriter.WriteValue(encoded, value);
        long oldLength = entry.Length - (entry.ValueOffset - entry.Offset);
        if (encoded.Length != oldLength)
            throw new ArgumentException($"{File.Path}: key '{key}' takes {oldLength} bytes, the new value {encoded.Length}: rewrite the file instead");
        RandomAccess.Write(_stream.SafeFileHandle, encoded.GetBuffer().AsSpan(0, (int)encoded.Length), entry.ValueOffset);
    }

    public void Flush() => _stream.Flush(flushToDisk: false);

    public void Dispose() => _stream.Dispose();
}
