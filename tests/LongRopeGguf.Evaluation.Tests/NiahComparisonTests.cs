using System.Text.Json;
using LongRopeGguf.Cli;
using LongRopeGguf.Evaluation.Niah;
using LongRopeGguf.Evaluation.Statistics;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>`eval compare`: niah runs pooled, each mode against a baseline on the same prompts.</summary>
[Collection(TinyModelCollection.Name)] // the CLI tests swap Console.Out/Error, as the others of the collection do
public sealed class NiahComparisonTests(NiahGridFixture grid)
{
    [Theory]
    [InlineData(6, 0, 0.03125)]        // 2 x (1/2)^6
    [InlineData(0, 6, 0.03125)]
    [InlineData(5, 1, 0.21875)]        // 2 x (1 + 6) / 64
    [InlineData(5, 2, 0.453125)]       // 2 x (1 + 7 + 21) / 128
    [InlineData(10, 3, 0.0922851563)]  // 2 x (1 + 13 + 78 + 286) / 8192
    [InlineData(4, 4, 1.0)]
    [InlineData(0, 0, 1.0)]
    public void Sign_test_p_values_are_the_exact_binomial_tails(int onlyA, int onlyB, double expected) =>
        Assert.Equal(expected, SignTest.TwoSidedP(onlyA, onlyB), 9);

    [Fact]
    public void Sign_test_is_symmetric_monotone_and_does_not_underflow()
    {
        for (int a = 0; a <= 40; a++)
            for (int b = 0; b <= 40; b++)
            {
                double p = SignTest.TwoSidedP(a, b);
                Assert.InRange(p, double.Epsilon, 1.0);
                Assert.Equal(p, SignTest.TwoSidedP(b, a), 12);
                // A more uneven split is less likely: strictly once A is ahead (1 vs 0 and 1 vs 1 are both p = 1).
                if (a > b) Assert.True(SignTest.TwoSidedP(a + 1, b) < p, $"p({a + 1},{b}) not below p({a},{b})");
                if (a == b) Assert.Equal(1.0, SignTest.TwoSidedP(a + 1, b), 12);
            }
        // 600 vs 400 of 1000: z = 6.3, p ~ 2.7e-10 (2^-1000 alone underflows a double).
        Assert.InRange(SignTest.TwoSidedP(600, 400), 1e-10, 5e-10);
    }

    [Fact]
    public void A_real_grid_compared_with_yarn_counts_what_its_trial_lines_say()
    {
        string dir = grid.Options.OutputDirectory;
        var comparison = NiahComparison.Build([dir], "yarn");
        var records = grid.Records.Values.ToList();

        Assert.Equal(NiahGridFixture.Lengths.Length * 3, comparison.Rows.Count);
        foreach (var row in comparison.Rows)
        {
            var mine = records.Where(r => r.Mode == row.Mode && r.Length == row.Length).ToList();
            Assert.Equal(mine.Count, row.Trials);
            Assert.Equal(mine.Count(r => r.Correct), row.Correct);
            if (row.Mode == "yarn") { Assert.Null(row.Paired); continue; }
            var yarn = records.Where(r => r.Mode == "yarn" && r.Length == row.Length).ToDictionary(r => (r.DepthIndex, r.Trial), r => r.Correct);
            Assert.Equal(mine.Count, row.Paired);
            Assert.Equal(mine.Count(r => r.Correct && !yarn[(r.DepthIndex, r.Trial)]), row.OnlyThisRight);
            Assert.Equal(mine.Count(r => !r.Correct && yarn[(r.DepthIndex, r.Trial)]), row.OnlyBaselineRight);
        }
        // Without rescaling the model loses every key at 2048 that YaRN finds; the YaRN-rule file answers like YaRN at 1024.
        var none2048 = comparison.Rows.Single(r => r.Mode == "none" && r.Length == 2048);
        Assert.Equal(0, none2048.OnlyThisRight);
        Assert.Equal(comparison.Rows.Single(r => r.Mode == "yarn" && r.Length == 2048).Correct, none2048.OnlyBaselineRight);
        var rule1024 = comparison.Rows.Single(r => r.Mode == NiahGridFixture.PatchedMode && r.Length == 1024);
        Assert.Equal((0, 0, 1.0), (rule1024.OnlyThisRight, rule1024.OnlyBaselineRight, rule1024.SignTestP));
    }

