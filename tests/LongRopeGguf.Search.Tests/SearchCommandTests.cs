using System.Diagnostics;
using System.Text.Json;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Search.Tests;

/// <summary>`longrope search` as a user runs it: a separate process, exit codes, one-line errors, JSON on stdout,
/// progress on stderr, and the same command again resuming from the log.</summary>
public class SearchCommandTests
{
    private static readonly string Text = TestPaths.ProseSearch;
    // A searched 8x long set (attention factor 1.15) to complete with a short search.
    private static readonly string Init = Path.Combine(TestPaths.RepoRoot, "docs", "search-results", "tiny-long-4096.factors.json");

    private static (int ExitCode, string Stdout, string Stderr) Longrope(params string[] args)
    {
        var r = CliProcess.RunWith(null, TimeSpan.FromMinutes(5), args);
        return (r.ExitCode, r.Stdout, r.Stderr);
    }

    [Theory]
    [InlineData("--target-length 512 --text TEXT", "(the short set, --set short, serves contexts up to 512)")]
    [InlineData("--target-length 1024", "--text FILE")]
    [InlineData("--target-length 1024 --text TEXT --parents 80", "--parents 80: must not exceed the population 64")]
    [InlineData("--target-length 1024 --text TEXT --population 0", "--population 0: must be at least 1")]
    [InlineData("--target-length 1024 --text TEXT --fitness ppl --passkey-prompts 5", "--passkey-prompts: fitness ppl has no pass-key prompts; use --fitness passkey or mix")]
    [InlineData("--target-length 1024 --text TEXT --fitness ppl --haystack filler", "--haystack: fitness ppl has no pass-key prompts")]
    [InlineData("--target-length 1024 --text TEXT --fitness ppl --passkey-seed 3", "--passkey-seed: fitness ppl has no pass-key prompts")]
    [InlineData("--target-length 1024 --fitness passkey --haystack filler --windows 5", "--windows: fitness passkey measures no perplexity (the windows serve --max-ppl)")]
    [InlineData("--target-length 1024 --text TEXT --mutations 1000000 --crossovers 1000000 --iterations 3000", "--population 64 + --iterations 3000 x (--mutations 1000000 + --crossovers 1000000) is 6,000,000,064 candidates; at most 10,000,000")]
    [InlineData("--target-length 1024 --text TEXT --passkey-prompts 10001", "--passkey-prompts 10001: at most 10,000 (each candidate scores every prompt)")]
    [InlineData("--target-length 1024 --text TEXT --mutation-probability 0", "--mutation-probability 0: must be in (0, 1]")]
    [InlineData("--target-length 1024 --text TEXT --step 0", "--step 0: must be a finite number > 0")]
    [InlineData("--target-length 1024 --text TEXT --attn-range 2:1", "--attn-range 2:1: the maximum must be at least the minimum")]
    [InlineData("--target-length 1024 --text TEXT --attn-range 1:Infinity", "--attn-range '1:Infinity': MIN and MAX must be finite numbers")]
    [InlineData("--target-length 1024 --text TEXT --attn-range 2", "--attn-range '2': expected MIN:MAX")]
    [InlineData("--target-length 1024 --text TEXT --attn-factor huge", "--attn-factor 'huge'")]
    [InlineData("--target-length 1024 --text TEXT --set middle", "--set middle: expected long or short")]
    [InlineData("--target-length 512 --set short --text TEXT", "--init")]
    [InlineData("--target-length 1024 --text TEXT --attn-factor yarn --attn-range 1:2", "--attn-range with --attn-factor: the attention factor is either fixed or searched")]
    [InlineData("--target-length 512 --set short --text TEXT --init INIT --attn-range 1:2", "--attn-range with --set short: the short search keeps the --init file's attention factor (1.15)")]
    [InlineData("--target-length 1024 --text TEXT --passkey-depths middle", "--passkey-depths 'middle': expected centered or ends")]
    [InlineData("--target-length 1024 --text TEXT --fitness ppl --passkey-depths ends", "--passkey-depths ends: fitness ppl has no pass-key prompts")]
    [InlineData("--target-length 1024 --text TEXT --passkey-loss hinge", "--passkey-loss 'hinge': expected nll or margin")]
    [InlineData("--target-length 1024 --text TEXT --fitness ppl --passkey-loss margin", "--passkey-loss margin: fitness ppl has no pass-key part")]
    [InlineData("--target-length 1024 --text TEXT --seed-rules pi,rope", "--seed-rules 'pi,rope': unknown rule 'rope'; expected pi, ntk, yarn, critical or ones")]
    [InlineData("--target-length 1024 --text TEXT --seed-rules yarn,YaRN", "--seed-rules: the rule yarn is named twice")]
    [InlineData("--target-length 1024 --text TEXT --seed-rules pi,,yarn", "--seed-rules 'pi,,yarn': an empty entry (two commas, or one at an end)")]
    [InlineData("--target-length 512 --set short --text TEXT --init INIT --seed-rules yarn", "--seed-rules with --set short")]
    [InlineData("--target-length 1024 --text TEXT --fitness ppl --max-ppl 3", "--max-ppl with fitness ppl: perplexity is already what it minimises")]
    [InlineData("--target-length 1024 --fitness passkey --haystack filler --max-ppl critical", "--max-ppl bounds the perplexity of a text: give it with --text FILE")]
    [InlineData("--target-length 1024 --text TEXT --max-ppl 0.5", "--max-ppl 0.5: must be a finite perplexity of at least 1")]
    [InlineData("--target-length 1024 --text TEXT --max-ppl 3,5", "--max-ppl '3,5': expected a perplexity (e.g. 3.8) or the name of a seed")]
    [InlineData("--target-length 1024 --text TEXT --max-ppl su", "--max-ppl su: no seed of that name in this search; its seeds are pi, ntk, yarn, critical (or give the bound as a number)")]
    [InlineData("--target-length 1024 --text TEXT --seed-rules yarn --max-ppl critical", "--max-ppl critical: no seed of that name in this search; its seeds are yarn")]
    public void Bad_requests_exit_2_with_one_line_naming_the_problem(string args, string expected)
    {
        using var dir = new TempDir();
        var argv = new List<string> { "search", TestPaths.TinyModel, "--out", dir.File("out") };
        argv.AddRange(args.Split(' ').Select(a => a switch { "TEXT" => Text, "INIT" => Init, _ => a }));
        var (code, stdout, stderr) = Longrope([.. argv]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("longrope: error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
    }

    [Fact]
    public void A_missing_model_is_named_before_the_options_are_checked()
    {
        using var dir = new TempDir();
        string missing = dir.File("no-such-model.gguf");
        var (code, stdout, stderr) = Longrope("search", missing, "--target-length", "1024", "--out", dir.File("out"));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"longrope: error: {missing}: no such GGUF model file", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void A_text_without_room_for_the_passages_is_refused_and_leaves_no_output_folder()
    {
        using var dir = new TempDir();
        // Two 700-character sentences: room for one 1016-token prompt (one token per character), but the second
        // passage would have to start inside the first sentence.
        string text = dir.File("two-sentences.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Range(0, 2).Select(i => new string((char)('a' + i), 698) + ". ")));
        string output = Path.Combine(dir.Path, "a", "b", "out"); // the folders above it are made too, and removed again
        var (code, stdout, stderr) = Longrope("search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "passkey", "--text", text,
            "--passkey-prompts", "2", "--passkey-passages", "2", "--out", output);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"longrope: error: --passkey-passages 2: {text} holds ", line);
        Assert.EndsWith("no room for 2 different passages", line);
        Assert.False(Directory.Exists(dir.File("a")), "a refused search must not leave its (empty) output folders behind");
    }

    [Fact]
    public void Check_leaves_no_folder_it_made_and_keeps_those_that_were_there()
    {
        using var dir = new TempDir();
        // `-o a/b/out --check` removed out and left a/b behind.
        string[] Check(string output) => ["search", TestPaths.TinyModel, "--target-length", "1024", "--text", Text, "--out", output, "--check"];
        var (code, _, stderr) = Longrope(Check(Path.Combine(dir.Path, "a", "b", "out")));
        Assert.True(code == 0, stderr);
        Assert.False(Directory.Exists(dir.File("a")));

        Directory.CreateDirectory(dir.File("kept"));
        (code, _, stderr) = Longrope(Check(Path.Combine(dir.Path, "kept", "b", "out")));
        Assert.True(code == 0, stderr);
        Assert.Equal([dir.File("kept")], Directory.GetFileSystemEntries(dir.Path));
        Assert.Empty(Directory.GetFileSystemEntries(dir.File("kept")));
    }

    [Theory]
    [InlineData("search.jsonl", "log")]
    [InlineData("factors.json", "factor file")]
    [InlineData("best-fitness.png", "chart")]
    [InlineData(".working-copy.gguf", "working copy of the model")]
    public void A_folder_where_the_search_writes_a_file_is_refused_before_any_work_and_by_check(string name, string what)
    {
        // A folder for the log was "permission denied" from its open; one for the factor file was found after the whole
        // search; --check said ready for both.
        using var dir = new TempDir();
        string output = dir.File("out"), blocking = Path.Combine(output, name);
        Directory.CreateDirectory(blocking);
        string[] args = ["search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "passkey", "--haystack", "filler", "--passkey-prompts", "1",
            "--population", "2", "--parents", "1", "--mutations", "1", "--crossovers", "1", "--iterations", "1", "--out", output];
        foreach (string[] run in new[] { args, [.. args, "--check"] })
        {
            var (code, stdout, stderr) = Longrope(run);
            Assert.Equal(2, code);
            Assert.Equal("", stdout);
            Assert.Equal($"longrope: error: {blocking}: is a folder, not a file (the search writes its {what} there; give another --out)",
                Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
            Assert.Equal([blocking], Directory.GetFileSystemEntries(output));
        }
    }

    [Fact]
    public void An_input_at_a_name_the_search_writes_is_refused_and_left_as_it_was()
    {
        // A model at the working copy's name was deleted before the patcher refused to write over its input; a link at
        // factors.json to the model would have had the factor file written through it at the end.
        using var dir = new TempDir();
        string output = dir.File("out"), model = Path.Combine(output, ".working-copy.gguf");
        Directory.CreateDirectory(output);
        File.Copy(TestPaths.TinyModel, model);
        string[] Args(string m) => ["search", m, "--target-length", "1024", "--fitness", "passkey", "--haystack", "filler", "--passkey-prompts", "1",
            "--population", "2", "--parents", "1", "--mutations", "1", "--crossovers", "1", "--iterations", "1", "--out", output];
        var (code, stdout, stderr) = Longrope(Args(model));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"longrope: error: {model}: is MODEL {model}, which the search would replace with its working copy of the model; give another --out", stderr.Trim());
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(model));

        File.Move(model, dir.File("model.gguf"));
        File.CreateSymbolicLink(Path.Combine(output, "factors.json"), dir.File("model.gguf"));
        foreach (string[] run in new[] { Args(dir.File("model.gguf")), [.. Args(dir.File("model.gguf")), "--check"] })
        {
            (code, stdout, stderr) = Longrope(run);
            Assert.Equal(2, code);
            Assert.Equal($"longrope: error: {Path.Combine(output, "factors.json")}: is MODEL {dir.File("model.gguf")} (through a link), which the search would replace with its factor file; give another --out", stderr.Trim());
        }
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(dir.File("model.gguf")));
    }

    [Fact]
    public void The_windows_a_text_gives_are_counted_with_the_models_own_bos()
    {
        // A model without BOS puts one more text token in each window: 4094 tokens give 4 windows of 1024 with BOS
        // (4 x 1023) and 3 without, where the search counted 4 and then scored 3.
        using var dir = new TempDir();
        string noBos = dir.File("no-bos.gguf"), text = dir.File("text.txt");
        LongRopeGguf.Gguf.GgufRewriter.Rewrite(LongRopeGguf.Gguf.GgufReader.Read(TestPaths.TinyModel),
            new LongRopeGguf.Gguf.GgufEdit().SetValue("tokenizer.ggml.add_bos_token", LongRopeGguf.Gguf.GgufValue.Bool(false)), noBos);
        File.WriteAllText(text, File.ReadAllText(Text)[..4093]);
        string[] Check(string model) => ["search", model, "-L", "1024", "--fitness", "ppl", "--text", text, "--windows", "4", "--out", dir.File("out"), "--check"];

        var (code, stdout, stderr) = Longrope(Check(TestPaths.TinyModel));
        Assert.True(code == 0, stderr);
        Assert.Contains("4,094 tokens read, 4 window(s) of 1024", stdout);
        (code, _, stderr) = Longrope(Check(noBos));
        Assert.Equal(2, code);
        Assert.Equal($"longrope: error: --text {text}: 4094 tokens give 3 window(s) of 1024 tokens; 4 asked (--windows)", stderr.Trim());
    }

    [Fact]
    public void Passages_of_the_filler_are_refused()
    {
        using var dir = new TempDir();
        string output = dir.File("out");
        var (code, stdout, stderr) = Longrope("search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "passkey", "--haystack", "filler",
            "--passkey-prompts", "2", "--passkey-passages", "2", "--out", output);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("longrope: error: --passkey-passages 2: the filler haystack repeats one paragraph", line);
        Assert.False(Directory.Exists(output));
    }

    [Theory]
    // llama.cpp segfaults on a batch of 0 tokens: refused before it gets one.
    [InlineData("--batch-size 0", "--batch-size 0: must be between 1 and 1048576")]
    [InlineData("--threads 0", "--threads 0: must be at least 1")]
    // A target length whose KV cache cannot fit is refused before its prompts are built (gigabytes of haystack).
    [InlineData("--target-length 200000000 --step 1", "length 200000000: the KV cache alone needs")]
    public void Engine_settings_llama_cpp_cannot_run_are_refused_before_anything_is_written(string settings, string message)
    {
        using var dir = new TempDir();
        string output = dir.File("out");
        var args = new List<string> { "search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "passkey", "--haystack", "filler",
            "--passkey-prompts", "1", "--population", "2", "--parents", "1", "--mutations", "1", "--crossovers", "0", "--iterations", "0", "--out", output };
        string[] words = settings.Split(' ');
        for (int i = 0; i < words.Length; i += 2)
        {
            int at = args.IndexOf(words[i]);
            if (at >= 0) args[at + 1] = words[i + 1]; else args.AddRange([words[i], words[i + 1]]);
        }
        var (code, stdout, stderr) = Longrope([.. args]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("longrope: error: " + message, line);
        Assert.False(File.Exists(Path.Combine(output, "search.jsonl")));
        Assert.False(File.Exists(Path.Combine(output, ".working-copy.gguf")));
    }

    [Fact]
    public void Sigterm_stops_a_search_removing_its_working_copy_and_keeping_its_log()
    {
        using var dir = new TempDir();
        string output = dir.File("out");
        using var running = CliProcess.Start("search", TestPaths.TinyModel, "--target-length", "2048", "--text", Text, "--population", "4",
            "--parents", "2", "--mutations", "1", "--crossovers", "1", "--iterations", "50", "--threads", "2", "--out", output);
        // Wait until candidates are being evaluated: the log (locked while the search runs, so only its size can be
        // watched) has grown past its header line by a candidate line.
        string log = Path.Combine(output, "search.jsonl");
        long header = 0;
        var clock = Stopwatch.StartNew();
        while (!running.Process.HasExited && clock.Elapsed < CliProcess.Timeout)
        {
            long size = File.Exists(log) ? new FileInfo(log).Length : 0;
            if (header == 0) header = size;
            else if (size > header) break;
            Thread.Sleep(20);
        }
        Assert.True(File.Exists(Path.Combine(output, ".working-copy.gguf")), "no working copy while the search ran");
        CliProcess.Signal(running.Process, CliProcess.SIGTERM);
        var r = CliProcess.Finish(running);

        Assert.True(r.ExitCode == 143, r.ToString());
        Assert.Equal("longrope: terminated", r.StderrLines[^1]);
        Assert.Equal(["search.jsonl"], Directory.GetFileSystemEntries(output).Select(Path.GetFileName));
        Assert.True(File.ReadLines(log).Count() >= 2, "the candidates evaluated so far stay in the log for a resumed run");
    }

    [Fact]
    public void A_search_that_does_not_stop_in_time_after_sigterm_still_removes_its_working_copy_and_lock()
    {
        // Reading a --haystack FIFO that nobody writes, the search cannot see the signal: it ends after the grace, and
        // left the working copy of the model (gigabytes for a real one) and its lock file in the folder.
        using var dir = new TempDir();
        string output = dir.File("out"), fifo = SpecialFiles.Fifo(dir.File("haystack.txt"));
        using var running = CliProcess.StartWith(new Dictionary<string, string?> { ["LONGROPE_STOP_GRACE"] = "2" },
            "search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "passkey", "--haystack", fifo, "--passkey-prompts", "1", "--out", output);
        string copy = Path.Combine(output, ".working-copy.gguf");
        var clock = Stopwatch.StartNew();
        while (!running.Process.HasExited && !File.Exists(copy) && clock.Elapsed < CliProcess.Timeout) Thread.Sleep(20);
        Thread.Sleep(500); // the copy is made; the set-up then blocks opening the FIFO
        Assert.True(File.Exists(copy), "no working copy while the search ran");
        CliProcess.Signal(running.Process, CliProcess.SIGTERM);
        var r = CliProcess.Finish(running);

        Assert.True(r.ExitCode == 143, r.ToString());
        Assert.StartsWith("longrope: did not stop within 2 s of SIGTERM", r.StderrLines[^1]);
        Assert.Empty(Directory.GetFileSystemEntries(output));
    }

    [Fact]
    public void A_tiny_search_writes_its_result_as_json_and_the_same_command_resumes_from_the_log()
    {
        using var dir = new TempDir();
        string[] args =
        [
            "search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "ppl", "--text", Text, "--windows", "1",
            "--population", "4", "--parents", "2", "--mutations", "1", "--crossovers", "1", "--iterations", "1",
            "--threads", "2", "--out", dir.File("out"), "--json",
        ];
        var (code, stdout, stderr) = Longrope(args);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(6, root.GetProperty("candidates").GetInt32());
        Assert.Equal(6, root.GetProperty("evaluated_now").GetInt32());
        double best = root.GetProperty("best").GetProperty("fitness").GetDouble();
        Assert.All(root.GetProperty("seeds").EnumerateArray(), s => Assert.True(best <= s.GetProperty("fitness").GetDouble()));
        Assert.Equal(32, root.GetProperty("best").GetProperty("factors").GetArrayLength());
        Assert.Equal(root.GetProperty("attn_factor").GetDouble(), root.GetProperty("best").GetProperty("attn_factor").GetDouble());
        Assert.True(root.GetProperty("candidates_per_minute").GetDouble() > 0);
        // Perplexity alone keeps the wide default range of the attention gene.
        Assert.Equal(1.0, root.GetProperty("attn_range").GetProperty("min").GetDouble());
        Assert.Equal(2.0, root.GetProperty("attn_range").GetProperty("max").GetDouble());
        Assert.True(File.Exists(root.GetProperty("factors_file").GetString()));
        Assert.True(File.Exists(root.GetProperty("chart").GetString()));
        // Progress went to stderr (one line per iteration when stderr is not a terminal), nothing of llama.cpp's log.
        Assert.Contains("iteration 0/1", stderr);
        Assert.Contains("iteration 1/1", stderr);
        Assert.DoesNotContain("llama_", stderr);

        // --check evaluates nothing, and says the log in the folder is this search's (a changed setting is refused as
        // the search refuses it).
        byte[] logBytes = File.ReadAllBytes(Path.Combine(dir.File("out"), "search.jsonl"));
        var (checkCode, checkOut, checkErr) = Longrope([.. args, "--check"]);
        Assert.True(checkCode == 0, checkErr);
        using (var checkDoc = JsonDocument.Parse(checkOut))
        {
            Assert.Equal(6, checkDoc.RootElement.GetProperty("logged_candidates").GetInt32());
            Assert.Equal(6, checkDoc.RootElement.GetProperty("planned_candidates").GetInt64());
            Assert.Equal(0, checkDoc.RootElement.GetProperty("passkey_prompts").GetInt32());
        }
        Assert.Equal(logBytes, File.ReadAllBytes(Path.Combine(dir.File("out"), "search.jsonl")));
        // A shorter search than the log holds is refused by --check as the search refuses it (it said ready).
        var (shorterCode, _, shorterErr) = Longrope([.. args.Select((a, i) => i > 0 && args[i - 1] == "--iterations" ? "0" : a), "--check"]);
        Assert.Equal(2, shorterCode);
        Assert.Contains("holds iteration 1 of this search; 0 iteration(s) would replace its result", shorterErr);
        var (otherSeedCode, _, otherSeedErr) = Longrope([.. args, "--check", "--seed", "7"]);
        Assert.Equal(2, otherSeedCode);
        Assert.Contains("written by a different search ('settings.seed' was 42, now 7)", otherSeedErr);

        var (code2, stdout2, stderr2) = Longrope(args);
        Assert.True(code2 == 0, stderr2);
        using var doc2 = JsonDocument.Parse(stdout2);
        Assert.Equal(0, doc2.RootElement.GetProperty("evaluated_now").GetInt32());
        Assert.Equal(best, doc2.RootElement.GetProperty("best").GetProperty("fitness").GetDouble());
        Assert.Contains("resuming from the log", stderr2);

        // The model and the text, copied elsewhere under other names, are the same search: it resumes (the log names
        // them by content, not by path).
        string moved = Directory.CreateDirectory(dir.File("moved")).FullName;
        string movedModel = Path.Combine(moved, "renamed.gguf"), movedText = Path.Combine(moved, "renamed.txt");
        File.Copy(TestPaths.TinyModel, movedModel);
        File.Copy(Text, movedText);
        string[] movedArgs = [.. args.Select(a => a == TestPaths.TinyModel ? movedModel : a == Text ? movedText : a)];
        var (code6, stdout6, stderr6) = Longrope(movedArgs);
        Assert.True(code6 == 0, stderr6);
        using (var doc6 = JsonDocument.Parse(stdout6))
        {
            Assert.Equal(0, doc6.RootElement.GetProperty("evaluated_now").GetInt32());
            Assert.Equal(best, doc6.RootElement.GetProperty("best").GetProperty("fitness").GetDouble());
        }
        // ...but another text under the same name is not.
        File.AppendAllText(movedText, "\nOne more sentence that the search never measured.\n");
        var (code7, _, stderr7) = Longrope(movedArgs);
        Assert.Equal(2, code7);
        Assert.Contains("written by a different search ('fitness.text.sha256' was", stderr7);

        // Fewer iterations than the log holds would write the best of a shorter search over the result: refused.
        string logPath = Path.Combine(dir.File("out"), "search.jsonl");
        byte[] logBefore = File.ReadAllBytes(logPath);
        var (code8, stdout8, stderr8) = Longrope([.. args.Select((a, i) => i > 0 && args[i - 1] == "--iterations" ? "0" : a)]);
        Assert.Equal(2, code8);
        Assert.Equal("", stdout8);
        Assert.Contains("search.jsonl: holds iteration 1 of this search; 0 iteration(s) would replace its result with the best of a shorter search; give --iterations 1 or more", stderr8);
        Assert.Equal(logBefore, File.ReadAllBytes(logPath));

        // Another search into the same folder is refused: its log belongs to the first one. The fitness is named, not
        // the attention range that changes with it.
        var changed = args.Select(a => a == "ppl" ? "passkey" : a).Where((a, i) => a != "--windows" && (i == 0 || args[i - 1] != "--windows")).ToArray();
        var (code3, stdout3, stderr3) = Longrope(changed);
        Assert.Equal(2, code3);
        Assert.Equal("", stdout3);
        Assert.Contains("written by a different search ('fitness.kind' was \"ppl\", now \"passkey\")", stderr3);

        // Other seeds are another search too, and the message says where the seeds come from.
        var (code4, stdout4, stderr4) = Longrope([.. args, "--seed-rules", "pi,ntk,yarn"]);
        Assert.Equal(2, code4);
        Assert.Equal("", stdout4);
        Assert.Contains("(the log's seeds are pi, ntk, yarn, critical, this search's pi, ntk, yarn); resume only with the same settings", stderr4);

        // A log from before the critical cut was a default seed: the unchanged command says how to resume it.
        string[] old = [.. args.Select(a => a == dir.File("out") ? dir.File("old") : a), "--seed-rules", "pi,ntk,yarn"];
        Assert.Equal(0, Longrope(old).ExitCode);
        var (code5, _, stderr5) = Longrope([.. old.SkipLast(2)]);
        Assert.Equal(2, code5);
        Assert.Contains("this search's pi, ntk, yarn, critical); a log from before the critical rule was a default seed resumes with --seed-rules pi,ntk,yarn; resume only", stderr5);

        // A log written before the model fingerprint joined the header still resumes at the model's path, and only there.
        string oldLog = Path.Combine(dir.File("old"), "search.jsonl");
        var lines = File.ReadAllLines(oldLog);
        var header = System.Text.Json.Nodes.JsonNode.Parse(lines[0])!;
        Assert.True(header["search"]!["fitness"]!.AsObject().Remove("model_fingerprint"));
        lines[0] = header.ToJsonString();
        File.WriteAllLines(oldLog, lines);
        var (code9, stdout9, stderr9) = Longrope(old);
        Assert.True(code9 == 0, stderr9);
        using (var doc9 = JsonDocument.Parse(stdout9)) Assert.Equal(0, doc9.RootElement.GetProperty("evaluated_now").GetInt32());
        var (code10, _, stderr10) = Longrope([.. old.Select(a => a == TestPaths.TinyModel ? movedModel : a)]);
        Assert.Equal(2, code10);
        Assert.Contains($"('fitness.model' was \"{TestPaths.TinyModel}\", now \"{movedModel}\")", stderr10);
    }

    [Fact]
    public void Pass_key_depths_and_loss_are_in_the_json_and_the_log_header()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = Longrope("search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "passkey", "--haystack", "filler",
            "--passkey-prompts", "2", "--passkey-depths", "ends", "--passkey-loss", "margin", "--population", "3", "--parents", "1",
            "--mutations", "0", "--crossovers", "0", "--iterations", "0", "--threads", "2", "--out", dir.File("out"), "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("ends", doc.RootElement.GetProperty("passkey_depths").GetString());
        Assert.Equal("margin", doc.RootElement.GetProperty("passkey_loss").GetString());
        Assert.Contains("margin loss", doc.RootElement.GetProperty("fitness_unit").GetString());
        string header = File.ReadLines(doc.RootElement.GetProperty("log").GetString()!).First();
        Assert.Contains("\"depths\":\"ends\"", header);
        Assert.Contains("\"passkey_loss\":\"margin\"", header);
        // Without --max-ppl neither the bound nor a text is in the header: logs from before the bound resume.
        Assert.DoesNotContain("max_ppl", header);
        Assert.DoesNotContain("\"text\"", header);
        Assert.False(doc.RootElement.TryGetProperty("max_ppl", out _));
    }

    [Fact]
    public void A_perplexity_bound_is_in_the_text_the_json_and_the_log_header()
    {
        using var dir = new TempDir();
        string[] Args(params string[] extra) => ["search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "passkey", "--haystack", "filler",
            "--text", Text, "--windows", "1", "--passkey-prompts", "2", "--population", "4", "--parents", "1", "--mutations", "0", "--crossovers", "0",
            "--iterations", "0", "--threads", "2", .. extra];
        var (code, stdout, stderr) = Longrope(Args("--max-ppl", "Critical", "--out", dir.File("out"), "--json"));
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        double bound = root.GetProperty("max_ppl").GetDouble();
        Assert.Equal("critical", root.GetProperty("max_ppl_of").GetString());
        Assert.Equal("pass-key answer NLL (nats/token)", root.GetProperty("fitness_unit").GetString());
        // The bound is the critical seed's perplexity rounded up to 4 decimals; the seed is within it.
        var critical = root.GetProperty("seeds").EnumerateArray().Single(s => s.GetProperty("seed").GetString() == "critical");
        double criticalPpl = critical.GetProperty("components").GetProperty("ppl").GetDouble();
        Assert.InRange(bound - criticalPpl, 0, 1e-4);
        Assert.True(critical.GetProperty("fitness").GetDouble() < Llama.FitnessSpec.OutsideBoundBase);
        string header = File.ReadLines(root.GetProperty("log").GetString()!).First();
        Assert.Contains($"\"max_ppl\":{bound.ToString(System.Globalization.CultureInfo.InvariantCulture)}", header);
        Assert.Contains("\"max_ppl_of\":\"critical\"", header);
        // --check of the bounded search takes the bound from its log (it ended in a stack trace: the bound unmeasured).
        var (checkCode, checkOut, checkErr) = Longrope(Args("--max-ppl", "Critical", "--out", dir.File("out"), "--json", "--check"));
        Assert.True(checkCode == 0, checkErr);
        using (var checkDoc = JsonDocument.Parse(checkOut))
            Assert.True(checkDoc.RootElement.GetProperty("logged_candidates").GetInt32() > 0);

        // The text output says the bound and how many candidates kept to it.
        var (code2, text, stderr2) = Longrope(Args("--max-ppl", "critical", "--out", dir.File("out")));
        Assert.True(code2 == 0, stderr2);
        var seeds = root.GetProperty("seeds").EnumerateArray().ToList();
        int within = seeds.Count(s => s.GetProperty("components").GetProperty("ppl").GetDouble() <= bound);
        Assert.Equal(within, root.GetProperty("max_ppl_within").GetInt32());
        Assert.InRange(within, 1, seeds.Count - 1); // the cut is within its own bound, YaRN (a higher perplexity at 2x) is not
        Assert.Contains($"bound:         text perplexity at most {bound.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)} (the critical seed's, measured on --text), "
            + $"above it a candidate scores 1000 + ln(ppl / bound); {within} of {seeds.Count} candidates within it", text);
        Assert.Contains("from the log", text);
    }

    [Fact]
    public void A_time_limit_writes_the_best_so_far_and_the_same_command_continues_the_search()
    {
        using var dir = new TempDir();
        string[] args =
        [
            "search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "ppl", "--text", Text, "--windows", "1",
            "--population", "5", "--parents", "2", "--mutations", "1", "--crossovers", "1", "--iterations", "3",
            "--threads", "2", "--out", dir.File("out"), "--json",
        ];
        // 1 ms: the limit is over before the first candidate, so the run evaluates its 4 seeds (always) and stops there,
        // before the mutation that would complete the initial population of 5.
        var (code, stdout, stderr) = Longrope([.. args, "--time-limit", "0.001s"]);
        Assert.True(code == 0, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.True(root.GetProperty("stopped_by_time_limit").GetBoolean());
        Assert.Equal(0, root.GetProperty("stopped_in_iteration").GetInt32());
        int seeds = root.GetProperty("seeds").GetArrayLength();
        Assert.Equal(4, seeds); // pi, ntk, yarn, critical
        Assert.Equal(seeds, root.GetProperty("candidates").GetInt32());
        Assert.Equal(0, root.GetProperty("iterations").GetInt32());
        double bestSeed = root.GetProperty("seeds").EnumerateArray().Min(s => s.GetProperty("fitness").GetDouble());
        Assert.Equal(bestSeed, root.GetProperty("best").GetProperty("fitness").GetDouble());
        var factors = LongRope.Formats.FactorSetReader.Read(root.GetProperty("factors_file").GetString()!);
        Assert.Contains("stopped by the time limit in iteration 0 of 3", factors.Source);

        // The text report says so too; then the same command without the limit finishes the search from the log.
        var text = Longrope([.. args.Where(a => a != "--json"), "--time-limit", "0.001s"]);
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("stopped:       at --time-limit, in iteration 0 of 3", text.Stdout);
        var (code2, stdout2, stderr2) = Longrope(args);
        Assert.True(code2 == 0, stderr2);
        var done = JsonDocument.Parse(stdout2).RootElement;
        Assert.False(done.GetProperty("stopped_by_time_limit").GetBoolean());
        Assert.Equal(JsonValueKind.Null, done.GetProperty("stopped_in_iteration").ValueKind);
        Assert.Equal(3, done.GetProperty("iterations").GetInt32());
        Assert.Equal(done.GetProperty("candidates").GetInt32() - seeds, done.GetProperty("evaluated_now").GetInt32());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5m")]
    [InlineData("soon")]
    [InlineData("3d")]
    [InlineData("1200h")]   // past the longest timer .NET runs (49.7 days)
    [InlineData("1e-9s")]   // under 1 ms
    public void A_bad_time_limit_exits_2_with_one_line(string value)
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = Longrope("search", TestPaths.TinyModel, "--target-length", "1024", "--text", Text, "--out", dir.File("out"), "--time-limit", value);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"longrope: error: --time-limit '{value}': expected a duration in s, m or h from 0.001s to 1193h, such as 90s, 20m or 1.5h (a bare number is minutes)", stderr.Trim());
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Theory]
    [InlineData(null, 1.07, 1.27)]        // scale 2: YaRN's 0.1 ln 2 + 1 = 1.069, on the grid, to 0.2 above it
    [InlineData("1.2:1.25", 1.2, 1.25)]   // a given range wins
    public void With_pass_keys_in_the_fitness_the_attention_gene_starts_at_yarns_value_unless_a_range_is_given(string? range, double min, double max)
    {
        using var dir = new TempDir();
        var args = new List<string>
        {
            "search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "passkey", "--text", Text, "--passkey-prompts", "1",
            "--population", "4", "--parents", "2", "--mutations", "1", "--crossovers", "1", "--iterations", "1",
            "--threads", "2", "--out", dir.File("out"), "--json",
        };
        if (range is not null) args.AddRange(["--attn-range", range]);
        var (code, stdout, stderr) = Longrope([.. args]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var attn = doc.RootElement.GetProperty("attn_range");
        Assert.Equal(min, attn.GetProperty("min").GetDouble(), 1e-9);
        Assert.Equal(max, attn.GetProperty("max").GetDouble(), 1e-9);
        // Every candidate the search measured (the rule seeds included, YaRN's 1.069 snapped onto the grid) lies in it.
        var factors = File.ReadLines(Path.Combine(dir.File("out"), "search.jsonl")).Skip(1)
            .Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("type").GetString() == "candidate")
            .Select(e => e.GetProperty("attn_factor").GetDouble()).ToList();
        Assert.Equal(6, factors.Count);
        Assert.All(factors, a => Assert.InRange(a, min - 1e-6, max + 1e-6));
    }
}
