namespace LongRopeGguf.LongRope;

/// <summary>The baseline ways to make a long factor set without a search.</summary>
public enum FactorMethod
{
    /// <summary>Position interpolation: every factor = s.</summary>
    Pi,

    /// <summary>NTK-aware: the frequency base raised so that the lowest frequency is divided by s and the highest kept.</summary>
    Ntk,

    /// <summary>YaRN exactly as llama.cpp's built-in YaRN computes it (beta_fast 32, beta_slow 1).</summary>
    Yarn,

    /// <summary>All ones: plain RoPE (for checks).</summary>
    Ones,

    /// <summary>The critical-dimension cut: s for the pairs whose wavelength exceeds the original context (they never
    /// turned a full period in training), 1 for the rest (YaRN's ramp with beta_fast = beta_slow = 1).</summary>
    Critical,
}

/// <summary>
/// Baseline factor sets. Factor i divides the rotation frequency of dimension pair i (theta_i = base^(-2i/d) / f_i),
/// which is what llama.cpp does with rope_freqs / rope_factors tensors. The short set of every baseline is all ones,
/// so contexts up to the original length run exactly as the unpatched model.
/// </summary>
public static class FactorRules
{
    public const float YarnBetaFast = 32f;
    public const float YarnBetaSlow = 1f;

    /// <summary>PI: f_i = s.</summary>
    public static float[] Pi(int count, double scale)
    {
        var f = new float[count];
        Array.Fill(f, (float)scale);
        return f;
    }

    /// <summary>NTK-aware: base' = base * s^(d/(d-2)), so f_i = base'^(2i/d) / base^(2i/d) = s^(2i/(d-2)); f_0 = 1 and
    /// the last pair (i = d/2 - 1) gets exactly s.</summary>
    public static float[] Ntk(int ropeDimensions, double scale)
    {
        if (ropeDimensions < 4) throw new FactorSetException($"NTK: {ropeDimensions} rope dimensions; the rule needs at least 4");
        var f = new float[ropeDimensions / 2];
        for (int i = 0; i < f.Length; i++) f[i] = (float)Math.Pow(scale, 2.0 * i / (ropeDimensions - 2));
        return f;
    }

    /// <summary>
    /// YaRN as llama.cpp's rope op computes it (ggml rope_yarn with ext_factor 1): the angle of pair i is
    /// theta_extrap * ((1 - r_i) / s + r_i) with the ramp r_i = 1 - clamp((i - low) / max(0.001, high - low), 0, 1),
    /// low = max(0, floor(corr(beta_fast))), high = min(d - 1, ceil(corr(beta_slow))),
    /// corr(b) = d * ln(n_ctx_orig / (2 pi b)) / (2 ln base), computed in single precision as ggml does so that the
    /// floor/ceil land on the same pair. As a factor that divides the frequency: f_i = 1 / ((1 - r_i) / s + r_i).
    /// Together with attention factor 0.1 ln s + 1 (ggml's YaRN magnitude) this reproduces llama.cpp's YaRN.
    /// </summary>
    public static float[] Yarn(int ropeDimensions, double scale, float freqBase, int originalContextLength,
        float betaFast = YarnBetaFast, float betaSlow = YarnBetaSlow)
    {
        var (low, high) = YarnCorrectionRange(ropeDimensions, originalContextLength, freqBase, betaFast, betaSlow);
        var f = new float[ropeDimensions / 2];
        for (int i = 0; i < f.Length; i++)
        {
            float y = (i - low) / MathF.Max(0.001f, high - low);
            float ramp = 1 - MathF.Min(1, MathF.Max(0, y));
            f[i] = (float)(1.0 / ((1 - ramp) / scale + ramp));
        }
        return f;
    }

    /// <summary>
    /// The critical-dimension cut: pair i (wavelength 2 pi base^(2i/d)) gets s when its wavelength exceeds the original
    /// context length, else 1. Those pairs never turned a full period in training, so a long set that keeps every phase
    /// of the extended context inside what training saw must divide them by at least s; the faster pairs saw every
    /// phase and are left alone. It is the least interpolation with that property (on the tiny model at 8x its
    /// perplexity is 10 % below YaRN's with as many pass keys, docs/search.md; at 32x it loses long-range prediction).
    /// </summary>
    public static float[] Critical(int ropeDimensions, double scale, float freqBase, int originalContextLength)
    {
        var f = new float[ropeDimensions / 2];
        for (int i = 0; i < f.Length; i++)
            f[i] = PairWavelength(ropeDimensions, freqBase, i) > originalContextLength ? (float)scale : 1f;
        return f;
    }

    /// <summary>Whether any pair of the model has a wavelength above <paramref name="originalContextLength"/> (the
    /// slowest pair, the last, has the longest): else the critical cut is all ones and changes nothing.</summary>
    public static bool HasCriticalPairs(ModelRopeInfo model, int originalContextLength) =>
        PairWavelength(model.RopeDimensions, model.FreqBase, model.FactorCount - 1) > originalContextLength;

