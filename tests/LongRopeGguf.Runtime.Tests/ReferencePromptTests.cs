using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;

namespace LongRopeGguf.Runtime.Tests;

/// <summary>The runner reproduces the model card's reference measurement on the unpatched tiny model.</summary>
public class ReferencePromptTests
{
    [Fact]
    public void Reference_pass_key_prompt_matches_the_reference_logits_and_completes_with_the_key()
    {
        using var model = Load(TestPaths.TinyModel);
        var tokens = model.Tokenize(Reference.Prompt, addBos: true);
        Assert.Equal(Reference.TokenIds, tokens.Select(t => (int)t).ToArray());

        using var conversation = new Conversation(model);
        var prefill = conversation.Append(tokens, reserve: 5);
        Assert.Equal(tokens.Length, prefill.Tokens);
        Assert.Equal(FactorSet.None, conversation.Plan!.FactorSet);
        Assert.Equal(512, conversation.Context!.Size);

        float diff = MaxAbsDiff(conversation.CurrentLogits(), Reference.LastLogits);
        Assert.True(diff < 0.01f, $"last logits differ from the reference by {diff}");

        var result = conversation.Generate(new GenerationOptions(5, SamplingOptions.Greedy));
        Assert.Equal("31415", result.Text);
        Assert.Equal(5, result.TokenCount);
        Assert.Equal(StopReason.MaxTokens, result.StopReason);
        Assert.Equal(tokens.Length + 5, conversation.Tokens.Count);
    }
}
