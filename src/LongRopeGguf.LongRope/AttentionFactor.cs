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

    /// <summary>Parses a command-line choice: a policy name (su, yarn, none) or a number (an explicit value).</summary>
    public static (AttentionFactorPolicy Policy, float? Value) ParseChoice(string text)
    {
        if (TryParsePolicy(text, out var policy) && policy != AttentionFactorPolicy.Explicit) return (policy, null);
        if (float.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float v))
        {
            if (!float.IsFinite(v) || v <= 0)
                throw new FactorSetException($"attention factor {text}: must be a finite number > 0");
            return (AttentionFactorPolicy.Explicit, v);
        }
        throw new FactorSetException($"attention factor '{text}': expected su, yarn, none or a number");
    }
}