    [Fact]
    public void By_depth_each_depth_row_counts_its_own_trials_and_the_depth_rows_add_up_to_the_length_row()
    {
        string dir = grid.Options.OutputDirectory;
        var records = grid.Records.Values.ToList();
        var whole = NiahComparison.Build([dir], "yarn");
        var split = NiahComparison.Build([dir], "yarn", byDepth: true);
        Assert.True(split.ByDepth);
        Assert.All(whole.Rows, r => Assert.Null(r.Depth));

        var depths = records.Select(r => Math.Round(r.Depth, 4)).Distinct().Order().ToList();
        Assert.True(depths.Count > 1);
        Assert.Equal(whole.Rows.Count * depths.Count, split.Rows.Count);
        foreach (var row in split.Rows)
        {
            var mine = records.Where(r => r.Mode == row.Mode && r.Length == row.Length && Math.Round(r.Depth, 4) == row.Depth).ToList();
            Assert.Equal(mine.Count, row.Trials);
            Assert.Equal(mine.Count(r => r.Correct), row.Correct);
            if (row.Mode == "yarn") continue;
            var yarn = records.Where(r => r.Mode == "yarn" && r.Length == row.Length).ToDictionary(r => (r.DepthIndex, r.Trial), r => r.Correct);
            Assert.Equal(mine.Count(r => r.Correct && !yarn[(r.DepthIndex, r.Trial)]), row.OnlyThisRight);
            Assert.Equal(mine.Count(r => !r.Correct && yarn[(r.DepthIndex, r.Trial)]), row.OnlyBaselineRight);
        }
        foreach (var row in whole.Rows)
        {
            var parts = split.Rows.Where(r => r.Mode == row.Mode && r.Length == row.Length).ToList();
            Assert.Equal(depths, parts.Select(r => r.Depth!.Value).ToList()); // in depth order
            Assert.Equal((row.Trials, row.Correct, row.OnlyThisRight ?? 0, row.OnlyBaselineRight ?? 0),
                (parts.Sum(r => r.Trials), parts.Sum(r => r.Correct), parts.Sum(r => r.OnlyThisRight ?? 0), parts.Sum(r => r.OnlyBaselineRight ?? 0)));
        }

        var (code, stdout, err) = CliEvalTests.Run("eval", "compare", dir, "--by-depth");
        Assert.True(code == 0, err);
        Assert.Contains("| length | depth | mode | trials |", stdout);
        Assert.Contains($"| {NiahGridFixture.Lengths[0]} | 0 | yarn |", stdout);
        (code, stdout, err) = CliEvalTests.Run("eval", "compare", dir, "--by-depth", "--json");
        Assert.True(code == 0, err);
        var rows = JsonDocument.Parse(stdout).RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(split.Rows.Count, rows.Count);
        Assert.Equal(depths[^1], rows[^1].GetProperty("depth").GetDouble());
    }

    private static TrialRecord Trial(string mode, int seed, int trial, bool correct, string model = "tiny.gguf", double? nll = null, string? modelId = null) => new()
    {
        Id = $"{mode}|prose.txt|key|s{seed}|a5|L8192|d0/1|t{trial}", Mode = mode, ModeKind = "patched", Model = model, ModelId = modelId,
        Haystack = "prose.txt", Needle = "key", Seed = seed, Length = 8192, PromptTokens = 8188, Depth = 0.5, DepthActual = 0.5,
        DepthIndex = 0, Trial = trial, Expected = "12345", Answer = correct ? "12345" : "54321", Correct = correct, AnswerNll = nll,
        Scoring = "first-number", FactorSet = "long", Rope = "longrope", NCtx = 8192, NCtxSeq = 8192,
        PrefillTokens = 1, ReusedTokens = 0, PrefillMs = 1, DecodeMs = 1, WallMs = 1,
    };

