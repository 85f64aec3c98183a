using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;

namespace LongRopeGguf.Runtime.Tests.Cli;

public class GenerateCommandTests
{
    [Fact]
    public void Generate_json_completes_the_reference_prompt_and_reports_set_context_and_speeds()
    {
        using var cli = new IsolatedCli();
        var (code, stdout, stderr) = cli.Run("generate", TestPaths.TinyModel, "--prompt", Reference.Prompt, "--temp", "0", "--max-tokens", "5", "--json");
        Assert.True(code == 0, stderr);
        var j = JsonDocument.Parse(stdout).RootElement; // standard output is the JSON document alone
        Assert.Equal("31415", j.GetProperty("text").GetString());
        Assert.Equal(295, j.GetProperty("tokens").GetProperty("prompt").GetInt32());
        Assert.Equal(5, j.GetProperty("tokens").GetProperty("generated").GetInt32());
        Assert.Equal("none", j.GetProperty("factor_set").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, j.GetProperty("yarn_attn_factor").ValueKind);
        Assert.Equal(512, j.GetProperty("context_size").GetInt32());
        Assert.Equal("CPU", j.GetProperty("backend").GetString());
        // The CPU build of llama.cpp this CPU can run (LLamaSharp's own guess is noavx under Native AOT: ~8x slower).
        string build = CpuBuildSelector.FolderName(CpuBuildSelector.Detect() ?? LLama.Native.AvxLevel.None);
        Assert.Equal(build, j.GetProperty("cpu_build").GetString());
        Assert.True(j.GetProperty("timings").GetProperty("prefill_tokens_per_s").GetDouble() > 0);
        Assert.True(j.GetProperty("timings").GetProperty("decode_tokens_per_s").GetDouble() > 0);

        // Standard error: the startup line and a summary, no llama.cpp log (that went to the default log file).
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("longrope: CPU (", lines[0]);
        Assert.Contains("no GPU offload", lines[0]);
        Assert.Contains($"llama.cpp {build} build", lines[0]);
        Assert.Contains("factor set none, n_ctx 512", lines[0]);
        Assert.Contains($"llama.cpp log: {cli.DefaultLogFile}", lines[0]);
        Assert.Contains("llama_model_loader: loaded meta data", File.ReadAllText(cli.DefaultLogFile));
    }

