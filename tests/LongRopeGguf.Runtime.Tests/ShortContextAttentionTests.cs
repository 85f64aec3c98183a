using LLama.Native;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;
using static LongRopeGguf.Tests.LogitMath;

namespace LongRopeGguf.Runtime.Tests;

/// <summary>
/// llama.cpp applies a LongRoPE file's attn_factor to short contexts too. The runner gives short contexts of a file
/// this tool patched the model's own magnitude back (yarn_attn_factor = 1 / attn_factor), so that a short set of ones
/// computes what the unpatched model does; `--short-attention file` keeps llama.cpp's behaviour.
/// </summary>
public class ShortContextAttentionTests
{
    private const float Attn = 1.21f; // the shipped 8x set's attention factor

    private static string PatchedWithAttention(TempDir dir) =>
        Patched(dir, "attn.gguf", Attn);

    private static string Patched(TempDir dir, string name, float attn)
    {
        string path = dir.File(name);
        PatchedModelFixture.Write(TestPaths.TinyModel, path, PatchedModelFixture.ShortFactors, PatchedModelFixture.LongFactors, attnFactor: attn);
        return path;
    }

    private static float[] Logits(LlamaModel model, LLamaToken[] tokens, FactorSetKind expected)
    {
        using var conversation = new Conversation(model);
        conversation.Append(tokens, reserve: 5);
        Assert.Equal(expected, conversation.Plan!.FactorSet);
        Assert.Equal(512, conversation.Context!.Size);
        return conversation.CurrentLogits();
    }

    [Fact]
    public void A_short_context_of_a_patched_file_runs_at_the_models_own_attention_magnitude_unless_asked_for_the_files()
    {
        using var dir = new TempDir();
        string path = PatchedWithAttention(dir);
        using var plain = Load(TestPaths.TinyModel);
        var tokens = plain.Tokenize(PassKeyPrompt(299, 0.4, 31415), addBos: true);
        float[] reference = Logits(plain, tokens, FactorSetKind.None);

        using var patched = Load(path);
        Assert.Equal(1f / Attn, patched.Info.ShortContextAttnParameter!.Value, 6);
        float restored = MaxAbsDiff(Logits(patched, tokens, FactorSetKind.Short), reference);
        Assert.True(restored <= 1e-3f, $"short-set logits differ from the unpatched model's by {restored}");

        // llama.cpp's own behaviour: the file's attn_factor on the short set too, which changes the logits.
        using var asFile = Load(path, new RunnerOptions { FileAttentionOnShortContexts = true });
        var shortPlan = new ContextPlan(512, FactorSetKind.Short, "test");
        Assert.Null(asFile.ShortContextAttnParameter(shortPlan));
        float kept = MaxAbsDiff(Logits(asFile, tokens, FactorSetKind.Short), reference);
        Assert.True(kept > 0.1f, $"with the file's attn_factor the short-set logits differ from the unpatched model's by only {kept}");

        // Long contexts keep the file's attn_factor either way: the runner passes no yarn_attn_factor for them.
        Assert.Null(patched.ContextParams(new ContextPlan(1536, FactorSetKind.Long, "test")).YarnAttentionFactor);
        var longPlan = new ContextPlan(1536, FactorSetKind.Long, "test");
        Assert.Null(patched.ShortContextAttnParameter(longPlan));
        Assert.Equal(1f / Attn, patched.ShortContextAttnParameter(shortPlan)!.Value, 6);
        Assert.Contains("at the model's own attention magnitude: the file's attn_factor 1.21 serves the long set", StartupReport.Plan(patched, shortPlan));
        Assert.DoesNotContain("attention magnitude", StartupReport.Plan(asFile, shortPlan));
    }

