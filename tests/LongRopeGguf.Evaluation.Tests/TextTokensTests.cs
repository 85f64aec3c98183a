using LongRopeGguf.Evaluation.Perplexity;
using LongRopeGguf.Evaluation.Prompts;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

[Collection(TinyModelCollection.Name)]
public sealed class TextTokensTests(TinyModelFixture fixture)
{
    private static readonly string Text = Haystack.NormalizeWhitespace(File.ReadAllText(TestPaths.ProseHeldout));

    [Fact]
    public void A_start_of_the_text_gives_the_whole_texts_first_tokens()
    {
        // Only the start is tokenized (a 42 MB text took 28.8 s and 2 GB whole for one window): the windows must still
        // hold the tokens of the whole text's tokenization, or the perplexity would change with the window count.
        int[] whole = fixture.Model.Tokenize(Text, addBos: false);
        var start = TextTokens.Start(fixture.Model, Text, needed: 5000);
        Assert.False(start.Whole);
        Assert.InRange(start.Tokens.Length, 5000, whole.Length - 1);
        Assert.Equal(whole[..start.Tokens.Length], start.Tokens);
    }

    [Fact]
    public void The_tokens_near_the_cut_are_not_kept()
    {
        // The tiny model's tokenizer is one token a character: any cut gives the whole text's tokens, so it cannot show
        // that the tokens near the cut are dropped. This one merges "th" and marks a text's last token, as a tokenizer
        // whose last tokens depend on what follows them would.
        var tokenizer = new EndSensitiveTokenizer();
        int[] whole = tokenizer.Tokenize(Text, addBos: false);
        var start = TextTokens.Start(tokenizer, Text, needed: 5000);
        Assert.False(start.Whole);
        Assert.True(start.Tokens.Length >= 5000);
        Assert.Equal(whole[..start.Tokens.Length], start.Tokens);
    }

    private sealed class EndSensitiveTokenizer : ITextTokenizer
    {
        public int[] Tokenize(string text, bool addBos)
        {
            var tokens = new List<int>();
            for (int i = 0; i < text.Length;)
            {
                if (i + 1 < text.Length && text[i] == 't' && text[i + 1] == 'h') { tokens.Add(0x20000); i += 2; }
                else tokens.Add(text[i++]);
            }
            if (tokens.Count > 0) tokens[^1] += 0x100000;
            return [.. tokens];
        }
    }

    [Fact]
    public void A_text_with_fewer_tokens_than_asked_is_read_whole()
    {
        int[] whole = fixture.Model.Tokenize(Text, addBos: false);
        var all = TextTokens.Start(fixture.Model, Text, needed: whole.Length + 1);
        Assert.True(all.Whole);
        Assert.Equal(whole, all.Tokens);
    }

    [Fact]
    public void A_text_without_spaces_to_cut_at_is_read_as_far_as_it_takes()
    {
        string unbroken = new('a', 200_000);
        var read = TextTokens.Start(fixture.Model, unbroken, needed: 10);
        Assert.True(read.Whole);
        Assert.Equal(fixture.Model.Tokenize(unbroken, addBos: false), read.Tokens);
    }

    [Fact]
    public void A_stop_asked_for_is_seen_before_the_text_is_tokenized()
    {
        Assert.ThrowsAny<OperationCanceledException>(() => TextTokens.Start(fixture.Model, Text, 5000, new CancellationToken(canceled: true)));
    }
}
