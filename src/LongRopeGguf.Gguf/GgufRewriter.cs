namespace LongRopeGguf.Gguf;

/// <summary>Options for <see cref="GgufRewriter"/>.</summary>
public sealed record RewriteOptions
{
    /// <summary>Allow the target to be the source file itself (it is replaced atomically once the copy is complete).</summary>
    public bool AllowOverwriteSource { get; init; }

    /// <summary>fsync the new file before the rename (survives power loss; costs a full write-back).</summary>
    public bool Durable { get; init; }

    /// <summary>Called with the number of bytes written so far and the total.</summary>
    public Action<long, long>? Progress { get; init; }

    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// Writes GGUF files: a source file plus a <see cref="GgufEdit"/>, or a new file from scratch. The header is written
/// fresh; tensor data is streamed from the source in the canonical layout llama.cpp requires (tensors in order, each
/// at the next multiple of the alignment), coalescing contiguous tensors into single in-kernel copies.
/// </summary>
public static class GgufRewriter
{
    /// <summary>Rewrites <paramref name="source"/> (read from <see cref="GgufFile.Path"/>) with <paramref name="edit"/> applied.</summary>
    public static GgufFile Rewrite(GgufFile source, GgufEdit edit, string targetPath, RewriteOptions? options = null)
    {
        options ??= new RewriteOptions();
        string sourcePath = source.Path ?? throw new ArgumentException("the source header must come from a file", nameof(source));
        bool inPlace = AtomicFile.SameFile(sourcePath, targetPath);
        if (!options.AllowOverwriteSource && inPlace)
            throw new IOException($"{targetPath}: refusing to write over the input file (ask for in-place explicitly)");
        if (inPlace)
            targetPath = InPlaceTarget(targetPath);

        var metadata = PlanMetadata(source, edit);
        var tensors = PlanTensors(source, edit);
        uint alignment = AlignmentOf(metadata, source);
        RefusePaddingBlowUp(alignment, tensors.Count, source);
        using var sourceStream = new FileStream(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        if (sourceStream.Length != source.FileLength)
            throw new IOException($"{sourcePath}: file changed since it was read (length {sourceStream.Length}, was {source.FileLength})");
        return Write(source.Version, metadata, tensors, alignment, sourceStream, source, targetPath, options, keepAttributes: inPlace);
    }

    /// <summary>
    /// Where an in-place rewrite goes: through a symbolic link, the file it points to (replacing the link with a regular
    /// file left the real model as it was); a file this process may not write is refused, as an in-place update of it
    /// is (the rename would replace it all the same, read-only or not). The result keeps the file's permissions, owner
    /// and group (<see cref="AtomicFile.Create"/>).
    /// </summary>
    private static string InPlaceTarget(string targetPath)
    {
        var info = new FileInfo(targetPath);
        string real = info.LinkTarget is not null ? info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName : info.FullName;
        try
        {
            using (new FileStream(real, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { }
        }
        catch (UnauthorizedAccessException)
        {
            throw new UnauthorizedAccessException($"{targetPath}: cannot be modified in place (permission denied)");
        }
        return real;
    }

    /// <summary>Writes a new file from scratch (no source): used for generated test files and benchmarks.</summary>
    public static GgufFile WriteNew(string targetPath, IReadOnlyList<GgufMetadataEntry> metadata, IReadOnlyList<OutputTensor> tensors,
        uint version = 3, RewriteOptions? options = null)
    {
        if (tensors.Any(t => t.Data is TensorData.FromSource)) throw new ArgumentException("a new file has no source to copy from");
        if (version is < GgufConstants.MinSupportedVersion or > GgufConstants.MaxSupportedVersion)
            throw new ArgumentOutOfRangeException(nameof(version), version, $"GGUF version must be {GgufConstants.MinSupportedVersion}..{GgufConstants.MaxSupportedVersion}");
        var plan = metadata.Select(e => new PlannedEntry(e.Key, e.Value, null)).ToList();
        uint alignment = AlignmentOf(plan, null);
        RefusePaddingBlowUp(alignment, tensors.Count, null);
        return Write(version, plan, tensors.ToList(), alignment, null, null, targetPath, options ?? new RewriteOptions());
    }

    /// <summary>A metadata entry to write: the raw bytes of a source entry, or a value to encode.</summary>
    private sealed record PlannedEntry(string Key, GgufValue Value, GgufMetadataEntry? CopyFrom);

    private static List<PlannedEntry> PlanMetadata(GgufFile source, GgufEdit edit)
    {
        var changes = edit.MetadataChanges.ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal);
        var plan = new List<PlannedEntry>(source.Metadata.Count + changes.Count);
        foreach (var e in source.Metadata)
        {
            if (!changes.Remove(e.Key, out var change)) plan.Add(new PlannedEntry(e.Key, e.Value, e));
            else if (change is not null) plan.Add(new PlannedEntry(e.Key, change, null));
        }
        foreach (var (key, value) in edit.MetadataChanges)
            if (value is not null && changes.ContainsKey(key)) plan.Add(new PlannedEntry(key, value, null));
        return plan;
    }

    private static List<OutputTensor> PlanTensors(GgufFile source, GgufEdit edit)
    {
        var changes = edit.TensorChanges.ToDictionary(c => c.Name, c => c.Tensor, StringComparer.Ordinal);
        var plan = new List<OutputTensor>(source.Tensors.Count + changes.Count);
        foreach (var t in source.Tensors)
        {
            if (!changes.Remove(t.Name, out var change))
                plan.Add(new OutputTensor(t.Name, t.Type, t.Dimensions, new TensorData.FromSource(source.AbsoluteOffset(t), (long)t.ByteSize)));
            else if (change is not null) plan.Add(change);
        }
        foreach (var (name, tensor) in edit.TensorChanges)
            if (tensor is not null && changes.ContainsKey(name)) plan.Add(tensor);
        return plan;
    }

    private static uint AlignmentOf(List<PlannedEntry> metadata, GgufFile? source)
    {
        var entry = metadata.Find(e => e.Key == GgufKeys.Alignment);
        if (entry is null) return GgufConstants.DefaultAlignment;
        if (entry.CopyFrom is not null && source is not null) return source.Alignment;
        uint a = entry.Value.Type == GgufValueType.UInt32 ? entry.Value.AsUInt32()
            : throw new BadInputException($"{GgufKeys.Alignment} must be UINT32, not {entry.Value.DescribeType()}");
        if (a == 0 || (a & (a - 1)) != 0) throw new BadInputException($"{GgufKeys.Alignment} {a} is not a power of two");
        return a;
    }

    /// <summary>
    /// llama.cpp takes any power of two, but each tensor is padded to a multiple of it: 2^30 made a 10 MB model a 62 GB
    /// file (sparse where the file system allows it, a full disk where not). Refused when this write would choose it for
    /// tensors; a source's own alignment, or one of a file without tensors (nothing padded), is kept.
    /// </summary>
    private static void RefusePaddingBlowUp(uint alignment, int tensorCount, GgufFile? source)
    {
        if (tensorCount > 0 && alignment > MaxAlignment && alignment != source?.Alignment)
            throw new BadInputException($"{GgufKeys.Alignment} {alignment} is above {MaxAlignment} (1 MiB): every tensor would be padded to a multiple of it");
    }

    /// <summary>The largest alignment this writer pads tensors to (files from elsewhere with a larger one are still read).</summary>
    public const uint MaxAlignment = 1 << 20;

    private static GgufFile Write(uint version, List<PlannedEntry> metadata, List<OutputTensor> tensors, uint alignment,
        FileStream? sourceStream, GgufFile? source, string targetPath, RewriteOptions options, bool keepAttributes = false)
    {
        if (version is < GgufConstants.MinSupportedVersion or > GgufConstants.MaxSupportedVersion)
            throw new BadInputException($"GGUF version {version} cannot be written (supported: {GgufConstants.MinSupportedVersion}..{GgufConstants.MaxSupportedVersion})");
        ValidateMetadata(metadata);
        ValidateTensors(tensors);
        var offsets = new ulong[tensors.Count];
        ulong dataLength = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            offsets[i] = dataLength;
            dataLength = (ulong)GgufReader.AlignUp((long)(dataLength + (ulong)tensors[i].Data.Length), alignment);
        }

        using var target = AtomicFile.Create(targetPath, keepAttributes);
        try
        {
            return WriteTo(target, version, metadata, tensors, offsets, alignment, source, sourceStream, options);
        }
        catch (EndOfStreamException e) when (source?.Path is { } sourcePath)
        {
            throw new IOException($"{sourcePath}: {e.Message} (did the file change while it was copied?); nothing written to {target.TargetPath}", e);
        }
        catch (IOException e) when (e is not EndOfStreamException) { throw target.Failed(e); }
    }

    private static GgufFile WriteTo(AtomicFile target, uint version, List<PlannedEntry> metadata, List<OutputTensor> tensors, ulong[] offsets,
        uint alignment, GgufFile? source, FileStream? sourceStream, RewriteOptions options)
    {
        var s = target.Stream;
        GgufValueWriter.WriteUInt32(s, GgufConstants.Magic);
        GgufValueWriter.WriteUInt32(s, version);
        GgufValueWriter.WriteUInt64(s, (ulong)tensors.Count);
        GgufValueWriter.WriteUInt64(s, (ulong)metadata.Count);
        // The header is described as it is written (offsets of every entry and descriptor in the new file), so the
        // result needs no second parse: for a 150k-token vocabulary that would double the header work of an edit.
        var writtenMetadata = new List<GgufMetadataEntry>(metadata.Count);
        byte[]? copyBuffer = null;
        foreach (var e in metadata)
        {
            long at = s.Position;
            long valueOffset;
            GgufValue value;
            if (e.CopyFrom is { } raw && sourceStream is not null)
            {
                // Untouched entries keep their exact bytes (a bool stored as 2, a string that is not valid UTF-8...).
                copyBuffer = copyBuffer is null || copyBuffer.Length < raw.Length ? new byte[Math.Max(raw.Length, 4096)] : copyBuffer;
                sourceStream.Position = raw.Offset;
                sourceStream.ReadExactly(copyBuffer, 0, (int)raw.Length);
                s.Write(copyBuffer, 0, (int)raw.Length);
                valueOffset = at + (raw.ValueOffset - raw.Offset);
                value = raw.Value;
            }
            else
            {
                GgufValueWriter.WriteEntry(s, e.Key, e.Value);
                valueOffset = at + FieldLengths.Length + System.Text.Encoding.UTF8.GetByteCount(e.Key) + FieldLengths.ValueType;
                value = AsReadBack(e.Value);
            }
            writtenMetadata.Add(new GgufMetadataEntry(e.Key, value, at, s.Position - at, valueOffset));
        }
        var writtenTensors = new List<GgufTensorInfo>(tensors.Count);
        for (int i = 0; i < tensors.Count; i++)
        {
            long at = s.Position;
            GgufValueWriter.WriteTensorInfo(s, tensors[i].Name, tensors[i].Type, tensors[i].Dimensions, offsets[i]);
            writtenTensors.Add(new GgufTensorInfo(tensors[i].Name, tensors[i].Dimensions.ToArray(), tensors[i].Type, offsets[i], at));
        }
        long headerLength = s.Position;
        long dataOffset = GgufReader.AlignUp(headerLength, alignment);
        long padding = dataOffset - headerLength;
        bool sourceHasSamePadding = sourceStream is not null && source is not null && padding > 0
            && source.DataOffset - source.HeaderLength == padding && source.FileLength >= source.DataOffset;
        if (tensors.Count == 0 && !sourceHasSamePadding)
        {
            // No data section: llama.cpp does not align it then, and padding to a declared alignment of up to 2^31
            // would write gigabytes of zeros for nothing.
            padding = 0;
            dataOffset = headerLength;
        }
        if (sourceHasSamePadding)
        {
            // Same amount of padding as the source: keep the source's bytes (zero in practice), so that a rewrite
            // without edits reproduces any valid file exactly.
            sourceStream!.Position = source!.HeaderLength;
            var pad = new byte[(int)Math.Min(padding, 1 << 16)];
            for (long left = padding; left > 0;)
            {
                int n = (int)Math.Min(left, pad.Length);
                sourceStream.ReadExactly(pad, 0, n);
                s.Write(pad, 0, n);
                left -= n;
            }
        }
        else
        {
            WriteZeros(s, padding);
        }
        s.Flush();

        WriteData(tensors, offsets, dataOffset, alignment, sourceStream, source, target.Stream, options);
        options.CancellationToken.ThrowIfCancellationRequested();
        long fileLength = target.Stream.Length;
        target.Commit(options.Durable);
        return new GgufFile(version, writtenMetadata, writtenTensors, alignment, dataOffset, fileLength, target.TargetPath) { HeaderLength = headerLength };
    }

    /// <summary>A value as a reader of the written file sees it. Only strings can differ: UTF-8 cannot encode a lone
    /// UTF-16 surrogate, so the encoder wrote U+FFFD in its place.</summary>
    private static GgufValue AsReadBack(GgufValue value)
    {
        static bool HasSurrogate(string s) => s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;
        static string ReadBack(string s) => HasSurrogate(s) ? System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(s)) : s;
        return value switch
        {
            { Type: GgufValueType.String } when HasSurrogate(value.AsString()) => GgufValue.String(ReadBack(value.AsString())),
            // A STRING array read from a file (still UTF-8, see Utf8StringArray) decodes to no lone surrogates: not decoded here.
            { Type: GgufValueType.Array, ElementType: GgufValueType.String, Utf8Strings: null } when value.AsStringArray().Any(HasSurrogate) =>
                GgufValue.Array(value.AsStringArray().Select(ReadBack).ToArray()),
            { Type: GgufValueType.Array, ElementType: GgufValueType.Array } => GgufValue.Array(((GgufValue[])value.Payload).Select(AsReadBack).ToArray()),
            _ => value,
        };
    }