    /// <summary>The wavelength in tokens of dimension pair <paramref name="pair"/>: 2 pi base^(2i/d).</summary>
    public static double PairWavelength(int ropeDimensions, float freqBase, int pair) =>
        2 * Math.PI * Math.Pow(freqBase, 2.0 * pair / ropeDimensions);

    /// <summary>The first and last pair index of YaRN's ramp (ggml_rope_yarn_corr_dims), in single precision.</summary>
    public static (float Low, float High) YarnCorrectionRange(int ropeDimensions, int originalContextLength, float freqBase, float betaFast, float betaSlow)
    {
        float Corr(float beta) => ropeDimensions * MathF.Log(originalContextLength / (beta * 2 * MathF.PI)) / (2 * MathF.Log(freqBase));
        float low = MathF.Floor(Corr(betaFast));
        float high = MathF.Ceiling(Corr(betaSlow));
        return (MathF.Max(0, low), MathF.Min(ropeDimensions - 1, high));
    }

    /// <summary>A baseline set for <paramref name="model"/> extended <paramref name="scale"/> times: the original length is
    /// the model's base context length, the extended one original * scale rounded to a whole number of tokens, and the
    /// factors use the exact scale that rounding gives. Attention factor: yarn for YaRN (as llama.cpp's YaRN)
    /// and the critical cut, none otherwise, unless <paramref name="attention"/> says.</summary>
    public static FactorSet Make(FactorMethod method, ModelRopeInfo model, double scale,
        (AttentionFactorPolicy Policy, float? Value)? attention = null)
    {
        if (!double.IsFinite(scale) || scale <= 1)
            throw new FactorSetException($"scale {scale.ToString(System.Globalization.CultureInfo.InvariantCulture)} must be a number > 1");
        int original = model.BaseContextLength;
        // Compared as a double: a huge scale would saturate a long cast and print 9223372036854775807.
        double extended = Math.Round(original * scale, MidpointRounding.AwayFromZero);
        if (extended > int.MaxValue)
            throw new FactorSetException($"scale {scale.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)}: {original} x {scale.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)} tokens is beyond the longest context a GGUF holds ({int.MaxValue})");
        int context = (int)extended;
        if (context <= original)
            throw new FactorSetException($"scale {scale.ToString(System.Globalization.CultureInfo.InvariantCulture)}: {original} x {scale.ToString(System.Globalization.CultureInfo.InvariantCulture)} rounds to {context} tokens, no longer than the original context");
        double s = (double)context / original;
        // The rules that use wavelengths would otherwise write NaN (or reversed) factors from a broken freq_base.
        if (method is FactorMethod.Yarn or FactorMethod.Critical && !(float.IsFinite(model.FreqBase) && model.FreqBase > 1))
            throw new FactorSetException($"{model.Path}: {LongRopeKeys.FreqBase(model.Architecture)} = {model.FreqBase.ToString(System.Globalization.CultureInfo.InvariantCulture)}: "
                + $"the {Name(method)} rule needs a finite RoPE base above 1");
        float[] longFactors = method switch
        {
            FactorMethod.Pi => Pi(model.FactorCount, s),
            FactorMethod.Ntk => Ntk(model.RopeDimensions, s),
            FactorMethod.Yarn => Yarn(model.RopeDimensions, s, model.FreqBase, original),
            FactorMethod.Ones => FactorSet.Ones(model.FactorCount),
            FactorMethod.Critical => Critical(model.RopeDimensions, s, model.FreqBase, original),
            _ => throw new ArgumentOutOfRangeException(nameof(method)),
        };
        if (method == FactorMethod.Critical && !HasCriticalPairs(model, original))
            throw new FactorSetException($"critical: no dimension pair of {model.FileName} has a wavelength above its {original}-token context "
                + $"(the slowest: {PairWavelength(model.RopeDimensions, model.FreqBase, model.FactorCount - 1).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} tokens), so the cut would change nothing; use yarn or ntk");
        var (policy, value) = attention ?? (method is FactorMethod.Yarn or FactorMethod.Critical ? AttentionFactorPolicy.Yarn : AttentionFactorPolicy.None, null);
        string source = $"rule {Name(method)} s={s.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)} for {model.FileName} "
            + $"(rope dims {model.RopeDimensions}, base {model.FreqBase.ToString(System.Globalization.CultureInfo.InvariantCulture)}, {original} -> {context})";
        return FactorSet.Create(longFactors, FactorSet.Ones(model.FactorCount), original, context, policy, value, source);
    }

    public static string Name(FactorMethod method) => method.ToString().ToLowerInvariant();

    public static FactorMethod ParseMethod(string text) => text.Trim().ToLowerInvariant() switch
    {
        "pi" or "linear" => FactorMethod.Pi,
        "ntk" => FactorMethod.Ntk,
        "yarn" => FactorMethod.Yarn,
        "ones" => FactorMethod.Ones,
        "critical" => FactorMethod.Critical,
        _ => throw new FactorSetException($"method '{text}': expected pi, ntk, yarn, critical or ones"),
    };
}
