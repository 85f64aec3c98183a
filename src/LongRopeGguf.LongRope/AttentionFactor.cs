namespace LongRopeGguf.LongRope;

/// <summary>How the attention (magnitude) factor of a factor set was chosen.</summary>
public enum AttentionFactorPolicy
{
    /// <summary>1: no magnitude scaling.</summary>
    None,

    /// <summary>sqrt(1 + ln s / ln L_orig): what Phi-3's converter writes and what the LongRoPE paper uses.</summary>
    Su,

    /// <summary>0.1 ln s + 1: YaRN's temperature, the value llama.cpp's built-in YaRN applies.</summary>
    Yarn,

    /// <summary>A value given directly.</summary>
    Explicit,
}

/// <summary>The attention factor formulas and their names on the command line and in files.</summary>
public static class AttentionFactors
{
    /// <summary>The attention factor of <paramref name="policy"/> for scale <paramref name="scale"/> = extended / original
    /// length. Like Phi-3's converter and transformers, a scale of 1 or less gives 1 (nothing was extended).</summary>
    public static float Compute(AttentionFactorPolicy policy, double scale, int originalContextLength) => policy switch
    {
        AttentionFactorPolicy.None => 1f,
        AttentionFactorPolicy.Su => scale <= 1 ? 1f : (float)Math.Sqrt(1 + Math.Log(scale) / Math.Log(originalContextLength)),
        AttentionFactorPolicy.Yarn => scale <= 1 ? 1f : (float)(0.1 * Math.Log(scale) + 1),
        AttentionFactorPolicy.Explicit => throw new ArgumentException("an explicit attention factor has no formula; give its value"),
        _ => throw new ArgumentOutOfRangeException(nameof(policy)),
    };

    public static string Name(AttentionFactorPolicy policy) => policy switch
    {
        AttentionFactorPolicy.None => "none",
        AttentionFactorPolicy.Su => "su",
        AttentionFactorPolicy.Yarn => "yarn",
        AttentionFactorPolicy.Explicit => "explicit",
        _ => throw new ArgumentOutOfRangeException(nameof(policy)),
    };

    public static bool TryParsePolicy(string text, out AttentionFactorPolicy policy)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "none": policy = AttentionFactorPolicy.None; return true;
            case "su": case "longrope": policy = AttentionFactorPolicy.Su; return true;
            case "yarn": policy = AttentionFactorPolicy.Yarn; return true;
            case "explicit": policy = AttentionFactorPolicy.Explicit; return true;
            default: policy = default; return false;
        }
    }

    /// <summary>
    /// Why llama.cpp cannot use <paramref name="value"/> as an attention factor, or null: not a finite number &gt; 0, or
    /// one whose square (attention logits are scaled by it: cos and sin each by the factor) is 0 or infinite in 32-bit
    /// floats (1e-40 squared is 0). The factor validator and the verifier both ask here.
    /// </summary>
    public static string? WhyUnusable(float value) =>
        !float.IsFinite(value) || value <= 0 ? "must be a finite number > 0"
        : value * value is 0f or float.PositiveInfinity ? $"its square, by which attention logits are scaled, is {FactorValidator.F(value * value)} in 32-bit floats"
        : null;

    /// <summary>Parses the --attn-factor choice: a policy name (su, yarn, none) or a number (an explicit value); errors
    /// name the option and the value as written.</summary>
    public static (AttentionFactorPolicy Policy, float? Value) ParseChoice(string text)
    {
        if (TryParsePolicy(text, out var policy) && policy != AttentionFactorPolicy.Explicit) return (policy, null);
        if (float.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float v))
        {
            if (Gguf.NumberText.OutOfRange(v, text))
                throw new FactorSetException($"--attn-factor {text}: out of range for a 32-bit float (it would be {(v == 0 ? "0" : "infinite")})");
            if (WhyUnusable(v) is { } why)
                throw new FactorSetException($"--attn-factor {text}: {why}");
            return (AttentionFactorPolicy.Explicit, v);
        }
        throw new FactorSetException($"--attn-factor '{text}': expected su, yarn, none or a number");
    }
}
