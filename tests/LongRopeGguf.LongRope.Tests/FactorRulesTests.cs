using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

/// <summary>The baseline rules and attention formulas against values computed by hand (in the comments).</summary>
public class FactorRulesTests
{
    [Fact]
    public void Pi_is_s_everywhere()
    {
        Assert.Equal(new[] { 2.5f, 2.5f, 2.5f }, FactorRules.Pi(3, 2.5));
    }

    [Fact]
    public void Ntk_by_hand_for_eight_dimensions()
    {
        // d = 8, s = 4: f_i = 4^(2i/6) = 1, 4^(1/3) = 1.587401, 4^(2/3) = 2.519842, 4
        float[] f = FactorRules.Ntk(8, 4);
        Assert.Equal(4, f.Length);
        Assert.Equal(1.0, f[0], 6);
        Assert.Equal(1.587401, f[1], 5);
        Assert.Equal(2.519842, f[2], 5);
        Assert.Equal(4.0, f[3], 5);
    }

    [Fact]
    public void Ntk_is_the_base_change_of_ntk_aware_scaling()
    {
        // base' = base * s^(d/(d-2)); the factor of pair i is theta_i / theta'_i.
        const int d = 64;
        const double s = 8, b = 10000;
        double b2 = b * Math.Pow(s, d / (d - 2.0));
        float[] f = FactorRules.Ntk(d, s);
        for (int i = 0; i < d / 2; i++)
            Assert.Equal(Math.Pow(b, -2.0 * i / d) / Math.Pow(b2, -2.0 * i / d), f[i], 4);
    }

    [Fact]
    public void Yarn_correction_range_by_hand()
    {
        // Tiny model: d = 64, base 1e4, L = 512.
        //   corr(32) = 64 ln(512 / (64 pi)) / (2 ln 1e4) = 64 * 0.93471 / 18.42068 = 3.2476 -> floor 3
        //   corr(1)  = 64 ln(512 / (2 pi))  / (2 ln 1e4) = 64 * 4.40060 / 18.42068 = 15.2895 -> ceil 16
        Assert.Equal((3f, 16f), FactorRules.YarnCorrectionRange(64, 512, 10000, 32, 1));
        // Llama 3: d = 128, base 5e5, L = 8192.
        //   corr(32) = 128 * ln(40.7437) / ln(2.5e11) = 128 * 3.70731 / 26.24530 = 18.081 -> 18
        //   corr(1)  = 128 * ln(1303.797) / 26.24530 = 128 * 7.17304 / 26.24530 = 34.983 -> 35
        Assert.Equal((18f, 35f), FactorRules.YarnCorrectionRange(128, 8192, 500000, 32, 1));
        // Clamps as ggml does: low = max(0, ...), high = min(d - 1, ...), each on its own.
        //   d = 8, base 10, L = 16:   corr(32) = 8 ln(16 / 201.06) / 4.60517 = -4.40 -> 0;  corr(1) = 8 ln(2.5465) / 4.60517 = 1.62 -> 2
        Assert.Equal((0f, 2f), FactorRules.YarnCorrectionRange(8, 16, 10, 32, 1));
        //   d = 8, base 10, L = 2^30: corr(32) = 8 * 15.490 / 4.60517 = 26.9 -> 26;  corr(1) = 8 * 18.956 / 4.60517 = 32.9 -> 33 -> 7
        Assert.Equal((26f, 7f), FactorRules.YarnCorrectionRange(8, 1 << 30, 10, 32, 1));
    }

    [Fact]
    public void Yarn_factors_by_hand()
    {
        // low 3, high 16, s = 4: r_i = 1 - clamp((i - 3) / 13, 0, 1); f_i = 1 / ((1 - r_i) / 4 + r_i)
        //   i <= 3: r = 1, f = 1;   i >= 16: r = 0, f = 4
        //   i = 12: r = 4/13, f = 1 / (9/52 + 16/52) = 52/25 = 2.08
        //   i = 8:  r = 8/13, f = 1 / (5/52 + 32/52) = 52/37 = 1.405405
        float[] f = FactorRules.Yarn(64, 4, 10000, 512);
        Assert.Equal(32, f.Length);
        for (int i = 0; i <= 3; i++) Assert.Equal(1f, f[i]);
        for (int i = 16; i < 32; i++) Assert.Equal(4f, f[i]);
        Assert.Equal(2.08, f[12], 5);
        Assert.Equal(52.0 / 37, f[8], 5);
        for (int i = 1; i < 32; i++) Assert.True(f[i] >= f[i - 1]);
    }

    [Fact]
    public void Critical_cut_by_hand_and_as_yarn_with_both_betas_at_1()
    {
        // Pair i's wavelength is 2 pi base^(2i/d); it gets s when that exceeds the original context.
        //   Tiny model (d 64, base 1e4, L 512): i > 64 ln(512 / 2 pi) / (2 ln 1e4) = 15.29 -> pairs 16-31.
        float[] tiny = FactorRules.Critical(64, 8, 10000, 512);
        Assert.Equal(Enumerable.Repeat(1f, 16).Concat(Enumerable.Repeat(8f, 16)), tiny);
        //   Llama 3 (d 128, base 5e5, L 8192): i > 128 ln(8192 / 2 pi) / (2 ln 5e5) = 34.98 -> pairs 35-63.
        float[] llama3 = FactorRules.Critical(128, 16, 500000, 8192);
        Assert.Equal(35, llama3.Count(f => f == 1f));
        Assert.Equal(29, llama3.Count(f => f == 16f));
        Assert.Equal(16f, llama3[35]);
        // YaRN's ramp with beta_fast = beta_slow = 1 runs from pair floor(c) (kept) to ceil(c) (fully interpolated):
        // the same cut whenever c is not a whole number.
        foreach (var (d, b, l, sc) in new[] { (64, 10000f, 512, 8.0), (128, 500000f, 8192, 16.0), (96, 10000f, 4096, 4.0) })
            Assert.Equal(FactorRules.Yarn(d, sc, b, l, betaFast: 1, betaSlow: 1), FactorRules.Critical(d, sc, b, l));
    }

