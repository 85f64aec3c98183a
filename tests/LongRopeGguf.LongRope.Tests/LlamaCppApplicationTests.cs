using LLama.Common;
using LLama.Native;
using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

/// <summary>
/// What llama.cpp (LLamaSharp 0.30.0, CPU) actually computes with patched files: the logits of the reference prompt
/// compared with files whose rope_freqs.weight holds the same array (llama.cpp applies rope_freqs at every context
/// size, so it is an independent way to ask for "these factors").
/// </summary>
public class LlamaCppApplicationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static FactorSet Set(float[] longFactors, float[] shortFactors, int context = 1024, float attention = 1f) =>
        new(longFactors, shortFactors, 512, context, attention, AttentionFactorPolicy.Explicit, "test");

    [Fact]
    public void All_ones_with_attention_factor_1_gives_exactly_the_unpatched_logits()
    {
        using var dir = new TempDir();
        string patched = dir.File("ones.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Set(FactorSet.Ones(32), FactorSet.Ones(32)), patched);

        foreach (uint ctx in new uint[] { 512, 1024 })
        {
            float[] plain = LlamaHarness.Logits(TestPaths.TinyModel, ctx);
            float[] withOnes = LlamaHarness.Logits(patched, ctx);
            Assert.Equal(plain, withOnes); // bit for bit
        }
    }

    [Fact]
    public void Short_set_up_to_the_original_length_long_set_beyond_it()
    {
        using var dir = new TempDir();
        float[] shortF = TestFiles.Ramp(1f, 1.5f);
        float[] longF = FactorRules.Yarn(64, 2, 10000, 512);
        string patched = dir.File("distinct.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Set(longF, shortF), patched);
        string shortRef = TestFiles.RopeFreqsModel(dir, "short-freqs.gguf", shortF);
        string longRef = TestFiles.RopeFreqsModel(dir, "long-freqs.gguf", longF);

        float[] at512 = LlamaHarness.Logits(patched, 512);
        float[] at1024 = LlamaHarness.Logits(patched, 1024);
        Assert.Equal(LlamaHarness.Logits(shortRef, 512), at512);
        Assert.Equal(LlamaHarness.Logits(longRef, 1024), at1024);
        // The two sets really differ in what they compute (otherwise the equalities above prove nothing).
        Assert.True(LlamaHarness.MaxAbsDiff(at512, LlamaHarness.Logits(longRef, 512)) > 0.05f);
        Assert.True(LlamaHarness.MaxAbsDiff(at1024, LlamaHarness.Logits(shortRef, 1024)) > 0.05f);
    }

    [Fact]
    public void Context_sizes_pick_the_set_that_the_verifier_plan_predicts()
    {
        using var dir = new TempDir();
        float[] shortF = TestFiles.Ramp(1f, 1.5f);
        float[] longF = FactorRules.Pi(32, 2);
        string patched = dir.File("distinct.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Set(longF, shortF), patched);
        var plan = LongRopeVerifier.Verify(patched).Plan!;
        string shortRef = TestFiles.RopeFreqsModel(dir, "short-freqs.gguf", shortF);
        string longRef = TestFiles.RopeFreqsModel(dir, "long-freqs.gguf", longF);

        // 300 and 257 round up to 512 (short); 513 rounds up to 768 (long); 1024 with 4 sequences and a split KV
        // cache gives n_ctx_seq 256 (short).
        var cases = new (uint Ctx, uint SeqMax, bool? Unified, bool ExpectLong)[]
        {
            (257, 1, null, false), (300, 1, null, false), (513, 1, null, true), (1024, 4, false, false), (1024, 4, true, true),
        };
        foreach (var (ctx, seqMax, unified, expectLong) in cases)
        {
            Assert.Equal(expectLong, plan.UsesLongSet((int)ctx, (int)seqMax, unified ?? true));
            void Configure(ModelParams p)
            {
                p.SeqMax = seqMax;
                p.KVUnified = unified;
            }
            // 200 tokens: they fit one sequence's 256 cells in the split-cache case.
            int[] tokens = LlamaHarness.ReferenceTokens[..200];
            float[] got = LlamaHarness.Logits(patched, ctx, tokens, Configure);
            float[] expected = LlamaHarness.Logits(expectLong ? longRef : shortRef, ctx, tokens, Configure);
            Assert.True(got.SequenceEqual(expected), $"context {ctx} (SeqMax {seqMax}, unified {unified}): expected the {(expectLong ? "long" : "short")} set");
        }
    }

    [Fact]
    public void Attention_factor_scales_both_sets()
    {
        using var dir = new TempDir();
        string one = dir.File("attn1.gguf");
        string more = dir.File("attn12.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Set(FactorSet.Ones(32), FactorSet.Ones(32)), one);
        LongRopePatcher.Patch(TestPaths.TinyModel, Set(FactorSet.Ones(32), FactorSet.Ones(32), attention: 1.2f), more);
        foreach (uint ctx in new uint[] { 512, 1024 })
            Assert.True(LlamaHarness.MaxAbsDiff(LlamaHarness.Logits(one, ctx), LlamaHarness.Logits(more, ctx)) > 0.05f, $"context {ctx}");
    }

    /// <summary>The yarn rule is llama.cpp's own YaRN written as factors: a file patched with it gives (up to float
    /// rounding of theta * f vs theta / (1/f)) the logits of the unpatched file run with llama.cpp's built-in YaRN.</summary>
    [Fact]
    public void Yarn_rule_reproduces_llama_cpp_built_in_yarn()
    {
        using var dir = new TempDir();
        var model = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));
        var set = FactorRules.Make(FactorMethod.Yarn, model, 2);
        string patched = dir.File("yarn.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, set, patched);

        float[] builtIn = LlamaHarness.Logits(TestPaths.TinyModel, 1024, configure: p =>
        {
            p.YarnScalingType = RopeScalingType.Yarn;
            p.RopeFrequencyScale = 0.5f;
            p.YarnOriginalContext = 512;
        });
        float[] viaFactors = LlamaHarness.Logits(patched, 1024);
        float[] plain = LlamaHarness.Logits(TestPaths.TinyModel, 1024);
        float diff = LlamaHarness.MaxAbsDiff(builtIn, viaFactors);
        output.WriteLine($"max |logit diff| at n_ctx 1024: yarn factors vs built-in YaRN {diff:G4}; built-in YaRN vs plain RoPE {LlamaHarness.MaxAbsDiff(builtIn, plain):G4}");
        Assert.True(diff < 0.05f, $"yarn factors vs built-in YaRN: max |diff| {diff}");
        Assert.True(LlamaHarness.MaxAbsDiff(builtIn, plain) > 0.1f);
    }
}
