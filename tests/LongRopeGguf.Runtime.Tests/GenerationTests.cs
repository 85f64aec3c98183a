using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;

namespace LongRopeGguf.Runtime.Tests;

public class GenerationTests
{
    private static Conversation ReferenceConversation(LlamaModel model, int reserve = 16)
    {
        var c = new Conversation(model);
        c.Append(model.Tokenize(Reference.Prompt, addBos: true), reserve);
        return c;
    }

    [Fact]
    public void A_stop_string_ends_generation_and_is_not_shown_even_when_split_over_tokens()
    {
        using var model = Load(TestPaths.TinyModel);
        using var c = ReferenceConversation(model);
        var pieces = new List<string>();
        var r = c.Generate(new GenerationOptions(16, SamplingOptions.Greedy, ["415"]), pieces.Add);
        Assert.Equal("31", r.Text);
        Assert.Equal("31", string.Concat(pieces));
        Assert.Equal(StopReason.StopString, r.StopReason);
        Assert.Equal(5, r.TokenCount); // "3","1","4","1","5": the stop string needed three tokens to complete
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_differs_from_greedy_at_high_temperature()
    {
        using var model = Load(TestPaths.TinyModel);
        // Open-ended prose, where the model is unsure: sampling shows.
        string Run(SamplingOptions s)
        {
            using var c = new Conversation(model);
            c.Append(model.Tokenize("The", addBos: true), 60);
            return c.Generate(new GenerationOptions(60, s)).Text;
        }
        var seeded = new SamplingOptions(Temperature: 1.2f, TopK: 0, TopP: 1f, Seed: 42);
        string a = Run(seeded), b = Run(seeded), other = Run(seeded with { Seed = 7 }), greedy = Run(SamplingOptions.Greedy);
        Assert.Equal(a, b);
        Assert.NotEqual(a, other);
        Assert.NotEqual(greedy, a);
        Assert.Equal(greedy, Run(SamplingOptions.Greedy));
    }

    [Fact]
    public void Cancelling_stops_generation_keeps_its_tokens_and_the_conversation_goes_on()
    {
        using var model = Load(TestPaths.TinyModel);
        using var c = ReferenceConversation(model, 40);
        using var cts = new CancellationTokenSource();
        int pieces = 0;
        var r = c.Generate(new GenerationOptions(40, SamplingOptions.Greedy), _ => { if (++pieces == 3) cts.Cancel(); }, cts.Token);
        Assert.Equal(StopReason.Cancelled, r.StopReason);
        Assert.Equal("314", r.Text);
        Assert.Equal(Reference.TokenIds.Length + 3, c.Tokens.Count);
        var next = c.Generate(new GenerationOptions(2, SamplingOptions.Greedy));
        Assert.Equal("15", next.Text);
    }

    [Theory]
    [InlineData(-0.1f, 40, 0.9f, 8, "--temp")]
    [InlineData(float.NaN, 40, 0.9f, 8, "--temp")]
    [InlineData(0.8f, -1, 0.9f, 8, "--top-k")]
    [InlineData(0.8f, 40, 0f, 8, "--top-p")]
    [InlineData(0.8f, 40, 1.5f, 8, "--top-p")]
    [InlineData(0.8f, 40, 0.9f, 0, "--max-tokens")]
    public void Invalid_sampling_values_are_refused_with_the_option_named(float temp, int topK, float topP, int max, string option)
    {
        var e = Assert.Throws<RuntimeInputException>(() => new GenerationOptions(max, new SamplingOptions(temp, topK, topP)).Validate());
        Assert.StartsWith(option + " ", e.Message);
    }

    [Fact]
    public void Stop_string_matcher_holds_back_possible_prefixes_and_flushes_them_at_the_end()
    {
        var m = new StopStringMatcher(["</answer>", "##"]);
        Assert.Equal("ab", m.Push("ab<"));
        Assert.Equal("", m.Push("/ans"));
        Assert.Equal("</ansx", m.Push("x#"));
        Assert.Equal("", m.Push("#"));
        Assert.True(m.Stopped);
        Assert.Equal("", m.Flush());

        var n = new StopStringMatcher(["##"]);
        Assert.Equal("a", n.Push("a#"));
        Assert.False(n.Stopped);
        Assert.Equal("#", n.Flush());
        Assert.Throws<RuntimeInputException>(() => new StopStringMatcher([""]));
    }

    [Fact]
    public void The_stop_string_that_comes_first_in_the_text_wins_not_the_one_listed_first()
    {
        var m = new StopStringMatcher(["\n\n", "User:"]);
        Assert.Equal("", m.Push("User: hi\n\nmore"));
        Assert.True(m.Stopped);
    }

    [Fact]
    public void The_longest_held_start_of_any_stop_string_is_kept_back()
    {
        // Two stops sharing a tail: the shorter one's held start replaced the longer one's, and "\n" leaked.
        var m = new StopStringMatcher(["\n\nUser:", "\nUser:"]);
        Assert.Equal("a", m.Push("a\n\nUser"));
        Assert.Equal("", m.Push(":"));
        Assert.True(m.Stopped);
    }

    [Fact]
    public void Nothing_is_emitted_after_a_stop()
    {
        var m = new StopStringMatcher(["##"]);
        Assert.Equal("a", m.Push("a##b"));
        Assert.Equal("", m.Push("more"));
    }
}
