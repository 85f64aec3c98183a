using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using LongRopeGguf.Gguf;

namespace LongRopeGguf.LongRope;

/// <summary>Options for <see cref="LongRopePatcher"/>.</summary>
public sealed record PatchOptions
{
    /// <summary>Progress, cancellation and durability of the rewrite (when the file is rewritten).</summary>
    public RewriteOptions Rewrite { get; init; } = new();
}

/// <summary>How the output was produced.</summary>
public enum PatchMode
{
    /// <summary>A new file was written (atomically: temporary file, then rename).</summary>
    Rewritten,

    /// <summary>Only factor data and same-size values were overwritten inside the existing file.</summary>
    UpdatedInPlace,
}

/// <summary>What a patch, update or removal did: every change, in words, and any warnings about the factors.</summary>
public sealed record PatchReport(
    string SourcePath,
    string TargetPath,
    PatchMode Mode,
    FactorSet? Applied,
    IReadOnlyList<string> Changes,
    IReadOnlyList<string> Warnings,
    long BytesWritten,
    TimeSpan Elapsed);

/// <summary>
/// Embeds LongRoPE factor sets into GGUF models so that llama.cpp loads and applies them: F32
/// rope_factors_long/short.weight of rope_dims/2 values, {arch}.rope.scaling.type = "longrope",
/// .rope.scaling.original_context_length (the short/long threshold), .rope.scaling.attn_factor and
/// {arch}.context_length = the extended length. It removes what would make llama.cpp fail or misapply them
/// (rope_freqs.weight, a linear rope.scaling.factor), refuses architectures whose loader does not read the factor
/// tensors, records the factors and their provenance in longrope.* keys, and records the file's previous state so that
/// <see cref="Remove"/> can restore it. Patching a patched file replaces its factors: patching twice with the same set
/// gives the same bytes as patching once.
/// </summary>
public static class LongRopePatcher
{
    public const uint ProvenanceVersion = 1;

    /// <summary>Writes <paramref name="targetPath"/>: <paramref name="sourcePath"/> with <paramref name="set"/> embedded.
    /// The source is never modified unless the target is the source itself and <paramref name="inPlace"/> is set, in
    /// which case factors and values are overwritten inside the file when its layout allows it (milliseconds whatever
    /// the model size) and the file is replaced atomically otherwise.</summary>
    public static PatchReport Patch(string sourcePath, FactorSet set, string targetPath, bool inPlace = false, PatchOptions? options = null)
    {
        options ??= new PatchOptions();
        bool sameFile = AtomicFile.SameFile(sourcePath, targetPath);
        if (sameFile && !inPlace)
            throw new LongRopePatchException($"{targetPath}: refusing to write over the input model; choose another output or ask for in-place");
        var changes = new List<string>();
        if (sameFile)
        {
            try
            {
                return UpdateInPlace(sourcePath, set);
            }
            catch (InPlaceNotPossibleException e)
            {
                // The usual reason is the first patch of a model (no factor tensors yet): normal, not a failure. Later
                // --in-place patches of the same file update the factors where they are.
                changes.Add($"rewrote the whole file (an in-place update needs the factor tensors and keys a first patch adds: {e.Message}); later --in-place patches update only the factors");
            }
        }

        var sw = Stopwatch.StartNew();
        var file = GgufReader.Read(sourcePath);
        var model = RequireSupported(file);
        RefuseUnloadableSource(file);
        var warnings = ValidateForModel(set, model);
        var edit = PlanPatch(file, model, set, changes);
        var written = GgufRewriter.Rewrite(file, edit, targetPath, options.Rewrite with { AllowOverwriteSource = sameFile });
        return new PatchReport(sourcePath, targetPath, PatchMode.Rewritten, set, changes, warnings, written.FileLength, sw.Elapsed);
    }

