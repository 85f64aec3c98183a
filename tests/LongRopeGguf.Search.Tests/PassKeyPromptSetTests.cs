using LongRopeGguf.Gguf;
using LongRopeGguf.Evaluation;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Perplexity;
using LongRopeGguf.Evaluation.Prompts;
using LongRopeGguf.Search.Llama;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Search.Tests;

/// <summary>The pass-key prompts of the search's fitness, tokenized by the tiny model's real tokenizer.</summary>
public sealed class PassKeyPromptSetTests : IDisposable
{
    private static readonly string SearchText = TestPaths.ProseSearch;
    private readonly EvalModel _model = EvalModel.Load(TestPaths.TinyModel, new EngineOptions { Threads = 2 });

    public void Dispose() => _model.Dispose();

    private static FitnessSpec Spec(int prompts, int passages, int length = 4096) => new()
    {
        Kind = FitnessKind.PassKey, TargetLength = length, TextPath = SearchText, PassKeyPrompts = prompts, PassKeyPassages = passages, PassKeySeed = 7003,
    };

    [Theory]
    [InlineData(2)]
    [InlineData(50)]
    public void A_target_too_short_for_a_pass_key_prompt_is_said_in_the_options_terms(int length)
    {
        // A short search at -L 2 said "a -6-token prompt leaves no room for a haystack".
        var e = Assert.Throws<EvalInputException>(() => PassKeyPromptSet.Build(_model, Haystack.FromFile(SearchText), Spec(prompts: 1, passages: 1, length)));
        Assert.Matches($@"^--target-length {length}: too short for pass-key prompts \(BOS, needle and question take \d+ tokens, the answer 8 more; give at least \d+, or --fitness ppl\)$", e.Message);
        int atLeast = int.Parse(System.Text.RegularExpressions.Regex.Match(e.Message, @"give at least (\d+)").Groups[1].Value);
        Assert.Single(PassKeyPromptSet.Build(_model, Haystack.FromFile(SearchText), Spec(prompts: 1, passages: 1, atLeast)).Prompts);
    }

    [Fact]
    public void A_stop_asked_for_is_seen_between_prompts()
    {
        // Up to 10,000 long prompts are built before the first candidate: Ctrl-C waited out the grace.
        var cancelled = new CancellationToken(canceled: true);
        Assert.ThrowsAny<OperationCanceledException>(() => PassKeyPromptSet.Build(_model, Haystack.FromFile(SearchText), Spec(prompts: 3, passages: 1, 1024), cancelled));
        Assert.Equal(3, PassKeyPromptSet.Build(_model, Haystack.FromFile(SearchText), Spec(prompts: 3, passages: 1, 1024), CancellationToken.None).Prompts.Count);
    }

    [Fact]
    public void Prompts_take_turns_in_passages_spread_over_the_text()
    {
        var haystack = Haystack.FromFile(SearchText);
        string text = haystack.Take(haystack.AvailableChars);
        var set = PassKeyPromptSet.Build(_model, haystack, Spec(prompts: 6, passages: 3));

        Assert.Equal(3, set.PassageOffsets.Count);
        Assert.Equal(0, set.PassageOffsets[0]);
        Assert.True(set.PassageOffsets[0] < set.PassageOffsets[1] && set.PassageOffsets[1] < set.PassageOffsets[2], string.Join(",", set.PassageOffsets));
        // Spread: the last passage ends near the text's end (2 % reserve), every passage starts at a sentence start.
        Assert.InRange(set.TextChars, text.Length * 9 / 10, text.Length);
        Assert.All(set.PassageOffsets.Skip(1), o => Assert.Equal(". ", text.Substring(o - 2, 2)));

        for (int i = 0; i < 6; i++)
        {
            var p = set.Prompts[i];
            int offset = set.PassageOffsets[i % 3];
            Assert.Equal(4096 - PassKeyPromptSet.AnswerRoom, p.Length);
            Assert.Equal((i + 0.5) / 6, p.Depth, 9);
            Assert.Equal(NeedleSpec.PassKey.ExpectedFor(TrialKeys.Key(7003, 4096, i, 0)), p.Expected);
            // The prompt's haystack is the text from its passage's start, needle at NeedleChar.
            Assert.StartsWith(text.Substring(offset, 200), p.Text);
            Assert.Equal(text.Substring(offset + p.NeedleChar - 100, 100), p.Text.Substring(p.NeedleChar - 100, 100));
        }
    }

    [Fact]
    public void With_depths_at_the_ends_the_first_needle_opens_the_haystack_and_the_last_closes_it()
    {
        var haystack = Haystack.FromFile(SearchText);
        var set = PassKeyPromptSet.Build(_model, haystack, Spec(prompts: 6, passages: 3) with { PassKeyDepths = PassKeyDepths.Ends });
        Assert.Equal([0, 0.2, 0.4, 0.6, 0.8, 1.0], set.Prompts.Select(p => Math.Round(p.Depth, 9)));
        Assert.Equal(0, set.Prompts[0].NeedleChar);
        Assert.Equal(0, set.Prompts[0].DepthActual, 2);
        Assert.Equal(1, set.Prompts[5].DepthActual, 2);
        // The same prompts as eval niah builds for those depths from each passage (keys aside, which are the search's).
        var builder = new PassKeyPromptBuilder(_model, haystack.From(set.PassageOffsets[2]), NeedleSpec.PassKey);
        Assert.Equal(builder.Build(4088, 1.0, TrialKeys.Key(7003, 4096, 5, 0)).Tokens, set.Prompts[5].Tokens);
        // Sharing still goes shallow needle first within a passage.
        var order = set.InSharingOrder();
        Assert.Equal([set.Prompts[0], set.Prompts[3], set.Prompts[1], set.Prompts[4], set.Prompts[2], set.Prompts[5]], order);
        // The default keeps the centered depths of every earlier search.
        Assert.Equal((0 + 0.5) / 6, PassKeyPromptSet.Build(_model, haystack, Spec(prompts: 6, passages: 3)).Prompts[0].Depth, 9);
    }

