using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;

namespace LongRopeGguf.Runtime;

/// <summary>
/// What the runner needs to know about a model's RoPE before llama.cpp loads it, read from the GGUF header alone
/// (cheap, and it rejects a non-GGUF file with our reader's one-line error instead of llama.cpp's).
/// </summary>
/// <param name="ContextLength"><c>{arch}.context_length</c>: the longest context the file claims.</param>
/// <param name="HasLongRope">llama.cpp will switch between the short and the long factor set for this file.</param>
/// <param name="OriginalContextLength">
/// The switch threshold: <c>{arch}.rope.scaling.original_context_length</c>, else <c>{arch}.context_length</c>
/// (llama.cpp's own fallback). A context whose per-sequence size exceeds it runs on the long set.
/// </param>
/// <param name="ScalingType"><c>{arch}.rope.scaling.type</c> as written, or null.</param>
/// <param name="Warning">A problem with the LongRoPE data that llama.cpp would not report (it runs silently wrong).</param>
public sealed record ModelContextInfo(
    string Path,
    string Name,
    string Architecture,
    int ContextLength,
    int LayerCount,
    bool HasLongRope,
    int OriginalContextLength,
    string? ScalingType,
    float? AttnFactor,
    string? Warning)
{
    /// <summary>
    /// Bytes of f16 KV cache per token (all layers, keys and values) as llama.cpp allocates a full cache, from the
    /// attention shape in the header; null when the header does not say enough. Saturates at long.MaxValue (a corrupt
    /// count is refused as too big, not wrapped to a size that "fits").
    /// </summary>
    public long? KvBytesPerToken { get; init; }

    /// <summary>The model has sliding-window layers, whose caches llama.cpp makes smaller than
    /// <see cref="KvBytesPerToken"/> says: an upper bound then. Not for phi3/phimoe, whose window llama.cpp disables
    /// (it allocates the full cache; Phi-3 GGUFs carry the key).</summary>
    public bool KvEstimateIsUpperBound { get; init; }

    /// <summary><see cref="PromptSizeBound.LongestTokenBytes"/> of the file: what bounds a text's token count from below.</summary>
    public int? LongestTokenBytes { get; init; }

    /// <summary>
    /// The <c>yarn_attn_factor</c> that gives this file's short contexts the model's own attention magnitude (the
    /// reciprocal of the attn_factor that this tool's patch added for the long set), or null when there is nothing to
    /// undo (<see cref="ShortContextAttention"/>).
    /// </summary>
    public float? ShortContextAttnParameter { get; init; }

    /// <summary>Whether llama.cpp reads and applies this file's factor tensors at all: architectures that always do (phi3
    /// and its kin), others only with rope.scaling.type longrope, none that use no RoPE
    /// (<see cref="LongRopeArchitectures.AppliesFactorTensors"/>).</summary>
    public bool ReadsFactorTensors { get; init; }

    /// <summary>The file has <c>rope_factors_long.weight</c>.</summary>
    public bool HasLongFactors { get; init; }

    /// <summary>The file has <c>rope_factors_short.weight</c>.</summary>
    public bool HasShortFactors { get; init; }

    /// <summary>
    /// The factor set llama.cpp applies for a context whose sequences each get <paramref name="contextPerSequence"/>
    /// cells: long beyond the original context, short within it, none where the file has no such set or its
    /// architecture does not read them. (What a context ran on, for the evaluation's records; the runner plans by
    /// <see cref="ContextPlanner.SetFor"/>.)
    /// </summary>
    public FactorSetKind FactorSetAt(long contextPerSequence) =>
        !ReadsFactorTensors ? FactorSetKind.None
        : contextPerSequence > OriginalContextLength ? (HasLongFactors ? FactorSetKind.Long : FactorSetKind.None)
        : HasShortFactors ? FactorSetKind.Short : FactorSetKind.None;

    /// <summary>Bytes of f16 KV cache for <paramref name="cells"/> tokens; null where <see cref="KvBytesPerToken"/> is.</summary>
    public long? KvCacheBytes(long cells) => KvBytesPerToken is { } perToken ? (long)Int128.Min((Int128)perToken * cells, long.MaxValue) : null;

    /// <summary>Built-in scaling (linear, yarn) that llama.cpp applies to every context: no set switching.</summary>
    public bool HasBuiltInScaling => !HasLongRope && ScalingType is { Length: > 0 } t && t != "none";

    /// <summary>The model's context facts, a file llama.cpp would abort on (or run to no purpose) refused first.</summary>
    public static ModelContextInfo Read(string path)
    {
        var header = ReadHeader(path);
        if (LlamaModel.WhyNotToLoad(header) is { } refusal) throw new RuntimeInputException(refusal);
        return FromHeader(header, path);
    }

    /// <summary>The model file's header, a missing file or a folder refused in one line.</summary>
    public static GgufFile ReadHeader(string path)
    {
        if (Directory.Exists(path)) throw new RuntimeInputException($"{path}: is a folder, not a model file");
        if (!File.Exists(path)) throw new RuntimeInputException($"{path}: no such model file");
        return GgufReader.Read(path);
    }

    public static ModelContextInfo FromHeader(GgufFile file, string path)
    {
        string arch = file.Architecture
            ?? throw new RuntimeInputException($"{path}: no general.architecture key: not a llama.cpp model");
        int contextLength = ReadCount(file, path, LongRopeKeys.ContextLength(arch))
            ?? throw new RuntimeInputException($"{path}: no {LongRopeKeys.ContextLength(arch)} key");
        int layers = ReadCount(file, path, $"{arch}.block_count", "layer count") ?? 0;
        string? scalingType = file.TryGetValue(LongRopeKeys.ScalingType(arch), out var st) && st.Type == GgufValueType.String ? st.AsString() : null;
        float? attn = file.TryGetValue(LongRopeKeys.AttentionFactor(arch), out var af) && af.Type == GgufValueType.Float32 ? af.AsFloat32() : null;
        int original = ReadCount(file, path, LongRopeKeys.OriginalContextLength(arch)) ?? contextLength;
        string name = file.TryGetValue(GgufKeys.Name, out var n) && n.Type == GgufValueType.String ? n.AsString() : System.IO.Path.GetFileNameWithoutExtension(path);

        bool hasLong = file.TryGetTensor(LongRopeKeys.LongFactorsTensor, out _);
        bool hasShort = file.TryGetTensor(LongRopeKeys.ShortFactorsTensor, out _);
        bool isLongRope = scalingType == LongRopeKeys.LongRopeScalingType;
        bool readsFactors = LongRopeArchitectures.AppliesFactorTensors(arch, scalingType);
        string? warning = null;
        if (isLongRope && !hasLong && !hasShort)
            warning = "rope.scaling.type is longrope but the file has no factor tensors: llama.cpp runs it as plain RoPE";
        else if (readsFactors && hasLong && !hasShort)
            warning = $"no {LongRopeKeys.ShortFactorsTensor}: contexts up to {original} tokens run without factors";
        return new ModelContextInfo(path, name, arch, contextLength, layers, readsFactors && hasLong, original, scalingType, attn, warning)
        {
            ReadsFactorTensors = readsFactors,
            HasLongFactors = hasLong,
            HasShortFactors = hasShort,
            KvBytesPerToken = EstimateKvBytesPerToken(file, arch, layers),
            KvEstimateIsUpperBound = file.ContainsKey($"{arch}.attention.sliding_window") && arch is not ("phi3" or "phimoe"),
            LongestTokenBytes = PromptSizeBound.LongestTokenBytes(file),
            ShortContextAttnParameter = readsFactors && hasShort ? ShortContextAttention.ContextParameter(file) : null,
        };
    }

    private static long? EstimateKvBytesPerToken(GgufFile file, string arch, int layers)
    {
        if (layers <= 0) return null;
        // Non-negative whole numbers only: a UINT64 above long.MaxValue threw OverflowException (an internal error).
        long? Int(string suffix) => file.TryGetValue($"{arch}.{suffix}", out var v) && v.Type != GgufValueType.Array ? v.Payload switch
        {
            uint u => u,
            int i when i >= 0 => i,
            ulong u when u <= long.MaxValue => (long)u,
            long l when l >= 0 => l,
            _ => null,
        } : null;
        long? embd = Int("embedding_length"), heads = Int("attention.head_count");
        if (embd is not > 0 || heads is not > 0) return null;
        long kvHeads = Int("attention.head_count_kv") ?? heads.Value;
        long keyLength = Int("attention.key_length") ?? embd.Value / heads.Value;
        long valueLength = Int("attention.value_length") ?? embd.Value / heads.Value;
        return (long)Int128.Min((Int128)layers * kvHeads * ((Int128)keyLength + valueLength) * 2, long.MaxValue);
    }

    /// <summary>A non-negative integer key of any integer type, range-checked; null when absent.</summary>
    private static int? ReadCount(GgufFile file, string path, string key, string what = "token count")
    {
        if (!file.TryGetEntry(key, out var e)) return null;
        object p = e.Value.Payload;
        long v = p switch
        {
            byte or sbyte or ushort or short or uint or int or long => Convert.ToInt64(p),
            ulong u when u <= long.MaxValue => (long)u,
            _ => throw new RuntimeInputException($"{path}: {key} at offset {e.ValueOffset}: expected an integer, found {e.Value.DescribeType()}"),
        };
        if (v is <= 0 or > int.MaxValue)
            throw new RuntimeInputException($"{path}: {key} at offset {e.ValueOffset}: value {v} is not a usable {what}");
        return (int)v;
    }
}
