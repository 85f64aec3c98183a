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
            // Two updates of one file at once wrote their values in turn: one run's factors with the other's attention
            // factor, and both said OK. The whole file is locked (a POSIX record lock: other writers wait, readers do
            // not) from before the header is read until the editor is disposed, so concurrent updates run one after the
            // other and the last one wins whole.
            LockWhole(stream, path);
            return new GgufInPlaceEditor(GgufReader.Read(stream, path), stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>How long an update waits for another one on the same file (each takes milliseconds).</summary>
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(30);

    private static void LockWhole(FileStream stream, string path)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsWindows())) return; // FileStream.Lock is not offered elsewhere
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                stream.Lock(0, long.MaxValue);
                return;
            }
            catch (IOException) when (waited.Elapsed < LockWait)
            {
                Thread.Sleep(10);
            }
            catch (IOException)
            {
                throw new IOException($"{path}: another process has been updating it in place for over {LockWait.TotalSeconds:0} s (the file is locked); nothing written");
            }
        }
    }

    /// <summary>Replaces the data of tensor <paramref name="name"/>; <paramref name="data"/> must have its exact byte size.</summary>
    public void WriteTensorData(string name, ReadOnlySpan<byte> data)
    {
        var t = File.GetTensor(name);
        if ((ulong)data.Length != t.ByteSize)
            throw new BadInputException($"{File.Path}: tensor '{name}' holds {t.ByteSize} bytes ({t.Type} {t.ShapeText}), given {data.Length}");
        RandomAccess.Write(_stream.SafeFileHandle, data, File.AbsoluteOffset(t));
    }

    public void WriteTensorData(string name, ReadOnlySpan<float> values)
    {
        var t = File.GetTensor(name);
        if (t.Type != GgmlType.F32) throw new BadInputException($"{File.Path}: tensor '{name}' is {t.Type}, not F32");
        WriteTensorData(name, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
    }

    /// <summary>Overwrites the value of an existing key with a value of the same type and encoded size
    /// (any fixed-size scalar; a string of the same UTF-8 length; an array of the same type and length).</summary>
    public void SetValue(string key, GgufValue value) => SetValues([(key, value)]);

    /// <summary>
    /// Overwrites several values as <see cref="SetValue"/> does, checking all of them before writing any: a value that
    /// does not fit leaves the file as it was.
    /// </summary>
    public void SetValues(IReadOnlyList<(string Key, GgufValue Value)> values)
    {
        var encoded = values.Select(v => (offset: Entry(v.Key).ValueOffset, bytes: Encode(v.Key, v.Value))).ToList();
        foreach (var (offset, bytes) in encoded) RandomAccess.Write(_stream.SafeFileHandle, bytes, offset);
    }

    /// <summary>The bytes the value of <paramref name="key"/> takes in the file.</summary>
    public long EncodedLength(string key)
    {
        var entry = Entry(key);
        return entry.Length - (entry.ValueOffset - entry.Offset);
    }

    /// <summary>The bytes a string value holds as stored (they may not be valid UTF-8, so they can differ from the
    /// UTF-8 length of the decoded string): the room a new value of the same key has.</summary>
    public int StoredStringBytes(string key)
    {
        var value = Entry(key).Value;
        if (value.Type != GgufValueType.String) throw new GgufTypeMismatchException($"{File.Path}: key '{key}' is {value.DescribeType()}, not a string");
        return checked((int)(EncodedLength(key) - FieldLengths.Length));
    }

    private GgufMetadataEntry Entry(string key) =>
        File.TryGetEntry(key, out var entry) ? entry : throw new GgufMissingEntryException($"{File.Path}: no metadata key '{key}' to update in place");

    private byte[] Encode(string key, GgufValue value)
    {
        var old = Entry(key).Value;
        if (old.Type != value.Type || (old.Type == GgufValueType.Array && old.ElementType != value.ElementType))
            throw new GgufTypeMismatchException($"{File.Path}: key '{key}' is {old.DescribeType()}, cannot store {value.DescribeType()} in place");
        // The alignment decides where the data section and every tensor start: changing it without moving the data
        // would leave a file that no reader can load.
        if (key == GgufKeys.Alignment && !value.Equals(old))
            throw new BadInputException($"{File.Path}: {GgufKeys.Alignment} cannot change in place (the tensor data would have to move): rewrite the file instead");
        using var encoded = new MemoryStream();
        GgufValueWriter.WriteValue(encoded, value);
        long oldLength = EncodedLength(key);
        if (encoded.Length != oldLength)
            throw new BadInputException($"{File.Path}: key '{key}' takes {oldLength} bytes, the new value {encoded.Length}: rewrite the file instead");
        return encoded.ToArray();
    }

    public void Flush() => _stream.Flush(flushToDisk: false);

    public void Dispose() => _stream.Dispose();
}