    /// <summary>
    /// Replaces the factors and the same-size values (context lengths, attention factor, provenance) of a file patched
    /// before, writing only those bytes: no copy, no rename, so it takes milliseconds for any model size (for search
    /// loops). Throws <see cref="InPlaceNotPossibleException"/> when the file lacks the factor tensors or keys, or holds
    /// another number of factors. Not atomic: a crash mid-update can leave a mix of old and new factors.
    /// </summary>
    public static PatchReport UpdateInPlace(string path, FactorSet set)
    {
        var sw = Stopwatch.StartNew();
        using var editor = GgufInPlaceEditor.Open(path);
        var file = editor.File;
        var model = RequireSupported(file);
        RefuseUnloadableSource(file); // as a rewrite does: new factors do not mend the rest of the model
        var warnings = ValidateForModel(set, model);
        string arch = model.Architecture;
        int n = model.FactorCount;

        foreach (string name in new[] { LongRopeKeys.LongFactorsTensor, LongRopeKeys.ShortFactorsTensor })
        {
            if (!file.TryGetTensor(name, out var t)) throw new InPlaceNotPossibleException($"{path} has no tensor '{name}'");
            if (t.Type != GgmlType.F32 || t.ElementCount != (ulong)n || t.Dimensions.Count == 0 || t.Dimensions[0] != (ulong)n)
                throw new InPlaceNotPossibleException($"{path}: tensor '{name}' is {t.Type} {t.ShapeText}, not F32 [{n}]");
        }
        if (file.TryGetTensor(LongRopeKeys.RopeFreqsTensor, out _)) throw new InPlaceNotPossibleException($"{path} has '{LongRopeKeys.RopeFreqsTensor}', which must be removed");
        foreach (string key in new[] { LongRopeKeys.ScalingFactor(arch), LongRopeKeys.ScaleLinear(arch) })
            if (file.ContainsKey(key)) throw new InPlaceNotPossibleException($"{path} has '{key}', which must be removed");
        RequireKey(file, LongRopeKeys.ScalingType(arch), GgufValueType.String, path);
        if (file.GetString(LongRopeKeys.ScalingType(arch)) != LongRopeKeys.LongRopeScalingType)
            throw new InPlaceNotPossibleException($"{path}: {LongRopeKeys.ScalingType(arch)} is '{file.GetString(LongRopeKeys.ScalingType(arch))}', not longrope");
        foreach (string key in new[] { LongRopeKeys.ContextLength(arch), LongRopeKeys.OriginalContextLength(arch), LongRopeKeys.ProvenanceOriginalContextLength, LongRopeKeys.ProvenanceContextLength, LongRopeKeys.Version })
            RequireKey(file, key, GgufValueType.UInt32, path);
        RequireKey(file, LongRopeKeys.AttentionFactor(arch), GgufValueType.Float32, path);
        foreach (string key in new[] { LongRopeKeys.ProvenanceLong, LongRopeKeys.ProvenanceShort })
        {
            RequireKey(file, key, GgufValueType.Array, path);
            if (file[key].ElementType != GgufValueType.Float32 || file[key].Count != n)
                throw new InPlaceNotPossibleException($"{path}: key '{key}' is {file[key].DescribeType()} of {file[key].Count}, not {n} FLOAT32");
        }
        RequireKey(file, LongRopeKeys.Source, GgufValueType.String, path);
        RequireKey(file, LongRopeKeys.AttentionFactorPolicy, GgufValueType.String, path);

        // Every value is checked against the room it has before anything is written: a refusal leaves the file as it was.
        // String room is the stored byte count (the stored bytes may not even be valid UTF-8).
        int policyBytes = editor.StoredStringBytes(LongRopeKeys.AttentionFactorPolicy);
        int sourceBytes = editor.StoredStringBytes(LongRopeKeys.Source);
        string policy = FitToBytes(AttentionFactors.Name(set.AttentionFactorPolicy), policyBytes, out _);
        string source = FitToBytes(set.Source, sourceBytes, out bool truncated);
        (string, GgufValue)[] values =
        [
            (LongRopeKeys.ContextLength(arch), GgufValue.UInt32((uint)set.ContextLength)),
            (LongRopeKeys.OriginalContextLength(arch), GgufValue.UInt32((uint)set.OriginalContextLength)),
            (LongRopeKeys.AttentionFactor(arch), GgufValue.Float32(set.AttentionFactor)),
            (LongRopeKeys.ProvenanceLong, GgufValue.Array(set.LongFactors.ToArray())),
            (LongRopeKeys.ProvenanceShort, GgufValue.Array(set.ShortFactors.ToArray())),
            (LongRopeKeys.ProvenanceOriginalContextLength, GgufValue.UInt32((uint)set.OriginalContextLength)),
            (LongRopeKeys.ProvenanceContextLength, GgufValue.UInt32((uint)set.ContextLength)),
            (LongRopeKeys.AttentionFactorPolicy, GgufValue.String(policy)),
            (LongRopeKeys.Source, GgufValue.String(source)),
        ];
        editor.SetValues(values);
        editor.WriteTensorData(LongRopeKeys.LongFactorsTensor, set.LongFactors.AsSpan());
        editor.WriteTensorData(LongRopeKeys.ShortFactorsTensor, set.ShortFactors.AsSpan());
        long bytes = 8L * n + values.Sum(v => editor.EncodedLength(v.Item1));
        if (truncated) warnings.Add($"the source text was cut to the {sourceBytes} bytes that {LongRopeKeys.Source} holds in this file");
        var changes = new List<string>
        {
            $"overwrote {LongRopeKeys.LongFactorsTensor} and {LongRopeKeys.ShortFactorsTensor} (F32 [{n}]) in place",
            $"set {LongRopeKeys.ContextLength(arch)} = {set.ContextLength}, {LongRopeKeys.OriginalContextLength(arch)} = {set.OriginalContextLength}, "
                + $"{LongRopeKeys.AttentionFactor(arch)} = {F(set.AttentionFactor)} and the longrope.* provenance in place",
        };
        editor.Flush();
        return new PatchReport(path, path, PatchMode.UpdatedInPlace, set, changes, warnings, bytes, sw.Elapsed);
    }

