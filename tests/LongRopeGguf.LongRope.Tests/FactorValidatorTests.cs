using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

public class FactorValidatorTests
{
    private static readonly ModelRopeInfo Tiny = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));

    private static FactorValidation Validate(float[] longF, float[]? shortF = null, int original = 512, int context = 1024, float attention = 1f) =>
        FactorValidator.Validate(new FactorSet(longF, shortF ?? FactorSet.Ones(longF.Length), original, context, attention, AttentionFactorPolicy.Explicit, "t"), Tiny);

    [Fact]
    public void A_good_set_has_no_issues()
    {
        var v = Validate(FactorRules.Yarn(64, 2, 10000, 512));
        Assert.True(v.IsValid);
        Assert.Empty(v.Issues);
    }

    [Theory]
    [InlineData(1f, null)]
    [InlineData(2f, null)]
    [InlineData(2.01f, "attention factor 2.01 is outside [1, 2]; it scales attention logits by its square (4.0401)")]
    [InlineData(0.99f, "attention factor 0.99 is outside [1, 2]; it scales attention logits by its square (0.9801)")]
    public void An_attention_factor_outside_1_to_2_is_a_warning_and_the_edges_are_inside(float attention, string? warning)
    {
        // Only a factor of 100 was tried before: the limit could move anywhere unnoticed.
        var v = Validate(FactorRules.Pi(32, 2), attention: attention);
        Assert.True(v.IsValid);
        if (warning is null) Assert.Empty(v.Issues);
        else Assert.Equal(warning, Assert.Single(v.Issues).Message);
    }

    [Fact]
    public void A_set_for_another_original_length_than_the_models_is_a_warning_naming_both()
    {
        var set = new FactorSet(FactorRules.Pi(32, 2), FactorSet.Ones(32), 4096, 8192, 1f, AttentionFactorPolicy.None, "another model's");
        var v = FactorValidator.Validate(set, Tiny);
        Assert.True(v.IsValid);
        var w = Assert.Single(v.Issues);
        Assert.False(w.IsError);
        Assert.Equal("original context length 4096 differs from tiny-passkey-512.gguf's 512: llama.cpp will run the short set up to 4096 tokens "
            + "and the long set beyond (were these factors made for another model?)", w.Message);
        Assert.Empty(FactorValidator.Validate(set with { OriginalContextLength = 512, ContextLength = 1024 }, Tiny).Issues);
    }

    [Fact]
    public void Errors_name_the_problem()
    {
        float[] bad = FactorRules.Pi(32, 2);
        bad[3] = float.NaN;
        bad[4] = float.PositiveInfinity;
        bad[5] = 0;
        bad[6] = -1;
        var v = Validate(bad);
        var e = Assert.Single(v.Errors);
        Assert.Equal("long factors must be finite and > 0: [3] = NaN, [4] = Infinity, [5] = 0, [6] = -1", e.Message);

        Assert.Contains(Validate(FactorRules.Pi(16, 2)).Errors, x => x.Message == "16 long factors, but tiny-passkey-512.gguf needs 32: rope dimension count 64 (from llama.rope.dimension_count) / 2");
        Assert.Contains(Validate(FactorRules.Pi(32, 2), original: 1024).Errors, x => x.Message.StartsWith("original context length 1024 must be below the extended context length 1024", StringComparison.Ordinal));
        Assert.Contains(Validate(FactorRules.Pi(32, 2), attention: 0).Errors, x => x.Message.StartsWith("attention factor 0: must be", StringComparison.Ordinal));
        // Positive but so small (or large) that its square is 0 (or infinite): was a warning showing "(0)".
        Assert.Contains(Validate(FactorRules.Pi(32, 2), attention: 1e-40f).Errors, x => x.Message == "attention factor 9.99995E-41: its square, by which attention logits are scaled, is 0 in 32-bit floats");
        Assert.Contains(Validate(FactorRules.Pi(32, 2), attention: 1e20f).Errors, x => x.Message.EndsWith("is Infinity in 32-bit floats", StringComparison.Ordinal));
        Assert.Contains(Validate(FactorRules.Pi(32, 2), FactorSet.Ones(31)).Errors, x => x.Message.StartsWith("32 long factors but 31 short factors", StringComparison.Ordinal));
    }

    [Fact]
    public void Warnings_for_factors_below_one_and_decreasing_factors()
    {
        float[] f = FactorRules.Pi(32, 2);
        f[0] = 0.5f;
        f[20] = 1.5f;
        var v = Validate(f);
        Assert.True(v.IsValid);
        Assert.Contains(v.Warnings, w => w.Message.StartsWith("1 long factor(s) below 1", StringComparison.Ordinal));
        Assert.Contains(v.Warnings, w => w.Message.StartsWith("long factors decrease at 1 place(s), first [19] = 2 > [20] = 1.5", StringComparison.Ordinal));

        // llama.cpp rounds contexts up to a multiple of 256: an original length below it leaves the short set unused.
        // (Without a model: against the tiny model's 512 these lengths also draw the other-model warning.)
        static FactorValidation NoModel(int original) =>
            FactorValidator.Validate(new FactorSet(FactorRules.Pi(32, 2), FactorSet.Ones(32), original, 800, 1f, AttentionFactorPolicy.Explicit, "t"));
        var low = NoModel(200);
        Assert.True(low.IsValid);
        Assert.Equal("original context length 200 is below 256: llama.cpp rounds every context up to a multiple of 256, so it never runs the short set",
            Assert.Single(low.Warnings).Message);
        Assert.Empty(NoModel(256).Warnings);
    }

    [Fact]
    public void ThrowIfInvalid_gives_one_line_with_every_error()
    {
        float[] bad = FactorRules.Pi(16, 2);
        bad[0] = float.NaN;
        var ex = Assert.Throws<FactorSetException>(() => Validate(bad).ThrowIfInvalid("factors.json"));
        Assert.StartsWith("factors.json: 16 long factors, but", ex.Message);
        Assert.Contains("and 2 more", ex.Message);
        Assert.DoesNotContain("\n", ex.Message);
    }
}
