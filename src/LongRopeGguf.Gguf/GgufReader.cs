using System.Buffers.Binary;

namespace LongRopeGguf.Gguf;

/// <summary>
/// Reads and validates the header of a GGUF v2/v3 file: metadata, tensor descriptors and data-section layout.
/// Tensor data is never read. Every problem is a <see cref="GgufFormatException"/> naming the field and offset,
/// raised before any allocation that the file's size could not justify.
/// </summary>
public static class GgufReader
{
    /// <summary>Whether the file starts with GGUF's magic: what tells a model from the other files an option takes
    /// (a factor file, a text).</summary>
    public static bool HasMagic(string path)
    {
        if (FileKinds.Of(path) == FileKind.Special) return false; // a pipe's first bytes would be gone, and a FIFO blocks
        Span<byte> magic = stackalloc byte[FieldLengths.Magic];
        using var handle = File.OpenHandle(path);
        return RandomAccess.Read(handle, magic, 0) == magic.Length && BinaryPrimitives.ReadUInt32LittleEndian(magic) == GgufConstants.Magic;
    }

    public static GgufFile Read(string path)
    {
        using var stream = Open(path);
        return Read(stream, path);
    }

    /// <summary>
    /// Reads the header even when the tensor data does not fit the file (a download or copy cut short): the data-layout
    /// problem is returned instead of thrown, for `inspect`, which shows what a file is before saying what is wrong
    /// with it. Every problem in the header itself still throws.
    /// </summary>
    public static GgufFile ReadHeader(string path, out GgufFormatException? dataLayoutProblem)
    {
        using var stream = Open(path);
        return Read(stream, path, out dataLayoutProblem);
    }