    [Fact]
    public void One_passage_builds_the_prompts_of_earlier_searches()
    {
        var haystack = Haystack.FromFile(SearchText);
        var set = PassKeyPromptSet.Build(_model, haystack, Spec(prompts: 3, passages: 1));
        var builder = new PassKeyPromptBuilder(_model, haystack, NeedleSpec.PassKey);
        Assert.Equal([0], set.PassageOffsets);
        for (int i = 0; i < 3; i++)
            Assert.Equal(builder.Build(4088, (i + 0.5) / 3, TrialKeys.Key(7003, 4096, i, 0)).Tokens, set.Prompts[i].Tokens);
        Assert.Equal(set.Prompts.Max(p => p.HaystackChars), set.TextChars);
    }

    [Fact]
    public void A_text_with_room_for_one_passage_only_is_refused_by_name()
    {
        using var dir = new TempDir();
        string path = dir.File("short.txt");
        var full = Haystack.FromFile(SearchText);
        int chars = new PassKeyPromptBuilder(_model, full, NeedleSpec.PassKey).Build(4088, 0.5, TrialKeys.Key(7003, 4096, 0, 0)).HaystackChars;
        File.WriteAllText(path, full.Take(chars + chars / 100)); // enough for one prompt, not for the 2 % reserve
        var e = Assert.Throws<EvalInputException>(() => PassKeyPromptSet.Build(_model, Haystack.FromFile(path), Spec(prompts: 4, passages: 2)));
        Assert.StartsWith($"--passkey-passages 2: {path} holds ", e.Message);
        Assert.Contains("no room for 2 different passages", e.Message);

        // Room for a few characters more than one prompt, but no sentence starts there: still one passage.
        File.WriteAllText(path, full.Take(chars + chars / 50 + 40));
        e = Assert.Throws<EvalInputException>(() => PassKeyPromptSet.Build(_model, Haystack.FromFile(path), Spec(prompts: 4, passages: 2)));
        Assert.Contains("no room for 2 different passages", e.Message);
    }

    [Fact]
    public void More_passages_than_prompts_is_refused()
    {
        var e = Assert.Throws<BadInputException>(() => Spec(prompts: 2, passages: 3).Validate());
        Assert.Equal("--passkey-passages 3: must be between 1 and the number of prompts (2)", e.Message);
    }

    [Fact]
    public void In_sharing_order_the_prompts_reuse_their_passage_prefix_and_score_as_one_prefill_each()
    {
        var set = PassKeyPromptSet.Build(_model, Haystack.FromFile(SearchText), Spec(prompts: 6, passages: 3, length: 1024));
        var order = set.InSharingOrder();
        // Passage by passage (prompt i is in passage i mod 3), deeper needles later.
        Assert.Equal([set.Prompts[0], set.Prompts[3], set.Prompts[1], set.Prompts[4], set.Prompts[2], set.Prompts[5]], order);
        Assert.All(new[] { 0, 2, 4 }, k => Assert.True(order[k].SharedPrefixTokens < order[k + 1].SharedPrefixTokens));

        using var context = _model.CreateContext(RopeMode.Yarn, 1024, 1024, sequences: 2);
        var alone = set.Prompts.ToDictionary(p => p, p => TeacherForcing.ScoreAnswer(new PromptPrefiller(context, share: false), p));
        (long decoded, Dictionary<PassKeyPrompt, AnswerLikelihood> scores, List<int> reused) Shared(IReadOnlyList<PassKeyPrompt> prompts)
        {
            context.ClearAll();
            var prefiller = new PromptPrefiller(context, share: true);
            long decoded = 0;
            var scores = new Dictionary<PassKeyPrompt, AnswerLikelihood>();
            var reused = new List<int>();
            foreach (var p in prompts)
            {
                var prefilled = prefiller.Prefill(p, default);
                decoded += prefilled.DecodedTokens;
                reused.Add(prefilled.ReusedTokens);
                scores[p] = TeacherForcing.ScoreContinuation(context, prefilled.Sequence, prefilled.LastLogits, p.Length, p.AnswerTokens);
                prefiller.Release();
            }
            return (decoded, scores, reused);
        }
        var (sharedDecoded, shared, reused) = Shared(order);
        var (indexOrderDecoded, _, _) = Shared(set.Prompts);

        // The second prompt of a passage reuses the haystack before the first one's needle (up to a token where the
        // cut was); the first prompt of another passage has only BOS in common with what is cached.
        foreach (int k in new[] { 1, 3, 5 }) Assert.InRange(reused[k], order[k - 1].SharedPrefixTokens - 2, order[k - 1].SharedPrefixTokens);
        foreach (int k in new[] { 2, 4 }) Assert.InRange(reused[k], 0, 2);

        // In all an eighth less is decoded (the haystack before needles at depths 1/12, 3/12 and 5/12 is shared), and
        // less than in the order the prompts were built.
        long naive = set.Prompts.Sum(p => (long)p.Length);
        Assert.InRange(sharedDecoded, naive * 8 / 10, naive * 9 / 10);
        Assert.True(sharedDecoded < indexOrderDecoded, $"sharing order {sharedDecoded}, index order {indexOrderDecoded}");
        // Sharing changes nothing but rounding.
        foreach (var p in set.Prompts)
        {
            Assert.Equal(alone[p].MeanNll, shared[p].MeanNll, 3);
            Assert.Equal(alone[p].GreedyMatches, shared[p].GreedyMatches);
        }
    }
}