    /// <summary>Writes <paramref name="targetPath"/>: the model without LongRoPE. A file patched by this tool gets back the
    /// keys and tensors it had before its first patch; a file with LongRoPE from elsewhere (e.g. a converted Phi-3) loses
    /// its factor tensors and LongRoPE keys and gets its original context length back as its context length.</summary>
    public static PatchReport Remove(string sourcePath, string targetPath, bool inPlace = false, PatchOptions? options = null)
    {
        options ??= new PatchOptions();
        bool sameFile = AtomicFile.SameFile(sourcePath, targetPath);
        if (sameFile && !inPlace)
            throw new LongRopePatchException($"{targetPath}: refusing to write over the input model; choose another output or ask for in-place");
        var sw = Stopwatch.StartNew();
        var file = GgufReader.Read(sourcePath);
        RefuseSplit(file);
        string arch = file.Architecture ?? throw new LongRopePatchException($"{sourcePath}: no '{GgufKeys.Architecture}' key");
        var changes = new List<string>();
        bool restoring = EmbeddedFactors.IsPatchedByThisTool(file);
        GgufFile written;
        try
        {
            var edit = restoring ? PlanRestore(file, arch, changes) : PlanStrip(file, arch, changes);
            written = GgufRewriter.Rewrite(file, edit, targetPath, options.Rewrite with { AllowOverwriteSource = sameFile });
        }
        catch (BadInputException e) when (restoring && e is not LongRopePatchException)
        {
            // The record's values are checked where they are used (an alignment, a tensor's size): said as the record's.
            throw new LongRopePatchException($"{sourcePath}: the restore record ({LongRopeKeys.RestorePrefix}*) cannot be applied: {e.Message}; nothing written");
        }
        return new PatchReport(sourcePath, targetPath, PatchMode.Rewritten, null, changes, [], written.FileLength, sw.Elapsed);
    }

