using LongRopeGguf.Gguf;

namespace LongRopeGguf.LongRope;

/// <summary>Tensor and metadata names that llama.cpp reads for LongRoPE, and the provenance keys this tool adds.</summary>
public static class LongRopeKeys
{
    public const string LongFactorsTensor = "rope_factors_long.weight";
    public const string ShortFactorsTensor = "rope_factors_short.weight";

    /// <summary>Llama-3-style single factor array; llama.cpp prefers it over the LongRoPE pair, and the loader does not
    /// create it when the scaling type is longrope.</summary>
    public const string RopeFreqsTensor = "rope_freqs.weight";

    public const string LongRopeScalingType = "longrope";

    /// <summary>The rope scaling types llama.cpp knows; any other string aborts the process while loading
    /// (GGML_ASSERT in llm_load_hparams).</summary>
    public static readonly IReadOnlyList<string> KnownScalingTypes = ["none", "linear", "yarn", "longrope"];

    public static string ContextLength(string arch) => GgufKeys.ForArchitecture(arch, "context_length");
    public static string ScalingType(string arch) => GgufKeys.ForArchitecture(arch, "rope.scaling.type");
    public static string OriginalContextLength(string arch) => GgufKeys.ForArchitecture(arch, "rope.scaling.original_context_length");
    public static string AttentionFactor(string arch) => GgufKeys.ForArchitecture(arch, "rope.scaling.attn_factor");

    /// <summary>Linear scale (1/freq_scale): llama.cpp applies it on top of the LongRoPE factors.</summary>
    public static string ScalingFactor(string arch) => GgufKeys.ForArchitecture(arch, "rope.scaling.factor");

    /// <summary>The old name of <see cref="ScalingFactor"/>, still read by llama.cpp.</summary>
    public static string ScaleLinear(string arch) => GgufKeys.ForArchitecture(arch, "rope.scale_linear");

    public static string DimensionCount(string arch) => GgufKeys.ForArchitecture(arch, "rope.dimension_count");
    public static string DimensionCountSwa(string arch) => GgufKeys.ForArchitecture(arch, "rope.dimension_count_swa");
    public static string KeyLength(string arch) => GgufKeys.ForArchitecture(arch, "attention.key_length");
    public static string EmbeddingLength(string arch) => GgufKeys.ForArchitecture(arch, "embedding_length");
    public static string HeadCount(string arch) => GgufKeys.ForArchitecture(arch, "attention.head_count");
    public static string FreqBase(string arch) => GgufKeys.ForArchitecture(arch, "rope.freq_base");
    public static string BlockCount(string arch) => GgufKeys.ForArchitecture(arch, "block_count");

    public static string ExpertCount(string arch) => GgufKeys.ForArchitecture(arch, "expert_count");
    public static string ExpertUsedCount(string arch) => GgufKeys.ForArchitecture(arch, "expert_used_count");

    /// <summary>llama.cpp's LLAMA_MAX_LAYERS: a block count above it (or 0) aborts the load.</summary>
    public const uint MaxLayers = 512;

    /// <summary>LLAMA_MAX_EXPERTS in the llama.cpp LLamaSharp 0.30.0 ships (measured: 512 loads, 513 aborts).</summary>
    public const uint MaxExperts = 512;

    // ---- provenance written by this tool (llama.cpp ignores unknown keys) ----

    /// <summary>Version of the longrope.* key layout below.</summary>
    public const string Version = "longrope.version";
    public const string ProvenanceLong = "longrope.factors.long";
    public const string ProvenanceShort = "longrope.factors.short";
    public const string Source = "longrope.source";
    public const string AttentionFactorPolicy = "longrope.attn_factor_policy";
    public const string ProvenanceOriginalContextLength = "longrope.original_context_length";
    public const string ProvenanceContextLength = "longrope.context_length";

    /// <summary>Prefix of the keys that record the file as it was before the first patch, for <c>patch --remove</c>.</summary>
    public const string RestorePrefix = "longrope.restore.";

    /// <summary>Keys that did not exist before the first patch (removed again by --remove).</summary>
    public const string RestoreAbsentKeys = "longrope.restore.absent_keys";

    /// <summary>Tensors that did not exist before the first patch.</summary>
    public const string RestoreAbsentTensors = "longrope.restore.absent_tensors";

    /// <summary>"longrope.restore.key.{key}": the value a key had before the first patch (same GGUF type).</summary>
    public static string RestoreKey(string key) => RestorePrefix + "key." + key;

    /// <summary>"longrope.restore.tensor.{name}.type|shape|data": a tensor the first patch replaced or removed.</summary>
    public static string RestoreTensor(string name, string part) => RestorePrefix + "tensor." + name + "." + part;

    /// <summary>Strings written padded with spaces to at least this many bytes, so that in-place updates can change them.</summary>
    public const int SourceFieldBytes = 160;
    public const int PolicyFieldBytes = 8;
}