    private static string WriteRun(TempDir dir, string name, IEnumerable<TrialRecord> records)
    {
        string folder = dir.File(name);
        Directory.CreateDirectory(folder);
        File.WriteAllLines(Path.Combine(folder, NiahRunner.ResultsFile), records.Select(r => r.ToJsonLine()));
        return folder;
    }

    [Fact]
    public void Runs_are_pooled_prompt_by_prompt_and_a_prompt_in_two_folders_counts_once()
    {
        using var dir = new TempDir();
        // Seed 1: yarn right on prompts 0, 1; x on 0, 2, 3, 4. Seed 2: yarn right on 0; x on 1, 2.
        var a = WriteRun(dir, "a", Enumerable.Range(0, 6).SelectMany(t => new[] { Trial("yarn", 1, t, t is 0 or 1), Trial("x", 1, t, t is 0 or 2 or 3 or 4) }));
        var b = WriteRun(dir, "b", Enumerable.Range(0, 4).SelectMany(t => new[] { Trial("yarn", 2, t, t is 0), Trial("x", 2, t, t is 1 or 2) })
            .Append(Trial("x", 1, 0, true))); // seed 1's prompt 0 again

        var (code, stdout, err) = CliEvalTests.Run("eval", "compare", a, Path.Combine(b, NiahRunner.ResultsFile), "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("yarn", doc.RootElement.GetProperty("baseline").GetString());
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(["yarn", "x"], rows.Select(r => r.GetProperty("mode").GetString()));
        Assert.Equal((10, 3), (rows[0].GetProperty("trials").GetInt32(), rows[0].GetProperty("correct").GetInt32()));
        Assert.False(rows[0].TryGetProperty("paired", out _));
        var x = rows[1];
        Assert.Equal((10, 6, 10), (x.GetProperty("trials").GetInt32(), x.GetProperty("correct").GetInt32(), x.GetProperty("paired").GetInt32()));
        Assert.Equal((5, 2), (x.GetProperty("only_this_right").GetInt32(), x.GetProperty("only_baseline_right").GetInt32()));
        Assert.Equal(0.453125, x.GetProperty("sign_test_p").GetDouble(), 9);

        (code, stdout, err) = CliEvalTests.Run("eval", "compare", a, b, "--baseline", "x");
        Assert.True(code == 0, err);
        Assert.Contains("| 8192 | x | 10 | 6 | 0.60 |  |  |  |  |", stdout);
        Assert.Contains("| 8192 | yarn | 10 | 3 | 0.30 | 10 | 2 | 5 | 0.453 |", stdout);
    }

    [Fact]
    public void Runs_of_one_key_seed_with_other_depths_are_pooled_with_a_warning_that_they_share_keys()
    {
        using var dir = new TempDir();
        // The same run twice (its prompts count once): no warning. A run of seed 1 with 2 depths asks for the keys of
        // seed 1's depth index 0 again in other prompts (the key depends on seed, length, depth index and trial only).
        var a = WriteRun(dir, "a", Enumerable.Range(0, 3).SelectMany(t => new[] { Trial("yarn", 1, t, true), Trial("x", 1, t, false) }));
        var again = WriteRun(dir, "again", Enumerable.Range(0, 3).Select(t => Trial("x", 1, t, false)));
        var (code, stdout, err) = CliEvalTests.Run("eval", "compare", a, again, "--json");
        Assert.True(code == 0, err);
        Assert.Equal("", err);
        using (var doc = JsonDocument.Parse(stdout))
            Assert.Equal(0, doc.RootElement.GetProperty("warnings").GetArrayLength());

        var otherDepths = WriteRun(dir, "other-depths", Enumerable.Range(0, 2).Select(t => Trial("yarn", 1, t, true) with
        {
            Id = $"yarn|prose.txt|key|s1|a5|L8192|d0/2|t{t}", Depth = 0,
        }).Append(Trial("yarn", 2, 0, true)));
        (code, stdout, err) = CliEvalTests.Run("eval", "compare", a, otherDepths, "--json");
        Assert.True(code == 0, err);
        const string warning = "4 of the 6 prompts at 8192 tokens ask for a pass key another pooled prompt asks for (key seed 1 in runs with other depths, haystacks or passages)";
        Assert.StartsWith($"longrope: warning: {warning}", err);
        using (var doc = JsonDocument.Parse(stdout))
            Assert.StartsWith(warning, doc.RootElement.GetProperty("warnings")[0].GetString());

        // A fixed answer (--answer) is not a key: the same indices in other prompts share nothing.
        var fixedA = WriteRun(dir, "fixed-a", [Trial("yarn", 1, 0, true) with { Scoring = "contains" }]);
        var fixedB = WriteRun(dir, "fixed-b", [Trial("yarn", 1, 0, true) with { Scoring = "contains", Id = "yarn|prose.txt|key|s1|a5|L8192|d0/2|t0" }]);
        (code, _, err) = CliEvalTests.Run("eval", "compare", fixedA, fixedB);
        Assert.True(code == 0, err);
        Assert.Equal("", err);
    }

    [Fact]
    public void The_same_prompt_from_runs_with_other_depth_grids_counts_once()
    {
        // --depths 3 and --depths 2 of one seed both put trial t's needle at depth 0 with depth index 0: the same key in
        // the same text. Their ids differ ("d0/3", "d0/2"), and the prompt was counted twice in the sign test.
        using var dir = new TempDir();
        TrialRecord At(string mode, int index, int depths, double depth, bool correct) => Trial(mode, 1, 0, correct) with
        {
            Id = $"{mode}|prose.txt|key|s1|a5|L8192|d{index}/{depths}|t0", DepthIndex = index, Depth = depth,
        };
        var three = WriteRun(dir, "three", [At("yarn", 0, 3, 0, false), At("x", 0, 3, 0, true), At("yarn", 1, 3, 0.5, false), At("x", 1, 3, 0.5, true)]);
        var two = WriteRun(dir, "two", [At("yarn", 0, 2, 0, false), At("x", 0, 2, 0, true)]);

        var comparison = NiahComparison.Build([three, two], "yarn");
        var x = Assert.Single(comparison.Rows, r => r.Mode == "x");
        Assert.Equal((2, 2, 2, 2, 0), (x.Trials, x.Correct, x.Paired!.Value, x.OnlyThisRight!.Value, x.OnlyBaselineRight!.Value));
        Assert.Empty(comparison.Warnings); // one prompt, not two asking for one key

        // Depth 1 of `--depths 2` is index 1 at another depth than index 1 of `--depths 3`: another prompt, the same key.
        var twoEnd = WriteRun(dir, "two-end", [At("yarn", 1, 2, 1, false), At("x", 1, 2, 1, true)]);
        comparison = NiahComparison.Build([three, twoEnd], "yarn");
        Assert.Equal(3, Assert.Single(comparison.Rows, r => r.Mode == "x").Trials);
        Assert.StartsWith("2 of the 3 prompts at 8192 tokens ask for a pass key another pooled prompt asks for", Assert.Single(comparison.Warnings));
    }

    [Fact]
    public void One_prompt_answered_both_ways_in_two_files_counts_once_with_a_warning()
    {
        // The same run on two backends can answer one prompt differently; pooled, the prompt counts once (the first
        // file's answer) and the user is told, where before the second answer was dropped without a word.
        using var dir = new TempDir();
        var cpu = WriteRun(dir, "cpu", [Trial("yarn", 1, 0, false), Trial("x", 1, 0, true), Trial("x", 1, 1, true)]);
        var gpu = WriteRun(dir, "gpu", [Trial("yarn", 1, 0, false), Trial("x", 1, 0, false), Trial("x", 1, 1, true)]);

        var comparison = NiahComparison.Build([cpu, gpu], "yarn");
        var x = Assert.Single(comparison.Rows, r => r.Mode == "x");
        Assert.Equal((2, 2), (x.Trials, x.Correct));
        Assert.Equal("mode 'x': 1 prompt right in one file and wrong in another (the first file's answer is counted)", Assert.Single(comparison.Warnings));

        // Agreeing duplicates are no news.
        var cpuAgain = WriteRun(dir, "cpu-again", [Trial("yarn", 1, 0, false), Trial("x", 1, 0, true), Trial("x", 1, 1, true)]);
        Assert.Empty(NiahComparison.Build([cpu, cpuAgain], "yarn").Warnings);
    }

    [Fact]
    public void A_mode_with_no_prompt_in_common_with_the_baseline_gets_no_p_value_and_a_warning()
    {
        // pi 0/1 on seed 2 against yarn 1/1 on seed 1: printed "0 | 0 | 0 | 1.000", as if tested and found no different.
        using var dir = new TempDir();
        var one = WriteRun(dir, "one", [Trial("yarn", 1, 0, true)]);
        var two = WriteRun(dir, "two", [Trial("pi", 2, 0, false)]);

        var comparison = NiahComparison.Build([one, two], "yarn");
        var pi = Assert.Single(comparison.Rows, r => r.Mode == "pi");
        Assert.Equal(0, pi.Paired);
        Assert.Null(pi.SignTestP);
        Assert.Contains("| 8192 | pi | 1 | 0 | 0.00 | 0 | 0 | 0 |  |", comparison.ToMarkdown());
        Assert.Equal("no prompt in common with yarn for pi at 8192 tokens (runs of other seeds, lengths or haystacks): nothing compared, no sign test",
            Assert.Single(comparison.Warnings));
        using var json = new MemoryStream();
        comparison.WriteJson(json);
        var row = JsonDocument.Parse(json.ToArray()).RootElement.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("mode").GetString() == "pi");
        Assert.Equal(JsonValueKind.Null, row.GetProperty("sign_test_p").ValueKind);
    }

