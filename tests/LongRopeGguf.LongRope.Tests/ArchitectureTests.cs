using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

/// <summary>
/// The facts document's architecture lists, measured on the tiny model relabelled as each architecture that llama.cpp
/// loads with llama-shaped tensors: which read the factor tensors only with rope.scaling.type longrope (and then apply
/// them exactly as llama does), which read them always (phi3), and which load them without using RoPE at all (refact).
/// phimoe, minicpm3, pangu-embedded, apertus and step35 need tensors or keys the tiny model has no counterpart for;
/// granite_swa is unknown to LLamaSharp 0.30.0's llama.cpp.
/// </summary>
public class ArchitectureTests
{
    private static readonly float[] ShortF = TestFiles.Ramp(1f, 1.5f);
    private static readonly float[] LongF = FactorRules.Pi(32, 2);
    private static FactorSet Distinct => new(LongF, ShortF, 512, 1024, 1f, AttentionFactorPolicy.Explicit, "test");

    /// <summary>The tiny model as <paramref name="arch"/>, with the scale keys granite's loader requires (1: no scaling).</summary>
    private static string Model(TempDir dir, string arch) => TestFiles.Write(dir, arch + ".gguf", e =>
    {
        if (arch.StartsWith("granite", StringComparison.Ordinal))
            foreach (string key in (string[])["logit_scale", "residual_scale", "embedding_scale"]) e.SetValue($"{arch}.{key}", GgufValue.Float32(1f));
    }, TestFiles.Relabelled(dir, arch + ".plain.gguf", arch));