    [Fact]
    public void Attention_factor_formulas()
    {
        // su: sqrt(1 + ln 32 / ln 4096) = sqrt(1 + 5/12) = 1.190238 (Phi-3-mini-128k); yarn: 0.1 ln 4 + 1 = 1.138629
        Assert.Equal(1.190238, AttentionFactors.Compute(AttentionFactorPolicy.Su, 32, 4096), 5);
        Assert.Equal(1.138629, AttentionFactors.Compute(AttentionFactorPolicy.Yarn, 4, 512), 5);
        Assert.Equal(1f, AttentionFactors.Compute(AttentionFactorPolicy.None, 4, 512));
        Assert.Equal(1f, AttentionFactors.Compute(AttentionFactorPolicy.Su, 1, 512)); // nothing extended
        Assert.Equal((AttentionFactorPolicy.Su, (float?)null), AttentionFactors.ParseChoice("su"));
        Assert.Equal((AttentionFactorPolicy.Explicit, (float?)1.25f), AttentionFactors.ParseChoice("1.25"));
        Assert.Throws<FactorSetException>(() => AttentionFactors.ParseChoice("-1"));
        Assert.Throws<FactorSetException>(() => AttentionFactors.ParseChoice("big"));
    }

    [Theory]
    [InlineData(1e30, "scale 1E+30: 512 x 1E+30 tokens is beyond the longest context a GGUF holds (2147483647)")]
    [InlineData(5e6, "scale 5E+06: 512 x 5E+06 tokens is beyond the longest context a GGUF holds (2147483647)")]
    public void A_scale_past_the_longest_context_is_named_not_saturated(double scale, string expected)
    {
        var model = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));
        Assert.Equal(expected, Assert.Throws<FactorSetException>(() => FactorRules.Make(FactorMethod.Pi, model, scale)).Message);
    }

    [Fact]
    public void Make_builds_a_set_for_the_model()
    {
        var model = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));
        Assert.Equal(32, model.FactorCount);
        Assert.Equal("rope dimension count 64 (from llama.rope.dimension_count) / 2", model.FactorCountReason);
        var set = FactorRules.Make(FactorMethod.Pi, model, 2.5);
        Assert.Equal(512, set.OriginalContextLength);
        Assert.Equal(1280, set.ContextLength);
        Assert.Equal(FactorRules.Pi(32, 2.5), set.LongFactors.ToArray());
        Assert.Equal(FactorSet.Ones(32), set.ShortFactors.ToArray());
        Assert.Equal(1f, set.AttentionFactor);
        var yarn = FactorRules.Make(FactorMethod.Yarn, model, 4);
        Assert.Equal(AttentionFactorPolicy.Yarn, yarn.AttentionFactorPolicy);
        Assert.Equal(FactorRules.Yarn(64, 4, 10000, 512), yarn.LongFactors.ToArray());
        Assert.True(FactorValidator.Validate(yarn, model).IsValid);
        var critical = FactorRules.Make(FactorMethod.Critical, model, 8);
        Assert.Equal(AttentionFactorPolicy.Yarn, critical.AttentionFactorPolicy);
        Assert.Equal(FactorRules.Critical(64, 8, 10000, 512), critical.LongFactors.ToArray());
        Assert.Equal(FactorMethod.Critical, FactorRules.ParseMethod("critical"));
        var su = FactorRules.Make(FactorMethod.Ntk, model, 4, (AttentionFactorPolicy.Su, null));
        Assert.Equal(AttentionFactors.Compute(AttentionFactorPolicy.Su, 4, 512), su.AttentionFactor);
        Assert.Throws<FactorSetException>(() => FactorRules.Make(FactorMethod.Pi, model, 1));
        // 512 x 1.0005 rounds to 512 tokens: no extension at all.
        Assert.Equal("scale 1.0005: 512 x 1.0005 rounds to 512 tokens, no longer than the original context",
            Assert.Throws<FactorSetException>(() => FactorRules.Make(FactorMethod.Yarn, model, 1.0005)).Message);
        // Base 10000 and a 100,000-token context: the slowest pair's wavelength (2 pi 10000^(62/64) = 47,117 tokens) is
        // inside it, every pair turned full periods, and the cut has nothing to interpolate.
        var longTrained = model with { BaseContextLength = 100_000, ContextLength = 100_000 };
        Assert.Contains("no dimension pair of tiny-passkey-512.gguf has a wavelength above its 100000-token context (the slowest: 47,117 tokens)",
            Assert.Throws<FactorSetException>(() => FactorRules.Make(FactorMethod.Critical, longTrained, 2)).Message);
        Assert.Throws<FactorSetException>(() => FactorRules.ParseMethod("linearish"));
    }
}