    [Fact]
    public void Answer_nlls_are_compared_on_every_prompt_both_modes_have_one_for()
    {
        using var dir = new TempDir();
        // Both right on prompts 0-3, so accuracy cannot tell them apart; x's key is more likely on 0-2, less on 3.
        // Prompt 4 is a line from before answer_nll was recorded: it counts for accuracy, not for the NLL comparison.
        double[] yarn = [0.5, 0.4, 0.9, 0.1], x = [0.1, 0.2, 0.3, 0.6];
        var run = WriteRun(dir, "a", Enumerable.Range(0, 4)
            .SelectMany(t => new[] { Trial("yarn", 1, t, true, nll: yarn[t]), Trial("x", 1, t, true, nll: x[t]) })
            .Concat([Trial("yarn", 1, 4, false), Trial("x", 1, 4, false, nll: 2.0)]));

        var (code, stdout, err) = CliEvalTests.Run("eval", "compare", run, "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.False(rows[0].TryGetProperty("answer_nll", out _));
        Assert.Equal((5, 0, 0), (rows[1].GetProperty("paired").GetInt32(), rows[1].GetProperty("only_this_right").GetInt32(), rows[1].GetProperty("only_baseline_right").GetInt32()));
        var nll = rows[1].GetProperty("answer_nll");
        Assert.Equal((4, 3, 1), (nll.GetProperty("prompts").GetInt32(), nll.GetProperty("lower").GetInt32(), nll.GetProperty("higher").GetInt32()));
        Assert.Equal(x.Average(), nll.GetProperty("mean").GetDouble(), 9);
        Assert.Equal(yarn.Average(), nll.GetProperty("baseline_mean").GetDouble(), 9);
        Assert.Equal(0.625, nll.GetProperty("sign_test_p").GetDouble(), 9); // 2 x P(X <= 1), X ~ B(4, 1/2)

        (code, stdout, err) = CliEvalTests.Run("eval", "compare", run);
        Assert.True(code == 0, err);
        Assert.Contains("| 8192 | x | 4 | 0.300 | 0.475 | 3 | 1 | 0.625 |", stdout);

        // Runs without answer NLLs print no NLL table.
        var old = WriteRun(dir, "old", [Trial("yarn", 1, 0, true), Trial("x", 1, 0, false)]);
        (code, stdout, _) = CliEvalTests.Run("eval", "compare", old);
        Assert.Equal(0, code);
        Assert.DoesNotContain("Answer NLL", stdout);
    }

    [Fact]
    public void Files_beside_the_run_folders_that_a_glob_catches_are_skipped_with_a_warning()
    {
        using var dir = new TempDir();
        var a = WriteRun(dir, "a", [Trial("yarn", 1, 0, true), Trial("x", 1, 0, false)]);
        var b = WriteRun(dir, "b", [Trial("yarn", 2, 0, false), Trial("x", 2, 0, true)]);
        File.WriteAllText(dir.File("a.log"), "niah: 2/2\n");
        var (code, stdout, err) = CliEvalTests.Run("eval", "compare", a, dir.File("a.log"), b, "--json");
        Assert.True(code == 0, err);
        Assert.Equal($"longrope: warning: {dir.File("a.log")}: skipped, not a result folder or a .jsonl file", err.Trim());
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(2, root.GetProperty("sources").GetArrayLength());
        var x = root.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("mode").GetString() == "x");
        Assert.Equal((2, 1, 1), (x.GetProperty("paired").GetInt32(), x.GetProperty("only_this_right").GetInt32(), x.GetProperty("only_baseline_right").GetInt32()));

        // A run stopped while writing its last line: the line is left out, and now said (it was silent).
        string results = Path.Combine(b, "results.jsonl");
        File.AppendAllText(results, "{\"id\":\"x|torn");
        (code, stdout, err) = CliEvalTests.Run("eval", "compare", a, b, "--json");
        Assert.True(code == 0, err);
        Assert.Equal($"longrope: warning: {results}: its last line (13 bytes, no line end) is incomplete, as a run stopped while writing it leaves one; left out", err.Trim());
        Assert.Equal(2, JsonDocument.Parse(stdout).RootElement.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("mode").GetString() == "x").GetProperty("paired").GetInt32());