    private static void SetFactors(GgufEdit e) => e
        .SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, LongF))
        .SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, ShortF));

    [Theory]
    [InlineData("llama")]
    [InlineData("deci")]
    [InlineData("minicpm")]
    [InlineData("mistral3")]
    [InlineData("granite")]
    [InlineData("granitemoe")]
    public void The_llama_family_applies_patched_factors_as_llama_does_and_fails_without_the_longrope_type(string arch)
    {
        using var dir = new TempDir();
        string model = Model(dir, arch);
        Assert.Equal(FactorTensorSupport.WhenLongRope, LongRopeArchitectures.SupportOf(arch));
        string patched = dir.File(arch + ".longrope.gguf");
        LongRopePatcher.Patch(model, Distinct, patched);
        Assert.True(LongRopeVerifier.Verify(patched).Ok);

        // Without longrope the loader reads rope_freqs.weight, applied at every context size: the references.
        string shortRef = TestFiles.Write(dir, "short-freqs.gguf", e => e.SetTensor(TestFiles.F32(LongRopeKeys.RopeFreqsTensor, ShortF)), model);
        string longRef = TestFiles.Write(dir, "long-freqs.gguf", e => e.SetTensor(TestFiles.F32(LongRopeKeys.RopeFreqsTensor, LongF)), model);
        Assert.Equal(LlamaHarness.Logits(shortRef, 512), LlamaHarness.Logits(patched, 512));
        Assert.Equal(LlamaHarness.Logits(longRef, 1024), LlamaHarness.Logits(patched, 1024));
        Assert.True(LogitMath.MaxAbsDiff(LlamaHarness.Logits(shortRef, 1024), LlamaHarness.Logits(longRef, 1024)) > 0.1f);

        string untyped = TestFiles.Write(dir, "untyped.gguf", SetFactors, model);
        var outcome = LlamaHarness.TryLoad(untyped);
        Assert.False(outcome.Loaded);
        Assert.Contains("wrong number of tensors", outcome.Log);
        Assert.Contains(LongRopeVerifier.Verify(untyped).Findings, f => f.Code == "factors-without-longrope-type");
    }

    /// <summary>phi3 reads the factor tensors whatever the scaling type says (the tiny model as phi3: gate and up fused
    /// into one ffn_up, as phi3 stores them).</summary>
    [Fact]
    public void Phi3_applies_factor_tensors_without_the_longrope_type()
    {
        using var dir = new TempDir();
        var tiny = TestFiles.Tiny;
        string model = TestFiles.Write(dir, "phi3.gguf", e =>
        {
            for (int i = 0; i < tiny.GetUInt32("llama.block_count"); i++)
            {
                string b = $"blk.{i}.";
                var gate = tiny.GetTensor(b + "ffn_gate.weight");
                byte[] fused = [.. TestFiles.TensorBytes(tiny, b + "ffn_gate.weight"), .. TestFiles.TensorBytes(tiny, b + "ffn_up.weight")];
                e.RemoveTensor(b + "ffn_gate.weight");
                e.SetTensor(new OutputTensor(b + "ffn_up.weight", gate.Type, [gate.Dimensions[0], gate.Dimensions[1] * 2], new TensorData.FromMemory(fused)));
            }
        }, TestFiles.Relabelled(dir, "phi3.plain.gguf", "phi3"));
        Assert.True(LlamaHarness.TryLoad(model).Loaded, "the tiny model as phi3 loads");
        Assert.Equal(FactorTensorSupport.Always, LongRopeArchitectures.SupportOf("phi3"));

        string untyped = TestFiles.Write(dir, "phi3-factors.gguf", e =>
        {
            e.SetValue(LongRopeKeys.OriginalContextLength("phi3"), GgufValue.UInt32(512));
            e.SetValue(LongRopeKeys.ContextLength("phi3"), GgufValue.UInt32(1024));
            SetFactors(e);
        }, model);
        string typed = TestFiles.Write(dir, "phi3-longrope.gguf", e => e.SetValue(LongRopeKeys.ScalingType("phi3"), GgufValue.String("longrope")), untyped);
        foreach (uint ctx in new uint[] { 512, 1024 })
        {
            float[] withFactors = LlamaHarness.Logits(untyped, ctx);
            Assert.Equal(LlamaHarness.Logits(typed, ctx), withFactors);
            Assert.True(LogitMath.MaxAbsDiff(LlamaHarness.Logits(model, ctx), withFactors) > 0.1f, $"context {ctx}: the factors changed nothing");
        }
        Assert.DoesNotContain(LongRopeVerifier.Verify(untyped).Findings, f => f.Code == "factors-without-longrope-type");
    }

    /// <summary>refact's loader creates the factor tensors (with longrope), but refact uses ALiBi, not RoPE: they load and
    /// change nothing, so verify says so and patch refuses.</summary>
    [Fact]
    public void Refact_loads_factors_and_never_applies_them_so_patch_refuses_it()
    {
        using var dir = new TempDir();
        string model = Model(dir, "refact");
        string withFactors = TestFiles.Write(dir, "refact-longrope.gguf", e =>
        {
            e.SetValue(LongRopeKeys.ScalingType("refact"), GgufValue.String("longrope"));
            e.SetValue(LongRopeKeys.OriginalContextLength("refact"), GgufValue.UInt32(512));
            e.SetValue(LongRopeKeys.ContextLength("refact"), GgufValue.UInt32(1024));
            SetFactors(e);
        }, model);
        foreach (uint ctx in new uint[] { 512, 1024 })
            Assert.Equal(LlamaHarness.Logits(model, ctx), LlamaHarness.Logits(withFactors, ctx));

        var finding = Assert.Single(LongRopeVerifier.Verify(withFactors).Findings, f => f.Severity == Severity.Error);
        Assert.Equal(("no-rope-architecture", Consequence.NotAsIntended), (finding.Code, finding.Consequence));
        string target = dir.File("out.gguf");
        var ex = Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(model, Distinct, target));
        Assert.Contains("architecture 'refact' uses no RoPE (ALiBi positions)", ex.Message);
        Assert.DoesNotContain("refact", ex.Message[ex.Message.IndexOf("apply them:", StringComparison.Ordinal)..]);
        Assert.False(File.Exists(target));
    }

    /// <summary>The lists of the facts document, in llama-arch.cpp's spelling.</summary>
    [Fact]
    public void The_architecture_table_is_the_facts_documents()
    {
        string[] always = ["phi3", "phimoe", "minicpm3"];
        string[] whenLongRope = ["llama", "deci", "minicpm", "mistral3", "granite", "granitemoe", "granite_swa", "pangu-embedded", "apertus", "step35"];
        Assert.All(always, a => Assert.Equal(FactorTensorSupport.Always, LongRopeArchitectures.SupportOf(a)));
        Assert.All(whenLongRope, a => Assert.Equal(FactorTensorSupport.WhenLongRope, LongRopeArchitectures.SupportOf(a)));
        Assert.Equal(FactorTensorSupport.LoadedButUnused, LongRopeArchitectures.SupportOf("refact"));
        Assert.All(new[] { "qwen2", "gpt2", "granite-moe", "pangu-embed", "Llama", "" }, a => Assert.Equal(FactorTensorSupport.None, LongRopeArchitectures.SupportOf(a)));
    }
}
