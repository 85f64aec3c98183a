using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Niah;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>Determinism, sharing and resuming, on small grids of their own.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class NiahRunTests
{
    private static NiahOptions Small(string dir, bool share = true, int seed = 3) => new()
    {
        ModelPath = TestPaths.TinyModel,
        Lengths = [512, 1024],
        Depths = 4,
        Modes = [RopeMode.None, RopeMode.Yarn],
        Seed = seed,
        OutputDirectory = dir,
        ShareWork = share,
        Engine = new EngineOptions { Threads = 2 },
    };

    /// <summary>The parts of a trial that do not depend on timing.</summary>
    private static List<string> Outcomes(string dir) =>
        TrialLog.ReadAll(Path.Combine(dir, NiahRunner.ResultsFile)).Values
            .OrderBy(r => r.Id, StringComparer.Ordinal)
            .Select(r => $"{r.Id} {r.PromptTokens} {r.Depth} {r.DepthActual} {r.Expected} [{r.Answer}] {r.Correct} {r.FactorSet} {r.NCtx}")
            .ToList();

    [Fact]
    public void Same_seed_gives_the_same_trials_and_sharing_the_prefix_changes_no_answer()
    {
        using var dir = new TempDir();
        var shared = NiahRunner.Run(Small(dir.File("a")));
        NiahRunner.Run(Small(dir.File("b")));
        var naive = NiahRunner.Run(Small(dir.File("c"), share: false));

        Assert.Equal(Outcomes(dir.File("a")), Outcomes(dir.File("b")));
        Assert.Equal(Outcomes(dir.File("a")), Outcomes(dir.File("c")));
        Assert.Equal(naive.Run.NaivePrefillTokens, naive.Run.PrefilledTokens);
        Assert.True(shared.Run.PrefilledTokens < 0.8 * shared.Run.NaivePrefillTokens,
            $"shared prefill {shared.Run.PrefilledTokens} of {shared.Run.NaivePrefillTokens}");

        using var other = new TempDir();
        NiahRunner.Run(Small(other.Path, seed: 4) with { Modes = [RopeMode.None], Lengths = [512] });
        var keysA = TrialLog.ReadAll(Path.Combine(dir.File("a"), NiahRunner.ResultsFile)).Values.Where(r => r.Mode == "none" && r.Length == 512).Select(r => r.Expected).Order();
        var keysB = TrialLog.ReadAll(Path.Combine(other.Path, NiahRunner.ResultsFile)).Values.Select(r => r.Expected).Order();
        Assert.NotEqual(keysA, keysB);
    }

    [Fact]
    public void A_run_stopped_before_its_first_result_leaves_no_folder_or_empty_results_file_behind()
    {
        // Ctrl-C while the first trial or window ran left an empty results.jsonl (niah) or an empty folder (ppl).
        using var dir = new TempDir();
        using var stopped = new CancellationTokenSource();
        stopped.Cancel();
        string niah = Path.Combine(dir.Path, "a", "niah");
        Assert.ThrowsAny<OperationCanceledException>(() => NiahRunner.Run(Small(niah), ct: stopped.Token));
        string ppl = Path.Combine(dir.Path, "b", "ppl");
        var perplexity = new Perplexity.PerplexityOptions
        {
            ModelPath = TestPaths.TinyModel, TextPath = TestPaths.ProseSearch, Lengths = [512], Windows = 1, OutputDirectory = ppl,
            Engine = new EngineOptions { Threads = 2 },
        };
        Assert.ThrowsAny<OperationCanceledException>(() => Perplexity.PerplexityRunner.Run(perplexity, ct: stopped.Token));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));

        // A folder that was there stays, with what was in it; a results file that was there stays, even empty.
        Directory.CreateDirectory(niah);
        File.WriteAllText(Path.Combine(niah, NiahRunner.ResultsFile), "");
        Assert.ThrowsAny<OperationCanceledException>(() => NiahRunner.Run(Small(niah), ct: stopped.Token));
        Assert.Equal([Path.Combine(niah, NiahRunner.ResultsFile)], Directory.GetFileSystemEntries(niah));
        Directory.CreateDirectory(ppl);
        Assert.ThrowsAny<OperationCanceledException>(() => Perplexity.PerplexityRunner.Run(perplexity, ct: stopped.Token));
        Assert.True(Directory.Exists(ppl));

        // Stopped after some trials, the results file keeps them (a later run resumes from it).
        string resumed = dir.File("resumed");
        NiahRunner.Run(Small(resumed) with { Modes = [RopeMode.None] });
        int trials = Outcomes(resumed).Count;
        Assert.ThrowsAny<OperationCanceledException>(() => NiahRunner.Run(Small(resumed), ct: stopped.Token));
        Assert.Equal(trials, Outcomes(resumed).Count);
    }

    [Fact]
    public void Every_trial_records_the_expected_answers_nll_as_the_search_scores_it()
    {
        using var dir = new TempDir();
        var options = Small(dir.File("a")) with { Modes = [RopeMode.Yarn] };
        NiahRunner.Run(options);
        NiahRunner.Run(options with { OutputDirectory = dir.File("b"), ShareWork = false });
        var shared = TrialLog.ReadAll(Path.Combine(dir.File("a"), NiahRunner.ResultsFile));
        var naive = TrialLog.ReadAll(Path.Combine(dir.File("b"), NiahRunner.ResultsFile));

        // The shared prefix changes nothing but rounding.
        Assert.Equal(shared.Keys.Order(), naive.Keys.Order());
        foreach (var (id, r) in shared)
            Assert.Equal(naive[id].AnswerNll!.Value, r.AnswerNll!.Value, 3);
        // Keys answered right are likely; keys answered wrong are, on average, less likely.
        var right = shared.Values.Where(r => r.Correct).ToList();
        var wrong = shared.Values.Where(r => !r.Correct).ToList();
        Assert.NotEmpty(right);
        Assert.All(right, r => Assert.InRange(r.AnswerNll!.Value, 0, 1));
        if (wrong.Count > 0) Assert.True(wrong.Average(r => r.AnswerNll!.Value) > right.Average(r => r.AnswerNll!.Value));

        // The same number as one full prefill in its own context (TeacherForcing.ScoreAnswer without sharing).
        using var model = EvalModel.Load(TestPaths.TinyModel, options.Engine);
        var plan = NiahPlan.Build(options, model);
        var deepest = plan.Trials.Where(t => t.Length == 1024).MaxBy(t => t.DepthIndex)!;
        using var context = model.CreateContext(RopeMode.Yarn, deepest.Length, deepest.Length);
        var scored = Perplexity.TeacherForcing.ScoreAnswer(new Prompts.PromptPrefiller(context, share: false), deepest.Prompt);
        Assert.Equal(scored.MeanNll, shared[plan.TrialId("yarn", deepest)].AnswerNll!.Value, 3);
    }

    [Fact]
    public void A_folder_whose_trials_of_a_mode_ran_on_another_file_is_refused_and_a_copy_of_the_file_resumes()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("a"));
        Directory.CreateDirectory(dir.File("b"));
        // The same file name, other factors (2x and 4x YaRN-rule patches).
        string twoX = PatchedModels.YarnRule(dir.File("a"), 2);
        string fourX = Path.Combine(dir.File("b"), Path.GetFileName(twoX));
        File.Move(PatchedModels.YarnRule(dir.File("b"), 4), fourX);
        var options = Small(dir.File("run")) with { Lengths = [1024], Depths = 2, Modes = [RopeMode.ParsePatched($"p={twoX}")] };
        NiahRunner.Run(options);
        var records = TrialLog.ReadAll(Path.Combine(options.OutputDirectory, NiahRunner.ResultsFile)).Values;
        Assert.All(records, r => Assert.Equal(ModelFingerprint.Of(twoX), r.ModelId));
        Assert.Matches("^[0-9a-f]{16}$", records.First().ModelId);
        Assert.NotEqual(ModelFingerprint.Of(twoX), ModelFingerprint.Of(fourX));

        var e = Assert.Throws<EvalInputException>(() => NiahRunner.Run(options with { Modes = [RopeMode.ParsePatched($"p={fourX}")] }));
        Assert.Equal($"{options.OutputDirectory}: its trials of mode 'p' ran on {Path.GetFileName(twoX)} ({ModelFingerprint.Of(twoX)}), "
            + $"not on {Path.GetFileName(fourX)} ({ModelFingerprint.Of(fourX)}): give another --out or another mode name", e.Message);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(options.OutputDirectory, NiahRunner.ResultsFile)).Length);

        // A copy under another name is the same file: every trial is skipped.
        string copy = dir.File("copy.gguf");
        File.Copy(twoX, copy);
        Assert.Equal(0, NiahRunner.Run(options with { Modes = [RopeMode.ParsePatched($"p={copy}")] }).Run.TrialsRun);
    }

    [Fact]
    public void Short_set_trials_recorded_at_the_files_attention_magnitude_are_not_resumed_into()
    {
        using var dir = new TempDir();
        string patched = PatchedModels.YarnRule(dir.Path, 4);
        var options = Small(dir.File("run")) with { Lengths = [512, 1024], Depths = 2, Modes = [RopeMode.ParsePatched($"p={patched}")] };
        NiahRunner.Run(options);
        string results = Path.Combine(options.OutputDirectory, NiahRunner.ResultsFile);
        Assert.Equal(0, NiahRunner.Run(options).Run.TrialsRun); // this version's folder resumes

        // A folder written before session 17: its 512-token trials ran at the file's attention factor, their rope text
        // without the note.
        var lines = File.ReadAllLines(results);
        File.WriteAllLines(results, lines.Select(l => System.Text.RegularExpressions.Regex.Replace(l, "; model's own attention magnitude \\(yarn_attn_factor [0-9.]+\\)", "")));
        Assert.NotEqual(lines, File.ReadAllLines(results));
        var e = Assert.Throws<EvalInputException>(() => NiahRunner.Run(options));
        Assert.Equal($"{options.OutputDirectory}: its short-set trials of mode 'p' (length 512) ran at the file's attention factor, as older versions did; "
            + "short contexts now run at the model's own magnitude: give another --out", e.Message);
    }

    [Fact]
    public void An_interrupted_run_resumes_with_only_the_missing_trials()
    {
        using var dir = new TempDir();
        var options = Small(dir.Path) with { Lengths = [512], Modes = [RopeMode.None] };
        using var cts = new CancellationTokenSource();
        var stopAfterTwo = new Stopper(cts, 2);
        Assert.ThrowsAny<OperationCanceledException>(() => NiahRunner.Run(options, stopAfterTwo, cts.Token));
        string results = Path.Combine(dir.Path, NiahRunner.ResultsFile);
        Assert.Equal(2, File.ReadAllLines(results).Length);
        File.AppendAllText(results, "{\"id\":\"none|fil"); // a line torn by a kill

        // A run refused by its checks (another model file under the same mode name) leaves the file as it was, torn
        // end included: the cut came before the checks.
        byte[] before = File.ReadAllBytes(results);
        string other = dir.File("other.gguf");
        Gguf.GgufRewriter.Rewrite(Gguf.GgufReader.Read(TestPaths.TinyModel), new Gguf.GgufEdit().SetValue("general.name", Gguf.GgufValue.String("other")), other);
        Assert.Contains("its trials of mode 'none' ran on", Assert.Throws<EvalInputException>(() => NiahRunner.Run(options with { ModelPath = other })).Message);
        Assert.Equal(before, File.ReadAllBytes(results));

        var resumed = NiahRunner.Run(options);
        Assert.Equal(2, resumed.Run.TrialsSkipped);
        Assert.Equal(2, resumed.Run.TrialsRun);
        var lines = File.ReadAllLines(results);
        Assert.Equal(4, lines.Length);
        Assert.Equal(4, lines.Select(l => TrialRecord.FromJsonLine(l).Id).Distinct().Count());
        Assert.Equal(4, resumed.Summary.Cell("none", 512).Trials);
    }

    [Fact]
    public void Summary_means_the_answer_nll_of_the_trials_that_carry_it_and_leaves_it_out_when_none_does()
    {
        using var dir = new TempDir();
        var options = Small(dir.Path) with { Lengths = [1024], Modes = [RopeMode.Yarn] };
        var first = NiahRunner.Run(options);
        string results = Path.Combine(dir.Path, NiahRunner.ResultsFile);
        var records = TrialLog.ReadAll(results).Values.OrderBy(r => r.Id, StringComparer.Ordinal).ToList();
        Assert.Equal(records.Average(r => r.AnswerNll!.Value), first.Summary.Cell("yarn", 1024).MeanAnswerNll!.Value, 9);

        // Lines without answer_nll (written before it was recorded): the mean is over the others only.
        File.WriteAllLines(results, records.Select((r, i) => (i < 2 ? r with { AnswerNll = null } : r).ToJsonLine()));
        var mixed = NiahRunner.Run(options);
        Assert.Equal(0, mixed.Run.TrialsRun);
        Assert.Equal(records.Skip(2).Average(r => r.AnswerNll!.Value), mixed.Summary.Cell("yarn", 1024).MeanAnswerNll!.Value, 9);

        // None carries it: no NLL table, an empty CSV field, JSON null.
        File.WriteAllLines(results, records.Select(r => (r with { AnswerNll = null }).ToJsonLine()));
        var none = NiahRunner.Run(options);
        Assert.Null(none.Summary.Cell("yarn", 1024).MeanAnswerNll);
        Assert.DoesNotContain("Answer NLL", File.ReadAllText(Path.Combine(dir.Path, "summary.md")));
        Assert.EndsWith(",", File.ReadAllLines(Path.Combine(dir.Path, "summary.csv"))[1]);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "summary.json")));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, json.RootElement.GetProperty("cells")[0].GetProperty("mean_answer_nll").ValueKind);
    }

    private sealed class Stopper(CancellationTokenSource cts, int after) : IProgress<NiahProgress>
    {
        public void Report(NiahProgress value)
        {
            if (value.Done >= after) cts.Cancel();
        }
    }
}