    [Fact]
    public void A_conversation_moving_to_the_long_set_and_back_gets_the_files_magnitude_only_in_the_long_context()
    {
        using var dir = new TempDir();
        using var model = Load(PatchedWithAttention(dir));
        using var conversation = new Conversation(model, new ConversationOptions(Growth: 2.0));
        var prompt = model.Tokenize(PassKeyPrompt(299, 0.5, 31415), addBos: true);
        conversation.Append(prompt, reserve: 16);
        Assert.Equal(FactorSetKind.Short, conversation.Plan!.FactorSet);
        Assert.Equal(1f / Attn, conversation.Context!.Params.YarnAttentionFactor!.Value, 6);

        conversation.Append(model.Tokenize(new string('a', 400), addBos: false), reserve: 16);
        Assert.Equal(FactorSetKind.Long, conversation.Plan!.FactorSet);
        Assert.Null(conversation.Context!.Params.YarnAttentionFactor); // llama.cpp's default: the file's attn_factor applies

        conversation.Reset(); // back to the kept short context
        conversation.Append(prompt, reserve: 5);
        Assert.Equal(FactorSetKind.Short, conversation.Plan!.FactorSet);
        Assert.Equal(1f / Attn, conversation.Context!.Params.YarnAttentionFactor!.Value, 6);
        Assert.Equal("31415", conversation.Generate(new GenerationOptions(5, SamplingOptions.Greedy)).Text);
    }

    [Fact]
    public void A_longrope_model_patched_by_this_tool_gets_the_magnitude_it_had_before_back_on_short_contexts()
    {
        // A LongRoPE file from elsewhere (attn_factor 1.21, no longrope.* keys) patched with another attention factor:
        // its short contexts should run as they did before the patch, at 1.21, not at 1 and not at the new 1.3.
        using var dir = new TempDir();
        string foreign = Foreign(dir, PatchedWithAttention(dir));
        string repatched = dir.File("repatched.gguf");
        var set = LongRope.FactorSet.Create(PatchedModelFixture.LongFactors, PatchedModelFixture.ShortFactors, 512, 4096,
            AttentionFactorPolicy.Explicit, 1.3f, "re-patch test");
        LongRopePatcher.Patch(foreign, set, repatched);
        Assert.Equal(1.21f / 1.3f, ShortContextAttention.ContextParameter(GgufReader.Read(repatched))!.Value, 6);

        using var before = Load(foreign);
        using var after = Load(repatched);
        var tokens = before.Tokenize(PassKeyPrompt(299, 0.4, 31415), addBos: true);
        float diff = MaxAbsDiff(Logits(after, tokens, FactorSetKind.Short), Logits(before, tokens, FactorSetKind.Short));
        Assert.True(diff <= 1e-3f, $"short contexts of the re-patched file differ from the file before the patch by {diff}");
    }

    /// <summary>The file without this tool's longrope.* keys: a LongRoPE model from elsewhere.</summary>
    private static string Foreign(TempDir dir, string patched)
    {
        string foreign = dir.File("foreign.gguf");
        var file = GgufReader.Read(patched);
        var edit = new GgufEdit();
        foreach (var e in file.Metadata)
            if (e.Key.StartsWith("longrope.", StringComparison.Ordinal)) edit.RemoveKey(e.Key);
        GgufRewriter.Rewrite(file, edit, foreign, new RewriteOptions());
        return foreign;
    }

    [Fact]
    public void Nothing_is_undone_for_an_attention_factor_of_1_or_a_longrope_file_this_tool_did_not_patch()
    {
        using var dir = new TempDir();
        Assert.Null(ModelContextInfo.Read(Patched(dir, "one.gguf", 1f)).ShortContextAttnParameter);
        Assert.Null(ModelContextInfo.Read(TestPaths.TinyModel).ShortContextAttnParameter);

        // The same file without this tool's longrope.* keys stands for a LongRoPE model from elsewhere (a converted
        // Phi-3, trained with its factor on short contexts as well): llama.cpp's behaviour is kept.
        string withKeys = PatchedWithAttention(dir);
        string foreign = Foreign(dir, withKeys);
        var file = GgufReader.Read(withKeys);
        Assert.False(GgufReader.Read(foreign).ContainsKey(LongRopeKeys.Version));
        Assert.Null(ShortContextAttention.ContextParameter(GgufReader.Read(foreign)));
        Assert.Null(ModelContextInfo.Read(foreign).ShortContextAttnParameter);
        Assert.Equal(1f / Attn, ShortContextAttention.ContextParameter(file)!.Value, 6);
    }
}
