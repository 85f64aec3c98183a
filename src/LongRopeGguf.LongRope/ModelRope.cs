using LongRopeGguf.Gguf;

namespace LongRopeGguf.LongRope;

/// <summary>
/// What a model file says about its RoPE, read the way llama.cpp reads it: how many factors it needs and why, its
/// frequency base, its context lengths, and whether its architecture reads the LongRoPE factor tensors.
/// </summary>
/// <param name="RopeDimensions">n_rot: rotated dimensions per head.</param>
/// <param name="RopeDimensionsSource">Where <paramref name="RopeDimensions"/> came from, e.g. "llama.rope.dimension_count".</param>
/// <param name="ContextLength">{arch}.context_length as the file has it now.</param>
/// <param name="BaseContextLength">The pre-extension length: {arch}.rope.scaling.original_context_length when present,
/// else {arch}.context_length. The default original length for a new factor set.</param>
public sealed record ModelRopeInfo(
    string Path,
    string Architecture,
    FactorTensorSupport Support,
    int RopeDimensions,
    string RopeDimensionsSource,
    float FreqBase,
    int ContextLength,
    int BaseContextLength)
{
    /// <summary>Factors per set: llama.cpp creates the factor tensors with n_rot / 2 elements.</summary>
    public int FactorCount => RopeDimensions / 2;

    /// <summary>Why the model needs <see cref="FactorCount"/> factors, for error messages.</summary>
    public string FactorCountReason => $"rope dimension count {RopeDimensions} (from {RopeDimensionsSource}) / 2";

    public string FileName => System.IO.Path.GetFileName(Path);

    /// <summary>Reads the RoPE facts of a model header; throws <see cref="LongRopePatchException"/> when a key llama.cpp
    /// needs is missing or has a type llama.cpp would reject.</summary>
    public static ModelRopeInfo From(GgufFile file)
    {
        string path = file.Path ?? "model";
        string arch = file.Architecture ?? throw new LongRopePatchException($"{path}: no '{GgufKeys.Architecture}' string key: not a llama.cpp model");

        (int dims, string dimsSource) = RopeDimensionsOf(file, arch, path);
        // llama.cpp reads the head size as UINT32 whether or not it decides n_rot here: a wrongly typed one fails the
        // load, so a patch must refuse it before writing anything.
        ReadUInt32(file, LongRopeKeys.KeyLength(arch), path);
        // The factor arrays have dims / 2 entries: a corrupt count must not become a multi-GB allocation.
        if (dims is <= 0 or > MaxRopeDimensions)
            throw new LongRopePatchException($"{path}: {dimsSource} gives {dims} rope dimensions: not a head dimension (1 to {MaxRopeDimensions})");
        float freqBase = 10000f;
        if (file.ContainsKey(LongRopeKeys.FreqBase(arch))) freqBase = ReadFloat32(file, LongRopeKeys.FreqBase(arch), path);
        // The lengths are read whatever their integer type: the patcher rewrites them as UINT32 (a wrongly typed length
        // is one of the things it repairs); the verifier reports the type separately.
        string contextKey = LongRopeKeys.ContextLength(arch);
        int context = ReadLength(file, contextKey)
            ?? throw (!file.TryGetValue(contextKey, out var notALength)
                ? new LongRopePatchException($"{path}: no '{contextKey}' key (llama.cpp requires it)")
                // A whole number out of range (0, past int): llama.cpp loads and runs such a file (measured: 0 and
                // 4294967295 as UINT32); only LongRoPE cannot place its sets by it. Another type fails the load.
                : notALength.Type is GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16 or GgufValueType.Int16 or GgufValueType.UInt32
                    or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64
                ? new ModelRopeException(path, $"key '{contextKey}' is {notALength.DescribeType()} {notALength.ToDisplayString(4)}: not a context length (a whole number of tokens "
                    + "from 1 to 2147483647); llama.cpp loads the file, but the LongRoPE sets are chosen by it", "context-invalid", Consequence.NotAsIntended)
                : new LongRopePatchException($"{path}: key '{contextKey}' is {notALength.DescribeType()} {notALength.ToDisplayString(4)}: not a context length (a whole number of tokens from 1 to 2147483647; llama.cpp reads it as UINT32)"));
        int baseContext = ReadLength(file, LongRopeKeys.OriginalContextLength(arch)) ?? context;
        return new ModelRopeInfo(path, arch, LongRopeArchitectures.SupportOf(arch), dims, dimsSource, freqBase, context, baseContext);
    }

    /// <summary>Far above any model's head dimension (128-256 today).</summary>
    public const int MaxRopeDimensions = 65536;

    /// <summary>n_rot as llama.cpp derives it: rope.dimension_count, else attention.key_length, else
    /// embedding_length / head_count. phimoe sizes its factor tensors from embedding_length / head_count, step35 from
    /// the larger of the full and the sliding-window dimension counts.</summary>
    private static (int, string) RopeDimensionsOf(GgufFile file, string arch, string path)
    {
        (int, string)? embdOverHeads = null;
        if (ReadUInt32(file, LongRopeKeys.EmbeddingLength(arch), path) is int embd && ReadHeadCount(file, arch) is int heads && heads > 0)
            embdOverHeads = (embd / heads, $"{LongRopeKeys.EmbeddingLength(arch)} {embd} / {LongRopeKeys.HeadCount(arch)} {heads}");
        if (arch == "phimoe" && embdOverHeads is { } p) return p;

        if (ReadUInt32(file, LongRopeKeys.DimensionCount(arch), path) is int d)
        {
            if (arch == "step35" && ReadUInt32(file, LongRopeKeys.DimensionCountSwa(arch), path) is int swa && swa > d)
                return (swa, LongRopeKeys.DimensionCountSwa(arch));
            return (d, LongRopeKeys.DimensionCount(arch));
        }
        if (ReadUInt32(file, LongRopeKeys.KeyLength(arch), path) is int k) return (k, LongRopeKeys.KeyLength(arch));
        return embdOverHeads ?? throw new LongRopePatchException(
            $"{path}: cannot tell the rope dimension count: no {LongRopeKeys.DimensionCount(arch)}, {LongRopeKeys.KeyLength(arch)} or {LongRopeKeys.EmbeddingLength(arch)}/{LongRopeKeys.HeadCount(arch)}");
    }

    /// <summary>head_count may be a per-layer array (llama.cpp's get_key_or_arr); the first layer's count is used. Null
    /// when it is absent or of a type llama.cpp refuses (the verifier's per-layer-key check says which), so that the
    /// rope dimension count still comes from the keys that hold it.</summary>
    private static int? ReadHeadCount(GgufFile file, string arch)
    {
        if (!file.TryGetValue(LongRopeKeys.HeadCount(arch), out var v)) return null;
        if (v.Type == GgufValueType.Array && v.ElementType == GgufValueType.UInt32 && v.Count > 0) return (int)Math.Min(v.AsArray<uint>(GgufValueType.UInt32)[0], int.MaxValue);
        if (v.Type == GgufValueType.Array && v.ElementType == GgufValueType.Int32 && v.Count > 0) return v.AsArray<int>(GgufValueType.Int32)[0];
        return v.Type == GgufValueType.UInt32 ? (int)Math.Min(v.AsUInt32(), int.MaxValue) : null;
    }

    /// <summary>A length stored as any integer type, or as a whole float; null when absent or unusable.</summary>
    internal static int? ReadLength(GgufFile file, string key)
    {
        if (!file.TryGetValue(key, out var v)) return null;
        double d = v.Payload switch
        {
            byte or sbyte or ushort or short or uint or int or ulong or long => Convert.ToDouble(v.Payload, System.Globalization.CultureInfo.InvariantCulture),
            float f => f,
            double x => x,
            _ => double.NaN,
        };
        return d >= 1 && d <= int.MaxValue && d == Math.Floor(d) ? (int)d : null;
    }

    /// <summary>A UINT32 key (llama.cpp rejects other integer types for these keys), null when absent.</summary>
    internal static int? ReadUInt32(GgufFile file, string key, string path)
    {
        if (!file.TryGetValue(key, out var v)) return null;
        if (v.Type != GgufValueType.UInt32)
            throw new LongRopePatchException($"{path}: key '{key}' is {v.DescribeType()}; llama.cpp reads it as UINT32 and refuses to load the file");
        uint u = v.AsUInt32();
        if (u > int.MaxValue) throw new LongRopePatchException($"{path}: key '{key}' = {u} is out of range");
        return (int)u;
    }

    private static float ReadFloat32(GgufFile file, string key, string path)
    {
        var v = file[key];
        if (v.Type != GgufValueType.Float32)
            throw new LongRopePatchException($"{path}: key '{key}' is {v.DescribeType()}; llama.cpp reads it as FLOAT32 and refuses to load the file");
        return v.AsFloat32();
    }
}
