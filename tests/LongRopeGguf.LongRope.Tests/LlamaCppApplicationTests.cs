using LLama;
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
        Assert.True(LogitMath.MaxAbsDiff(at512, LlamaHarness.Logits(longRef, 512)) > 0.05f);
        Assert.True(LogitMath.MaxAbsDiff(at1024, LlamaHarness.Logits(shortRef, 1024)) > 0.05f);
    }

    [Fact]
    public void Context_sizes_pick_the_set_that_the_verifier_plan_predicts() =>
        // 300 and 257 round up to 512 (short); 513 rounds up to 768 (long); 1024 with 4 sequences and a split KV
        // cache gives n_ctx_seq 256 (short); 4 sequences with KVUnified left unset share one cache, n_ctx_seq 1024
        // (long): LLamaSharp's default is unified. (Rounding that changes the set: the original-length-400 test.)
        AssertEachContextRunsThePlannedSet(512,
            [(257, 1, null, false), (300, 1, null, false), (513, 1, null, true), (1024, 4, false, false), (1024, 4, true, true), (1024, 4, null, true)]);

    /// <summary>An original length that is no multiple of 256 (400): the rounding of n_ctx (and of a split cache's
    /// n_ctx_seq) decides the set, where comparing the requested size would say the opposite.</summary>
    [Fact]
    public void Rounding_up_to_256_decides_the_set_for_an_original_length_between_multiples() =>
        // 257 <= 400 but n_ctx is 512: long. 256 stays 256: short. 1024 over 3 sequences with a split cache: 341 <= 400,
        // but n_ctx_seq is rounded up to 512: long.
        AssertEachContextRunsThePlannedSet(400, [(257, 1, null, true), (256, 1, null, false), (1024, 3, false, true)]);

    /// <summary>For a file with distinct sets and <paramref name="original"/> as its threshold: each context (size,
    /// sequences, unified KV cache or not) computes what the file with only the expected set as rope_freqs computes, and
    /// the verifier's plan expects that same set.</summary>
    private static void AssertEachContextRunsThePlannedSet(int original, (uint Ctx, uint SeqMax, bool? Unified, bool ExpectLong)[] cases)
    {
        using var dir = new TempDir();
        float[] shortF = TestFiles.Ramp(1f, 1.5f);
        float[] longF = FactorRules.Pi(32, 2);
        string patched = dir.File("distinct.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, new FactorSet(longF, shortF, original, 1024, 1f, AttentionFactorPolicy.Explicit, "test"), patched);
        Assert.Equal((uint)original, GgufReader.Read(patched).GetUInt32(LongRopeKeys.OriginalContextLength("llama")));
        var plan = LongRopeVerifier.Verify(patched).Plan!;
        string shortRef = TestFiles.RopeFreqsModel(dir, "short-freqs.gguf", shortF);
        string longRef = TestFiles.RopeFreqsModel(dir, "long-freqs.gguf", longF);
        foreach (var (ctx, seqMax, unified, expectLong) in cases)
        {
            Assert.Equal(expectLong, plan.UsesLongSet((int)ctx, (int)seqMax, unified ?? true));
            void Configure(ModelParams p)
            {
                p.SeqMax = seqMax;
                p.KVUnified = unified;
            }
            // 200 tokens: they fit one sequence's 256 cells in the split-cache cases.
            int[] tokens = LlamaHarness.ReferenceTokens[..200];
            float[] got = LlamaHarness.Logits(patched, ctx, tokens, Configure);
            float[] expected = LlamaHarness.Logits(expectLong ? longRef : shortRef, ctx, tokens, Configure);
            Assert.True(got.SequenceEqual(expected), $"context {ctx} (SeqMax {seqMax}, unified {unified}): expected the {(expectLong ? "long" : "short")} set");
        }
    }

    /// <summary>ModelParams.YarnOriginalContext (llama.cpp's runtime n_ctx_orig_yarn) moves nothing: the set is chosen by
    /// the file's original_context_length.</summary>
    [Fact]
    public void The_runtime_yarn_original_context_does_not_move_the_threshold()
    {
        using var dir = new TempDir();
        float[] shortF = TestFiles.Ramp(1f, 1.5f);
        float[] longF = FactorRules.Pi(32, 2);
        string patched = dir.File("distinct.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Set(longF, shortF), patched);
        string shortRef = TestFiles.RopeFreqsModel(dir, "short-freqs.gguf", shortF);
        string longRef = TestFiles.RopeFreqsModel(dir, "long-freqs.gguf", longF);

        // Above the runtime value but within the file's 512: still short; below the runtime value but past 512: long.
        void Lower(ModelParams p) => p.YarnOriginalContext = 256;
        void Higher(ModelParams p) => p.YarnOriginalContext = 2048;
        Assert.Equal(LlamaHarness.Logits(shortRef, 512, configure: Lower), LlamaHarness.Logits(patched, 512, configure: Lower));
        Assert.Equal(LlamaHarness.Logits(longRef, 1024, configure: Higher), LlamaHarness.Logits(patched, 1024, configure: Higher));
    }

    /// <summary>attn_factor a multiplies cos and sin, so queries and keys are each scaled by a (logits by a squared), on
    /// the short and on the long set alike: a file with all-one factors and a = 2 computes what the unpatched model
    /// computes with every attn_q and attn_k weight doubled (exact in F16).</summary>
    [Fact]
    public void Attention_factor_scales_queries_and_keys_on_both_sets()
    {
        using var dir = new TempDir();
        string patched = dir.File("attn2.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Set(FactorSet.Ones(32), FactorSet.Ones(32), attention: 2f), patched);
        var tiny = TestFiles.Tiny;
        string doubled = TestFiles.Write(dir, "qk-doubled.gguf", e =>
        {
            foreach (var t in tiny.Tensors.Where(t => t.Name.EndsWith(".attn_q.weight", StringComparison.Ordinal) || t.Name.EndsWith(".attn_k.weight", StringComparison.Ordinal)))
                e.SetTensor(TestFiles.ScaledF16(tiny, t.Name, 2f));
        });

        foreach (uint ctx in new uint[] { 512, 1024 })
        {
            float[] viaFactor = LlamaHarness.Logits(patched, ctx);
            // Bit for bit: doubling is exact in every float operation on the way (measured so, as the equality says).
            Assert.Equal(LlamaHarness.Logits(doubled, ctx), viaFactor);
            // The factor changes the result (otherwise the equality proves nothing).
            Assert.True(LogitMath.MaxAbsDiff(viaFactor, LlamaHarness.Logits(TestPaths.TinyModel, ctx)) > 0.1f, $"context {ctx}");
        }
    }

    /// <summary>A sequence's KV state saved in a short-set context loads into a long-set context without complaint, and the
    /// next token is then computed wrongly (the cached keys were rotated with the short factors): why moving a
    /// conversation to the long set prefills it again. The same move between two long-set contexts is exact.</summary>
    [Fact]
    public void A_kv_state_moved_from_a_short_to_a_long_context_loads_but_computes_wrongly()
    {
        LlamaHarness.EnsureInitialised();
        using var dir = new TempDir();
        string patched = dir.File("distinct.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Set(FactorRules.Pi(32, 2), TestFiles.Ramp(1f, 1.5f)), patched);
        int[] tokens = LlamaHarness.ReferenceTokens[..201];
        using var weights = LLamaWeights.LoadFromFile(LlamaHarness.Params(patched, 1024));
        LLamaContext NewContext(uint size) => weights.CreateContext(LlamaHarness.Params(patched, size));

        // 200 tokens prefilled in a context of prefillSize, then (moved: in a new 1024-token context, long set, that
        // loads the sequence's state) the 201st token decoded alone.
        float[] NextLogits(uint prefillSize, bool moved)
        {
            using var first = NewContext(prefillSize);
            LlamaHarness.Decode(first, tokens[..200]);
            using var state = first.GetState(LLamaSeqId.Zero);
            using var second = moved ? NewContext(1024) : null;
            var target = second ?? first;
            if (second is not null) second.LoadState(state, LLamaSeqId.Zero);
            var batch = new LLamaBatch();
            batch.Add(tokens[200], 200, LLamaSeqId.Zero, true);
            Assert.Equal(DecodeResult.Ok, target.Decode(batch));
            return target.NativeHandle.GetLogitsIth(0).ToArray();
        }

        float[] stayed = NextLogits(1024, moved: false);
        float[] fromLong = NextLogits(1024, moved: true);
        float fromShort = LogitMath.MaxAbsDiff(stayed, NextLogits(512, moved: true));
        output.WriteLine($"next-token logits after a state move from a short context into a long one vs no move: max |diff| {fromShort:G4}");
        Assert.Equal(stayed, fromLong); // a state move as such changes nothing
        Assert.True(fromShort > 0.5f, $"short -> long: max |diff| {fromShort}");
    }

    /// <summary>llama.cpp's built-in linear scaling (PI) with frequency scale 1/s is rope_freqs of s at every
    /// dimension, the form the pi rule writes.</summary>
    [Fact]
    public void Built_in_linear_scaling_equals_factors_of_the_scale()
    {
        using var dir = new TempDir();
        string twos = TestFiles.RopeFreqsModel(dir, "twos.gguf", FactorRules.Pi(32, 2));
        float[] builtIn = LlamaHarness.Logits(TestPaths.TinyModel, 1024, configure: p =>
        {
            p.YarnScalingType = RopeScalingType.Linear;
            p.RopeFrequencyScale = 0.5f;
        });
        Assert.Equal(builtIn, LlamaHarness.Logits(twos, 1024)); // theta * 0.5 and theta / 2: the same float, bit for bit
        Assert.True(LogitMath.MaxAbsDiff(builtIn, LlamaHarness.Logits(TestPaths.TinyModel, 1024)) > 0.1f);
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
        float diff = LogitMath.MaxAbsDiff(builtIn, viaFactors);
        output.WriteLine($"max |logit diff| at n_ctx 1024: yarn factors vs built-in YaRN {diff:G4}; built-in YaRN vs plain RoPE {LogitMath.MaxAbsDiff(builtIn, plain):G4}");
        Assert.True(diff < 0.05f, $"yarn factors vs built-in YaRN: max |diff| {diff}");
        Assert.True(LogitMath.MaxAbsDiff(builtIn, plain) > 0.1f);
    }
}