    /// <summary>The default output path: MODEL.gguf -> MODEL.longrope.gguf beside it.</summary>
    public static string DefaultOutputPath(string modelPath)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        string name = Path.GetFileName(modelPath);
        string stem = name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? name[..^5] : name;
        return Path.Combine(dir, stem + ".longrope.gguf");
    }

    /// <summary>What the verifier finds in a model that no patch changes (its tensors, its vocabulary, its layer and
    /// expert counts).</summary>
    private static readonly string[] SourceDefects = ["missing-tensor", "unknown-tensor", "duplicate-token", "block-count-missing", "block-count-invalid", "expert-count-invalid",
        "model-key-type", "model-key-missing", "token-list-type", "norm-epsilon-invalid", "nested-array",
        "per-layer-key", "tokenizer-unknown", "tensor-shape", "vocab-array-short", "vocab-array-type"];

    /// <summary>
    /// Refuses, before anything is written, a model that llama.cpp would not load (or would abort on) whatever its
    /// factors: the patched copy would keep the defect, and writing gigabytes to learn that from verify afterwards helps
    /// nobody. What the patch itself sets right (RoPE keys, factor tensors, rope_freqs) is not refused here.
    /// </summary>
    private static void RefuseUnloadableSource(GgufFile file)
    {
        var defect = LongRopeVerifier.Verify(file).Findings.FirstOrDefault(f => f.Severity == Severity.Error && SourceDefects.Contains(f.Code));
        if (defect is not null)
            throw new LongRopePatchException($"{file.Path}: llama.cpp cannot use this model, patched or not ({defect.Code}: {defect.Message}); nothing written");
    }

    /// <summary>llama.cpp counts a split model's tensors against split.tensors.count: tensors added to or removed from
    /// one of its files fail that check (and a later file is no model on its own).</summary>
    private static void RefuseSplit(GgufFile file)
    {
        if (file.SplitShard is var (number, count))
            throw new LongRopePatchException($"{file.Path}: file {number} of {count} of a split GGUF ({GgufKeys.SplitCount} = {count}): tensors added to "
                + "or removed from one file fail llama.cpp's count of the split model's tensors; merge the files first (llama-gguf-split --merge IN OUT) and use the merged model");
    }

    /// <summary>The file's RoPE facts, refusing architectures whose llama.cpp loader does not read factor tensors.</summary>
    public static ModelRopeInfo RequireSupported(GgufFile file)
    {
        RefuseSplit(file); // before the architecture: a split model's later files carry none
        string arch = file.Architecture ?? throw new LongRopePatchException($"{file.Path}: no '{GgufKeys.Architecture}' string key: not a llama.cpp model");
        if (LongRopeArchitectures.WhyNotPatchable(arch) is { } why)
            throw new LongRopePatchException($"{file.Path}: architecture '{arch}' {why}; architectures that apply them: {LongRopeArchitectures.SupportedText}");
        return ModelRopeInfo.From(file);
    }

    private static List<string> ValidateForModel(FactorSet set, ModelRopeInfo model)
    {
        var validation = FactorValidator.Validate(set, model);
        validation.ThrowIfInvalid($"factors for {model.FileName}");
        return validation.Warnings.Select(w => w.Message).ToList();
    }

    private static GgufEdit PlanPatch(GgufFile file, ModelRopeInfo model, FactorSet set, List<string> changes)
    {
        string arch = model.Architecture;
        int n = model.FactorCount;
        var edit = new GgufEdit();

        foreach (var (name, values) in new[] { (LongRopeKeys.LongFactorsTensor, set.LongFactors), (LongRopeKeys.ShortFactorsTensor, set.ShortFactors) })
        {
            string was = file.TryGetTensor(name, out var old) ? $"replaced {name} ({old.Type} {old.ShapeText})" : $"added {name}";
            edit.SetTensor(new OutputTensor(name, GgmlType.F32, [(ulong)n], TensorData.Float32(values.AsSpan())));
            changes.Add($"{was}: F32 [{n}]");
        }
        if (file.TryGetTensor(LongRopeKeys.RopeFreqsTensor, out var freqs))
        {
            edit.RemoveTensor(LongRopeKeys.RopeFreqsTensor);
            changes.Add($"removed {LongRopeKeys.RopeFreqsTensor} ({freqs.Type} {freqs.ShapeText}): with the scaling type longrope llama.cpp's loader does not create it, "
                + "so the load would fail with 'wrong number of tensors' (its values are kept for patch --remove)");
        }
        foreach (string key in new[] { LongRopeKeys.ScalingFactor(arch), LongRopeKeys.ScaleLinear(arch) })
        {
            if (!file.TryGetValue(key, out var v)) continue;
            edit.RemoveKey(key);
            changes.Add($"removed {key} = {v.ToDisplayString()}: llama.cpp would divide every frequency by it on top of the LongRoPE factors");
        }

        SetKey(file, edit, changes, LongRopeKeys.ContextLength(arch), GgufValue.UInt32((uint)set.ContextLength));
        SetKey(file, edit, changes, LongRopeKeys.ScalingType(arch), GgufValue.String(LongRopeKeys.LongRopeScalingType));
        SetKey(file, edit, changes, LongRopeKeys.OriginalContextLength(arch), GgufValue.UInt32((uint)set.OriginalContextLength));
        SetKey(file, edit, changes, LongRopeKeys.AttentionFactor(arch), GgufValue.Float32(set.AttentionFactor));

        edit.SetValue(LongRopeKeys.Version, GgufValue.UInt32(ProvenanceVersion));
        edit.SetValue(LongRopeKeys.ProvenanceLong, GgufValue.Array(set.LongFactors.ToArray()));
        edit.SetValue(LongRopeKeys.ProvenanceShort, GgufValue.Array(set.ShortFactors.ToArray()));
        edit.SetValue(LongRopeKeys.ProvenanceOriginalContextLength, GgufValue.UInt32((uint)set.OriginalContextLength));
        edit.SetValue(LongRopeKeys.ProvenanceContextLength, GgufValue.UInt32((uint)set.ContextLength));
        // Padded with spaces so that later in-place updates can store another policy or source in the same bytes.
        edit.SetValue(LongRopeKeys.AttentionFactorPolicy, GgufValue.String(PadToBytes(AttentionFactors.Name(set.AttentionFactorPolicy), LongRopeKeys.PolicyFieldBytes)));
        edit.SetValue(LongRopeKeys.Source, GgufValue.String(PadToBytes(set.Source, LongRopeKeys.SourceFieldBytes)));
        changes.Add($"recorded the factors and their provenance in longrope.* keys (source: {DisplayText.Escape(set.Source)})");
        // Only the first patch records the file's previous state: a re-patch keeps it, so --remove restores the original.
        if (!EmbeddedFactors.IsPatchedByThisTool(file)) RecordRestoreState(file, arch, edit);
        return edit;
    }

    private static void SetKey(GgufFile file, GgufEdit edit, List<string> changes, string key, GgufValue value)
    {
        edit.SetValue(key, value);
        if (!file.TryGetValue(key, out var old)) changes.Add($"set {key} = {value.ToDisplayString()}");
        else if (!old.Equals(value)) changes.Add($"set {key} = {value.ToDisplayString()} (was {old.ToDisplayString()}{(old.Type != value.Type ? " " + old.DescribeType() : "")})");
    }

    /// <summary>Before the first patch: every key and tensor the patch sets or removes, as it was (or that it was absent).</summary>
    private static void RecordRestoreState(GgufFile file, string arch, GgufEdit edit)
    {
        var absentKeys = new List<string>();
        foreach (string key in new[] { LongRopeKeys.ContextLength(arch), LongRopeKeys.ScalingType(arch), LongRopeKeys.OriginalContextLength(arch),
                     LongRopeKeys.AttentionFactor(arch), LongRopeKeys.ScalingFactor(arch), LongRopeKeys.ScaleLinear(arch) })
        {
            if (file.TryGetValue(key, out var old)) edit.SetValue(LongRopeKeys.RestoreKey(key), old);
            else if (key != LongRopeKeys.ScalingFactor(arch) && key != LongRopeKeys.ScaleLinear(arch)) absentKeys.Add(key);
        }
        var absentTensors = new List<string>();
        foreach (string name in new[] { LongRopeKeys.LongFactorsTensor, LongRopeKeys.ShortFactorsTensor, LongRopeKeys.RopeFreqsTensor })
        {
            if (file.TryGetTensor(name, out var t))
            {
                edit.SetValue(LongRopeKeys.RestoreTensor(name, "type"), GgufValue.UInt32((uint)t.Type));
                edit.SetValue(LongRopeKeys.RestoreTensor(name, "shape"), GgufValue.Array(t.Dimensions.ToArray()));
                edit.SetValue(LongRopeKeys.RestoreTensor(name, "data"), GgufValue.Array(SmallTensorReader.ReadBytes(file, t)));
            }
            else if (name != LongRopeKeys.RopeFreqsTensor)
            {
                absentTensors.Add(name);
            }
        }
        edit.SetValue(LongRopeKeys.RestoreAbsentKeys, GgufValue.Array(absentKeys.ToArray()));
        edit.SetValue(LongRopeKeys.RestoreAbsentTensors, GgufValue.Array(absentTensors.ToArray()));
    }

    private static GgufEdit PlanRestore(GgufFile file, string arch, List<string> changes)
    {
        var edit = new GgufEdit();
        // What the record puts back or removes: the LongRoPE the patch wrote must be among it.
        var coveredKeys = new HashSet<string>(StringComparer.Ordinal);
        var coveredTensors = new HashSet<string>(StringComparer.Ordinal);
        string keyPrefix = LongRopeKeys.RestoreKey("");
        string tensorPrefix = LongRopeKeys.RestorePrefix + "tensor.";
        foreach (var e in file.Metadata)
        {
            if (e.Key.StartsWith(keyPrefix, StringComparison.Ordinal))
            {
                string key = e.Key[keyPrefix.Length..];
                edit.SetValue(key, e.Value);
                coveredKeys.Add(key);
                changes.Add($"restored {key} = {e.Value.ToDisplayString()}");
            }
            else if (e.Key.StartsWith(tensorPrefix, StringComparison.Ordinal) && e.Key.EndsWith(".type", StringComparison.Ordinal))
            {
                string name = e.Key[tensorPrefix.Length..^".type".Length];
                var type = (GgmlType)RecordValue(file, e.Key, GgufValueType.UInt32, null).AsUInt32();
                if (!GgmlTypeTraits.TryGet(type, out _))
                    throw new LongRopePatchException($"{file.Path}: {e.Key} = {(uint)type} is not a ggml type; the restore record is damaged, nothing written");
                ulong[] shape = RecordValue(file, LongRopeKeys.RestoreTensor(name, "shape"), GgufValueType.Array, GgufValueType.UInt64).AsArray<ulong>(GgufValueType.UInt64);
                byte[] data = RecordValue(file, LongRopeKeys.RestoreTensor(name, "data"), GgufValueType.Array, GgufValueType.UInt8).AsArray<byte>(GgufValueType.UInt8);
                edit.SetTensor(new OutputTensor(name, type, shape, new TensorData.FromMemory(data)));
                coveredTensors.Add(name);
                changes.Add($"restored tensor {name} ({type} [{string.Join(", ", shape)}])");
            }
        }
        if (file.ContainsKey(LongRopeKeys.RestoreAbsentKeys))
            foreach (string key in RecordValue(file, LongRopeKeys.RestoreAbsentKeys, GgufValueType.Array, GgufValueType.String).AsStringArray())
            {
                edit.RemoveKey(key);
                coveredKeys.Add(key);
                if (file.ContainsKey(key)) changes.Add($"removed {key}");
            }
        if (file.ContainsKey(LongRopeKeys.RestoreAbsentTensors))
            foreach (string name in RecordValue(file, LongRopeKeys.RestoreAbsentTensors, GgufValueType.Array, GgufValueType.String).AsStringArray())
            {
                edit.RemoveTensor(name);
                coveredTensors.Add(name);
                if (file.TryGetTensor(name, out _)) changes.Add($"removed tensor {name}");
            }
        // A record edited by hand (or cut short) that says nothing of a factor tensor or of the scaling type would leave
        // the LongRoPE in place under a "removed" report.
        string? uncovered = new[] { LongRopeKeys.LongFactorsTensor, LongRopeKeys.ShortFactorsTensor }
            .FirstOrDefault(n => file.TryGetTensor(n, out _) && !coveredTensors.Contains(n)) is { } tensor ? $"tensor {tensor}"
            : file.ContainsKey(LongRopeKeys.ScalingType(arch)) && !coveredKeys.Contains(LongRopeKeys.ScalingType(arch)) ? LongRopeKeys.ScalingType(arch) : null;
        if (uncovered is not null)
            throw new LongRopePatchException($"{file.Path}: the restore record ({LongRopeKeys.RestorePrefix}*) says nothing of {uncovered}, which the patch wrote: "
                + $"it is incomplete, nothing written (without {LongRopeKeys.Version}, --remove strips the LongRoPE as from a file patched elsewhere)");
        foreach (var e in file.Metadata)
            if (e.Key.StartsWith("longrope.", StringComparison.Ordinal)) edit.RemoveKey(e.Key);
        changes.Add("removed the longrope.* provenance keys");
        return edit;
    }

    /// <summary>A value of the restore record, of the type the first patch wrote it with; another type (a record edited by
    /// hand or damaged) is refused naming the file and the key: it said "expected ARRAY of STRING, found ARRAY[UINT32]".</summary>
    private static GgufValue RecordValue(GgufFile file, string key, GgufValueType type, GgufValueType? elementType)
    {
        if (!file.TryGetValue(key, out var v))
            throw new LongRopePatchException($"{file.Path}: no '{key}'; the restore record is incomplete, nothing written");
        if (v.Type != type || (elementType is { } et && v.ElementType != et))
        {
            string expected = elementType is { } e ? $"ARRAY[{e.ToGgufName()}]" : type.ToGgufName();
            throw new LongRopePatchException($"{file.Path}: '{key}' is {v.DescribeType()}, not {expected}; the restore record is damaged, nothing written");
        }
        return v;
    }

    private static GgufEdit PlanStrip(GgufFile file, string arch, List<string> changes)
    {
        bool hasTensors = file.TryGetTensor(LongRopeKeys.LongFactorsTensor, out _) || file.TryGetTensor(LongRopeKeys.ShortFactorsTensor, out _);
        bool hasType = file.TryGetValue(LongRopeKeys.ScalingType(arch), out var type) && type.Type == GgufValueType.String && type.AsString() == LongRopeKeys.LongRopeScalingType;
        if (!hasTensors && !hasType)
            throw new LongRopePatchException($"{file.Path}: no LongRoPE to remove (no factor tensors, {LongRopeKeys.ScalingType(arch)} is not longrope)");
        var edit = new GgufEdit();
        foreach (string name in new[] { LongRopeKeys.LongFactorsTensor, LongRopeKeys.ShortFactorsTensor })
            if (file.TryGetTensor(name, out _)) { edit.RemoveTensor(name); changes.Add($"removed tensor {name}"); }
        if (ModelRopeInfo.ReadLength(file, LongRopeKeys.OriginalContextLength(arch)) is int original)
        {
            edit.SetValue(LongRopeKeys.ContextLength(arch), GgufValue.UInt32((uint)original));
            changes.Add($"set {LongRopeKeys.ContextLength(arch)} = {original} (the original context length)");
        }
        foreach (string key in new[] { LongRopeKeys.ScalingType(arch), LongRopeKeys.OriginalContextLength(arch), LongRopeKeys.AttentionFactor(arch) })
            if (file.ContainsKey(key)) { edit.RemoveKey(key); changes.Add($"removed {key}"); }
        foreach (var e in file.Metadata)
            if (e.Key.StartsWith("longrope.", StringComparison.Ordinal)) edit.RemoveKey(e.Key);
        return edit;
    }

    private static void RequireKey(GgufFile file, string key, GgufValueType type, string path)
    {
        if (!file.TryGetValue(key, out var v)) throw new InPlaceNotPossibleException($"{path} has no key '{key}'");
        if (v.Type != type) throw new InPlaceNotPossibleException($"{path}: key '{key}' is {v.DescribeType()}, not {type.ToGgufName()}");
    }

    /// <summary><paramref name="s"/> padded with spaces to at least <paramref name="bytes"/> UTF-8 bytes.</summary>
    internal static string PadToBytes(string s, int bytes)
    {
        int have = Encoding.UTF8.GetByteCount(s);
        return have >= bytes ? s : s + new string(' ', bytes - have);
    }

    /// <summary><paramref name="s"/> made exactly <paramref name="bytes"/> UTF-8 bytes long: padded with spaces, or cut at a
    /// character boundary and ended with "..." when longer.</summary>
    internal static string FitToBytes(string s, int bytes, out bool truncated)
    {
        truncated = Encoding.UTF8.GetByteCount(s) > bytes;
        if (!truncated) return PadToBytes(s, bytes);
        const string ellipsis = "...";
        var sb = new StringBuilder();
        int used = 0;
        int limit = Math.Max(0, bytes - (bytes >= ellipsis.Length ? ellipsis.Length : 0));
        foreach (Rune r in s.EnumerateRunes())
        {
            if (used + r.Utf8SequenceLength > limit) break;
            sb.Append(r.ToString());
            used += r.Utf8SequenceLength;
        }
        if (bytes >= ellipsis.Length) sb.Append(ellipsis);
        return PadToBytes(sb.ToString(), bytes);
    }

    private static string F(float f) => f.ToString("R", CultureInfo.InvariantCulture);
}
