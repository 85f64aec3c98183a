using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Runtime.Tests.Cli;

/// <summary>
/// The side outputs of the run commands (llama.cpp's log, generate's logits, chat's transcripts) are plain writes: a
/// model's name typed where theirs should be must not destroy the model (found by a user's review, session 23). And a
/// file that would abort llama.cpp is refused in one line before it is loaded.
/// </summary>
public class RunOutputsTests
{
    [Theory]
    [InlineData("--log-file")]
    [InlineData("--logits-out")]
    public void Generate_refuses_to_write_its_log_or_logits_over_a_model(string option)
    {
        using var cli = new IsolatedCli();
        string model = cli.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);
        byte[] before = File.ReadAllBytes(model);

        // Another model than the one run, then the one run.
        var r = cli.Run("generate", TestPaths.TinyModel, "--prompt", "Hi", "--max-tokens", "1", option, model);

        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal($"longrope: error: {option} {model}: is a GGUF model file; refusing to overwrite it (give another file name)", r.Stderr.Trim());
        Assert.Equal("", r.Stdout);
        Assert.Equal(before, File.ReadAllBytes(model));

        var same = cli.Run("generate", model, "--prompt", "Hi", "--max-tokens", "1", option, model);
        Assert.Equal(2, same.ExitCode);
        Assert.StartsWith($"longrope: error: {option} {model}: is ", same.Stderr);
        Assert.Equal(before, File.ReadAllBytes(model));
    }

    [Theory]
    [InlineData("--logits-out", "PROMPT", "--prompt-file")]
    [InlineData("--log-file", "PROMPT", "--prompt-file")]
    [InlineData("--log-file", "LOGITS", "--logits-out")]
    public void Generate_refuses_to_write_an_output_over_its_prompt_file_or_another_output(string option, string target, string role)
    {
        using var cli = new IsolatedCli();
        string prompt = cli.File("prompt.txt"), logits = cli.File("logits.json");
        File.WriteAllText(prompt, "The sky is");
        string path = target == "PROMPT" ? prompt : logits;
        string[] args = ["generate", TestPaths.TinyModel, "--prompt-file", prompt, "--max-tokens", "1", option, path];
        if (option != "--logits-out") args = [.. args, "--logits-out", logits];

        var r = cli.Run(args);

        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal($"longrope: error: {option} {path}: is also this run's {role}; refusing to overwrite it (give another file name)", r.Stderr.Trim());
        Assert.Equal("The sky is", File.ReadAllText(prompt));
    }

    [Fact]
    public void A_piped_chat_refuses_to_save_over_its_log_and_goes_on_after_a_name_dotnet_refuses()
    {
        using var cli = new IsolatedCli();
        string log = cli.File("chat.log"), saved = cli.File("saved.json");
        var r = cli.RunWithInput($"hi\n/save {log}\n/save bad\0name\n/save {saved}\n", "chat", TestPaths.TinyModel, "-n", "2", "--log-file", log);
        Assert.True(r.ExitCode == 2, r.ToString()); // two refusals, said at the end
        Assert.Equal("longrope: error: 2 of 4 messages and commands were refused", r.StderrLines[^1]);
        Assert.Contains($"longrope: error: /save {log}: is also this run's --log-file; refusing to overwrite it (give another file name)", r.Stderr);
        Assert.Contains("saved 2 messages to " + saved, r.Stdout);
        Assert.Equal(2, ChatTranscript.Load(saved).Messages.Count);
        Assert.DoesNotContain("\"messages\"", File.ReadAllText(log));
    }

    [Fact]
    public void Factors_make_refuses_to_write_over_a_model()
    {
        using var cli = new IsolatedCli();
        string model = cli.File("other.gguf");
        File.Copy(TestPaths.TinyModel, model);
        var r = cli.Run("factors", "make", "-m", TestPaths.TinyModel, "--method", "yarn", "-s", "8", "-o", model);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal($"longrope: error: --output {model}: is a GGUF model file; refusing to overwrite it (give another file name)", r.Stderr.Trim());
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(model));
    }

    [Fact]
    public void A_transcript_is_saved_atomically_and_never_over_a_model_or_a_folder()
    {
        using var dir = new TempDir();
        var transcript = new ChatTranscript(ChatTranscript.CurrentFormat, "m.gguf", [new ChatMessage("user", "hi"), new ChatMessage("assistant", "hello")]);
        string model = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);
        byte[] before = File.ReadAllBytes(model);

        var onModel = Assert.Throws<RuntimeInputException>(() => transcript.Save(model));
        Assert.Equal($"/save {model}: is a GGUF model file; refusing to overwrite it (give another file name)", onModel.Message);
        Assert.Equal(before, File.ReadAllBytes(model));
        var onFolder = Assert.Throws<RuntimeInputException>(() => transcript.Save(dir.Path));
        Assert.Equal($"/save {dir.Path}: is a folder, not a file", onFolder.Message);

        // Over an earlier transcript it is replaced; no temporary file is left (it was a fixed FILE.tmp name before,
        // which would have replaced a user's own file of that name).
        string saved = dir.File("chat.json");
        File.WriteAllText(saved + ".tmp", "mine");
        new ChatTranscript(ChatTranscript.CurrentFormat, null, [new ChatMessage("user", "old")]).Save(saved);
        transcript.Save(saved);
        Assert.Equal(transcript.Messages, ChatTranscript.Load(saved).Messages);
        Assert.Equal("mine", File.ReadAllText(saved + ".tmp"));
        Assert.Equal(["chat.json", "chat.json.tmp", "model.gguf"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_transcript_that_cannot_be_loaded_is_said_in_the_files_terms()
    {
        using var dir = new TempDir();
        string array = dir.File("array.json");
        File.WriteAllText(array, "[1, 2]\n");
        Assert.Equal($"/load {array}: not a chat transcript (line 1: not a JSON object near byte 2)",
            Assert.Throws<RuntimeInputException>(() => ChatTranscript.Load(array)).Message);
        string typed = dir.File("typed.json");
        File.WriteAllText(typed, "{\"format\": 3}\n");
        var e = Assert.Throws<RuntimeInputException>(() => ChatTranscript.Load(typed));
        Assert.StartsWith($"/load {typed}: not a chat transcript (line 1: 'format' has the wrong type", e.Message);
        Assert.DoesNotContain("LongRopeGguf.", e.Message);
        Assert.Equal($"/load {dir.Path}: is a folder, not a transcript file", Assert.Throws<RuntimeInputException>(() => ChatTranscript.Load(dir.Path)).Message);
        Assert.Equal($"/load {dir.File("none.json")}: no such transcript file", Assert.Throws<RuntimeInputException>(() => ChatTranscript.Load(dir.File("none.json"))).Message);
        string nul = dir.File("nul.json");
        File.WriteAllText(nul, "{\"format\":\"longrope-chat/1\",\"messages\":[{\"role\":\"user\",\"content\":\"ab\\u0000cd\"}]}");
        Assert.Equal($"/load {nul}: messages[0].content holds a NUL character (character 2), not text", Assert.Throws<RuntimeInputException>(() => ChatTranscript.Load(nul)).Message);
    }

    [Theory]
    [InlineData("{\"format\": \"other-chat/1\", \"messages\": []}", "format is 'other-chat/1', expected '{0}'")]
    [InlineData("{\"format\": \"{0}\"}", "no 'messages' array")]
    [InlineData("{\"format\": \"{0}\", \"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"robot\", \"content\": \"b\"}]}", "messages[1].role is 'robot', expected system, user or assistant")]
    [InlineData("{\"format\": \"{0}\", \"messages\": [{\"content\": \"a\"}]}", "messages[0].role is '', expected system, user or assistant")]
    [InlineData("{\"format\": \"{0}\", \"messages\": [null]}", "messages[0].role is '', expected system, user or assistant")]
    [InlineData("{\"format\": \"{0}\", \"messages\": [{\"role\": \"assistant\"}]}", "messages[0].content is missing")]
    public void A_transcript_with_a_wrong_format_or_message_names_the_field(string json, string message)
    {
        using var dir = new TempDir();
        string path = dir.File("t.json");
        File.WriteAllText(path, json.Replace("{0}", ChatTranscript.CurrentFormat));
        Assert.Equal($"/load {path}: {message.Replace("{0}", ChatTranscript.CurrentFormat)}", Assert.Throws<RuntimeInputException>(() => ChatTranscript.Load(path)).Message);
    }

    [Fact]
    public void A_model_with_a_repeated_token_is_refused_before_llama_cpp_aborts_on_it()
    {
        using var cli = new IsolatedCli();
        var tiny = GgufReader.Read(TestPaths.TinyModel);
        string[] tokens = (string[])tiny["tokenizer.ggml.tokens"].AsStringArray().Clone();
        int a = Array.IndexOf(tokens, "a"), b = Array.IndexOf(tokens, "b");
        tokens[b] = "a";
        var edit = new GgufEdit();
        edit.SetValue("tokenizer.ggml.tokens", GgufValue.Array(tokens));
        string bad = cli.File("repeated-token.gguf");
        GgufRewriter.Rewrite(tiny, edit, bad);

        var r = cli.Run("generate", bad, "--prompt", "Hi", "--max-tokens", "1", "--json");

        // Exit 134 (SIGABRT) with gdb's backtrace on standard output before: now one line, exit 2, nothing on stdout.
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Stdout);
        Assert.Equal($"longrope: error: {bad}: llama.cpp would abort the process on this file: tokenizer.ggml.tokens[{Math.Max(a, b)}] repeats [{Math.Min(a, b)}] ('a'): "
            + "llama.cpp aborts the process while loading the vocabulary (GGML_ASSERT id_to_token.size() == token_to_id.size())", r.Stderr.Trim());
    }

    [Theory]
    [InlineData("generate", "--prompt", "Hi")]
    [InlineData("bench", "--lengths", "256")]
    public void A_model_whose_layer_count_llama_cpp_aborts_on_is_refused_as_such_before_anything_reads_it_as_a_count(string command, string option, string value)
    {
        // bench and generate said "llama.block_count at offset 400: value 4294967295 is not a usable token count".
        using var cli = new IsolatedCli();
        string bad = cli.File("blocks.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue("llama.block_count", GgufValue.UInt32(4294967295)), bad);

        var r = cli.Run(command, bad, option, value);

        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Stdout);
        Assert.Equal($"longrope: error: {bad}: llama.cpp would abort the process on this file: llama.block_count = 4294967295: llama.cpp takes 1 to 512 "
            + "layers and aborts the process while loading (GGML_ASSERT n_layer_all > 0 && n_layer_all <= LLAMA_MAX_LAYERS)", r.Stderr.Trim());
    }

    [Fact]
    public void A_model_with_a_negative_norm_epsilon_is_refused_before_llama_cpp_aborts_at_the_first_decode()
    {
        // generate ended with GGML_ASSERT(eps >= 0.0f) and exit 134.
        using var cli = new IsolatedCli();
        string bad = cli.File("eps.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue("llama.attention.layer_norm_rms_epsilon", GgufValue.Float32(-1)), bad);

        var r = cli.Run("generate", bad, "--prompt", "Hi", "--max-tokens", "1");

        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Stdout);
        Assert.Equal($"longrope: error: {bad}: llama.cpp would abort the process on this file: llama.attention.layer_norm_rms_epsilon = -1: llama.cpp loads "
            + "the model and aborts the process at the first decode (GGML_ASSERT(eps >= 0.0f) in rms_norm)", r.Stderr.Trim());
    }

    [Theory]
    [InlineData("generate", "--prompt", "Hi")]
    [InlineData("bench", "--lengths", "256")]
    public void A_model_with_an_empty_string_value_is_refused_before_LLamaSharp_fails_on_it(string command, string option, string value)
    {
        // llama.cpp loads it; LLamaSharp 0.30.0's metadata reader threw ArgumentNullException: "internal error", exit 70.
        using var cli = new IsolatedCli();
        string bad = cli.File("empty-name.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue("general.name", GgufValue.String("")), bad);

        var r = cli.Run(command, bad, option, value);

        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Stdout);
        Assert.Equal($"longrope: error: {bad}: 'general.name' is an empty string, which LLamaSharp 0.30.0 cannot read (its model load fails): give it a value "
            + "(longrope edit MODEL --in-place --set 'general.name=string:TEXT') or remove it (--remove 'general.name')", r.Stderr.Trim());
    }

    [Theory]
    [InlineData("llama.rope.freq_base", "llama.rope.freq_base = NaN: every RoPE frequency is a power of it")]
    [InlineData("llama.rope.scaling.attn_factor", "llama.rope.scaling.attn_factor = NaN: cos and sin are multiplied by it, so attention breaks")]
    public void A_model_whose_output_would_be_meaningless_is_refused_before_it_runs(string key, string reason)
    {
        // Both ran to exit 0 with an empty text: every logit is NaN.
        using var cli = new IsolatedCli();
        string bad = cli.File("nan.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(PatchedModelFixture.PatchedModel), new GgufEdit().SetValue(key, GgufValue.Float32(float.NaN)), bad);

        var r = cli.Run("generate", bad, "--prompt", "The sky is", "--max-tokens", "4", "--json");

        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Stdout);
        string line = Assert.Single(r.StderrLines);
        Assert.StartsWith($"longrope: error: {bad}: llama.cpp would run this file but its output would be meaningless: {reason}", line);
        Assert.EndsWith("(longrope verify lists what is wrong)", line);
    }

    [Theory]
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGTERM)]
    // .NET raises SIGQUIT (Ctrl-\) as a Ctrl-C: the generation stopped and the run ended 130, "interrupted".
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGQUIT)]
    public void Sigterm_or_sigquit_ends_a_generation_as_ctrl_c_does_with_its_partial_json_and_dies_of_the_signal(int signal)
    {
        // It ended the process with nothing on standard output (SIGTERM's default action).
        using var cli = new IsolatedCli();
        string log = cli.File("llama.log");
        using var run = cli.Start("generate", PatchedModelFixture.PatchedModel, "--prompt", "The grass is green.", "--max-tokens", "4000",
            "--temp", "0", "--threads", "2", "--json", "--log-file", log);
        WhileGenerating(log); // ~4.5 s of generation on this 2-core CPU
        LongRopeGguf.Tests.CliProcess.Signal(run.Process, signal);
        var r = LongRopeGguf.Tests.CliProcess.Finish(run);

        Assert.True(r.ExitCode == 128 + signal, r.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(r.Stdout);
        Assert.Equal("cancelled", json.RootElement.GetProperty("stop_reason").GetString());
        Assert.Equal("longrope: terminated", r.StderrLines[^1]);
    }

    [Fact]
    public void A_generation_stopped_while_its_prompt_is_read_still_gives_its_json_and_says_where_it_stopped()
    {
        // --json printed nothing when the signal came during the prefill (on a big model most of the run).
        using var cli = new IsolatedCli();
        string model = cli.File("long.gguf");
        PatchedModelFixture.Write(TestPaths.TinyModel, model, PatchedModelFixture.ShortFactors, PatchedModelFixture.LongFactors, contextLength: 16384);
        string prompt = cli.File("prompt.txt");
        File.WriteAllText(prompt, new string('x', 16000)); // ~8 s of prefill on this 2-core CPU
        string log = cli.File("llama.log");
        using var run = cli.Start("generate", model, "--prompt-file", prompt, "--max-tokens", "16", "--temp", "0", "--threads", "2", "--json", "--log-file", log);
        WhileGenerating(log); // the context is made: the prompt is being read
        LongRopeGguf.Tests.CliProcess.Signal(run.Process, LongRopeGguf.Tests.CliProcess.SIGTERM);
        var r = LongRopeGguf.Tests.CliProcess.Finish(run);

        Assert.True(r.ExitCode == 143, r.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(r.Stdout);
        Assert.Equal("cancelled", json.RootElement.GetProperty("stop_reason").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("tokens").GetProperty("generated").GetInt32());
        Assert.Equal("", json.RootElement.GetProperty("text").GetString());
        Assert.Contains(r.StderrLines, l => l.StartsWith("longrope: stopped while the prompt (16001 tokens) was read, after ", StringComparison.Ordinal));
        Assert.Equal("longrope: terminated", r.StderrLines[^1]);
    }

    [Fact]
    public void A_bench_stopped_part_way_reports_the_lengths_it_measured()
    {
        // --json printed nothing: a long bench lost every finished length to one signal.
        using var cli = new IsolatedCli();
        string log = cli.File("llama.log");
        using var run = cli.Start("bench", PatchedModelFixture.PatchedModel, "--lengths", "256,4000", "--decode-tokens", "64", "--repeats", "3",
            "--move-tokens", "0", "--threads", "2", "--json", "--log-file", log);
        // The 4000-token length is under way once a 4096-token context exists (several seconds of work left).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!(File.Exists(log) && ReadShared(log).Contains("n_ctx         = 4096", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "no 4096-token context after 60 s");
            Thread.Sleep(50);
        }
        LongRopeGguf.Tests.CliProcess.Signal(run.Process, LongRopeGguf.Tests.CliProcess.SIGTERM);
        var r = LongRopeGguf.Tests.CliProcess.Finish(run);

        Assert.True(r.ExitCode == 143, r.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(r.Stdout);
        Assert.True(json.RootElement.GetProperty("interrupted").GetBoolean());
        Assert.Equal([256], json.RootElement.GetProperty("lengths").EnumerateArray().Select(l => l.GetProperty("length").GetInt32()));
        Assert.Equal("longrope: terminated", r.StderrLines[^1]);
    }

    /// <summary>Returns once the run has made its context (llama.cpp's log says so) and 1.5 s more have passed: the
    /// generation is under way then, also on a loaded machine where start-up takes longer than usual. Before it, a
    /// SIGTERM ends the process at once (nothing to report), which is another test.</summary>
    private static void WhileGenerating(string log)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!(File.Exists(log) && ReadShared(log).Contains("llama_context: ", StringComparison.Ordinal)))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no context in {log} after 60 s");
            Thread.Sleep(50);
        }
        // 0.5 s once found the run still setting up on a loaded 2-core machine (the signal's default action: exit 143,
        // nothing on standard output); the work each caller signals lasts 4 s or more.
        Thread.Sleep(TimeSpan.FromSeconds(1.5));
    }

    private static string ReadShared(string path)
    {
        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(s).ReadToEnd();
    }

    [Theory]
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGTERM, "generate", "--prompt-file")]
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGINT, "generate", "--prompt-file")]
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGINT, "generate", "--log-file")]
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGINT, "chat", "--log-file")]
    public void A_signal_before_the_work_starts_ends_the_process_at_once(int signal, string command, string fifoOption)
    {
        // Reading the prompt and loading the model do not look at the token: a SIGTERM then was held until they were
        // done, and a prompt file that is a FIFO with no writer held it for ever; Ctrl-C (SIGINT) still was (a FIFO as
        // --prompt-file or --log-file: only SIGKILL ended the run).
        using var cli = new IsolatedCli();
        string fifo = SpecialFiles.Fifo(cli.File("file.fifo"));
        var args = new List<string> { command, PatchedModelFixture.PatchedModel, fifoOption, fifo };
        if (command == "generate") args.AddRange(["-n", "4"]);
        if (command == "generate" && fifoOption == "--log-file") args.AddRange(["-p", "hi"]);
        using var run = cli.Start([.. args]);
        // Held in open(2) of the FIFO (a fixed 2 s sleep could signal a process still starting, whose default action
        // gives 143 and an empty stdout all the same).
        Assert.True(SpecialFiles.WaitUntilInFifoOpen(run.Process, TimeSpan.FromSeconds(30)), $"{command} never waited for the FIFO");
        LongRopeGguf.Tests.CliProcess.Signal(run.Process, signal);
        var r = LongRopeGguf.Tests.CliProcess.Finish(run, TimeSpan.FromSeconds(20));
        Assert.True(r.ExitCode == 128 + signal, r.ToString()); // the signal's own action
        Assert.Equal("", r.Stdout);
    }

    [Theory]
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGTERM)]
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGINT)]
    public void A_chat_blocked_in_a_load_from_a_fifo_nobody_writes_still_ends_by_a_signal(int signal)
    {
        // /load of a FIFO waits in open(2), where no token is looked at: SIGTERM and Ctrl-C were taken as "stop the
        // command" and the chat waited for ever (only a second SIGTERM ended it). Now SIGTERM ends it after the grace
        // (LONGROPE_STOP_GRACE), and a Ctrl-C the work has not answered in 2 s is followed by one that ends it (130).
        using var cli = new IsolatedCli();
        string fifo = SpecialFiles.Fifo(cli.File("transcript.fifo"));
        using var run = cli.StartWithInput(new Dictionary<string, string> { ["LONGROPE_STOP_GRACE"] = "2" }, $"/load {fifo}\n", "chat", TestPaths.TinyModel, "-n", "2");
        Assert.True(SpecialFiles.WaitUntilInFifoOpen(run.Process, TimeSpan.FromSeconds(60)), "the chat never waited for the FIFO");
        LongRopeGguf.Tests.CliProcess.Signal(run.Process, signal);
        if (signal == LongRopeGguf.Tests.CliProcess.SIGINT)
        {
            Thread.Sleep(2500);
            Assert.False(run.Process.HasExited, "the first Ctrl-C ended the chat"); // it asks the command to stop, as in a reply
            LongRopeGguf.Tests.CliProcess.Signal(run.Process, signal);
        }
        var r = LongRopeGguf.Tests.CliProcess.Finish(run, TimeSpan.FromSeconds(20));
        Assert.True(r.ExitCode == 128 + signal, r.ToString());
        if (signal == LongRopeGguf.Tests.CliProcess.SIGTERM)
            Assert.Equal("longrope: did not stop within 2 s of SIGTERM (blocked on a pipe or file that sends nothing, or in a step that cannot be interrupted, such as tokenizing a big text); ending now (LONGROPE_STOP_GRACE sets the wait)", r.StderrLines[^1]);
    }

    [Theory]
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGTERM)]
    [InlineData(LongRopeGguf.Tests.CliProcess.SIGQUIT)] // stopped the reply like Ctrl-C and the chat went on
    public void Sigterm_or_sigquit_in_the_middle_of_a_chat_reply_stops_the_reply_and_ends_the_chat_by_the_signal(int signal)
    {
        using var cli = new IsolatedCli();
        string log = cli.File("llama.log");
        using var run = cli.StartWithInput("The grass is green.\n", "chat", PatchedModelFixture.PatchedModel, "-n", "3000", "--temp", "0", "--threads", "2", "--log-file", log);
        WhileGenerating(log); // a reply of ~3000 tokens takes several seconds here
        LongRopeGguf.Tests.CliProcess.Signal(run.Process, signal);
        var r = LongRopeGguf.Tests.CliProcess.Finish(run);

        Assert.True(r.ExitCode == 128 + signal, r.ToString());
        Assert.NotEqual("", r.Stdout.Trim()); // the part of the reply already written stays
        Assert.Contains("[stopped]", r.StderrLines);
        Assert.Equal("longrope: terminated", r.StderrLines[^1]);
    }

    [Fact]
    public void A_piped_chat_whose_turns_were_refused_exits_2_after_saying_how_many()
    {
        using var cli = new IsolatedCli();
        var r = cli.RunWithInput($"{new string('a', 5000)}\n/nonsense\nThe sky is\n", "chat", PatchedModelFixture.PatchedModel, "-n", "2");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("do not fit: the model's context_length is 4096", r.Stderr);
        Assert.Equal("longrope: error: 2 of 3 messages and commands were refused", r.StderrLines[^1]);
        // Leaving with /exit (or /quit, /bye) says the same.
        var exit = cli.RunWithInput("/nonsense\n/exit\n", "chat", PatchedModelFixture.PatchedModel, "-n", "2");
        Assert.Equal(2, exit.ExitCode);
        Assert.Equal("longrope: error: 1 of 2 messages and commands were refused", exit.StderrLines[^1]);
        // A chat whose every message went through still exits 0.
        Assert.Equal(0, cli.RunWithInput("The sky is\n", "chat", PatchedModelFixture.PatchedModel, "-n", "2").ExitCode);
    }

    [Fact]
    public void Save_and_load_without_a_file_and_a_transcript_too_long_for_the_model_are_refused_in_the_chat()
    {
        using var cli = new IsolatedCli();
        string big = cli.File("big.json");
        new ChatTranscript(ChatTranscript.CurrentFormat, null, [new ChatMessage("user", new string('a', 5000))]).Save(big);
        var r = cli.RunWithInput($"/save\n/load\n/load {big}\n", "chat", TestPaths.TinyModel, "-n", "2");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("longrope: error: /save needs a file name", r.StderrLines);
        Assert.Contains("longrope: error: /load needs a file name", r.StderrLines);
        Assert.Single(r.StderrLines, l => l.StartsWith($"longrope: error: /load {big}: ", StringComparison.Ordinal) && l.Contains("context_length is 512", StringComparison.Ordinal));
        Assert.Equal("longrope: error: 3 of 3 messages and commands were refused", r.StderrLines[^1]);
    }

    [Fact]
    public void Each_chat_reply_samples_anew_and_the_whole_chat_repeats_with_its_seed()
    {
        // One seed for every turn gave the same reply to the same question after /reset.
        using var cli = new IsolatedCli();
        const string Input = "Once\n/reset\nOnce\n";
        // Sampling wide open: the tiny model is sure enough of "The grass is ..." to give one reply at any seed.
        string[] args = ["chat", TestPaths.TinyModel, "-n", "24", "--temp", "3", "--top-k", "0", "--top-p", "1", "--seed", "7"];
        var first = cli.RunWithInput(Input, args);
        Assert.True(first.ExitCode == 0, first.ToString());
        var halves = first.Stdout.Split("conversation cleared");
        Assert.Equal(2, halves.Length);
        Assert.NotEqual(halves[0].Trim(), halves[1][(halves[1].IndexOf('\n') + 1)..].Trim());
        Assert.Equal(first.Stdout, cli.RunWithInput(Input, args).Stdout);
    }

    [Theory]
    [InlineData(7u, 0, 7u)]
    [InlineData(7u, 3, 10u)]
    [InlineData(4294967294u, 0, 4294967294u)]
    [InlineData(4294967294u, 1, 0u)] // not 4294967295: llama.cpp draws a seed for it, and the chat did not repeat
    [InlineData(4294967294u, 2, 1u)]
    public void A_chat_reply_seed_steps_over_the_value_llama_cpp_draws_a_seed_for(uint seed, int reply, uint expected) =>
        Assert.Equal(expected, LongRopeGguf.Runtime.ChatSession.ReplySeed(seed, reply));

    [Fact]
    public void Save_refuses_a_pipe_in_the_way()
    {
        using var cli = new IsolatedCli();
        string fifo = SpecialFiles.Fifo(cli.File("chat.fifo"));
        var r = cli.RunWithInput($"Hi\n/save {fifo}\n", "chat", TestPaths.TinyModel, "-n", "2", "--temp", "0");
        Assert.Contains($"longrope: error: /save {fifo}: is a pipe, socket or device, not a file; refusing to replace it (give another file name)", r.StderrLines);
        // A link to nothing was said as "exists and is not a chat transcript".
        string dangling = cli.File("dangling.json");
        File.CreateSymbolicLink(dangling, "gone.json");
        var linked = cli.RunWithInput($"Hi\n/save {dangling}\n", "chat", TestPaths.TinyModel, "-n", "2", "--temp", "0");
        Assert.Contains($"longrope: error: /save {dangling}: a symbolic link to gone.json, which does not exist; refusing to replace it (give another file name)", linked.StderrLines);
        Assert.False(File.Exists(cli.File("gone.json")));
        Assert.Equal(LongRopeGguf.Gguf.FileKind.Special, LongRopeGguf.Gguf.FileKinds.Of(fifo));
    }

    [Fact]
    public void Chat_help_gives_the_reply_budget_a_model_gets_not_a_fixed_default()
    {
        // Help said "[default: 512]"; the bundled 512-token model gets 128, as the start-up line shows.
        using var cli = new IsolatedCli();
        var help = cli.Run("chat", "--help");
        Assert.Contains("(default: a quarter of the model's original context, at most 512)", help.Stdout);
        Assert.DoesNotContain("[default: 512]", help.Stdout);
        var chat = cli.RunWithInput("Hi\n", "chat", TestPaths.TinyModel, "--temp", "0");
        Assert.True(chat.ExitCode == 0, chat.ToString());
        Assert.Contains("(a first turn: prompt 2 or more + 128 to generate)", chat.StderrLines[0]);
    }

    [Fact]
    public void Chat_commands_are_read_as_a_user_types_them_and_save_does_not_take_other_files()
    {
        using var cli = new IsolatedCli();
        string readme = cli.File("README.md"), quoted = cli.File("my chat.json"), big = cli.File("big.json");
        File.WriteAllText(readme, "keep me\n");
        new ChatTranscript(ChatTranscript.CurrentFormat, null, [new ChatMessage("user", string.Concat(Enumerable.Repeat("The grass is green. ", 2000)))]).Save(big);
        string input = string.Join("\n", "Hi", "/STATS", "/stats now", $"/save {readme}", $"/save \"{quoted}\"", $"/load {big}", "/stats", "/nonsense") + "\n";
        var r = cli.RunWithInput(input, "chat", TestPaths.TinyModel, "-n", "8", "--temp", "0");

        Assert.Equal(2, r.ExitCode);
        // Any letter case; a command that takes no argument refuses one instead of ignoring it.
        Assert.Contains("sampling: greedy (--temp 0)", r.Stdout);
        Assert.Contains("longrope: error: /stats takes no argument (given 'now')", r.StderrLines);
        // Another file than a transcript is not overwritten (a README was replaced by the transcript).
        Assert.Contains($"longrope: error: /save {readme}: exists and is not a chat transcript; refusing to overwrite it (give another file name, or remove it first)", r.StderrLines);
        Assert.Equal("keep me\n", File.ReadAllText(readme));
        // Quotes around a name are not part of it.
        Assert.Equal(2, ChatTranscript.Load(quoted).Messages.Count);
        // A transcript that does not fit leaves the conversation and its context as they were (the cache was dropped).
        var tokens = System.Text.RegularExpressions.Regex.Matches(r.Stdout, @"tokens: (\d+) used of n_ctx (\d+)").Select(m => m.Value).ToList();
        Assert.Equal(2, tokens.Count);
        Assert.Equal(tokens[0], tokens[1]);
        Assert.Contains(r.StderrLines, l => l.StartsWith($"longrope: error: /load {big}: ", StringComparison.Ordinal));
        Assert.Contains("longrope: error: unknown command /nonsense; commands: /reset, /stats, /save FILE, /load FILE, /exit (or Ctrl-D); Ctrl-C stops a reply", r.StderrLines);
        Assert.Equal("longrope: error: 4 of 8 messages and commands were refused", r.StderrLines[^1]);
    }

    [Fact]
    public void A_system_text_or_transcript_that_does_not_fit_is_named()
    {
        using var cli = new IsolatedCli();
        string big = new('a', 5000);
        var system = cli.Run("chat", PatchedModelFixture.PatchedModel, "-n", "3", "--system", big);
        Assert.Equal(2, system.ExitCode);
        Assert.StartsWith("longrope: error: --system: ", system.StderrLines[^1]);
        Assert.EndsWith("do not fit: the model's context_length is 4096", system.StderrLines[^1]);

        string transcript = cli.File("big.json");
        new ChatTranscript(ChatTranscript.CurrentFormat, null, [new ChatMessage("user", big)]).Save(transcript);
        var load = cli.RunWithInput($"/load {transcript}\n", "chat", PatchedModelFixture.PatchedModel, "-n", "3");
        Assert.Contains($"longrope: error: /load {transcript}: ", load.Stderr);
    }

    [Fact]
    public void More_threads_than_ggml_can_hold_are_refused()
    {
        Assert.Equal("--threads 513: at most 512 (llama.cpp's limit)", RunnerOptions.EngineProblem(null, 513, 512));
        Assert.Null(RunnerOptions.EngineProblem(null, 512, 512));
        using var cli = new IsolatedCli();
        var r = cli.Run("generate", TestPaths.TinyModel, "--prompt", "Hi", "--threads", "100000");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("longrope: error: --threads 100000: at most 512 (llama.cpp's limit)", r.Stderr.Trim());
    }
}