    private static FileStream Open(string path)
    {
        if (FileKinds.Of(path) == FileKind.Special)
            throw new GgufFormatException(path, "file", 0, "not a regular file (a pipe, device or socket); GGUF files are read by offset: save it to a file first");
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        }
        catch (UnauthorizedAccessException)
        {
            // Not a format problem ("file at offset 0: Access to the path ... is denied"): the file cannot be opened.
            throw new UnauthorizedAccessException($"{path}: cannot be read (permission denied)");
        }
        catch (IOException e)
        {
            throw new GgufFormatException(path, "file", 0, e.Message);
        }
    }

    /// <summary>Reads a header from a seekable stream positioned at the start of a GGUF file.</summary>
    public static GgufFile Read(Stream stream, string? path = null)
    {
        var file = Read(stream, path, out var dataLayoutProblem);
        return dataLayoutProblem is null ? file : throw dataLayoutProblem;
    }

    private static GgufFile Read(Stream stream, string? path, out GgufFormatException? dataLayoutProblem)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF reading requires a little-endian host");
        if (!stream.CanSeek) throw new ArgumentException("the stream must be seekable", nameof(stream));
        var r = new HeaderReader(stream, path);

        uint magic = r.ReadUInt32("magic");
        if (magic != GgufConstants.Magic)
            throw r.Error("magic", 0, $"not a GGUF file (magic 0x{magic:X8}, expected \"GGUF\")");

        uint version = r.ReadUInt32("version");
        if (version is < GgufConstants.MinSupportedVersion or > GgufConstants.MaxSupportedVersion)
        {
            uint swapped = BinaryPrimitives.ReverseEndianness(version);
            string problem = swapped is >= 1 and <= GgufConstants.MaxSupportedVersion
                ? $"big-endian GGUF (version {swapped} byte-swapped) is not supported"
                : $"unsupported GGUF version {version} (supported: {GgufConstants.MinSupportedVersion}..{GgufConstants.MaxSupportedVersion})";
            throw r.Error("version", 4, problem);
        }

        long tensorCountOffset = r.Position;
        ulong tensorCount = r.ReadUInt64("tensor count");
        long metadataCountOffset = r.Position;
        ulong metadataCount = r.ReadUInt64("metadata count");
        r.EnsureCountFits(metadataCount, FieldLengths.MinimumMetadataEntry, "metadata count", metadataCountOffset);
        r.EnsureCountFits(tensorCount, FieldLengths.MinimumTensorInfo, "tensor count", tensorCountOffset);

        // Capacities are capped: a count only proves that its items could fit in the file, and the file may be mostly
        // tensor data. Lists grow as items are actually read, so memory follows the bytes parsed, not the count claimed.
        var metadata = new List<GgufMetadataEntry>(InitialCapacity(metadataCount));
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < (int)metadataCount; i++)
        {
            long entryOffset = r.Position;
            string key = r.ReadString($"metadata[{i}] key", strictUtf8: true);
            string field = $"metadata[{i}] {Shown(key)}";
            // llama.cpp refuses empty keys.
            if (key.Length == 0) throw r.Error($"metadata[{i}] key", entryOffset, "key is empty");
            if (!keys.Add(key)) throw r.Error(field, entryOffset, $"duplicate key {Shown(key)}");
            long typeOffset = r.Position;
            var type = (GgufValueType)r.ReadUInt32(field + " value type");
            if (!type.IsKnown()) throw r.Error(field + " value type", typeOffset, $"unknown value type {(uint)type}");
            long valueOffset = r.Position;
            var value = ReadValue(r, type, field, depth: 0);
            metadata.Add(new GgufMetadataEntry(key, value, entryOffset, r.Position - entryOffset, valueOffset));
        }

        uint alignment = GgufConstants.DefaultAlignment;
        var alignmentEntry = metadata.Find(e => e.Key == GgufKeys.Alignment);
        if (alignmentEntry is not null)
        {
            string field = $"metadata '{GgufKeys.Alignment}'";
            if (alignmentEntry.Value.Type != GgufValueType.UInt32)
                throw r.Error(field, alignmentEntry.ValueOffset, $"must be UINT32, found {alignmentEntry.Value.DescribeType()} (llama.cpp aborts on it)");
            alignment = alignmentEntry.Value.AsUInt32();
            if (alignment == 0 || (alignment & (alignment - 1)) != 0)
                throw r.Error(field, alignmentEntry.ValueOffset, $"alignment {alignment} is not a power of two");
        }

        var tensors = new List<GgufTensorInfo>(InitialCapacity(tensorCount));
        var offsetFieldPositions = new List<long>(InitialCapacity(tensorCount));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < (int)tensorCount; i++)
        {
            tensors.Add(ReadTensorInfo(r, i, alignment, names, out long offsetFieldPosition));
            offsetFieldPositions.Add(offsetFieldPosition);
        }

        long headerLength = r.Position;
        long dataOffset = AlignUp(headerLength, alignment);
        dataLayoutProblem = null;
        try
        {
            ValidateDataLayout(r, tensors, offsetFieldPositions, dataOffset, alignment);
        }
        catch (GgufFormatException e)
        {
            dataLayoutProblem = e;
        }
        return new GgufFile(version, metadata, tensors, alignment, dataOffset, r.FileLength, path) { HeaderLength = headerLength };
    }

    public static long AlignUp(long offset, uint alignment) => (offset + alignment - 1) / alignment * alignment;

    private const int MaxInitialCapacity = 1024;

    private static int InitialCapacity(ulong count) => (int)Math.Min(count, MaxInitialCapacity);

    /// <summary>A key or tensor name as shown in an error: quoted, control characters escaped (the message stays one
    /// line), and cut short when long (a corrupt file can hold a 60 KB "key").</summary>
    internal static string Shown(string name)
    {
        const int max = 80;
        var sb = new System.Text.StringBuilder(Math.Min(name.Length, max) + 8).Append('\'');
        for (int i = 0; i < name.Length && i < max; i++)
        {
            char c = name[i];
            if (char.IsControl(c) || c is '\u2028' or '\u2029') sb.Append($"\\u{(int)c:X4}");
            else sb.Append(c);
        }
        if (name.Length > max) sb.Append("...");
        return sb.Append('\'').ToString();
    }

    private static GgufTensorInfo ReadTensorInfo(HeaderReader r, int index, uint alignment, HashSet<string> names, out long offsetAt)
    {
        long infoOffset = r.Position;
        string name = r.ReadString($"tensor[{index}] name", strictUtf8: true);
        string field = $"tensor[{index}] {Shown(name)}";
        int nameBytes = System.Text.Encoding.UTF8.GetByteCount(name);
        if (nameBytes >= GgufConstants.MaxTensorNameLength)
            throw r.Error(field + " name", infoOffset, $"name is {nameBytes} bytes; llama.cpp allows at most {GgufConstants.MaxTensorNameLength - 1}");
        if (!names.Add(name)) throw r.Error(field, infoOffset, $"duplicate tensor name {Shown(name)}");

        long dimsOffset = r.Position;
        uint dimensionCount = r.ReadUInt32(field + " dimension count");
        if (dimensionCount > GgufConstants.MaxDimensions)
            throw r.Error(field + " dimension count", dimsOffset, $"{dimensionCount} dimensions; at most {GgufConstants.MaxDimensions} are allowed");
        var dims = new ulong[dimensionCount];
        for (int d = 0; d < dims.Length; d++)
        {
            long at = r.Position;
            dims[d] = r.ReadUInt64($"{field} ne[{d}]");
            if (dims[d] > long.MaxValue)
                throw r.Error($"{field} ne[{d}]", at, $"dimension {dims[d]} is out of range (negative as int64)");
        }

        long typeOffset = r.Position;
        var type = (GgmlType)r.ReadUInt32(field + " type");
        if (!GgmlTypeTraits.TryGet(type, out var traits))
            throw r.Error(field + " type", typeOffset, $"unknown or removed ggml tensor type {(uint)type}");
        // A tensor with no dimensions is one element: ne[0] is 1, which only block size 1 divides.
        ulong ne0 = dims.Length > 0 ? dims[0] : 1;
        if (ne0 % (ulong)traits.BlockSize != 0)
            throw dims.Length > 0
                ? r.Error($"{field} ne[0]", dimsOffset + FieldLengths.DimensionCount, $"{dims[0]} is not a multiple of the {type} block size {traits.BlockSize}")
                : r.Error(field + " dimension count", dimsOffset, $"a {type} tensor needs ne[0] to be a multiple of {traits.BlockSize}, but it has no dimensions (one element)");
        if (!ElementCountFits(dims) || traits.ByteSize(dims) is not { } bytes || bytes > long.MaxValue)
            throw r.Error(field + " dimensions", dimsOffset, $"product of dimensions [{string.Join(", ", dims)}] overflows");

        offsetAt = r.Position;
        ulong offset = r.ReadUInt64(field + " offset");
        if (offset % alignment != 0)
            throw r.Error(field + " offset", offsetAt, $"data offset {offset} is not a multiple of the alignment {alignment}");
        return new GgufTensorInfo(name, dims, type, offset, infoOffset);
    }

    /// <summary>
    /// When the tensors' data would end past the end of the file and their layout is believable (packed as a writer
    /// packs them: no more room than their sizes and alignment padding take), the likeliest cause is a cut-short file
    /// (an incomplete download or copy), which the message about one tensor does not say. A corrupt offset far past
    /// the end gets no such hint.
    /// </summary>
    private static string TruncationHint(List<GgufTensorInfo> tensors, long dataOffset, uint alignment, long fileLength)
    {
        decimal end = 0, packed = 0;
        foreach (var t in tensors)
        {
            end = Math.Max(end, (decimal)t.Offset + t.ByteSize);
            packed += t.ByteSize + (decimal)alignment;
        }
        decimal needed = dataOffset + end;
        return needed > fileLength && end <= packed
            ? $"; the file is {fileLength} bytes but its tensors end at byte {needed}: is it truncated (an incomplete download or copy)?"
            : "";
    }

    private static bool ElementCountFits(ulong[] dims)
    {
        ulong n = 1;
        foreach (ulong d in dims)
        {
            if (d != 0 && n > long.MaxValue / d) return false;
            n *= d;
        }
        return true;
    }

    /// <summary>Every tensor's data must lie inside the file and no two may overlap.</summary>
    /// <param name="offsetFieldPositions">Absolute position of each tensor's offset field, as read (named in errors).</param>
    private static void ValidateDataLayout(HeaderReader r, List<GgufTensorInfo> tensors, List<long> offsetFieldPositions, long dataOffset, uint alignment)
    {
        long dataLength = r.FileLength - dataOffset;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            ulong end = t.Offset + t.ByteSize;
            if (end < t.Offset || dataOffset + (decimal)end > r.FileLength)
            {
                // Past the end and into the next tensor: the file's own layout says this size is wrong (a corrupted
                // dimension), where a cut-short file keeps a layout that is consistent up to where it ends.
                ulong? next = null;
                foreach (var other in tensors)
                    if (other.Offset > t.Offset && (next is null || other.Offset < next)) next = other.Offset;
                if (next is { } nextStart && t.Offset + (decimal)t.ByteSize > nextStart)
                    throw r.Error($"tensor[{i}] {Shown(t.Name)} dimensions", t.InfoOffset < 0 ? offsetFieldPositions[i] : t.InfoOffset + FieldLengths.Length + System.Text.Encoding.UTF8.GetByteCount(t.Name),
                        $"shape {t.ShapeText} ({t.Type}) is {t.ByteSize} bytes, but the next tensor's data starts {nextStart - t.Offset} bytes after this one's "
                        + $"and the file ends {Math.Max(0, dataLength - (long)Math.Min(t.Offset, (ulong)long.MaxValue))} bytes after it: a corrupted dimension");
                throw r.Error($"tensor[{i}] {Shown(t.Name)} offset", offsetFieldPositions[i],
                    $"data [{t.Offset}, {end}) lies outside the data section ({Math.Max(0, dataLength)} bytes from offset {dataOffset})"
                    + TruncationHint(tensors, dataOffset, alignment, r.FileLength));
            }
        }
        // Indices of the non-empty tensors, ordered by offset (Array.Sort on primitives: no LINQ sorter to JIT at start-up).
        var starts = new List<ulong>(tensors.Count);
        var indices = new List<int>(tensors.Count);
        for (int i = 0; i < tensors.Count; i++)
            if (tensors[i].ByteSize > 0) { starts.Add(tensors[i].Offset); indices.Add(i); }
        ulong[] keys = starts.ToArray();
        int[] byOffset = indices.ToArray();
        if (!IsSorted(keys))
        {
            Array.Sort(keys, byOffset);
            // Array.Sort is not stable: equal offsets go back to file order, so an overlap names the same pair every time.
            for (int k = 0, run; k < keys.Length; k += run)
            {
                for (run = 1; k + run < keys.Length && keys[k + run] == keys[k]; run++) { }
                if (run > 1) Array.Sort(byOffset, k, run);
            }
        }
        for (int k = 1; k < byOffset.Length; k++)
        {
            var prev = tensors[byOffset[k - 1]];
            int i = byOffset[k];
            var cur = tensors[i];
            if (cur.Offset < prev.Offset + prev.ByteSize)
                throw r.Error($"tensor[{i}] {Shown(cur.Name)} offset", offsetFieldPositions[i],
                    $"data [{cur.Offset}, {cur.Offset + cur.ByteSize}) overlaps tensor {Shown(prev.Name)} [{prev.Offset}, {prev.Offset + prev.ByteSize})");
        }
    }

    /// <summary>Writers lay tensors out in order, so the sort is usually not needed.</summary>
    private static bool IsSorted(ulong[] keys)
    {
        for (int k = 1; k < keys.Length; k++)
            if (keys[k] < keys[k - 1]) return false;
        return true;
    }

    private static GgufValue ReadValue(HeaderReader r, GgufValueType type, string field, int depth)
    {
        switch (type)
        {
            case GgufValueType.UInt8: return GgufValue.UInt8(r.ReadUInt8(field));
            case GgufValueType.Int8: return GgufValue.Int8((sbyte)r.ReadUInt8(field));
            case GgufValueType.UInt16: return GgufValue.UInt16(r.ReadUInt16(field));
            case GgufValueType.Int16: return GgufValue.Int16((short)r.ReadUInt16(field));
            case GgufValueType.UInt32: return GgufValue.UInt32(r.ReadUInt32(field));
            case GgufValueType.Int32: return GgufValue.Int32((int)r.ReadUInt32(field));
            case GgufValueType.Float32: return GgufValue.Float32(r.ReadFloat32(field));
            case GgufValueType.Bool: return GgufValue.Bool(ReadBool(r, field));
            case GgufValueType.String: return GgufValue.String(r.ReadString(field));
            case GgufValueType.UInt64: return GgufValue.UInt64(r.ReadUInt64(field));
            case GgufValueType.Int64: return GgufValue.Int64((long)r.ReadUInt64(field));
            case GgufValueType.Float64: return GgufValue.Float64(r.ReadFloat64(field));
            case GgufValueType.Array: return ReadArray(r, field, depth);
            default: throw r.Error(field, r.Position, $"unknown value type {(uint)type}");
        }
    }

    private static bool ReadBool(HeaderReader r, string field)
    {
        // llama.cpp and gguf-py read any non-zero byte as true; untouched entries are copied as raw bytes, so a
        // byte other than 0/1 still round-trips.
        return r.ReadUInt8(field) != 0;
    }

    private static GgufValue ReadArray(HeaderReader r, string field, int depth)
    {
        if (depth >= GgufConstants.MaxArrayNesting)
            throw r.Error(field, r.Position, $"arrays nested deeper than {GgufConstants.MaxArrayNesting} levels");
        long typeOffset = r.Position;
        var elementType = (GgufValueType)r.ReadUInt32(field + " array element type");
        if (!elementType.IsKnown()) throw r.Error(field + " array element type", typeOffset, $"unknown value type {(uint)elementType}");
        long countOffset = r.Position;
        ulong count64 = r.ReadUInt64(field + " array length");
        r.EnsureCountFits(count64, elementType.MinimumEncodedSize(), field + " array length", countOffset);
        int n = (int)count64;
        string element = field + " element";
        switch (elementType)
        {
            case GgufValueType.UInt8: { var a = new byte[n]; r.ReadInto<byte>(a, element); return GgufValue.Array(a); }
            case GgufValueType.Int8: { var a = new sbyte[n]; r.ReadInto<sbyte>(a, element); return GgufValue.Array(a); }
            case GgufValueType.UInt16: { var a = new ushort[n]; r.ReadInto<ushort>(a, element); return GgufValue.Array(a); }
            case GgufValueType.Int16: { var a = new short[n]; r.ReadInto<short>(a, element); return GgufValue.Array(a); }
            case GgufValueType.UInt32: { var a = new uint[n]; r.ReadInto<uint>(a, element); return GgufValue.Array(a); }
            case GgufValueType.Int32: { var a = new int[n]; r.ReadInto<int>(a, element); return GgufValue.Array(a); }
            case GgufValueType.Float32: { var a = new float[n]; r.ReadInto<float>(a, element); return GgufValue.Array(a); }
            case GgufValueType.UInt64: { var a = new ulong[n]; r.ReadInto<ulong>(a, element); return GgufValue.Array(a); }
            case GgufValueType.Int64: { var a = new long[n]; r.ReadInto<long>(a, element); return GgufValue.Array(a); }
            case GgufValueType.Float64: { var a = new double[n]; r.ReadInto<double>(a, element); return GgufValue.Array(a); }
            case GgufValueType.Bool:
            {
                var a = new bool[n];
                for (int i = 0; i < n; i++) a[i] = ReadBool(r, element);
                return GgufValue.Array(a);
            }
            // Strings and nested arrays can fail part-way (a garbage length), so their element arrays grow as elements
            // are read rather than being sized from the count up front. Fixed-size elements are all known to be in the file.
            case GgufValueType.String:
            {
                // Kept as UTF-8 and decoded when used: see Utf8StringArray.
                var bytes = new System.Buffers.ArrayBufferWriter<byte>(InitialCapacity(count64) * 8 + 16);
                var ends = new List<int>(InitialCapacity(count64));
                for (int i = 0; i < n; i++)
                {
                    try { r.ReadStringBytes(element, bytes); }
                    catch (GgufFormatException e) { throw WithIndex(r, e, element, i); }
                    ends.Add(bytes.WrittenCount);
                }
                return GgufValue.Array(new Utf8StringArray(bytes.WrittenSpan.ToArray(), ends.ToArray()));
            }
            default:
            {
                var a = new List<GgufValue>(InitialCapacity(count64));
                for (int i = 0; i < n; i++)
                {
                    try { a.Add(ReadArray(r, element, depth + 1)); }
                    catch (GgufFormatException e) { throw WithIndex(r, e, element, i); }
                }
                return GgufValue.Array(a.ToArray());
            }
        }
    }

    /// <summary>Names the element index in an error raised inside an array element (done only on failure, so that
    /// reading a 200,000-token vocabulary does not build 200,000 field names).</summary>
    private static GgufFormatException WithIndex(HeaderReader r, GgufFormatException e, string element, int index) =>
        e.Field.StartsWith(element, StringComparison.Ordinal)
            ? r.Error($"{element} [{index}]{e.Field[element.Length..]}", e.Offset, e.Problem)
            : e;
}
