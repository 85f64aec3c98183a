using LongRopeGguf.Cli;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>`longrope eval` in-process: exit codes and one-line errors for bad input.</summary>
[Collection(TinyModelCollection.Name)] // serialized with the other model tests: these swap Console.Out/Error
public sealed class CliEvalTests
{
    internal static (int code, string stdout, string stderr) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (outW, errW) = (new StringWriter(), new StringWriter());
        Console.SetOut(outW);
        Console.SetError(errW);
        try
        {
            int code = Program.Run(args);
            return (code, outW.ToString(), errW.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    private static void AssertOneLineError(int code, string stderr, int expectedCode, string mustContain)
    {
        Assert.Equal(expectedCode, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("longrope:", StringComparison.Ordinal)).ToList();
        Assert.Single(lines);
        Assert.StartsWith("longrope: error: ", lines[0]);
        Assert.Contains(mustContain, lines[0]);
        Assert.DoesNotContain("   at ", stderr); // no stack trace
    }

    [Fact]
    public void Haystack_file_shorter_than_the_longest_prompt_is_bad_input()
    {
        using var dir = new TempDir();
        string hay = dir.File("short.txt");
        File.WriteAllText(hay, string.Concat(Enumerable.Repeat("A short sentence sits here. ", 20)));
        var (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512,2048", "--depths", "2", "--modes", "none",
            "--haystack", hay, "--out", dir.File("out"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "too short");
        Assert.Contains(hay, err);
        Assert.False(Directory.Exists(dir.File("out")), "nothing may run, and no folder be made, before the input is checked");
    }

    [Fact]
    public void Passages_of_the_filler_are_bad_input()
    {
        // The filler repeats one paragraph: asking for passages of it would silently give the same prompts' text.
        using var dir = new TempDir();
        var (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--depths", "4", "--modes", "none",
            "--haystack-passages", "2", "--out", dir.File("out"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "--haystack-passages 2: the filler haystack repeats one paragraph");
        Assert.False(Directory.Exists(dir.File("out")) && File.Exists(Path.Combine(dir.File("out"), "results.jsonl")));
    }

    [Theory]
    [InlineData("0", "--lengths '0': 0 is not a positive number of tokens")]
    [InlineData("512,-5", "--lengths '512,-5': -5 is not a positive number of tokens")]
    [InlineData("512,abc", "--lengths '512,abc': 'abc' is not a whole number of tokens")]
    [InlineData("512,,1024", "--lengths '512,,1024': an empty entry (two commas, or one at an end)")]
    [InlineData("512,", "--lengths '512,': an empty entry")]
    [InlineData("", "--lengths '': no count given (comma-separated token counts, e.g. 1024,2048)")]
    [InlineData("512,1024,512", "--lengths '512,1024,512': 512 is given twice")]
    [InlineData("4000000000", "--lengths '4000000000': 4000000000 is beyond what llama.cpp can address")]
    [InlineData("200000000", "KV cache alone needs")]
    [InlineData("40", "no room for a haystack")]
    public void A_length_list_that_is_malformed_or_that_the_model_cannot_hold_is_bad_input(string lengths, string message)
    {
        using var dir = new TempDir();
        var (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", lengths, "--modes", "none", "--out", dir.File("out"));
        AssertOneLineError(code, err, ExitCodes.BadInput, message);
    }

    [Theory]
    [InlineData("niah", "none,yarn,none", "--modes 'none,yarn,none': none is given twice")]
    [InlineData("niah", "none,,yarn", "--modes 'none,,yarn': an empty entry (two commas, or one at an end)")] // ran none and yarn
    [InlineData("ppl", "yarn,", "--modes 'yarn,': an empty entry (two commas, or one at an end)")]
    [InlineData("compare", "none,", "--modes 'none,': an empty entry (two commas, or one at an end)")]
    public void A_mode_list_with_a_mode_twice_or_an_empty_entry_is_named_with_the_option(string command, string modes, string message)
    {
        using var dir = new TempDir();
        string[] args = command switch
        {
            "niah" => ["eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--modes", modes, "--out", dir.File("out")],
            "ppl" => ["eval", "ppl", TestPaths.TinyModel, "--text", TestPaths.ProseHeldout, "--lengths", "512", "--modes", modes, "--out", dir.File("out")],
            _ => ["eval", "compare", dir.Path, "--modes", modes],
        };
        var (code, _, err) = Run(args);
        AssertOneLineError(code, err, ExitCodes.BadInput, message);
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void Ppl_without_modes_or_with_a_folder_as_text_is_bad_input_and_writes_nothing()
    {
        // --modes '' alone ran nothing and printed an empty table with exit 0; a folder as --text was "not found".
        using var dir = new TempDir();
        string text = TestPaths.ProseHeldout;
        var (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "512", "--modes", "", "--out", dir.File("ppl"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "no modes given");
        (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", dir.Path, "--lengths", "512", "--modes", "none", "--out", dir.File("ppl"));
        AssertOneLineError(code, err, ExitCodes.BadInput, $"--text {dir.Path}: is a folder, not a text file");
        Assert.False(Directory.Exists(dir.File("ppl")));
    }

    [Fact]
    public void Model_files_after_MODEL_are_named_as_given_and_one_called_after_a_built_in_mode_runs()
    {
        // They were turned into --patched NAME=FILE: "--patched 'yarn=...': the name 'yarn' is taken by a built-in
        // mode; choose another" for yarn.gguf (no name can be chosen for an argument), a folder was "file not found".
        using var dir = new TempDir();
        string text = TestPaths.ProseHeldout;
        string[] ppl = ["eval", "ppl", TestPaths.TinyModel];
        string[] rest = ["--text", text, "--lengths", "256", "--windows", "1", "--modes", "none", "--json"];
        var (code, _, err) = Run([.. ppl, dir.File("nonexist.gguf"), .. rest, "--out", dir.File("a")]);
        AssertOneLineError(code, err, ExitCodes.BadInput, $"{dir.File("nonexist.gguf")}: no such model file");
        (code, _, err) = Run([.. ppl, dir.Path, .. rest, "--out", dir.File("a")]);
        AssertOneLineError(code, err, ExitCodes.BadInput, $"{dir.Path}: is a folder, not a model file");
        (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--patched", $"x={dir.Path}", "--out", dir.File("a"));
        AssertOneLineError(code, err, ExitCodes.BadInput, $"--patched 'x={dir.Path}': {dir.Path}: is a folder, not a model file");
        // A factor file that is a pipe would be read once for the set and again for its hash: refused before either.
        string fifo = SpecialFiles.Fifo(dir.File("factors.json"));
        (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--patched", $"x={fifo}", "--out", dir.File("a"));
        AssertOneLineError(code, err, ExitCodes.BadInput, $"--patched x: {fifo} is a pipe or device, not a file; save the factors to a file first");
        Assert.False(Directory.Exists(dir.File("a")));

        string yarn = dir.File("yarn.gguf");
        File.Copy(TestPaths.TinyModel, yarn);
        (code, string stdout, err) = Run([.. ppl, yarn, .. rest, "--out", dir.File("b")]);
        Assert.True(code == 0, err);
        Assert.Contains("\"yarn.gguf\"", stdout);
    }

    [Fact]
    public void A_patched_mode_whose_file_llama_cpp_runs_without_rescaling_is_said_to_be_a_plain_model()
    {
        // An unpatched copy given as a patched mode ran as the plain model without a word, its column read as a factor
        // set that did nothing.
        using var dir = new TempDir();
        string plain = dir.File("plain.gguf"), builtIn = dir.File("builtin-yarn.gguf");
        File.Copy(TestPaths.TinyModel, plain);
        Gguf.GgufRewriter.Rewrite(Gguf.GgufReader.Read(TestPaths.TinyModel), new Gguf.GgufEdit()
            .SetValue("llama.rope.scaling.type", Gguf.GgufValue.String("yarn")).SetValue("llama.rope.scaling.factor", Gguf.GgufValue.Float32(2)), builtIn);
        string rule = PatchedModels.YarnRule(dir.Path, 2);

        var (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, plain, builtIn, rule, "--text", TestPaths.ProseHeldout, "--lengths", "256",
            "--windows", "1", "--modes", "none", "--json", "--out", dir.File("ppl"));

        Assert.True(code == 0, err);
        var warnings = err.Split('\n').Where(l => l.StartsWith("longrope: warning: mode", StringComparison.Ordinal)).ToList();
        Assert.Equal([$"longrope: warning: mode 'plain' ({plain}): the file has no LongRoPE factors (nor built-in scaling) that llama.cpp applies; it runs as a plain model"], warnings);
    }

    [Fact]
    public void An_input_at_a_name_the_run_writes_is_refused_and_left_as_it_was()
    {
        // Results are written through links: a link at summary.csv to the model replaced the model with a table, and a
        // text kept as ppl.md in the results folder became the table; both runs exited 0.
        using var dir = new TempDir();
        string model = dir.File("m.gguf"), niahOut = dir.File("niah"), pplOut = dir.File("ppl");
        File.Copy(TestPaths.TinyModel, model);
        Directory.CreateDirectory(niahOut);
        Directory.CreateDirectory(pplOut);
        string link = Path.Combine(niahOut, "heatmap-a_b-2.png"); // the second of two modes whose file-safe names meet
        File.CreateSymbolicLink(link, model);
        string rule = PatchedModels.YarnRule(dir.Path, 2);
        var (code, _, err) = Run("eval", "niah", model, "--lengths", "512", "--depths", "1", "--modes", "none",
            "--patched", $"a_b={rule}", "--patched", $"a/b={rule}", "--out", niahOut);
        AssertOneLineError(code, err, ExitCodes.BadInput, $"{link}: is MODEL {model} (through a link), which eval niah would replace with its chart; give another --out");

        string text = Path.Combine(pplOut, "ppl.md");
        File.Copy(TestPaths.ProseHeldout, text);
        (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "256", "--windows", "1", "--modes", "none", "--out", pplOut);
        AssertOneLineError(code, err, ExitCodes.BadInput, $"{text}: is --text {text}, which eval ppl would replace with its table; give another --out");

        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(model));
        Assert.Equal(File.ReadAllBytes(TestPaths.ProseHeldout), File.ReadAllBytes(text));
        Assert.Equal([link], Directory.GetFileSystemEntries(niahOut));
        Assert.Equal([text], Directory.GetFileSystemEntries(pplOut));
    }

    [Fact]
    public void A_run_that_does_not_stop_in_time_after_sigterm_still_deletes_its_patched_copies()
    {
        // Reading a --text FIFO that nobody writes, the run cannot see the signal and ends after the grace: the copy of
        // the model patched with the factor file (the model's size) was left in the results folder.
        using var dir = new TempDir();
        string output = dir.File("out"), fifo = SpecialFiles.Fifo(dir.File("text.txt"));
        string factors = Path.Combine(TestPaths.RepoRoot, "models", "tiny-passkey-512.longrope-4096.json");
        using var running = CliProcess.StartWith(new Dictionary<string, string?> { ["LONGROPE_STOP_GRACE"] = "2" },
            "eval", "ppl", TestPaths.TinyModel, "--patched", $"x={factors}", "--text", fifo, "--lengths", "1024", "--modes", "none", "--out", output);
        string copy = Path.Combine(output, ".patched-x.gguf");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!running.Process.HasExited && !File.Exists(copy) && clock.Elapsed < CliProcess.Timeout) Thread.Sleep(20);
        Thread.Sleep(500); // the copy is made; the run then blocks opening the FIFO
        Assert.True(File.Exists(copy), "no patched copy while the run ran");
        CliProcess.Signal(running.Process, CliProcess.SIGTERM);
        var r = CliProcess.Finish(running);

        Assert.True(r.ExitCode == 143, r.ToString());
        Assert.StartsWith("longrope: did not stop within 2 s of SIGTERM", r.StderrLines[^1]);
        Assert.False(File.Exists(copy), "the patched copy was left behind");
    }

    [Fact]
    public void Needle_template_without_placeholder_is_bad_input()
    {
        using var dir = new TempDir();
        var (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--modes", "none",
            "--needle", "The secret is hidden here. ", "--question", "What is the secret? ", "--out", dir.File("out"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "{key}");
    }

    [Theory]
    [InlineData("--modes", "none,rope9", "unknown mode 'rope9'")]
    [InlineData("--patched", "lr=/no/such/file.gguf", "file not found")]
    [InlineData("--patched", "justaname", "expected NAME=FILE")]
    public void Unknown_modes_and_missing_patched_files_are_bad_input(string option, string value, string message)
    {
        using var dir = new TempDir();
        var (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512", option, value, "--out", dir.File("out"));
        AssertOneLineError(code, err, ExitCodes.BadInput, message);
    }

    [Fact]
    public void Niah_json_output_reports_the_grid()
    {
        using var dir = new TempDir();
        var (code, stdout, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "300", "--depths", "2", "--modes", "none",
            "--threads", "2", "--out", dir.File("out"), "--json");
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var cell = Assert.Single(doc.RootElement.GetProperty("cells").EnumerateArray());
        Assert.Equal(300, cell.GetProperty("length").GetInt32());
        Assert.Equal(2, cell.GetProperty("trials").GetInt32());
        Assert.Equal(1.0, cell.GetProperty("accuracy").GetDouble());
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir.File("out"), "results.jsonl")).Length);
        Assert.DoesNotContain("llama_", err); // llama.cpp's own log is routed away unless --verbose
    }

    [Fact]
    public void A_batch_smaller_than_the_sequences_of_a_grid_is_raised_to_them_not_an_abort()
    {
        // llama.cpp asserts that every sequence's output row fits in n_batch: --batch-size 1 with a two-sequence grid
        // (and search --fitness passkey) aborted the process. In a child process: the abort would end the test host.
        using var dir = new TempDir();
        string log = dir.File("llama.log");
        var r = CliProcess.Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--depths", "2", "--modes", "none",
            "--threads", "2", "--batch-size", "1", "--log-file", log, "--out", dir.File("out"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir.File("out"), "results.jsonl")).Length);
        Assert.Matches(@"llama_context: n_batch\s+= 2\n", File.ReadAllText(log));
    }

    [Fact]
    public void Batch_size_reaches_llama_cpp_and_engine_values_it_cannot_run_are_refused()
    {
        using var dir = new TempDir();
        string log = dir.File("llama.log");
        var (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "300", "--depths", "1", "--modes", "none",
            "--threads", "2", "--batch-size", "64", "--log-file", log, "--out", dir.File("out"));
        Assert.True(code == 0, err);
        Assert.Matches(@"llama_context: n_batch\s+= 64\n", File.ReadAllText(log));

        string text = dir.File("filler.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat(Prompts.Haystack.FillerUnit, 40)));
        (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "512", "--modes", "none", "--batch-size", "0", "--out", dir.File("ppl"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "--batch-size 0: must be between 1 and");
        (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "300", "--modes", "none", "--gpu-layers", "-2", "--out", dir.File("niah"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "--gpu-layers -2");
        Assert.False(Directory.Exists(dir.File("ppl")) || Directory.Exists(dir.File("niah")));
    }

    [Fact]
    public void Ppl_writes_csv_json_and_chart_and_yarn_beats_no_rescaling_at_1024()
    {
        using var dir = new TempDir();
        string text = dir.File("filler.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat(Prompts.Haystack.FillerUnit, 40)));
        var (code, stdout, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "512,1024", "--modes", "none,yarn",
            "--windows", "2", "--threads", "2", "--out", dir.File("ppl"), "--json");
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray()
            .ToDictionary(r => (r.GetProperty("mode").GetString(), r.GetProperty("length").GetInt32()), r => r.GetProperty("perplexity").GetDouble());
        Assert.Equal(4, rows.Count);
        Assert.InRange(rows[("none", 512)], 1.0, 1.2);
        Assert.Equal(rows[("none", 512)], rows[("yarn", 512)], 3); // YaRN at 1x is no rescaling
        Assert.True(rows[("yarn", 1024)] < rows[("none", 1024)], $"yarn {rows[("yarn", 1024)]}, none {rows[("none", 1024)]}");
        var csv = File.ReadAllLines(Path.Combine(dir.File("ppl"), "ppl.csv"));
        Assert.Equal(5, csv.Length);
        using var png = SkiaSharp.SKBitmap.Decode(Path.Combine(dir.File("ppl"), "ppl-vs-length.png"));
        Assert.Equal((Charts.PerplexityChart.Width, Charts.PerplexityChart.Height), (png.Width, png.Height));
    }

    [Fact]
    public void A_model_whose_outputs_are_not_numbers_is_measured_as_NaN_in_complete_files_not_a_crash()
    {
        // A NaN output norm makes every logit NaN. The JSON writers threw on NaN after the whole run ("NET number values
        // such as positive and negative infinity cannot be written as valid JSON"), leaving ppl.json and summary.json
        // cut off, so that a resumed niah folder could never be summarised.
        using var dir = new TempDir();
        string model = dir.File("nan.gguf");
        var tiny = Gguf.GgufReader.Read(TestPaths.TinyModel);
        var norm = tiny.Tensors.Single(t => t.Name == "output_norm.weight");
        var nan = Enumerable.Repeat(float.NaN, (int)norm.ElementCount).ToArray();
        Gguf.GgufRewriter.Rewrite(tiny, new Gguf.GgufEdit().SetTensor(new Gguf.OutputTensor(norm.Name, Gguf.GgmlType.F32, norm.Dimensions, Gguf.TensorData.Float32(nan))), model);
        string text = TestPaths.ProseHeldout;

        var (code, stdout, err) = Run("eval", "ppl", model, "--text", text, "--lengths", "512", "--modes", "none", "--windows", "1",
            "--threads", "2", "--out", dir.File("ppl"), "--json");
        Assert.True(code == 0, err);
        using (var doc = System.Text.Json.JsonDocument.Parse(stdout))
            Assert.Equal("NaN", doc.RootElement.GetProperty("rows")[0].GetProperty("perplexity").GetString());
        using (var file = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir.File("ppl"), "ppl.json"))))
            Assert.Equal("NaN", file.RootElement.GetProperty("rows")[0].GetProperty("mean_nll").GetString());

        (code, _, err) = Run("eval", "niah", model, "--lengths", "300", "--depths", "1", "--modes", "none,yarn", "--threads", "2",
            "--out", dir.File("niah"));
        Assert.True(code == 0, err);
        using (var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir.File("niah"), "summary.json"))))
            Assert.Equal("NaN", summary.RootElement.GetProperty("cells")[0].GetProperty("mean_answer_nll").GetString());
        (code, stdout, err) = Run("eval", "compare", dir.File("niah"), "--json");
        Assert.True(code == 0, err);
        using (var compared = System.Text.Json.JsonDocument.Parse(stdout))
        {
            var row = compared.RootElement.GetProperty("rows").EnumerateArray().First(r => r.GetProperty("mode").GetString() == "none");
            Assert.Equal("NaN", row.GetProperty("answer_nll").GetProperty("mean").GetString());
        }
    }

    [Fact]
    public void Ppl_of_a_patched_file_at_its_original_length_is_the_unpatched_models_as_the_runner_runs_it()
    {
        // The YaRN-rule file for 8x has attn_factor 1.21 and a short set of ones: llama.cpp alone would apply 1.21 to
        // the 512-token windows too; the evaluation, like the runner, runs them at the model's own magnitude.
        using var dir = new TempDir();
        string patched = PatchedModels.YarnRule(dir.Path, 8);
        string text = TestPaths.ProseHeldout;
        var (code, stdout, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "512", "--modes", "none",
            "--patched", $"y8={patched}", "--windows", "2", "--threads", "2", "--out", dir.File("ppl"), "--json");
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("mode").GetString()!, r => r.GetProperty("perplexity").GetDouble());
        Assert.Equal(rows["none"], rows["y8"], 6);
    }

    [Fact]
    public void A_factor_file_as_a_mode_measures_what_the_file_patched_with_it_measures_and_leaves_no_copy()
    {
        using var dir = new TempDir();
        var info = LongRope.ModelRopeInfo.From(Gguf.GgufReader.Read(TestPaths.TinyModel));
        string factors = dir.File("critical-4x.json");
        LongRope.Formats.FactorSetJson.Write(LongRope.FactorRules.Make(LongRope.FactorMethod.Critical, info, 4), factors);
        string patched = dir.File("critical-4x.gguf");
        LongRope.LongRopePatcher.Patch(TestPaths.TinyModel, LongRope.Formats.FactorSetReader.Read(factors), patched);
        byte[] modelBefore = File.ReadAllBytes(TestPaths.TinyModel);
        string text = TestPaths.ProseHeldout;
        string output = dir.File("ppl");

        // As --patched and as a further MODEL argument (named after the file).
        var (code, stdout, err) = Run("eval", "ppl", TestPaths.TinyModel, factors, "--text", text, "--lengths", "1024", "--modes", "none",
            "--patched", $"from-gguf={patched}", "--patched", $"from-json={factors}", "--windows", "1", "--threads", "2", "--out", output, "--json");

        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("mode").GetString()!, r => r.GetProperty("perplexity").GetDouble());
        Assert.Equal(rows["from-gguf"], rows["from-json"]);
        Assert.Equal(rows["from-gguf"], rows["critical-4x"]);
        Assert.True(rows["from-json"] < rows["none"] / 10, $"the 4x set at 1024 tokens: {rows["from-json"]}, unrescaled {rows["none"]}");
        Assert.Empty(Directory.GetFiles(output, ".patched-*"));
        Assert.Contains($"longrope: mode from-json: patching tiny-passkey-512.gguf with {factors} into {output}/.patched-from-json.gguf for this run", err);
        Assert.Equal(modelBefore, File.ReadAllBytes(TestPaths.TinyModel));

        // A niah run on a factor file resumes: the copy is the same bytes again, so its trials are recognised.
        string niah = dir.File("niah");
        string[] niahArgs = ["eval", "niah", TestPaths.TinyModel, "--lengths", "1024", "--depths", "2", "--modes", "none", "--patched", $"c4={factors}",
            "--threads", "2", "--out", niah, "--json"];
        (code, _, err) = Run(niahArgs);
        Assert.True(code == 0, err);
        (code, stdout, err) = Run(niahArgs);
        Assert.True(code == 0, err);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(niah, "results.jsonl")).Length); // 2 depths x 2 modes, none run twice
        // The same factors from another folder under another name: the copy's provenance is the factors' hash alone, so
        // the run resumes (the fingerprint is the same), and each line names the factor file it measured.
        string moved = Path.Combine(Directory.CreateDirectory(dir.File("elsewhere")).FullName, "renamed.json");
        File.Copy(factors, moved);
        (code, _, err) = Run([.. niahArgs.Select(a => a == $"c4={factors}" ? $"c4={moved}" : a)]);
        Assert.True(code == 0, err);
        var lines = File.ReadAllLines(Path.Combine(niah, "results.jsonl")).Select(Niah.TrialRecord.FromJsonLine).ToList();
        Assert.Equal(4, lines.Count);
        Assert.Empty(Directory.GetFiles(niah, ".patched-*"));
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(factors)))[..16];
        Assert.All(lines.Where(l => l.Mode == "c4"), l => Assert.Equal($"critical-4x.json (sha256 {hash})", l.Factors));
        Assert.All(lines.Where(l => l.Mode == "none"), l => Assert.Null(l.Factors));

        // Under another mode name too (another folder): the same model_id, so eval compare pools the two runs.
        string other = dir.File("niah-other");
        (code, _, err) = Run([.. niahArgs.Select(a => a == $"c4={factors}" ? $"searched={moved}" : a == niah ? other : a)]);
        Assert.True(code == 0, err);
        var otherLines = File.ReadAllLines(Path.Combine(other, "results.jsonl")).Select(Niah.TrialRecord.FromJsonLine).ToList();
        Assert.Equal(lines.Single(l => l.Mode == "c4" && l.DepthIndex == 0).ModelId, otherLines.Single(l => l.Mode == "searched" && l.DepthIndex == 0).ModelId);
        Assert.Equal($"renamed.json (sha256 {hash})", otherLines.First(l => l.Mode == "searched").Factors);
    }

    [Fact]
    public void A_patched_model_as_MODEL_is_refused_for_built_in_modes_and_an_out_that_is_a_file_is_refused()
    {
        // none / pi / yarn on a patched MODEL would run its factors (pi and yarn on top) under labels that say otherwise.
        using var dir = new TempDir();
        string patched = PatchedModels.YarnRule(dir.Path, 2);
        foreach (string command in new[] { "niah", "ppl" })
        {
            string[] args = command == "niah"
                ? ["eval", "niah", patched, "--lengths", "1024", "--depths", "1", "--modes", "yarn", "--out", dir.File("n")]
                : ["eval", "ppl", patched, "--text", TestPaths.ProseHeldout, "--lengths", "1024", "--modes", "yarn", "--out", dir.File("p")];
            var (code, _, err) = Run(args);
            AssertOneLineError(code, err, ExitCodes.BadInput,
                $"{patched}: MODEL carries LongRoPE factors, which llama.cpp would apply under mode 'yarn' too; give the unpatched model as MODEL and this file as --patched NAME={patched} (or keep it as MODEL with --modes '' --patched NAME={patched})");
        }
        Assert.False(Directory.Exists(dir.File("n")) || Directory.Exists(dir.File("p")));

        // With only --patched modes the base model is not run under a built-in label: accepted.
        var (c2, _, e2) = Run("eval", "niah", patched, "--lengths", "1024", "--depths", "1", "--modes", "", "--patched", $"x={patched}", "--threads", "2", "--out", dir.File("n"));
        Assert.True(c2 == 0, e2);
        Assert.Single(File.ReadAllLines(Path.Combine(dir.File("n"), "results.jsonl")));

        string file = dir.File("a-file");
        File.WriteAllText(file, "x");
        var (c3, _, e3) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "1024", "--out", file);
        AssertOneLineError(c3, e3, ExitCodes.BadInput, $"--out {file}: is a file, not a folder");
        // A folder under a file was "Could not find a part of the path".
        var (c4, _, e4) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "1024", "--out", Path.Combine(file, "sub"));
        AssertOneLineError(c4, e4, ExitCodes.BadInput, $"--out {Path.Combine(file, "sub")}: {file} is a file, not a folder");
        Assert.Equal("x", File.ReadAllText(file));
        // A default results folder under a file (search's beside a model whose folder is a file cannot happen; eval's
        // results/niah under a file named results can): named, with --out to choose another.
        var e = Assert.Throws<EvalInputException>(() => LongRopeGguf.Evaluation.Engine.ResultsFolder.Create(Path.Combine(file, "niah")));
        Assert.Equal($"{Path.Combine(file, "niah")}: cannot create the results folder ({file} is a file; --out chooses another)", e.Message);
    }

    [Fact]
    public void A_text_without_sentence_ends_is_run_with_a_warning_that_the_needles_moved()
    {
        using var dir = new TempDir();
        string words = dir.File("words.txt");
        File.WriteAllText(words, string.Join(' ', Enumerable.Repeat("word", 3000)));
        var (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--depths", "3", "--modes", "none", "--haystack", words, "--threads", "2", "--out", dir.File("w"));
        Assert.True(code == 0, err);
        var lines = File.ReadAllLines(Path.Combine(dir.File("w"), "results.jsonl")).Select(Niah.TrialRecord.FromJsonLine).ToList();
        int moved = lines.Count(l => Math.Abs(l.DepthActual - l.Depth) > 0.1);
        Assert.True(moved > 0, "the test text should move a needle");
        Assert.Contains($"longrope: warning: haystack 'words.txt': {moved} of 3 needles landed more than 0.1 from the depth asked", err);

        // Prose has sentence ends everywhere: no warning.
        string prose = TestPaths.ProseHeldout;
        (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--depths", "3", "--modes", "none", "--haystack", prose, "--threads", "2", "--out", dir.File("p"));
        Assert.True(code == 0, err);
        Assert.DoesNotContain("warning", err);
    }

    [Fact]
    public void Two_texts_of_one_file_name_neither_resume_into_each_other_nor_pool()
    {
        // Trials are named by the haystack's file name; its content hash tells the texts apart (it did not before:
        // an edited book.txt resumed as "0 trials, 2 already recorded").
        using var dir = new TempDir();
        string prose = File.ReadAllText(TestPaths.ProseHeldout);
        string book = dir.File("book.txt");
        File.WriteAllText(book, prose[..20000]);
        string[] Args(string output) => ["eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--depths", "2", "--modes", "none", "--haystack", book, "--threads", "2", "--out", output];
        var (code, _, err) = Run(Args(dir.File("a")));
        Assert.True(code == 0, err);
        var line = Niah.TrialRecord.FromJsonLine(File.ReadLines(Path.Combine(dir.File("a"), "results.jsonl")).First());
        string firstHash = line.HaystackSha256!;
        Assert.Matches("^[0-9a-f]{16}$", firstHash);

        File.WriteAllText(book, prose[20000..40000]);
        (code, _, err) = Run(Args(dir.File("a")));
        AssertOneLineError(code, err, ExitCodes.BadInput, $"{dir.File("a")}: its trials on haystack 'book.txt' read another text (sha256 {firstHash}, now ");
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir.File("a"), "results.jsonl")).Length);

        (code, _, err) = Run(Args(dir.File("b")));
        Assert.True(code == 0, err);
        (code, _, err) = Run("eval", "compare", dir.File("a"), dir.File("b"), "--baseline", "none");
        AssertOneLineError(code, err, ExitCodes.BadInput, $"haystack 'book.txt' is one text in {Path.Combine(dir.File("a"), "results.jsonl")} (sha256 {firstHash}) and another in");
    }

    [Fact]
    public void A_text_file_named_filler_and_the_built_in_filler_neither_resume_into_each_other_nor_pool()
    {
        // The built-in filler records no hash; a file named filler (given as ./filler) is named "filler" too: its trials
        // were resumed as the built-in filler's ("0 trials, 1 already recorded") and pooled with them.
        using var dir = new TempDir();
        string filler = dir.File("filler");
        File.WriteAllText(filler, File.ReadAllText(TestPaths.ProseHeldout)[..20000]);
        string[] Args(string haystack, string output) => ["eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--depths", "1", "--modes", "none", "--haystack", haystack, "--threads", "2", "--out", output];
        var (code, _, err) = Run(Args(filler, dir.File("file")));
        Assert.True(code == 0, err);
        string hash = Niah.TrialRecord.FromJsonLine(File.ReadLines(Path.Combine(dir.File("file"), "results.jsonl")).First()).HaystackSha256!;

        (code, _, err) = Run(Args("filler", dir.File("file")));
        AssertOneLineError(code, err, ExitCodes.BadInput, $"{dir.File("file")}: its trials on haystack 'filler' read another text (sha256 {hash}, now the built-in filler): give another --out");
        (code, _, err) = Run(Args("filler", dir.File("builtin")));
        Assert.True(code == 0, err);
        (code, _, err) = Run(Args(filler, dir.File("builtin")));
        AssertOneLineError(code, err, ExitCodes.BadInput, $"{dir.File("builtin")}: its trials on haystack 'filler' read another text (the built-in filler, now sha256 {hash} from {filler}): give another --out");
        (code, _, err) = Run("eval", "compare", dir.File("file"), dir.File("builtin"), "--baseline", "none");
        AssertOneLineError(code, err, ExitCodes.BadInput, $"haystack 'filler' is one text in {Path.Combine(dir.File("file"), "results.jsonl")} (sha256 {hash}) and another in {Path.Combine(dir.File("builtin"), "results.jsonl")} (the built-in filler): pool runs of the same text");
    }

    [Fact]
    public void A_file_that_is_neither_a_model_nor_a_factor_set_for_it_is_one_line_naming_the_mode_and_leaves_no_folder()
    {
        using var dir = new TempDir();
        string notes = dir.File("notes.txt");
        File.WriteAllText(notes, "factors: to do\n");
        string wrongCount = dir.File("eight.json");
        LongRope.Formats.FactorSetJson.Write(LongRope.FactorSet.Create(Enumerable.Repeat(2f, 8).ToArray(), LongRope.FactorSet.Ones(8), 512, 1024,
            LongRope.AttentionFactorPolicy.None, null, "8 factors"), wrongCount);
        string csv = dir.File("result_final.csv");
        File.WriteAllText(csv, string.Join("\n", Enumerable.Repeat("2.0", 32)) + "\n"); // a LongRoPE search CSV: no context lengths
        foreach (var (file, message) in new[]
        {
            (notes, $"--patched x: {notes}: "),
            (wrongCount, $"--patched x: {wrongCount}: "),
            (csv, $"--patched x: {csv} does not say the context lengths it is for (a LongRoPE CSV, or a config.json without them); patch the model with it"),
        })
        {
            var (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "1024", "--patched", $"x={file}", "--out", dir.File("out"));
            AssertOneLineError(code, err, ExitCodes.BadInput, message);
            Assert.False(Directory.Exists(dir.File("out")), err);
        }
    }

    [Fact]
    public void Ppl_names_a_missing_model_and_an_unknown_option_among_its_models_and_takes_the_short_option_names()
    {
        using var dir = new TempDir();
        string text = dir.File("filler.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat(Prompts.Haystack.FillerUnit, 20)));

        var (code, _, err) = Run("eval", "ppl", "/no/such/model.gguf", "--text", text, "--lengths", "256", "--out", dir.File("a"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "/no/such/model.gguf: no such model file");

        // ppl takes several model files, so the parser handed it an unknown option as one more "model" and the error
        // was "--patched '-x=...': file not found".
        (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "-x", "--out", dir.File("b"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "Unrecognized option '-x'");
        Assert.DoesNotContain("--patched", err);

        // -o, -t and -ngl, as on search (-o) and generate/chat/bench (-t, -ngl).
        (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "256", "--windows", "1", "--modes", "none",
            "-t", "2", "-ngl", "0", "-o", dir.File("c"), "--json");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(Path.Combine(dir.File("c"), "ppl.json")));
        Assert.False(Directory.Exists(dir.File("a")) || Directory.Exists(dir.File("b")));
    }

    [Fact]
    public void Ppl_by_position_shows_where_no_rescaling_breaks_and_yarn_holds()
    {
        using var dir = new TempDir();
        string text = dir.File("filler.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat(Prompts.Haystack.FillerUnit, 40)));
        var (code, stdout, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "2048", "--modes", "none,yarn",
            "--windows", "1", "--by-position", "8", "--threads", "2", "--out", dir.File("ppl"), "--json");
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var byMode = doc.RootElement.GetProperty("rows").EnumerateArray().ToDictionary(
            r => r.GetProperty("mode").GetString()!,
            r => r.GetProperty("by_position").EnumerateArray().Select(b => (Start: b.GetProperty("start").GetInt32(), Nll: b.GetProperty("mean_nll").GetDouble())).ToList());
        Assert.Equal(8, byMode["none"].Count);
        Assert.Equal(new[] { 1, 256, 512, 768, 1024, 1280, 1536, 1792 }, byMode["none"].Select(b => b.Start));
        // Without rescaling the model (trained on 512 tokens) predicts well up to position 511 and badly past it;
        // llama.cpp's YaRN keeps the whole window near the first range's level.
        double noneInside = byMode["none"][1].Nll, noneOutside = byMode["none"][^1].Nll;
        Assert.True(noneOutside > 3 * noneInside + 1, $"none: {noneInside:F3} inside 512, {noneOutside:F3} at the end");
        Assert.True(byMode["yarn"][^1].Nll < noneOutside / 3, $"yarn at the end {byMode["yarn"][^1].Nll:F3}, none {noneOutside:F3}");

        var csv = File.ReadAllLines(Path.Combine(dir.File("ppl"), "ppl-by-position.csv"));
        Assert.Equal("mode,length,position_start,position_end,tokens,mean_nll,perplexity", csv[0]);
        Assert.Equal(1 + 2 * 8, csv.Length);
        using var png = SkiaSharp.SKBitmap.Decode(Path.Combine(dir.File("ppl"), "ppl-by-position.png"));
        Assert.Equal(800, png.Width);
        Assert.Contains("## Mean NLL by position", File.ReadAllText(Path.Combine(dir.File("ppl"), "ppl.md")));

        // A run without --by-position into the same folder takes the earlier run's by-position files away: they sat
        // beside its ppl.csv as if they were its own.
        (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "600", "--modes", "none",
            "--windows", "1", "--threads", "2", "--out", dir.File("ppl"));
        Assert.True(code == 0, err);
        Assert.Equal(["ppl-vs-length.png", "ppl.csv", "ppl.json", "ppl.md"], Directory.GetFiles(dir.File("ppl")).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "300,2048", "--by-position", "300", "--out", dir.File("bad"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "--by-position 300: expected 1 to 299 ranges");
        Assert.False(Directory.Exists(dir.File("bad")));
        // 0 was taken for "not asked" and ignored.
        (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "300", "--by-position", "0", "--out", dir.File("bad"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "--by-position 0: expected 1 or more ranges of positions (leave the option out for none)");
        Assert.False(Directory.Exists(dir.File("bad")));
    }

    [Fact]
    public void Ppl_text_shorter_than_one_window_is_bad_input()
    {
        using var dir = new TempDir();
        string text = dir.File("tiny.txt");
        File.WriteAllText(text, "Too short to fill a window. ");
        var (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "512", "--out", dir.File("ppl"));
        AssertOneLineError(code, err, ExitCodes.BadInput, "fewer than one 512-token window");
        Assert.False(Directory.Exists(dir.File("ppl")));
    }

    [Fact]
    public void A_patched_file_with_another_tokenizer_is_refused_before_any_trial_or_window()
    {
        using var dir = new TempDir();
        string patched = PatchedModels.YarnRule(dir.Path, 2);
        string noBos = dir.File("no-bos.gguf");
        Gguf.GgufRewriter.Rewrite(Gguf.GgufReader.Read(patched), new Gguf.GgufEdit().SetValue("tokenizer.ggml.add_bos_token", Gguf.GgufValue.Bool(false)), noBos);
        string text = dir.File("filler.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat(Prompts.Haystack.FillerUnit, 40)));
        string expected = $"--patched nb={noBos}: its tokenizer differs from tiny-passkey-512.gguf's; patch the same base model";

        // Listed after a built-in mode: still refused before that mode's trials run.
        var (code, _, err) = Run("eval", "niah", TestPaths.TinyModel, "--lengths", "512", "--depths", "2", "--modes", "none",
            "--patched", $"nb={noBos}", "--threads", "2", "--out", dir.File("niah"));
        AssertOneLineError(code, err, ExitCodes.BadInput, expected);
        Assert.False(Directory.Exists(dir.File("niah")), "no trial may run, and no folder be made, before every mode is checked");

        (code, _, err) = Run("eval", "ppl", TestPaths.TinyModel, "--text", text, "--lengths", "512", "--modes", "none",
            "--patched", $"nb={noBos}", "--threads", "2", "--out", dir.File("ppl"));
        AssertOneLineError(code, err, ExitCodes.BadInput, expected);
        Assert.False(Directory.Exists(dir.File("ppl")), "a refused run leaves no results folder behind");
    }
}
