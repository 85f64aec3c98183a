using LongRopeGguf.Gguf;

namespace LongRopeGguf.Evaluation.Engine;

/// <summary>
/// What a GGUF file says about its context and RoPE, read from the header only: enough to know which LongRoPE factor
/// set llama.cpp will use for a context size, and how much memory a context of some size needs.
/// </summary>
public sealed record EvalModelInfo(
    string Path,
    string Architecture,
    int ContextLength,
    int OriginalContextLength,
    bool ReadsFactorTensors,
    bool HasLongFactors,
    bool HasShortFactors,
    int LayerCount,
    int KvWidth)
{
    /// <summary>
    /// The factor set llama.cpp applies for a context whose sequences each get <paramref name="contextPerSequence"/>
    /// cells: "long" beyond the original context, "short" within it, "none" for a file without LongRoPE factors.
    /// </summary>
    public string FactorSetFor(long contextPerSequence)
    {
        if (!ReadsFactorTensors || (!HasLongFactors && !HasShortFactors)) return "none";
        bool wantsLong = contextPerSequence > OriginalContextLength;
        if (wantsLong) return HasLongFactors ? "long" : "none";
        return HasShortFactors ? "short" : "none";
    }

    /// <summary>Bytes of an F16 K+V cache holding <paramref name="cells"/> tokens (llama.cpp's default cache type).</summary>
    public long KvCacheBytes(long cells) => 2L /*K and V*/ * 2 /*bytes per F16*/ * LayerCount * KvWidth * cells;

    /// <summary>The yarn_attn_factor that gives this file's short contexts the model's own attention magnitude, as the
    /// runner runs them (<see cref="LongRope.ShortContextAttention"/>); null when there is nothing to undo.</summary>
    public float? ShortContextAttnParameter { get; init; }

    public static EvalModelInfo Read(string path) => FromHeader(GgufReader.Read(path), path);

    public static EvalModelInfo FromHeader(GgufFile file, string path)
    {
        string arch = file.Architecture ?? throw new EvalInputException($"{path}: general.architecture: missing, cannot tell the model's architecture");
        int ctx = (int)ReadInteger(file, file.ArchitectureKey("context_length"), path);
        string? scalingType = file.TryGetValue(LongRope.LongRopeKeys.ScalingType(arch), out var type) && type.Type == GgufValueType.String ? type.AsString() : null;
        // phi3, phimoe and minicpm3 apply their factor tensors whatever the scaling type says (a Phi-3 128k GGUF has
        // none): judged by the type alone, such a file ran "none" in eval's records and its factors under yarn mode.
        bool readsFactors = LongRope.LongRopeArchitectures.ReadsFactorTensors(arch, scalingType);
        int original = file.TryGetValue(file.ArchitectureKey("rope.scaling.original_context_length"), out _)
            ? (int)ReadInteger(file, file.ArchitectureKey("rope.scaling.original_context_length"), path)
            : ctx;
        int layers = (int)ReadInteger(file, file.ArchitectureKey("block_count"), path);
        long embd = ReadInteger(file, file.ArchitectureKey("embedding_length"), path);
        long heads = ReadInteger(file, file.ArchitectureKey("attention.head_count"), path);
        long kvHeads = file.ContainsKey(file.ArchitectureKey("attention.head_count_kv"))
            ? ReadInteger(file, file.ArchitectureKey("attention.head_count_kv"), path)
            : heads;
        long headDim = heads > 0 ? embd / heads : embd;
        return new EvalModelInfo(
            path, arch, ctx, original, readsFactors,
            file.TryGetTensor(LongRope.LongRopeKeys.LongFactorsTensor, out _),
            file.TryGetTensor(LongRope.LongRopeKeys.ShortFactorsTensor, out _),
            layers, (int)(kvHeads * headDim))
        {
            ShortContextAttnParameter = LongRope.ShortContextAttention.ContextParameter(file),
        };
    }

    private static long ReadInteger(GgufFile file, string key, string path)
    {
        if (!file.TryGetValue(key, out var v))
            throw new EvalInputException($"{path}: {key}: missing");
        return v.Payload switch
        {
            byte or sbyte or ushort or short or uint or int or long => Convert.ToInt64(v.Payload),
            ulong u when u <= long.MaxValue => (long)u,
            _ => throw new EvalInputException($"{path}: {key}: expected an integer, found {v.Type}"),
        };
    }
}