    [Fact]
    public void Logits_out_writes_the_reference_runs_token_ids_and_logits()
    {
        using var cli = new IsolatedCli();
        string path = cli.File("logits.json");
        var (code, stdout, stderr) = cli.Run("generate", TestPaths.TinyModel, "--prompt", Reference.Prompt, "--temp", "0", "--max-tokens", "5", "--logits-out", path);
        Assert.True(code == 0, stderr);
        Assert.Equal("31415\n", stdout);
        var j = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        Assert.Equal(Reference.TokenIds, j.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        float[] logits = j.GetProperty("last_logits").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        // The recorded reference was measured in llama.cpp (CPU); the same build here agrees far inside the 0.02 the
        // GPU check allows (tools/gpu-check.sh compares a CUDA run's file with the same bound).
        Assert.InRange(LogitMath.MaxAbsDiff(logits, Reference.LastLogits), 0f, 0.02f);
        Assert.Equal(Reference.Argmax, j.GetProperty("argmax").GetInt32());
        Assert.Equal("none", j.GetProperty("factor_set").GetString());
        Assert.Equal("CPU", j.GetProperty("backend").GetString());

        // A folder that does not exist: one line naming the file, nothing left behind.
        string bad = Path.Combine(cli.File("missing"), "logits.json");
        var failed = cli.Run("generate", TestPaths.TinyModel, "--prompt", Reference.Prompt, "--temp", "0", "--max-tokens", "1", "--logits-out", bad);
        Assert.Equal(2, failed.ExitCode);
        Assert.Equal($"longrope: error: --logits-out {bad}: the folder {cli.File("missing")} does not exist", failed.Stderr.Trim());
        Assert.Equal("", failed.Stdout);
        Assert.False(Directory.Exists(cli.File("missing")));

        // A folder at the path: refused before the model runs, not when the finished file would be renamed over it.
        string folder = cli.File("a-folder.json");
        Directory.CreateDirectory(folder);
        var onFolder = cli.Run("generate", TestPaths.TinyModel, "--prompt", Reference.Prompt, "--temp", "0", "--max-tokens", "1", "--logits-out", folder);
        Assert.Equal(2, onFolder.ExitCode);
        Assert.Equal($"longrope: error: --logits-out {folder}: is a folder, not a file", onFolder.Stderr.Trim());
        Assert.Equal("", onFolder.Stdout);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
    }

    [Fact]
    public void Generate_streams_text_and_reports_the_set_it_chose_or_was_told()
    {
        using var cli = new IsolatedCli();
        string prompt = PassKeyPrompt(299, 0.4, 31415);
        File.WriteAllText(cli.File("prompt.txt"), prompt);

        var auto = cli.Run("generate", PatchedModelFixture.PatchedModel, "--prompt-file", cli.File("prompt.txt"), "--temp", "0", "-n", "5");
        Assert.True(auto.ExitCode == 0, auto.Stderr);
        Assert.Equal("31415\n", auto.Stdout);
        Assert.Contains("factor set short, n_ctx 512: 305 tokens (prompt 300 + 5 to generate) fit the original context 512", auto.Stderr);

        var forced = cli.Run("generate", PatchedModelFixture.PatchedModel, "--prompt-file", cli.File("prompt.txt"), "--temp", "0", "-n", "5", "--factor-set", "LONG", "--json");
        // Named values are read in any letter case, as --method and --set are.
        Assert.True(forced.ExitCode == 0, forced.Stderr);
        var j = JsonDocument.Parse(forced.Stdout).RootElement;
        Assert.Equal("long", j.GetProperty("factor_set").GetString());
        Assert.Equal(768, j.GetProperty("context_size").GetInt32());
        Assert.StartsWith("forced by --factor-set long", j.GetProperty("reason").GetString());
    }

    [Fact]
    public void A_sampled_run_says_its_seed_and_that_seed_repeats_the_sample()
    {
        // Without --seed a good sample could not be had again: neither the line nor --json said which seed it drew.
        using var cli = new IsolatedCli();
        string[] args = ["generate", TestPaths.TinyModel, "--prompt", "The grass is", "-n", "24", "--temp", "1.5", "--json"];
        var first = cli.Run(args);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var sampling = JsonDocument.Parse(first.Stdout).RootElement.GetProperty("sampling");
        uint seed = sampling.GetProperty("seed").GetUInt32();
        Assert.Equal(1.5f, sampling.GetProperty("temperature").GetSingle());
        Assert.EndsWith($"; --temp 1.5 --top-k 40 --top-p 0.95 --seed {seed}", first.StderrLines[^1]);

        var again = cli.Run([.. args, "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Equal(JsonDocument.Parse(first.Stdout).RootElement.GetProperty("text").GetString(), JsonDocument.Parse(again.Stdout).RootElement.GetProperty("text").GetString());
        // Greedy runs say so instead, and name no seed (none is used).
        Assert.EndsWith("; greedy (--temp 0)", cli.Run("generate", TestPaths.TinyModel, "--prompt", "The grass is", "-n", "2", "--temp", "0").StderrLines[^1]);
        var greedy = JsonDocument.Parse(cli.Run("generate", TestPaths.TinyModel, "--prompt", "The grass is", "-n", "2", "--temp", "0", "--json").Stdout).RootElement;
        Assert.Equal(JsonValueKind.Null, greedy.GetProperty("sampling").GetProperty("seed").ValueKind);
    }

    [Fact]
    public void A_prompt_too_big_for_the_context_by_its_size_alone_is_refused_before_the_model_loads()
    {
        // 11 MB took 9 s and 580 MB (tokenized first) to hear "does not fit"; now a bound from the longest token refuses it.
        using var cli = new IsolatedCli();
        string prompt = cli.File("huge.txt");
        File.WriteAllText(prompt, string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 20000))); // 480,000 bytes
        var r = cli.Run("generate", TestPaths.TinyModel, "--prompt-file", prompt, "-n", "4");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Matches(@"^longrope: error: at least \d+ tokens \(a prompt of 480000 bytes, and no token of the model stands for more than \d+ bytes of it\) \+ 4 to generate do not fit: the model's context_length is 512$",
            Assert.Single(r.StderrLines));
        Assert.False(File.Exists(cli.DefaultLogFile)); // refused before llama.cpp was set up
    }

    [Fact]
    public void Short_attention_chooses_between_the_models_own_magnitude_and_the_files_and_says_which()
    {
        using var cli = new IsolatedCli();
        string path = cli.File("attn.gguf");
        PatchedModelFixture.Write(TestPaths.TinyModel, path, PatchedModelFixture.ShortFactors, PatchedModelFixture.LongFactors, attnFactor: 1.21f);
        File.WriteAllText(cli.File("prompt.txt"), PassKeyPrompt(299, 0.4, 31415));
        string[] args = ["generate", path, "--prompt-file", cli.File("prompt.txt"), "--temp", "0", "-n", "5"];

        var own = cli.Run([.. args]);
        Assert.True(own.ExitCode == 0, own.Stderr);
        Assert.Equal("31415\n", own.Stdout);
        Assert.Contains("factor set short, n_ctx 512: 305 tokens (prompt 300 + 5 to generate) fit the original context 512 (at the model's own attention magnitude: the file's attn_factor 1.21 serves the long set)", own.Stderr);

        var file = cli.Run([.. args, "--short-attention", "File"]);
        Assert.True(file.ExitCode == 0, file.Stderr);
        Assert.Contains("factor set short, n_ctx 512", file.Stderr);
        Assert.DoesNotContain("attention magnitude", file.Stderr);

        // --json says which magnitude the context ran at.
        var json = JsonDocument.Parse(cli.Run([.. args, "--json"]).Stdout).RootElement;
        Assert.Equal(1 / 1.21f, json.GetProperty("yarn_attn_factor").GetSingle(), 5);
        var jsonFile = JsonDocument.Parse(cli.Run([.. args, "--json", "--short-attention", "file"]).Stdout).RootElement;
        Assert.Equal(System.Text.Json.JsonValueKind.Null, jsonFile.GetProperty("yarn_attn_factor").ValueKind);

        var bad = cli.Run([.. args, "--short-attention", "both"]);
        Assert.Equal(2, bad.ExitCode);
        Assert.StartsWith("longrope: error: --short-attention 'both': expected model or file", bad.Stderr);
        Assert.Equal("", bad.Stdout);

        // On a file without factor sets it changes nothing: said, and the run goes on (it went on without a word).
        var unpatched = cli.Run(["generate", TestPaths.TinyModel, "--prompt-file", cli.File("prompt.txt"), "--temp", "0", "-n", "5", "--short-attention", "file"]);
        Assert.True(unpatched.ExitCode == 0, unpatched.Stderr);
        Assert.Equal("31415\n", unpatched.Stdout);
        Assert.Equal($"longrope: warning: --short-attention file: {TestPaths.TinyModel} has no LongRoPE factor sets; nothing to apply it to", unpatched.StderrLines[0]);
        Assert.DoesNotContain("warning", own.Stderr);
    }

    [Fact]
    public void Verbose_shows_llama_cpps_log_on_standard_error()
    {
        using var cli = new IsolatedCli();
        var (code, _, stderr) = cli.Run("generate", TestPaths.TinyModel, "-p", "The grass", "-n", "2", "--verbose");
        Assert.Equal(0, code);
        Assert.Contains("llama_model_loader: loaded meta data", stderr);
        Assert.Contains("llama_context: n_ctx", stderr);
        Assert.False(File.Exists(cli.DefaultLogFile));
    }

    [Fact]
    public void A_log_file_that_opens_but_cannot_be_written_is_dropped_with_one_warning()
    {
        // /dev/full opens for writing and fails every write (ENOSPC): the failure happens inside llama.cpp's log
        // callback, where an exception would abort the load.
        using var cli = new IsolatedCli();
        var (code, stdout, stderr) = cli.Run("generate", TestPaths.TinyModel, "-p", "The grass", "-n", "2", "--log-file", "/dev/full");
        Assert.True(code == 0, stderr);
        Assert.NotEqual("", stdout);
        var warning = Assert.Single(stderr.Split('\n'), l => l.Contains("warning", StringComparison.Ordinal));
        Assert.StartsWith("longrope: warning: cannot write llama.cpp's log to /dev/full (", warning);
        Assert.DoesNotContain("llama_model_loader", stderr);
        // The startup line (printed after the load, when the log was already dropped) points at no log file.
        var startup = Assert.Single(stderr.Split('\n'), l => l.StartsWith("longrope: CPU (", StringComparison.Ordinal));
        Assert.DoesNotContain("llama.cpp log:", startup);
    }

    [Fact]
    public void A_custom_llama_cpp_build_is_loaded_from_native_lib_or_the_environment()
    {
        // The AVX2 build that LLamaSharp's CPU package ships stands in for a custom build (the device kit's CUDA build).
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx2");
        using var cli = new IsolatedCli();
        var (code, stdout, stderr) = cli.Run("generate", TestPaths.TinyModel, "-p", Reference.Prompt, "--temp", "0", "-n", "5", "--native-lib", dir, "--json");
        Assert.True(code == 0, stderr);
        var j = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("31415", j.GetProperty("text").GetString());
        Assert.Equal(dir, j.GetProperty("native_lib").GetString());
        Assert.Contains($", llama.cpp from {dir} |", stderr);
        Assert.Contains($"Successfully loaded '{Path.Combine(dir, "libllama.so")}'", File.ReadAllText(cli.DefaultLogFile));

        var viaEnv = cli.RunWith(new Dictionary<string, string> { [NativeRuntime.NativeLibEnvironmentVariable] = dir }, "generate", TestPaths.TinyModel, "-p", "x", "-n", "1");
        Assert.True(viaEnv.ExitCode == 0, viaEnv.Stderr);
        Assert.Contains($", llama.cpp from {dir} |", viaEnv.Stderr);

        var bad = cli.RunWith(new Dictionary<string, string> { [NativeRuntime.NativeLibEnvironmentVariable] = cli.CacheHome }, "generate", TestPaths.TinyModel, "-p", "x");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal($"longrope: error: {NativeRuntime.NativeLibEnvironmentVariable}={cli.CacheHome}: no libllama.so in it\n", bad.Stderr);
    }

    public static TheoryData<string[], int, string> BadInputs()
    {
        string tiny = TestPaths.TinyModel;
        return new()
        {
            { ["generate", "/nonexistent/m.gguf", "-p", "x"], 2, "longrope: error: /nonexistent/m.gguf: no such model file" },
            { ["generate", TestPaths.TinyModelReference, "-p", "x"], 2, "not a GGUF file" },
            { ["generate", tiny, "-p", ""], 2, "longrope: error: --prompt: the prompt is empty" },
            { ["generate", tiny], 2, "longrope: error: no prompt: give --prompt TEXT or --prompt-file FILE" },
            { ["generate", tiny, "-p", "x", "--prompt-file", TestPaths.TinyModelReference], 2, "longrope: error: give either --prompt or --prompt-file, not both" },
            { ["generate", tiny, "-p", "x", "--temp", "-1"], 2, "longrope: error: --temp -1: must be 0 (greedy) or more" },
            { ["generate", tiny, "-p", "x", "--top-p", "1.5"], 2, "longrope: error: --top-p 1.5: must be in (0, 1]" },
            { ["generate", tiny, "-p", "x", "--top-k", "-3"], 2, "longrope: error: --top-k -3: must be 0 (off) or more" },
            { ["generate", tiny, "-p", "x", "-n", "0"], 2, "longrope: error: --max-tokens 0: must be at least 1" },
            { ["generate", tiny, "-p", "x", "--stop", ""], 2, "longrope: error: --stop: a stop string must not be empty" },
            { ["generate", tiny, "-p", "x", "--context", "4096"], 2, "longrope: error: --context 4096 is beyond the model's context_length 512" },
            { ["generate", tiny, "-p", "x", "-n", "600"], 2, "longrope: error: 602 tokens (prompt 2 + 600 to generate) do not fit: the model's context_length is 512" },
            { ["generate", tiny, "-p", "x", "--factor-set", "short"], 2, "has no LongRoPE factor sets (plain RoPE)" },
            { ["generate", tiny, "-p", "x", "--native-lib", "/nonexistent"], 2, "longrope: error: --native-lib /nonexistent: no such directory" },
            { ["generate", tiny, "-p", "x", "--native-lib", tiny], 2, $"longrope: error: --native-lib {tiny}: is a file; give the folder that holds libllama.so and its ggml libraries" },
            { ["generate", tiny, "-p", "x", "--threads", "0"], 2, "longrope: error: --threads 0: must be at least 1" },
            // Refused before the model loads and the prompt is read (it was refused when the logits were written).
            { ["generate", tiny, "-p", "x", "--logits-out", "/dev/full"], 2, "longrope: error: --logits-out /dev/full: a device or system file; refusing to replace it (write to a file in a regular folder)" },
            // The model given as the prompt file by mistake: named by its first NUL byte (GGUF version 3 = 03 00 00 00).
            { ["generate", tiny, "--prompt-file", tiny], 2, $"longrope: error: --prompt-file {tiny}: a binary file (a NUL byte at offset 5), not UTF-8 text" },
        };
    }

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_is_one_line_and_a_nonzero_exit(string[] args, int exitCode, string message)
    {
        using var cli = new IsolatedCli();
        var (code, stdout, stderr) = cli.Run(args);
        Assert.Equal(exitCode, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(message, line);
    }

    [Fact]
    public void A_model_llama_cpp_cannot_load_exits_3_with_llama_cpps_cause()
    {
        using var cli = new IsolatedCli();
        string path = cli.File("bad.gguf");
        var factors = Enumerable.Repeat(1f, 32).ToArray();
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit()
            .SetTensor(new OutputTensor("rope_factors_long.weight", GgmlType.F32, [32], TensorData.Float32(factors)))
            .SetTensor(new OutputTensor("rope_factors_short.weight", GgmlType.F32, [32], TensorData.Float32(factors))), path);
        var (code, stdout, stderr) = cli.Run("generate", path, "-p", "x");
        Assert.Equal(3, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"longrope: error: {path}: llama.cpp cannot load this model: ", line);
        Assert.Contains("wrong number of tensors", line);
    }
}
