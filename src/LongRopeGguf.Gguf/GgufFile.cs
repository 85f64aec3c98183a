namespace LongRopeGguf.Gguf;

/// <summary>
/// The parsed header of a GGUF file: everything except tensor data, which stays on disk.
/// Immutable; edits are described by <see cref="GgufEdit"/> and written by <see cref="GgufRewriter"/>.
/// </summary>
public sealed class GgufFile
{
    private readonly Dictionary<string, GgufMetadataEntry> _metadataByKey;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;

    public GgufFile(uint version, IReadOnlyList<GgufMetadataEntry> metadata, IReadOnlyList<GgufTensorInfo> tensors,
        uint alignment, long dataOffset, long fileLength, string? path = null)
    {
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        Alignment = alignment;
        DataOffset = dataOffset;
        FileLength = fileLength;
        Path = path;
        _metadataByKey = new Dictionary<string, GgufMetadataEntry>(metadata.Count, StringComparer.Ordinal);
        foreach (var e in metadata) _metadataByKey.Add(e.Key, e);
        _tensorsByName = new Dictionary<string, GgufTensorInfo>(tensors.Count, StringComparer.Ordinal);
        foreach (var t in tensors) _tensorsByName.Add(t.Name, t);
    }

    public uint Version { get; }
    public IReadOnlyList<GgufMetadataEntry> Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Alignment of the data section and of every tensor (general.alignment, default 32).</summary>
    public uint Alignment { get; }

    /// <summary>Absolute offset of the data section (end of header, padded to <see cref="Alignment"/>).</summary>
    public long DataOffset { get; }

    public long FileLength { get; }

    /// <summary>The file this header was read from, if any.</summary>
    public string? Path { get; }

    /// <summary>general.architecture, e.g. "llama"; null when absent.</summary>
    public string? Architecture => TryGetValue(GgufKeys.Architecture, out var v) && v.Type == GgufValueType.String ? v.AsString() : null;

    /// <summary>
    /// For one file of a model split by llama-gguf-split (split.count above 1): its 1-based number and the file count;
    /// null for a whole model. Its tensors are only a share of the model's.
    /// </summary>
    public (long Number, long Count)? SplitShard =>
        TryGetValue(GgufKeys.SplitCount, out var count) && AsWholeNumber(count) is > 1 and long n
            ? ((TryGetValue(GgufKeys.SplitNumber, out var no) ? AsWholeNumber(no) ?? 0 : 0) + 1, n)
            : null;

    private static long? AsWholeNumber(GgufValue v) => v.Payload switch
    {
        byte or sbyte or ushort or short or uint or int or long => Convert.ToInt64(v.Payload, System.Globalization.CultureInfo.InvariantCulture),
        ulong u when u <= long.MaxValue => (long)u,
        _ => null,
    };

    /// <summary>"{architecture}.{suffix}"; throws when the file names no architecture.</summary>
    public string ArchitectureKey(string suffix) =>
        GgufKeys.ForArchitecture(Architecture ?? throw new GgufMissingEntryException($"{Path ?? "file"}: no {GgufKeys.Architecture} key"), suffix);

    public bool ContainsKey(string key) => _metadataByKey.ContainsKey(key);

    public bool TryGetEntry(string key, out GgufMetadataEntry entry) => _metadataByKey.TryGetValue(key, out entry!);

    public bool TryGetValue(string key, out GgufValue value)
    {
        bool found = _metadataByKey.TryGetValue(key, out var e);
        value = e?.Value!;
        return found;
    }

    /// <summary>The value of <paramref name="key"/>; throws <see cref="GgufMissingEntryException"/> naming the key when absent.</summary>
    public GgufValue this[string key] => _metadataByKey.TryGetValue(key, out var e)
        ? e.Value
        : throw new GgufMissingEntryException($"{Path ?? "file"}: no metadata key '{key}'");

    public uint GetUInt32(string key) => WithKey(key, v => v.AsUInt32());
    public int GetInt32(string key) => WithKey(key, v => v.AsInt32());
    public ulong GetUInt64(string key) => WithKey(key, v => v.AsUInt64());
    public float GetFloat32(string key) => WithKey(key, v => v.AsFloat32());
    public bool GetBool(string key) => WithKey(key, v => v.AsBool());
    public string GetString(string key) => WithKey(key, v => v.AsString());

    public bool TryGetTensor(string name, out GgufTensorInfo tensor) => _tensorsByName.TryGetValue(name, out tensor!);

    public GgufTensorInfo GetTensor(string name) => _tensorsByName.TryGetValue(name, out var t)
        ? t
        : throw new GgufMissingEntryException($"{Path ?? "file"}: no tensor '{name}'");

    /// <summary>Absolute offset of a tensor's data in the file.</summary>
    public long AbsoluteOffset(GgufTensorInfo tensor) => DataOffset + (long)tensor.Offset;

    /// <summary>Bytes of the header proper, before the padding that aligns the data section.</summary>
    public long HeaderLength { get; init; }

    private T WithKey<T>(string key, Func<GgufValue, T> get)
    {
        var v = this[key];
        try
        {
            return get(v);
        }
        catch (GgufTypeMismatchException e)
        {
            throw new GgufTypeMismatchException($"{Path ?? "file"}: key '{key}': {e.Message}");
        }
    }
}