    /// <summary>What a reader would refuse must not be written: keys are unique, arrays nest no deeper than the reader allows.</summary>
    private static void ValidateMetadata(List<PlannedEntry> metadata)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in metadata)
        {
            if (!keys.Add(e.Key)) throw new BadInputException($"duplicate metadata key '{e.Key}'");
            if (e.CopyFrom is null && NestingDepth(e.Value) >= GgufConstants.MaxArrayNesting)
                throw new BadInputException($"metadata '{e.Key}': arrays nested deeper than {GgufConstants.MaxArrayNesting} levels");
        }
    }

    private static int NestingDepth(GgufValue value) =>
        value.Type == GgufValueType.Array && value.ElementType == GgufValueType.Array
            ? 1 + ((GgufValue[])value.Payload).Select(NestingDepth).DefaultIfEmpty(0).Max()
            : 0;

    private static void ValidateTensors(List<OutputTensor> tensors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!names.Add(t.Name)) throw new BadInputException($"duplicate tensor name '{t.Name}'");
            if (System.Text.Encoding.UTF8.GetByteCount(t.Name) >= GgufConstants.MaxTensorNameLength)
                throw new BadInputException($"tensor name '{t.Name}' is too long for llama.cpp (max {GgufConstants.MaxTensorNameLength - 1} bytes)");
            if (t.Dimensions.Count > GgufConstants.MaxDimensions) throw new BadInputException($"tensor '{t.Name}' has more than {GgufConstants.MaxDimensions} dimensions");
            ulong? expected = GgmlTypeTraits.Get(t.Type).ByteSize(t.Dimensions);
            if (expected is null || (long)expected.Value != t.Data.Length)
                throw new BadInputException($"tensor '{t.Name}': {t.Type} [{string.Join(", ", t.Dimensions)}] needs {expected?.ToString() ?? "an invalid number of"} bytes, data has {t.Data.Length}");
        }
    }

    /// <summary>Streams every tensor to its planned offset. Consecutive source tensors whose spacing is unchanged are
    /// copied as one range, so an unchanged data section is a single copy of the source's bytes.</summary>
    private static void WriteData(List<OutputTensor> tensors, ulong[] offsets, long dataOffset, uint alignment,
        FileStream? sourceStream, GgufFile? source, FileStream target, RewriteOptions options)
    {
        long total = tensors.Count == 0 ? 0 : (long)offsets[^1] + tensors[^1].Data.Length;
        long written = 0;
        void Progress(long n)
        {
            written += n;
            options.Progress?.Invoke(written, total);
        }

        long runSource = -1, runTarget = -1, runLength = 0; // the pending coalesced source copy
        void FlushRun()
        {
            if (runLength == 0) return;
            FileRangeCopier.Copy(sourceStream!.SafeFileHandle, runSource, target.SafeFileHandle, runTarget, runLength, Progress, options.CancellationToken);
            runLength = 0;
        }

        long end = dataOffset;
        for (int i = 0; i < tensors.Count; i++)
        {
            long at = dataOffset + (long)offsets[i];
            var data = tensors[i].Data;
            if (data is TensorData.FromSource src)
            {
                if (runLength > 0 && src.AbsoluteOffset - (runSource + runLength) == at - (runTarget + runLength) && at >= runTarget + runLength)
                {
                    runLength = at - runTarget + src.ByteLength; // extend over the source's own padding
                }
                else
                {
                    FlushRun();
                    (runSource, runTarget, runLength) = (src.AbsoluteOffset, at, src.ByteLength);
                }
                end = at + src.ByteLength;
                continue;
            }
            FlushRun();
            target.Position = end;
            WriteZeros(target, at - end);
            switch (data)
            {
                case TensorData.FromMemory m: target.Write(m.Bytes.Span); break;
                case TensorData.Generated g: g.Write(target); break;
            }
            target.Flush();
            if (target.Position != at + data.Length)
                throw new InvalidOperationException($"tensor '{tensors[i].Name}': wrote {target.Position - at} bytes, expected {data.Length}");
            Progress(data.Length);
            end = at + data.Length;
            options.CancellationToken.ThrowIfCancellationRequested();
        }

        if (tensors.Count == 0) return;

        // The tail after the last tensor: keep the source's own bytes when the last tensor was copied and the source's
        // tail is padding-sized for the same alignment (byte-identical round trips), otherwise pad with zeros to the
        // alignment. (With a changed alignment the source's padding is the wrong length.)
        long tailSourceStart = runLength > 0 ? runSource + runLength : -1;
        long sourceTail = tailSourceStart >= 0 && source is not null && source.Alignment == alignment && runTarget + runLength == end
            ? source.FileLength - tailSourceStart
            : -1;
        if (sourceTail is >= 0 && sourceTail < alignment && runLength > 0)
        {
            runLength += sourceTail;
            FlushRun();
            target.SetLength(end + sourceTail);
            target.Position = end + sourceTail;
            return;
        }
        FlushRun();
        // Set the length rather than writing zeros from the current position: when the last tensors hold no bytes,
        // nothing was written up to their offset, and the file must still reach it.
        target.Flush();
        target.SetLength(GgufReader.AlignUp(end, alignment));
        target.Position = target.Length;
    }

    private static void WriteZeros(Stream s, long count)
    {
        Span<byte> zeros = stackalloc byte[256];
        while (count > 0)
        {
            int n = (int)Math.Min(count, zeros.Length);
            s.Write(zeros[..n]);
            count -= n;
        }
    }
}
