using System.Text.Json;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Perplexity;
using LongRopeGguf.Evaluation.Prompts;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

[Collection(TinyModelCollection.Name)]
public sealed class ScoringCoreTests(TinyModelFixture fixture)
{
    private readonly EvalModel _model = fixture.Model;

    [Theory]
    [InlineData(300, 0.0)]
    [InlineData(508, 0.37)]
    [InlineData(1020, 1.0)]
    [InlineData(2044, 0.5)]
    public void Filler_prompt_has_the_exact_token_count_and_the_needle_at_its_depth(int tokens, double depth)
    {
        var builder = new PassKeyPromptBuilder(_model, Haystack.Filler(), NeedleSpec.PassKey);
        var p = builder.Build(tokens, depth, 48213);

        Assert.Equal(tokens, p.Tokens.Length);
        Assert.Equal(_model.Tokenize(p.Text, addBos: true), p.Tokens);
        string needle = "The pass key is 48213. Remember it. 48213 is the pass key. ";
        Assert.Equal(p.NeedleChar, p.Text.IndexOf(needle, StringComparison.Ordinal));
        Assert.EndsWith("What is the pass key? The pass key is ", p.Text);
        Assert.StartsWith("The grass is green.", depth == 0 ? p.Text[needle.Length..] : p.Text);
        // Character tokenizer: the needle starts right after BOS + the haystack before it, at the asked depth.
        Assert.Equal(p.NeedleChar + 1, p.SharedPrefixTokens);
        Assert.InRange(p.NeedleChar, (int)(depth * p.HaystackChars) - 1, (int)(depth * p.HaystackChars) + 1);
        Assert.InRange(p.DepthActual, depth - 0.01, depth + 0.01);
        Assert.Equal("48213", p.Expected);
        Assert.Equal(_model.Tokenize("48213", addBos: false), p.AnswerTokens);
    }

    [Fact]
    public void Text_haystack_puts_the_needle_at_a_sentence_start()
    {
        using var dir = new TempDir();
        string path = dir.File("prose.txt");
        File.WriteAllText(path, string.Concat(Enumerable.Range(0, 60).Select(i =>
            $"Sentence number {i} talks about item {i * 7} at some length.\nIt wraps   over lines! ")));
        var builder = new PassKeyPromptBuilder(_model, Haystack.FromFile(path), NeedleSpec.PassKey);
        var p = builder.Build(700, 0.5, 12345);

        Assert.Equal(700, p.Tokens.Length);
        Assert.DoesNotContain("\n", p.Text);
        Assert.DoesNotContain("  ", p.Text);
        Assert.True(p.Text[..p.NeedleChar].EndsWith(". ", StringComparison.Ordinal) || p.Text[..p.NeedleChar].EndsWith("! ", StringComparison.Ordinal),
            $"needle at {p.NeedleChar} does not follow a sentence end: ...{p.Text[(p.NeedleChar - 20)..p.NeedleChar]}|");
        Assert.InRange(p.DepthActual, 0.42, 0.58);
    }

