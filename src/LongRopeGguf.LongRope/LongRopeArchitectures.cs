namespace LongRopeGguf.LongRope;

/// <summary>Whether llama.cpp's loader for an architecture creates the LongRoPE factor tensors.</summary>
public enum FactorTensorSupport
{
    /// <summary>The loader never creates rope_factors_long/short: such tensors make the load fail.</summary>
    None,

    /// <summary>The loader always creates them (optional tensors), whatever the rope scaling type says.</summary>
    Always,

    /// <summary>The loader creates them only when {arch}.rope.scaling.type is "longrope" (otherwise it creates
    /// rope_freqs.weight instead).</summary>
    WhenLongRope,

    /// <summary>The loader creates them as <see cref="WhenLongRope"/> does, but the architecture positions tokens without
    /// RoPE (refact: ALiBi), so they load and are never applied.</summary>
    LoadedButUnused,
}

/// <summary>
/// Which general.architecture values llama.cpp reads LongRoPE factors for (src/models/*.cpp, load_arch_tensors).
/// The names are the GGUF strings of llama-arch.cpp. granite_swa is newer than the llama.cpp that LLamaSharp 0.30.0
/// ships; a file with it fails to load there as an unknown architecture whatever its factors. refact's loader creates the
/// factor tensors with the llama family's rule, but refact uses no RoPE (llama_model_rope_type: ALiBi): measured, its
/// logits are the same with any factors (FailureTableTests).
/// </summary>
public static class LongRopeArchitectures
{
    private static readonly Dictionary<string, FactorTensorSupport> s_table = new(StringComparer.Ordinal)
    {
        ["phi3"] = FactorTensorSupport.Always,
        ["phimoe"] = FactorTensorSupport.Always,
        ["minicpm3"] = FactorTensorSupport.Always,
        ["llama"] = FactorTensorSupport.WhenLongRope,
        ["deci"] = FactorTensorSupport.WhenLongRope,
        ["minicpm"] = FactorTensorSupport.WhenLongRope,
        ["mistral3"] = FactorTensorSupport.WhenLongRope,
        ["granite"] = FactorTensorSupport.WhenLongRope,
        ["granitemoe"] = FactorTensorSupport.WhenLongRope,
        ["granite_swa"] = FactorTensorSupport.WhenLongRope,
        ["refact"] = FactorTensorSupport.LoadedButUnused,
        ["pangu-embedded"] = FactorTensorSupport.WhenLongRope,
        ["apertus"] = FactorTensorSupport.WhenLongRope,
        ["step35"] = FactorTensorSupport.WhenLongRope,
    };

    public static FactorTensorSupport SupportOf(string? architecture) =>
        architecture is not null && s_table.TryGetValue(architecture, out var s) ? s : FactorTensorSupport.None;

    /// <summary>Whether llama.cpp's loader for <paramref name="architecture"/> creates (and so applies) the factor tensors of
    /// a file whose {arch}.rope.scaling.type is <paramref name="scalingType"/>: some always, the llama family only for
    /// "longrope" (docs/llama-cpp-longrope.md).</summary>
    public static bool ReadsFactorTensors(string? architecture, string? scalingType) => SupportOf(architecture) switch
    {
        FactorTensorSupport.Always => true,
        FactorTensorSupport.WhenLongRope or FactorTensorSupport.LoadedButUnused => scalingType == LongRopeKeys.LongRopeScalingType,
        _ => false,
    };

    /// <summary>Whether llama.cpp applies the factor tensors of such a file: it reads them, and the architecture uses RoPE.</summary>
    public static bool AppliesFactorTensors(string? architecture, string? scalingType) =>
        SupportOf(architecture) != FactorTensorSupport.LoadedButUnused && ReadsFactorTensors(architecture, scalingType);

    /// <summary>Why LongRoPE factors cannot be given to a model of <paramref name="architecture"/> (null: they can), in a
    /// phrase after "architecture 'x' ".</summary>
    public static string? WhyNotPatchable(string architecture) => SupportOf(architecture) switch
    {
        FactorTensorSupport.None => "does not read LongRoPE factor tensors in llama.cpp (added tensors would make the load fail with 'wrong number of tensors')",
        FactorTensorSupport.LoadedButUnused => "uses no RoPE (ALiBi positions): llama.cpp would load LongRoPE factor tensors and never apply them",
        _ => null,
    };

    /// <summary>"phi3, phimoe, minicpm3 (always); llama, deci, ... (with rope.scaling.type=longrope)".</summary>
    public static string SupportedText =>
        string.Join(", ", s_table.Where(kv => kv.Value == FactorTensorSupport.Always).Select(kv => kv.Key)) + " (always); "
        + string.Join(", ", s_table.Where(kv => kv.Value == FactorTensorSupport.WhenLongRope).Select(kv => kv.Key)) + " (with rope.scaling.type=longrope)";
}
