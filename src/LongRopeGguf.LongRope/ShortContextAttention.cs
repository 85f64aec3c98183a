using LongRopeGguf.Gguf;

namespace LongRopeGguf.LongRope;

/// <summary>
/// The attention magnitude of short contexts. llama.cpp multiplies cos and sin by <c>rope.scaling.attn_factor</c> in
/// every context of a LongRoPE file, short set included (one key serves both sets). A model that was trained with
/// LongRoPE (Phi-3) expects that; a model this tool patched was not, and its short set of ones then runs with the long
/// set's magnitude: on the tiny model the 8x file (attn_factor 1.21) has a held-out perplexity of 2.86 at 512 tokens
/// (4 windows) where the unpatched model has 1.96. llama.cpp multiplies the file's value by the context parameter
/// <c>yarn_attn_factor</c> (1 by default) for a LongRoPE file, so a short context created with
/// <c>yarn_attn_factor = 1 / attn_factor</c> runs at the model's own magnitude: exactly the unpatched model when the
/// short set is all ones (measured: the same perplexity to the last digit).
/// </summary>
public static class ShortContextAttention
{
    /// <summary>
    /// The <c>yarn_attn_factor</c> context parameter that gives a short context of this file the model's own attention
    /// magnitude, or null when nothing needs undoing: the file has no LongRoPE, an attention factor of 1 (or none), or
    /// its LongRoPE did not come from this tool (no <see cref="LongRopeKeys.Version"/>: e.g. a converted Phi-3, trained
    /// with its factor on short contexts too). A file that was LongRoPE before this tool's first patch (its restore keys
    /// say so) gets the magnitude it was trained with back: its old attn_factor (1 when it had none).
    /// </summary>
    public static float? ContextParameter(GgufFile file)
    {
        if (file.Architecture is not { } arch) return null;
        if (!file.ContainsKey(LongRopeKeys.Version)) return null;
        if (!file.TryGetValue(LongRopeKeys.ScalingType(arch), out var type) || type.Type != GgufValueType.String
            || type.AsString() != LongRopeKeys.LongRopeScalingType) return null;
        if (!file.TryGetValue(LongRopeKeys.AttentionFactor(arch), out var attn) || attn.Type != GgufValueType.Float32) return null;
        float a = attn.AsFloat32();
        float trained = TrainedMagnitude(file, arch);
        if (!float.IsFinite(a) || a <= 0 || a == trained) return null;
        float parameter = trained / a;
        return float.IsFinite(parameter) && parameter > 0 ? parameter : null;
    }

    /// <summary>The attention magnitude the model ran short contexts with before this tool patched it: its own
    /// attn_factor when it was a LongRoPE model already (llama.cpp's default 1 when it had none), else 1.</summary>
    private static float TrainedMagnitude(GgufFile file, string arch)
    {
        bool wasLongRope = file.TryGetValue(LongRopeKeys.RestoreKey(LongRopeKeys.ScalingType(arch)), out var type)
            && type.Type == GgufValueType.String && type.AsString() == LongRopeKeys.LongRopeScalingType;
        if (!wasLongRope) return 1f;
        return file.TryGetValue(LongRopeKeys.RestoreKey(LongRopeKeys.AttentionFactor(arch)), out var old) && old.Type == GgufValueType.Float32
            && float.IsFinite(old.AsFloat32()) && old.AsFloat32() > 0 ? old.AsFloat32() : 1f;
    }
}
