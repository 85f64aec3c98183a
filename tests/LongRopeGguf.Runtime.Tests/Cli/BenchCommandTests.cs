using System.Text.Json;

namespace LongRopeGguf.Runtime.Tests.Cli;

public class BenchCommandTests
{
    [Fact]
    public void Bench_json_measures_both_paths_on_both_sets_and_the_move_without_reloading()
    {
        using var cli = new IsolatedCli();
        var (code, stdout, stderr) = cli.Run("bench", PatchedModelFixture.PatchedModel, "--lengths", "256,1024", "--decode-tokens", "16",
            "--repeats", "1", "--move-tokens", "700", "--json");
        Assert.True(code == 0, stderr);
        var j = JsonDocument.Parse(stdout).RootElement;
        var lengths = j.GetProperty("lengths").EnumerateArray().ToList();
        Assert.Equal(2, lengths.Count);
        Assert.Equal(("short", 512), (lengths[0].GetProperty("factor_set").GetString(), lengths[0].GetProperty("context_size").GetInt32()));
        Assert.Equal(("long", 1280), (lengths[1].GetProperty("factor_set").GetString(), lengths[1].GetProperty("context_size").GetInt32()));
        foreach (var l in lengths)
        {
            Assert.True(l.GetProperty("same_tokens").GetBoolean()); // runner and bare loop computed the same thing
            foreach (var key in new[] { "runner_prefill_tokens_per_s", "bare_prefill_tokens_per_s", "runner_decode_tokens_per_s", "bare_decode_tokens_per_s" })
                Assert.True(l.GetProperty(key).GetDouble() > 0, key);
            Assert.Equal(1, l.GetProperty("runner_prefill_ms").GetArrayLength());
            Assert.True(l.GetProperty("runner_prefill_cpu_ms")[0].GetDouble() > 0); // CPU time measured (Linux)
            Assert.Equal(JsonValueKind.Number, l.GetProperty("prefill_cpu_cost_percent").ValueKind);
        }
        var move = j.GetProperty("move");
        Assert.Equal(700, move.GetProperty("tokens").GetInt32());
        Assert.Equal(("short", 512, "long", 768), (move.GetProperty("from_set").GetString(), move.GetProperty("from_context").GetInt32(),
            move.GetProperty("to_set").GetString(), move.GetProperty("to_context").GetInt32()));
        Assert.True(move.GetProperty("reprefill_ms").GetDouble() > 0);
        Assert.Equal(0, move.GetProperty("weight_loads_during_moves").GetInt32());
        Assert.Equal(0, move.GetProperty("llama_model_loads_during_moves").GetInt32());
    }

    [Fact]
    public void Bench_says_when_its_short_contexts_run_at_the_models_own_attention_magnitude()
    {
        using var cli = new IsolatedCli();
        string path = cli.File("attn.gguf");
        PatchedModelFixture.Write(LongRopeGguf.Tests.TestPaths.TinyModel, path, PatchedModelFixture.ShortFactors, PatchedModelFixture.LongFactors, attnFactor: 1.21f);
        string[] args = ["bench", path, "--lengths", "256", "--decode-tokens", "4", "--repeats", "1", "--move-tokens", "0"];

        var own = cli.Run(args);
        Assert.True(own.ExitCode == 0, own.Stderr);
        Assert.Contains("4 decode tokens, 1 run; short contexts at the model's own attention magnitude (the file's attn_factor 1.21 serves the long set)", own.StderrLines[0]);

        var file = cli.Run([.. args, "--short-attention", "file"]);
        Assert.True(file.ExitCode == 0, file.Stderr);
        Assert.DoesNotContain("attention magnitude", file.Stderr);

        // A file whose attn_factor is 1 has nothing to undo.
        var plain = cli.Run(["bench", PatchedModelFixture.PatchedModel, "--lengths", "256", "--decode-tokens", "4", "--repeats", "1", "--move-tokens", "0"]);
        Assert.True(plain.ExitCode == 0, plain.Stderr);
        Assert.DoesNotContain("attention magnitude", plain.Stderr);
        // One repeat is "1 run" ("1 runs per path" before).
        Assert.Contains("; 1 run per path (medians)", plain.Stdout);
        Assert.Contains("decode tokens, 1 run", plain.Stderr);
        Assert.DoesNotContain("1 runs", plain.Stdout + plain.Stderr);
    }

    [Fact]
    public void Bench_on_a_model_without_longrope_skips_what_does_not_apply_and_says_why()
    {
        using var cli = new IsolatedCli();
        var (code, stdout, stderr) = cli.Run("bench", LongRopeGguf.Tests.TestPaths.TinyModel, "--decode-tokens", "8", "--repeats", "1");
        Assert.True(code == 0, stderr);
        // The first default past the model is measured at the longest prompt it holds, once; the others are skipped.
        Assert.Contains("longrope: skipped: length 512 + 8 decode tokens exceed the model's context_length 512; measuring 504 instead\n", stderr);
        Assert.Contains("longrope: skipped: length 2048 + 8 decode tokens exceed the model's context_length 512\n", stderr);
        Assert.Matches(@"\n\s+504\s+512\s+none \|", stdout);
        Assert.Contains("short-to-long move: skipped (the model has no LongRoPE factor sets)", stdout);

        var bad = cli.Run("bench", LongRopeGguf.Tests.TestPaths.TinyModel, "--lengths", "2048");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("longrope: error: --lengths: length 2048 + 128 decode tokens exceed the model's context_length 512\n", bad.Stderr);
        // The same for the move: the default size is skipped when it does not fit, an explicit one is refused.
        bad = cli.Run("bench", LongRopeGguf.Tests.TestPaths.TinyModel, "--lengths", "64", "--move-tokens", "9000");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("longrope: error: --move-tokens 9000: exceeds the model's context_length 512\n", bad.Stderr);
    }

    public static TheoryData<string[], string> CountMistakes() => new()
    {
        // Refused before the model is loaded, naming the option that is wrong (the huge decode count was refused
        // after the start-up line as "2147483647 tokens do not fit", and 512 + 2147483647 wrapped to a sum that fit).
        { ["--decode-tokens", "2147483647", "--lengths", "512"], "--decode-tokens 2147483647: leaves no room for a prompt in context_length 512" },
        { ["--decode-tokens", "511"], "--decode-tokens 511: leaves no room for a prompt in context_length 512" },
        { ["--lengths", "2147483647", "--decode-tokens", "8"], "--lengths: length 2147483647 + 8 decode tokens exceed the model's context_length 512" },
        // Read as eval niah and ppl read their --lengths (one parser): the same mistake, the same words.
        { ["--lengths", "99999999999"], "--lengths '99999999999': 99999999999 is beyond what llama.cpp can address" },
        { ["--lengths", "64,x"], "--lengths '64,x': 'x' is not a whole number of tokens" },
        { ["--lengths", "1"], "--lengths '1': 1 is below the smallest count, 2 tokens" },
        { ["--lengths", "64,,128"], "--lengths '64,,128': an empty entry (two commas, or one at an end)" },
        // Measured twice, where eval niah and ppl refuse it.
        { ["--lengths", "256,256"], "--lengths '256,256': 256 is given twice" },
    };

    [Theory]
    [MemberData(nameof(CountMistakes))]
    public void Counts_that_cannot_run_are_refused_in_one_line_before_the_model_loads(string[] options, string expected)
    {
        using var cli = new IsolatedCli();
        var bad = cli.Run(["bench", LongRopeGguf.Tests.TestPaths.TinyModel, .. options]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal($"longrope: error: {expected}\n", bad.Stderr);
        Assert.Equal("", bad.Stdout);
    }
}