    [Fact]
    public void Too_short_text_haystack_is_a_clear_error()
    {
        using var dir = new TempDir();
        string path = dir.File("short.txt");
        File.WriteAllText(path, "Only a few words here. Not enough for a long prompt. ");
        var builder = new PassKeyPromptBuilder(_model, Haystack.FromFile(path), NeedleSpec.PassKey);
        var e = Assert.Throws<EvalInputException>(() => builder.Build(1000, 0.5, 12345));
        Assert.Contains("too short", e.Message);
        Assert.Contains(path, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void Needle_template_without_placeholder_is_rejected()
    {
        var e = Assert.Throws<EvalInputException>(() => NeedleSpec.Create("The secret is here.", "What is the secret?", null));
        Assert.Contains("{key}", e.Message);
    }

    [Theory]
    [InlineData("31415", "31415", true)]
    [InlineData("31415", " 31415.", true)]
    [InlineData("31415", "3141", false)]
    [InlineData("31415", "The 31415", true)]
    [InlineData("31415", "key 2 31415", false)]
    [InlineData("31415", "", false)]
    public void Pass_keys_are_scored_by_the_first_number(string expected, string answer, bool correct) =>
        Assert.Equal(correct, NeedleSpec.PassKey.IsCorrect(answer, expected));

    [Fact]
    public void Text_needles_are_scored_by_case_insensitive_containment()
    {
        var n = NeedleSpec.Create("The magic word is {key}. ", "What is the magic word? The magic word is ", "Blue Whale");
        Assert.Equal(AnswerScoring.Contains, n.Scoring);
        Assert.Equal("The magic word is Blue Whale. ", n.NeedleText(n.ExpectedFor(123)));
        Assert.True(n.IsCorrect("a blue whale!", "Blue Whale"));
        Assert.False(n.IsCorrect("a blue wha", "Blue Whale"));
        // An --answer given with spaces around it is the word itself (it was never found: "paris." holds no " Paris ").
        var padded = NeedleSpec.Create("The city is {key}. ", "Which city? The city is ", " Paris ");
        Assert.True(padded.IsCorrect("paris.", padded.ExpectedFor(0)));
        Assert.False(padded.IsCorrect("Par", padded.ExpectedFor(0)));
    }

    [Fact]
    public void Reference_prompt_decodes_to_its_key_and_its_answer_is_likely()
    {
        int[] ids = ReferencePrompt.Tiny.TokenIds;
        using var ctx = _model.CreateContext(RopeMode.None, 512, 512);
        float[] logits = ctx.DecodeLast(0, ids, 0);
        int[] answer = ctx.Greedy(0, logits, ids.Length, 5);
        Assert.Equal("31415", _model.Detokenize(answer));

        var prompt = new PassKeyPrompt(ids, _model.Tokenize("31415", false), "31415", 1, 0.3, 0.3, 0, 0, "");
        var prefiller = new PromptPrefiller(ctx, share: false);
        var likelihood = TeacherForcing.ScoreAnswer(prefiller, prompt);
        Assert.True(likelihood.GreedyMatches);
        Assert.Equal(5, likelihood.AnswerTokens);
        Assert.InRange(likelihood.MeanNll, 0, 0.5);
        // The same prompt scored against a key it does not hold: far less likely, and not what greedy decoding gives.
        var wrong = TeacherForcing.ScoreAnswer(prefiller, prompt with { AnswerTokens = _model.Tokenize("27182", false), Expected = "27182" });
        Assert.False(wrong.GreedyMatches);
        Assert.True(wrong.MeanNll > likelihood.MeanNll + 2, $"right {likelihood.MeanNll:F3}, wrong {wrong.MeanNll:F3}");
        // The worst token's margin says the same as greedy decoding: above 0 for the key it holds, below for the other.
        Assert.True(likelihood.MinMargin > 0, $"right answer's worst margin {likelihood.MinMargin}");
        Assert.True(wrong.MinMargin < 0, $"wrong answer's worst margin {wrong.MinMargin}");
        // and it is the smallest of the five tokens' margins, each computed here from the logits of one decode at a time.
        int[] key = prompt.AnswerTokens;
        ctx.ClearAll();
        float[] next = ctx.DecodeLast(0, ids, 0);
        double smallest = double.PositiveInfinity;
        for (int i = 0; i < key.Length; i++)
        {
            smallest = Math.Min(smallest, TeacherForcing.Margin(next, key[i]));
            if (i + 1 < key.Length) next = ctx.DecodeLast(0, [key[i]], ids.Length + i);
        }
        // (one token per decode here, a batch there: logits differ in rounding, ~1e-3)
        Assert.Equal(smallest, likelihood.MinMargin, tolerance: 0.01);
    }

    [Theory]
    [InlineData(new float[] { 1, 3, 2 }, 1, 1.0)]      // expected token on top, 1 above the next
    [InlineData(new float[] { 1, 3, 2 }, 0, -2.0)]     // 2 below the top
    [InlineData(new float[] { 4, 4, 0 }, 1, 0.0)]      // a tie: no margin either way
    [InlineData(new float[] { -5 }, 0, double.PositiveInfinity)] // a one-token vocabulary: nothing to beat
    public void The_margin_is_the_expected_logit_minus_the_best_other(float[] logits, int expected, double margin) =>
        Assert.Equal(margin, TeacherForcing.Margin(logits, expected));

    [Fact]
    public void A_nan_logit_makes_the_margin_nan_not_a_sure_answer()
    {
        Assert.True(double.IsNaN(TeacherForcing.Margin(new float[] { 5, float.NaN, 1 }, 0)));
        Assert.True(double.IsNaN(TeacherForcing.Margin(new float[] { float.NaN, 1 }, 0)));
    }

    [Fact]
    public void A_margin_for_a_token_outside_the_logits_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TeacherForcing.Margin(new float[] { 1, 2 }, 2));

    [Fact]
    public void Continuation_score_drops_what_was_decoded_after_the_prompt_and_matches_a_fresh_score()
    {
        int[] ids = ReferencePrompt.Tiny.TokenIds;
        int[] key = _model.Tokenize("31415", false);
        using var ctx = _model.CreateContext(RopeMode.None, 512, 512);
        var fresh = TeacherForcing.ScoreAnswer(new PromptPrefiller(ctx, share: false), new PassKeyPrompt(ids, key, "31415", 1, 0.3, 0.3, 0, 0, ""));

        // A trial's path: prompt, then a greedy answer decoded after it (4 extra cache cells), then the expected
        // answer scored in their place. Were the greedy tokens left in the cache, the key would be scored after them.
        ctx.ClearAll();
        float[] last = ctx.DecodeLast(0, ids, 0);
        ctx.Greedy(0, last, ids.Length, 5);
        int[] wrongKey = _model.Tokenize("27182", false);
        var afterGreedy = TeacherForcing.ScoreContinuation(ctx, 0, last, ids.Length, key);
        Assert.Equal(fresh.MeanNll, afterGreedy.MeanNll, 3);
        Assert.Equal(fresh.GreedyMatches, afterGreedy.GreedyMatches);
        var wrong = TeacherForcing.ScoreContinuation(ctx, 0, last, ids.Length, wrongKey);
        Assert.False(wrong.GreedyMatches);
        Assert.True(wrong.MeanNll > afterGreedy.MeanNll + 2);

        // An answer that runs past the context is refused before anything is decoded.
        var e = Assert.Throws<ArgumentException>(() => TeacherForcing.ScoreContinuation(ctx, 0, last, 510, key));
        Assert.Contains("prompt + answer (514 tokens) do not fit the 512-token context", e.Message);
    }

    [Fact]
    public void Filler_perplexity_is_low_at_512_and_rises_at_2048_without_rescaling()
    {
        int[] text = _model.Tokenize(string.Concat(Enumerable.Repeat(Haystack.FillerUnit, 60)), addBos: false);
        PerplexityResult at512, at2048;
        using (var ctx = _model.CreateContext(RopeMode.None, 512, 512))
            at512 = new PerplexityScorer(ctx).Score(text, 512, 2);
        using (var ctx = _model.CreateContext(RopeMode.None, 2048, 2048))
            at2048 = new PerplexityScorer(ctx).Score(text, 2048, 1);

        Assert.Equal(2, at512.Windows);
        Assert.Equal(2 * (511 - 256), at512.ScoredTokens);
        Assert.InRange(at512.Perplexity, 1.0, 1.2);
        Assert.True(at2048.Perplexity > 3 * at512.Perplexity, $"ppl 512 {at512.Perplexity:F3}, 2048 {at2048.Perplexity:F3}");
    }

    [Fact]
    public void Nll_by_position_scores_every_position_in_its_range_and_leaves_the_perplexity_as_it_was()
    {
        string prose = File.ReadAllText(TestPaths.ProseSearch);
        int[] text = _model.Tokenize(Haystack.NormalizeWhitespace(prose), addBos: false);
        PerplexityResult plain, eight, perPosition512, perPosition300, perPosition100;
        using (var ctx = _model.CreateContext(RopeMode.None, 512, 512))
        {
            plain = new PerplexityScorer(ctx).Score(text, 512, 3);
            eight = new PerplexityScorer(ctx).Score(text, 512, 3, positionBuckets: 8);
            perPosition512 = new PerplexityScorer(ctx).Score(text, 512, 3, positionBuckets: 511);
            perPosition300 = new PerplexityScorer(ctx).Score(text, 300, 1, positionBuckets: 299);
            perPosition100 = new PerplexityScorer(ctx).Score(text, 100, 1, positionBuckets: 99);
        }

        // The perplexity is still that of the second halves.
        Assert.Empty(plain.ByPosition);
        Assert.Equal(plain.ScoredTokens, eight.ScoredTokens);
        Assert.Equal(plain.MeanNll, eight.MeanNll, 6);
        // Eight ranges cover positions 1..511 without gaps, every position of every window counted once.
        Assert.Equal(8, eight.ByPosition.Count);
        Assert.Equal(1, eight.ByPosition[0].Start);
        Assert.Equal(512, eight.ByPosition[^1].End);
        for (int k = 0; k < 8; k++)
        {
            Assert.Equal(3L * (eight.ByPosition[k].End - eight.ByPosition[k].Start), eight.ByPosition[k].Tokens);
            if (k > 0) Assert.Equal(eight.ByPosition[k - 1].End, eight.ByPosition[k].Start);
        }
        // One range per position: position p of a 300-token window is the same prediction (same BOS and first p
        // tokens) as position p of a 100-token window on the same text, so the ranges are where they say they are.
        Assert.Equal(299, perPosition300.ByPosition.Count);
        for (int p = 1; p < 100; p++)
        {
            Assert.Equal(p, perPosition300.ByPosition[p - 1].Start);
            Assert.Equal(1, perPosition300.ByPosition[p - 1].Tokens);
            Assert.Equal(perPosition100.ByPosition[p - 1].MeanNll, perPosition300.ByPosition[p - 1].MeanNll, 2);
        }
        // The one-position ranges of the scored second half add up to the perplexity's own sum.
        double secondHalf = perPosition512.ByPosition.Where(b => b.Start >= 257).Sum(b => b.MeanNll * b.Tokens);
        Assert.Equal(plain.MeanNll * plain.ScoredTokens, secondHalf, 3);
        // Within the trained 512 tokens more context helps: the first range is the hardest.
        Assert.True(eight.ByPosition[0].MeanNll > eight.ByPosition[^1].MeanNll, string.Join(", ", eight.ByPosition.Select(b => b.MeanNll.ToString("F3"))));

        Assert.Contains("--by-position 600: expected 1 to 511",
            Assert.Throws<EvalInputException>(() => { using var c = _model.CreateContext(RopeMode.None, 512, 512); new PerplexityScorer(c).Score(text, 512, 1, 600); }).Message);
    }
}
