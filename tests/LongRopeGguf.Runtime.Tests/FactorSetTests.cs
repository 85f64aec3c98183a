using LLama;
using LLama.Native;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;
using static LongRopeGguf.Tests.LogitMath;

namespace LongRopeGguf.Runtime.Tests;

/// <summary>On a patched model the runner picks the factor set llama.cpp applies, and the numbers show it is applied.</summary>
public class FactorSetTests
{
    internal static float[] DirectPrefill(LlamaModel model, ContextPlan plan, IReadOnlyList<LLamaToken> tokens) =>
        DirectGreedy(model, plan, tokens, 0).Logits;

    /// <summary>
    /// Plain LLamaSharp, no runner code: a context with the runner's parameters for <paramref name="plan"/>, the whole
    /// prompt in one batch, then <paramref name="generate"/> greedy tokens. Returns the prompt's last logits and the text.
    /// </summary>
    internal static (float[] Logits, string Text) DirectGreedy(LlamaModel model, ContextPlan plan, IReadOnlyList<LLamaToken> tokens, int generate)
    {
        var p = model.ContextParams(plan);
        p.BatchSize = p.UBatchSize = (uint)Math.Max(tokens.Count, 1);
        using var ctx = model.Weights.CreateContext(p);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, i == tokens.Count - 1);
        Assert.Equal(DecodeResult.Ok, ctx.Decode(batch));
        float[] logits = ctx.NativeHandle.GetLogitsIth(tokens.Count - 1).ToArray();
        var decoder = new StreamingTokenDecoder(ctx);
        LLamaToken next = TokenSampler.ArgMax(logits);
        for (int i = 0; i < generate; i++)
        {
            decoder.Add(next);
            batch.Clear();
            batch.Add(next, tokens.Count + i, LLamaSeqId.Zero, true);
            Assert.Equal(DecodeResult.Ok, ctx.Decode(batch));
            next = TokenSampler.ArgMax(ctx.NativeHandle.GetLogitsIth(0));
        }
        return (logits, decoder.Read());
    }

    [Fact]
    public void A_300_token_prompt_runs_on_the_short_set_and_equals_the_unpatched_model()
    {
        using var patched = Load(PatchedModelFixture.PatchedModel);
        using var plain = Load(TestPaths.TinyModel);
        var tokens = patched.Tokenize(PassKeyPrompt(299, 0.4, 31415), addBos: true);
        Assert.Equal(300, tokens.Length);

        using var onPatched = new Conversation(patched);
        onPatched.Append(tokens, reserve: 5);
        Assert.Equal(FactorSetKind.Short, onPatched.Plan!.FactorSet);
        Assert.Equal(512, onPatched.Context!.Size);
        Assert.Equal(512, onPatched.Context.SequenceContextSize);

        using var onPlain = new Conversation(plain);
        onPlain.Append(tokens, reserve: 5);
        float diff = MaxAbsDiff(onPatched.CurrentLogits(), onPlain.CurrentLogits());
        Assert.True(diff <= 1e-3f, $"short-set logits differ from the unpatched model's by {diff}");
        Assert.Equal("31415", onPatched.Generate(new GenerationOptions(5, SamplingOptions.Greedy)).Text);
    }

    [Fact]
    public void A_1500_token_prompt_runs_on_the_long_set_and_finds_the_key_that_plain_rope_loses()
    {
        using var patched = Load(PatchedModelFixture.PatchedModel);
        var tokens = patched.Tokenize(PassKeyPrompt(1499, 0.5, 31415), addBos: true);
        Assert.Equal(1500, tokens.Length);

        using var conversation = new Conversation(patched);
        conversation.Append(tokens, reserve: 5);
        var plan = conversation.Plan!;
        Assert.Equal(FactorSetKind.Long, plan.FactorSet);
        Assert.Equal(1536, plan.ContextSize);
        Assert.True(conversation.Context!.SequenceContextSize > PatchedModelFixture.OriginalContext);
        Assert.Contains("exceed the original context 512", plan.Reason);

        float[] runnerLogits = conversation.CurrentLogits();
        float same = MaxAbsDiff(runnerLogits, DirectPrefill(patched, plan, tokens));
        Assert.True(same <= 1e-3f, $"runner and a direct LLamaSharp context disagree by {same}");
        Assert.Equal("31415", conversation.Generate(new GenerationOptions(5, SamplingOptions.Greedy)).Text);

        // The same prompt in a context of the same size on the unpatched file (plain RoPE past its training length)
        // computes something else and loses the key: the long factors are what makes the difference.
        using var plain = Load(TestPaths.TinyModel);
        var (plainLogits, plainText) = DirectGreedy(plain, plan with { FactorSet = FactorSetKind.None }, tokens, 5);
        Assert.True(MaxAbsDiff(runnerLogits, plainLogits) > 1f);
        Assert.NotEqual("31415", plainText);
    }

    [Fact]
    public void Forcing_the_long_set_on_a_short_prompt_uses_the_smallest_long_context()
    {
        using var patched = Load(PatchedModelFixture.PatchedModel);
        var tokens = patched.Tokenize(PassKeyPrompt(299, 0.4, 31415), addBos: true);

        using var forced = new Conversation(patched, new ConversationOptions(FactorSetChoice.Long));
        forced.Append(tokens, reserve: 5);
        Assert.Equal(FactorSetKind.Long, forced.Plan!.FactorSet);
        Assert.Equal(768, forced.Context!.Size); // the next multiple of 256 above the original 512
        Assert.Contains("forced by --factor-set long", forced.Plan.Reason);

        using var auto = new Conversation(patched);
        auto.Append(tokens, reserve: 5);
        float[] longLogits = forced.CurrentLogits(), shortLogits = auto.CurrentLogits();
        Assert.True(MaxAbsDiff(longLogits, shortLogits) > 0.05f, "forcing the long set changed nothing");
        Assert.True(MaxAbsDiff(longLogits, DirectPrefill(patched, forced.Plan, tokens)) <= 1e-3f);
    }

    [Fact]
    public void Forcing_the_short_set_on_a_long_prompt_is_refused_and_leaves_the_conversation_as_it_was()
    {
        using var patched = Load(PatchedModelFixture.PatchedModel);
        using var conversation = new Conversation(patched, new ConversationOptions(FactorSetChoice.Short));
        var first = patched.Tokenize(PassKeyPrompt(199, 0.4, 31415), addBos: true);
        conversation.Append(first, reserve: 8);
        var e = Assert.Throws<RuntimeInputException>(() => conversation.Append(patched.Tokenize(new string('x', 400), addBos: false), reserve: 8));
        Assert.Contains("do not fit the short set, which holds at most 512 tokens", e.Message);
        Assert.Equal(first.Length, conversation.Tokens.Count);
        Assert.Equal(FactorSetKind.Short, conversation.Plan!.FactorSet);
        Assert.Empty(conversation.Moves);
        Assert.Equal("31415", conversation.Generate(new GenerationOptions(5, SamplingOptions.Greedy)).Text);
    }

    [Theory]
    [InlineData(512, FactorSetKind.Short, 512)]
    [InlineData(300, FactorSetKind.Short, 512)]
    [InlineData(513, FactorSetKind.Long, 768)]
    [InlineData(1024, FactorSetKind.Long, 1024)]
    public void A_fixed_context_runs_on_the_set_llama_cpp_selects_for_its_size(int requested, FactorSetKind expected, int size)
    {
        using var patched = Load(PatchedModelFixture.PatchedModel);
        var tokens = patched.Tokenize(PassKeyPrompt(199, 0.4, 31415), addBos: true);
        float[] Run(LlamaModel model, out ContextPlan plan, out int contextSize)
        {
            using var conversation = new Conversation(model, new ConversationOptions(ContextSize: requested));
            conversation.Append(tokens, reserve: 4);
            (plan, contextSize) = (conversation.Plan!, conversation.Context!.Size);
            Assert.Equal(size, conversation.Context.SequenceContextSize);
            return conversation.CurrentLogits();
        }
        float[] logits = Run(patched, out var planned, out int actualSize);
        Assert.Equal(expected, planned.FactorSet);
        Assert.Equal(size, actualSize);

        // What llama.cpp applied, seen in the numbers: the same run on files that hold the one set the plan names
        // (the short set is all ones: the unpatched model; the long set as rope_freqs.weight, applied at every size),
        // with the patched file's context_length, so that the same context sizes are allowed.
        using var dir = new TempDir();
        string Reference(string name, float[] factors) => GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit()
            .SetValue(LongRopeKeys.ContextLength("llama"), GgufValue.UInt32(PatchedModelFixture.PatchedContext))
            .SetTensor(new OutputTensor(LongRopeKeys.RopeFreqsTensor, GgmlType.F32, [(ulong)factors.Length], TensorData.Float32(factors))),
            dir.File(name)).Path!;
        using var shortModel = Load(Reference("short-freqs.gguf", PatchedModelFixture.ShortFactors));
        using var longModel = Load(Reference("long-freqs.gguf", PatchedModelFixture.LongFactors));
        float[] onShort = Run(shortModel, out _, out _), onLong = Run(longModel, out _, out _);
        Assert.True(MaxAbsDiff(onShort, onLong) > 0.05f, "the two sets compute the same: the comparison would prove nothing");
        Assert.Equal(expected == FactorSetKind.Long ? onLong : onShort, logits);
    }
}
