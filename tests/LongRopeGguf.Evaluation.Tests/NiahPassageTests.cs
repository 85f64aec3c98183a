using System.Text.Json;
using LongRopeGguf.Cli;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Niah;
using LongRopeGguf.Evaluation.Prompts;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>
/// `eval niah --haystack-passages`: a length's prompts take turns in passages spread over a text haystack, so that one
/// run samples the whole text (held-out checks of searched factors ran on the text's start only before).
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class NiahPassageTests(TinyModelFixture fixture)
{
    private readonly EvalModel _model = fixture.Model;

    /// <summary>Numbered sentences, already on one line with single spaces (so the haystack's text is the file's).</summary>
    private static string WriteProse(TempDir dir, int sentences)
    {
        string path = dir.File("prose.txt");
        File.WriteAllText(path, string.Concat(Enumerable.Range(0, sentences).Select(i => $"Sentence number {i} talks about item {i * 7} at some length. ")));
        return path;
    }

    private static NiahOptions Options(string haystack, int passages, string outDir) => new()
    {
        ModelPath = TestPaths.TinyModel,
        Lengths = [512],
        Depths = 3,
        TrialsPerDepth = 2,
        Modes = [RopeMode.None],
        Haystack = Haystack.FromFile(haystack),
        HaystackPassages = passages,
        Seed = 5,
        OutputDirectory = outDir,
        Engine = new EngineOptions { Threads = 2 },
    };

    [Fact]
    public void A_stop_asked_for_is_seen_while_the_prompts_are_built()
    {
        // Up to 10,000 prompts a length are built before the first trial: Ctrl-C waited out the grace.
        using var dir = new TempDir();
        string path = WriteProse(dir, 400);
        Assert.ThrowsAny<OperationCanceledException>(() => NiahPlan.Build(Options(path, 1, dir.File("out")), _model, new CancellationToken(canceled: true)));
        Assert.NotEmpty(NiahPlan.Build(Options(path, 1, dir.File("out")), _model, CancellationToken.None).Trials);
    }

    [Fact]
    public void Prompts_take_turns_in_passages_spread_over_the_text_and_keep_one_passage_ids()
    {
        using var dir = new TempDir();
        string path = WriteProse(dir, 400);
        string text = File.ReadAllText(path);
        var plan = NiahPlan.Build(Options(path, 3, dir.File("out")), _model);

        var offsets = plan.PassageOffsets;
        Assert.Equal(3, offsets.Count);
        Assert.Equal(0, offsets[0]);
        Assert.True(offsets[0] < offsets[1] && offsets[1] < offsets[2], string.Join(",", offsets));
        Assert.All(offsets, o => Assert.StartsWith("Sentence number ", text[o..]));
        int longest = plan.Trials.Max(t => t.Prompt.HaystackChars);
        Assert.InRange(offsets[2] + longest, text.Length * 0.9, text.Length); // the last passage reaches the text's end

        foreach (var t in plan.Trials)
        {
            Assert.Equal((t.DepthIndex * 2 + t.TrialIndex) % 3, t.Passage);
            int offset = plan.HaystackOffset(t);
            string needle = NeedleSpec.PassKey.NeedleText(t.Prompt.Expected);
            string haystack = t.Prompt.Text.Remove(t.Prompt.NeedleChar, needle.Length);
            Assert.StartsWith(text.Substring(offset, t.Prompt.HaystackChars), haystack);
        }

        // Passage 0 is the text's start: its trials are the one-passage run's trials, under the same ids (so results
        // recorded before passages existed are reused); the others name their offset.
        var single = NiahPlan.Build(Options(path, 1, dir.File("out")), _model);
        Assert.All(single.Trials, t => Assert.Equal(0, t.Passage));
        foreach (var (t, s) in plan.Trials.Zip(single.Trials))
        {
            Assert.Equal(s.Key, t.Key);
            if (t.Passage == 0)
            {
                Assert.Equal(s.Prompt.Tokens, t.Prompt.Tokens);
                Assert.Equal(single.TrialId("none", s), plan.TrialId("none", t));
            }
            else
            {
                Assert.NotEqual(s.Prompt.Text, t.Prompt.Text);
                Assert.Contains($"|prose.txt@{plan.HaystackOffset(t)}|", plan.TrialId("none", t));
            }
        }
    }

    [Fact]
    public void More_passages_than_prompts_or_than_the_text_holds_are_refused()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<EvalInputException>(() => Options(WriteProse(dir, 400), 7, dir.File("out")).Validate());
        Assert.Equal("--haystack-passages 7: must be between 1 and the prompts per length (depths x trials per depth = 6)", e.Message);

        // A product past int wrapped negative and blamed --haystack-passages; a huge grid built its prompts unstoppably.
        foreach (var (depths, trials) in new[] { (2, 2_000_000_000), (100_000, 1), (101, 100) })
        {
            var big = Options(WriteProse(dir, 400), 1, dir.File("out")) with { Depths = depths, TrialsPerDepth = trials };
            Assert.Equal($"--depths {depths} x --trials-per-depth {trials} = {(long)depths * trials:N0} prompts per length: at most 10,000 "
                + "(the prompts of a length are built before the first is run)", Assert.Throws<EvalInputException>(big.Validate).Message);
        }
        Assert.Null(Record.Exception((Options(WriteProse(dir, 400), 1, dir.File("out")) with { Depths = 100, TrialsPerDepth = 100 }).Validate));

        // Two 300-character sentences hold one 512-token prompt (~430 characters of haystack at one token per
        // character), and the second passage would have to start inside the first sentence: no room for two.
        string path = dir.File("long-sentences.txt");
        File.WriteAllText(path, string.Concat(Enumerable.Range(0, 2).Select(i => new string((char)('a' + i), 298) + ". ")));
        NiahPlan.Build(Options(path, 1, dir.File("out")), _model);
        e = Assert.Throws<EvalInputException>(() => NiahPlan.Build(Options(path, 2, dir.File("out")), _model));
        Assert.StartsWith($"--haystack-passages 2: {path} holds ", e.Message);
        Assert.Contains("512-token prompt takes about", e.Message);
        Assert.EndsWith("no room for 2 different passages", e.Message);
    }

    [Fact]
    public void Cli_run_records_each_trials_passage_and_a_rerun_reuses_them()
    {
        using var dir = new TempDir();
        string path = WriteProse(dir, 400);
        string outDir = dir.File("out");
        string[] args = ["eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--depths", "2", "--trials-per-depth", "2", "--modes", "none",
            "--haystack", path, "--haystack-passages", "2", "--seed", "5", "--threads", "2", "--out", outDir, "--json"];
        var (code, stdout, err) = CliEvalTests.Run(args);
        Assert.True(code == 0, err);

        using var doc = JsonDocument.Parse(stdout);
        var offsets = doc.RootElement.GetProperty("passage_offsets").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Assert.Equal(2, offsets.Count);
        Assert.Equal(0, offsets[0]);
        var records = TrialLog.ReadAll(Path.Combine(outDir, NiahRunner.ResultsFile)).Values.ToList();
        Assert.Equal(4, records.Count);
        Assert.All(records, r => Assert.Equal(offsets[(r.DepthIndex * 2 + r.Trial) % 2], r.HaystackOffset));
        Assert.Equal(2, records.Count(r => r.HaystackOffset == offsets[1]));
        Assert.Contains($"2 passages, from characters 0, {offsets[1]}", File.ReadAllText(Path.Combine(outDir, "summary.md")));

        (code, stdout, err) = CliEvalTests.Run([.. args[..^1]]);
        Assert.True(code == 0, err);
        Assert.Contains("this run: 0 trials (4 already recorded, skipped)", stdout);
    }
}