        // Only such files: nothing to compare.
        (code, _, err) = CliEvalTests.Run("eval", "compare", dir.File("a.log"));
        Assert.Equal(2, code);
        Assert.StartsWith($"longrope: error: no result folder or .jsonl file among {dir.File("a.log")}", err.Trim());
    }

    [Fact]
    public void Missing_folders_an_absent_baseline_and_one_name_for_two_files_are_bad_input()
    {
        using var dir = new TempDir();
        var a = WriteRun(dir, "a", [Trial("yarn", 1, 0, true), Trial("x", 1, 0, false)]);
        var b = WriteRun(dir, "b", [Trial("yarn", 2, 0, true), Trial("x", 2, 0, false, model: "other.gguf")]);

        AssertBadInput(["eval", "compare", dir.File("nothing-here")], $"{dir.File("nothing-here")}: not found (give eval niah result folders");
        AssertBadInput(["eval", "compare", a, ""], $"an empty name among the result folders ('{a}' '')"); // was ": not found"
        AssertBadInput(["eval", "compare", a, "--baseline", "pi"], "--baseline pi: no trial of that mode in ");
        AssertBadInput(["eval", "compare", a, "--baseline", "pi"], "(modes there: yarn, x)");
        // An empty file said "--baseline yarn: no trial of that mode in ... (modes there: none)", as if a mode were called none.
        string empty = dir.File("empty.jsonl");
        File.WriteAllText(empty, "");
        AssertBadInput(["eval", "compare", empty], $"{empty}: no trials in it (an empty file, or not an eval niah results.jsonl)");
        AssertBadInput(["eval", "compare", a, b], "mode 'x' is tiny.gguf in ");
        // One file name, two files (another patch of the model under the same name, in another folder): their
        // fingerprints tell them apart; lines without one are compared by name.
        var c1 = WriteRun(dir, "c1", [Trial("yarn", 3, 0, true), Trial("x", 3, 0, false, modelId: "00000000000000aa")]);
        var c2 = WriteRun(dir, "c2", [Trial("yarn", 4, 0, true), Trial("x", 4, 0, true)]);
        var c3 = WriteRun(dir, "c3", [Trial("yarn", 5, 0, true), Trial("x", 5, 0, false, modelId: "00000000000000bb")]);
        Assert.Equal(0, CliEvalTests.Run("eval", "compare", c1, c2).code);
        AssertBadInput(["eval", "compare", c1, c2, c3], "mode 'x' is tiny.gguf (00000000000000aa) in ");
        AssertBadInput(["eval", "compare", c2, c1, c3], "but tiny.gguf (00000000000000bb) in ");

        // A damaged results file is named with its line; the advice to start afresh belongs to a run, not to compare.
        string damaged = Path.Combine(WriteRun(dir, "c", []), NiahRunner.ResultsFile);
        File.WriteAllText(damaged, "{\"id\": 3}\n");
        var (code, _, err) = CliEvalTests.Run("eval", "compare", damaged);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.StartsWith($"longrope: error: {damaged}: line 1: not a trial record ('id' has the wrong type near byte 9)", err);
        Assert.DoesNotContain("start afresh", err);
        // Said in the file's terms: field names, never the serializer's .NET types.
        foreach (var (line, expected) in new[]
        {
            ("[1]", "not a JSON object near byte 2"),
            ("{\"mode\": \"a\"}", "missing 'id', "),
            ("{\"mode\": ", "near byte"),
        })
        {
            File.WriteAllText(damaged, line + "\n");
            (code, _, err) = CliEvalTests.Run("eval", "compare", damaged);
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Contains($"{damaged}: line 1: not a trial record (", err);
            Assert.Contains(expected, err);
            Assert.DoesNotContain("LongRopeGguf.", err);
            Assert.DoesNotContain("Path: $", err);
        }
        File.WriteAllText(damaged, "{\"id\": 3}\n");
        (code, _, err) = CliEvalTests.Run("eval", "niah", TestPaths.TinyModel, "--lengths", "300", "--depths", "1", "--modes", "none",
            "--threads", "2", "--out", Path.GetDirectoryName(damaged)!);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"{damaged}: line 1: not a trial record (", err);
        Assert.Contains("; move the file away to start afresh", err);
    }

    [Fact]
    public void Modes_keeps_only_the_named_modes_so_runs_with_one_name_for_two_files_pool_on_the_others()
    {
        using var dir = new TempDir();
        // Two runs where "rule" is another file in each (as session 22's rule at two attention factors), "s" the same.
        var a = WriteRun(dir, "a", [Trial("yarn", 1, 0, false), Trial("s", 1, 0, true), Trial("rule", 1, 0, true, modelId: "00000000000000aa")]);
        var b = WriteRun(dir, "b", [Trial("yarn", 2, 0, true), Trial("s", 2, 0, true), Trial("rule", 2, 0, false, modelId: "00000000000000bb")]);
        AssertBadInput(["eval", "compare", a, b], "mode 'rule' is tiny.gguf (00000000000000aa) in ");

        var comparison = NiahComparison.Build([a, b], "yarn", modes: ["s"]);
        Assert.Equal(["yarn", "s"], comparison.Rows.Select(r => r.Mode));
        var s = comparison.Rows[1];
        Assert.Equal((2, 2, 2, 1, 0), (s.Trials, s.Correct, s.Paired!.Value, s.OnlyThisRight!.Value, s.OnlyBaselineRight!.Value));
        Assert.Equal(1, comparison.Rows[0].Correct);

        var (code, output, err) = CliEvalTests.Run("eval", "compare", a, b, "--modes", "s", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        Assert.DoesNotContain("rule", output);
        AssertBadInput(["eval", "compare", a, b, "--modes", "s,pi"], "--modes: no trial of mode 'pi' in ");
        AssertBadInput(["eval", "compare", a, b, "--modes", "s,pi"], "(modes there: yarn, s, rule)");
    }

    private static void AssertBadInput(string[] args, string message)
    {
        var (code, _, err) = CliEvalTests.Run(args);
        Assert.Equal(ExitCodes.BadInput, code);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("longrope: error: ", line);
        Assert.Contains(message, line);
    }
}
