using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.LongRope.Formats;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Cli.Tests;

/// <summary>Factor files and a patched model shared by the tests below, made once with the library (the commands
/// that make them are tested on their own).</summary>
public sealed class PatchVerifyFactorsFixture : IDisposable
{
    public const int Original = 512, Extended = 2048, FactorCount = 32;

    private readonly TempDir _dir = new();

    public PatchVerifyFactorsFixture()
    {
        var model = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));
        PiSet = FactorRules.Make(FactorMethod.Pi, model, 4);
        YarnSet = FactorRules.Make(FactorMethod.Yarn, model, 4);
        FactorSetJson.Write(PiSet, PiFactors);
        FactorSetJson.Write(YarnSet, YarnFactors);
        FactorSetJson.Write(FactorRules.Make(FactorMethod.Ntk, model, 4), NtkFactors);
        LongRopePatcher.Patch(TestPaths.TinyModel, PiSet, Patched);
        _badFileRuns = new(RunVerifyOnBadFiles);
    }

    public FactorSet PiSet { get; }
    public FactorSet YarnSet { get; }
    public string PiFactors => _dir.File("pi.json");
    public string YarnFactors => _dir.File("yarn.json");
    public string NtkFactors => _dir.File("ntk.json");

    /// <summary>The tiny model patched with <see cref="PiSet"/>: the good file the bad ones are made from.</summary>
    public string Patched => _dir.File("patched-pi.gguf");

    /// <summary>`verify --json` of every bad file of <see cref="PatchVerifyFactorsCommandTests.BadFileTable"/>, keyed by
    /// finding code: built and run once, several processes at a time (the table is the bulk of this class's
    /// processes, each a short single-threaded start-up), then checked one theory case each.</summary>
    public IReadOnlyDictionary<string, VerifyRun> BadFileRuns => _badFileRuns.Value;

    private readonly Lazy<IReadOnlyDictionary<string, VerifyRun>> _badFileRuns;

    public sealed record VerifyRun(string File, byte[] HashBefore, CliResult Result);

    private IReadOnlyDictionary<string, VerifyRun> RunVerifyOnBadFiles()
    {
        var files = new List<(string Code, string File, byte[] Hash)>();
        foreach (var bad in PatchVerifyFactorsCommandTests.BadFileTable)
        {
            string file = _dir.File("bad-" + bad.Code + ".gguf");
            if (bad.Edit is null) File.Copy(TestPaths.TinyModel, file);
            else
            {
                var edit = new GgufEdit();
                bad.Edit(edit);
                GgufRewriter.Rewrite(GgufReader.Read(Patched), edit, file);
            }
            files.Add((bad.Code, file, PatchVerifyFactorsCommandTests.Sha(file)));
        }
        var runs = new Dictionary<string, VerifyRun>();
        foreach (var batch in files.Chunk(6))
        {
            var started = batch.Select(f => CliProcess.Start("verify", f.File, "--json")).ToList();
            try
            {
                for (int i = 0; i < batch.Length; i++) runs[batch[i].Code] = new VerifyRun(batch[i].File, batch[i].Hash, CliProcess.Finish(started[i]));
            }
            finally
            {
                foreach (var p in started) p.Dispose();
            }
        }
        return runs;
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// `longrope factors make|show`, `longrope patch` and `longrope verify` run as real processes on the tiny model:
/// outputs (parsed from --json), exit codes (0 ok, 1 check failed, 2 bad input), input files unchanged unless
/// --in-place, and one-line errors for bad input.
/// </summary>
public class PatchVerifyFactorsCommandTests(PatchVerifyFactorsFixture fx) : IClassFixture<PatchVerifyFactorsFixture>
{
    private const string A = "llama";
    private const int N = PatchVerifyFactorsFixture.FactorCount;

    // ---------------------------------------------------------------- factors make / show

    [Theory]
    [InlineData("pi")]
    [InlineData("ntk")]
    [InlineData("yarn")]
    [InlineData("critical")]
    [InlineData("ones")]
    public void Factors_make_writes_each_method_and_show_reads_the_same_set_back(string method)
    {
        using var dir = new TempDir();
        string file = dir.File(method + ".json");
        byte[] modelHash = Sha(TestPaths.TinyModel);

        var made = CliProcess.Run("factors", "make", "--model", TestPaths.TinyModel, "--method", method, "--scale", "4", "-o", file, "--json");

        AssertExit(0, made);
        Assert.Empty(made.Stderr);
        using var summary = JsonDocument.Parse(made.Stdout);
        Assert.Equal(file, summary.RootElement.GetProperty("path").GetString());
        Assert.True(summary.RootElement.GetProperty("valid").GetBoolean());
        Assert.Equal(0, summary.RootElement.GetProperty("errors").GetArrayLength());
        var set = summary.RootElement.GetProperty("factors");
        Assert.Equal(PatchVerifyFactorsFixture.Original, set.GetProperty("original_context_length").GetInt32());
        Assert.Equal(PatchVerifyFactorsFixture.Extended, set.GetProperty("context_length").GetInt32());
        float[] longF = Floats(set.GetProperty("long_factors"));
        float[] shortF = Floats(set.GetProperty("short_factors"));
        Assert.Equal(N, longF.Length);
        Assert.All(shortF, f => Assert.Equal(1f, f));
        Assert.Equal(N, shortF.Length);
        var attention = set.GetProperty("attention_factor");

        // The values against the rules' own definitions (theta_i / f_i, d = 64, s = 4, base 10000, L = 512).
        switch (method)
        {
            case "pi":
                Assert.All(longF, f => Assert.Equal(4f, f));
                break;
            case "ntk":
                for (int i = 0; i < N; i++) Assert.Equal(Math.Pow(4, 2.0 * i / 62), longF[i], 1e-5);
                break;
            case "yarn":
                // Ramp from 1 (high-frequency pairs kept) to s (low-frequency pairs interpolated), never decreasing;
                // bit-identical to the rule that reproduces llama.cpp's built-in YaRN.
                Assert.Equal(1f, longF[0]);
                Assert.Equal(4f, longF[^1]);
                for (int i = 1; i < N; i++) Assert.True(longF[i] >= longF[i - 1], $"yarn factor [{i}] {longF[i]} < [{i - 1}] {longF[i - 1]}");
                Assert.Equal(FactorRules.Yarn(64, 4, 10000f, 512), longF);
                break;
            case "critical":
                // Pairs 0-15 have wavelengths 2 pi 10000^(i/32) below 512 tokens (pair 15: 474), pairs 16-31 above
                // (pair 16: 628): they never turned a full period in training and get s.
                Assert.Equal(Enumerable.Repeat(1f, 16).Concat(Enumerable.Repeat(4f, 16)), longF);
                break;
            case "ones":
                Assert.All(longF, f => Assert.Equal(1f, f));
                break;
        }
        bool yarnAttention = method is "yarn" or "critical";
        Assert.Equal(yarnAttention ? "yarn" : "none", attention.GetProperty("policy").GetString());
        Assert.Equal(yarnAttention ? 0.1 * Math.Log(4) + 1 : 1, attention.GetProperty("value").GetDouble(), 1e-6);

        Assert.Equal(modelHash, Sha(TestPaths.TinyModel));
        if (method is "pi" or "ones") return; // constant sets: read back elsewhere (the fixture's pi file is patched from)

        // `factors show` reads the written file back to the same bits and finds it valid for the model.
        var shown = CliProcess.Run("factors", "show", file, "--model", TestPaths.TinyModel, "--json");
        AssertExit(0, shown);
        using var show = JsonDocument.Parse(shown.Stdout);
        Assert.True(show.RootElement.GetProperty("valid").GetBoolean());
        Assert.Equal(longF, Floats(show.RootElement.GetProperty("factors").GetProperty("long_factors")));
        Assert.Equal(shortF, Floats(show.RootElement.GetProperty("factors").GetProperty("short_factors")));
    }

    [Fact]
    public void Factors_make_without_output_prints_the_factor_file_and_with_output_prints_a_table()
    {
        using var dir = new TempDir();
        string file = dir.File("yarn.json");

        var printed = CliProcess.Run("factors", "make", "-m", TestPaths.TinyModel, "--method", "yarn", "-s", "4");
        var written = CliProcess.Run("factors", "make", "-m", TestPaths.TinyModel, "--method", "yarn", "-s", "4", "-o", file);

        AssertExit(0, printed);
        AssertExit(0, written);
        // Standard output is a factor file in its own right, with the same content as the one written with -o.
        File.WriteAllText(dir.File("stdout.json"), printed.Stdout);
        var fromStdout = FactorSetJson.Read(dir.File("stdout.json"));
        var fromFile = FactorSetJson.Read(file);
        Assert.Equal(fromFile.LongFactors.ToArray(), fromStdout.LongFactors.ToArray());
        Assert.Equal(fromFile.AttentionFactor, fromStdout.AttentionFactor);
        Assert.Equal(fx.YarnSet.LongFactors.ToArray(), fromFile.LongFactors.ToArray());
        Assert.Equal("", printed.Stderr);
        // A set's warnings reach stderr when the file goes to stdout too (they were said only with -o).
        var unusual = CliProcess.Run("factors", "make", "-m", TestPaths.TinyModel, "--method", "yarn", "-s", "4", "--attn-factor", "100");
        AssertExit(0, unusual);
        Assert.Equal(["longrope: warning: attention factor 100 is outside [1, 2]; it scales attention logits by its square (10000)"], unusual.StderrLines);
        Assert.Equal(100f, JsonDocument.Parse(unusual.Stdout).RootElement.GetProperty("attention_factor").GetProperty("value").GetSingle());

        string[] lines = written.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"wrote {file}", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("context:", StringComparison.Ordinal) && l.Contains("512 -> 2048 (s = 4)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("attention factor:", StringComparison.Ordinal) && l.Contains("1.13863 (yarn)", StringComparison.Ordinal));
        // One table row per factor pair: index, long, short.
        Assert.Equal(N, lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s+\d+\s+[\d.]+\s+1$")));
        Assert.Equal("valid", lines[^1]);
    }

    [Fact]
    public void Factors_make_refuses_to_write_the_factor_file_over_its_model()
    {
        using var dir = new TempDir();
        string model = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);
        byte[] before = Sha(model);

        var r = CliProcess.Run("factors", "make", "-m", model, "--method", "pi", "-s", "2", "-o", model);

        AssertExit(2, r);
        Assert.Equal($"longrope: error: {model}: the factor file would overwrite the model; give another -o FILE", r.Stderr.TrimEnd());
        Assert.Equal(before, Sha(model));
    }

    [Fact]
    public void Factors_show_reads_the_factors_of_a_patched_gguf_and_refuses_a_plain_one()
    {
        var shown = CliProcess.Run("factors", "show", fx.Patched, "--json");
        AssertExit(0, shown);
        using var json = JsonDocument.Parse(shown.Stdout);
        Assert.Equal(fx.PiSet.LongFactors, Floats(json.RootElement.GetProperty("factors").GetProperty("long_factors")));

        var plain = CliProcess.Run("factors", "show", TestPaths.TinyModel);
        AssertOneErrorLine(plain, 2, TestPaths.TinyModel, "no 'rope_factors_long.weight' tensor");
    }

    // ---------------------------------------------------------------- patch

    [Fact]
    public void Patch_writes_model_longrope_gguf_beside_the_input_and_leaves_the_input_unchanged()
    {
        using var dir = new TempDir();
        string model = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);
        byte[] before = Sha(model);

        var r = CliProcess.Run("patch", model, "--factors", fx.YarnFactors);

        AssertExit(0, r);
        Assert.Empty(r.Stderr);
        string target = dir.File("model.longrope.gguf");
        Assert.Equal(before, Sha(model));
        Assert.Equal([model, target], Directory.GetFiles(dir.Path).Order());
        string[] lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith($"patched {model} -> {target} (wrote {new FileInfo(target).Length:N0} bytes", lines[0]);
        Assert.Contains("  - added rope_factors_long.weight: F32 [32]", lines);
        Assert.Contains("  - set llama.context_length = 2048 (was 512)", lines);
        Assert.StartsWith("verify: llama.cpp will load this file and apply LongRoPE", lines[^1]);

        var source = GgufReader.Read(model);
        var patched = GgufReader.Read(target);
        Assert.Equal(2048u, patched.GetUInt32("llama.context_length"));
        Assert.Equal(512u, patched.GetUInt32("llama.rope.scaling.original_context_length"));
        Assert.Equal("longrope", patched.GetString("llama.rope.scaling.type"));
        Assert.Equal(fx.YarnSet.AttentionFactor, patched.GetFloat32("llama.rope.scaling.attn_factor"));
        Assert.Equal(fx.YarnSet.LongFactors, ReadFloats(patched, "rope_factors_long.weight"));
        Assert.Equal(Enumerable.Repeat(1f, N), ReadFloats(patched, "rope_factors_short.weight"));
        // Every weight of the model is carried over byte for byte.
        foreach (var t in source.Tensors) Assert.Equal(TensorSha(source, t.Name), TensorSha(patched, t.Name));
    }

    [Fact]
    public void Patch_json_reports_what_it_wrote_and_verify_accepts_the_result()
    {
        using var dir = new TempDir();
        string output = dir.File("out.gguf");
        byte[] before = Sha(TestPaths.TinyModel);

        var r = CliProcess.Run("patch", TestPaths.TinyModel, "-f", fx.YarnFactors, "-o", output, "--json");

        AssertExit(0, r);
        Assert.Equal(before, Sha(TestPaths.TinyModel));
        using var json = JsonDocument.Parse(r.Stdout);
        var root = json.RootElement;
        Assert.Equal("patch", root.GetProperty("action").GetString());
        Assert.Equal(TestPaths.TinyModel, root.GetProperty("source").GetString());
        Assert.Equal(output, root.GetProperty("target").GetString());
        Assert.Equal("rewritten", root.GetProperty("mode").GetString());
        Assert.Equal(new FileInfo(output).Length, root.GetProperty("bytes_written").GetInt64());
        Assert.Contains("added rope_factors_short.weight: F32 [32]", Strings(root.GetProperty("changes")));
        Assert.Empty(Strings(root.GetProperty("warnings")));
        Assert.Equal(fx.YarnSet.LongFactors, Floats(root.GetProperty("factors").GetProperty("long_factors")));
        Assert.True(root.GetProperty("verify").GetProperty("ok").GetBoolean());

        var verified = CliProcess.Run("verify", output, "--json");
        AssertExit(0, verified);
        Assert.Empty(verified.Stderr);
        using var v = JsonDocument.Parse(verified.Stdout);
        Assert.True(v.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal("llama", v.RootElement.GetProperty("architecture").GetString());
        Assert.Equal("when-longrope", v.RootElement.GetProperty("architecture_support").GetString());
        var plan = v.RootElement.GetProperty("plan");
        Assert.Equal(512, plan.GetProperty("threshold").GetInt32());
        Assert.Equal(2048, plan.GetProperty("context_length").GetInt32());
        Assert.Equal(512, plan.GetProperty("largest_short_context").GetInt32());
        Assert.Equal("long", plan.GetProperty("default_context_set").GetString());
        Assert.DoesNotContain(v.RootElement.GetProperty("findings").EnumerateArray(), f => f.GetProperty("severity").GetString() == "error");

        var text = CliProcess.Run("verify", output);
        AssertExit(0, text);
        Assert.Contains("verdict:       OK: llama.cpp will load this file and apply LongRoPE: the short set for context sizes up to 512, the long set above", text.Stdout);
        // The table of which set runs for which requested context: 512 still short, 513 (n_ctx 768) long.
        Assert.Matches(@"(?m)^\s+512 -> n_ctx\s+512: short$", text.Stdout);
        Assert.Matches(@"(?m)^\s+513 -> n_ctx\s+768: long$", text.Stdout);
    }

    [Fact]
    public void Patching_a_patched_file_replaces_its_factors_as_if_the_original_had_been_patched()
    {
        using var dir = new TempDir();
        string yarnFile = dir.File("yarn.gguf"), repatched = dir.File("repatched.gguf"), twice = dir.File("twice.gguf");
        AssertExit(0, CliProcess.Run("patch", TestPaths.TinyModel, "-f", fx.YarnFactors, "-o", yarnFile));
        byte[] yarnHash = Sha(yarnFile);

        var r = CliProcess.Run("patch", yarnFile, "-f", fx.PiFactors, "-o", repatched, "--json");
        AssertExit(0, r);
        // The fixture's file is the original patched once with the same pi set (by the library the command runs).
        string direct = fx.Patched;
        AssertExit(0, CliProcess.Run("patch", direct, "-f", fx.PiFactors, "-o", twice));

        using var json = JsonDocument.Parse(r.Stdout);
        var changes = Strings(json.RootElement.GetProperty("changes"));
        Assert.Contains("replaced rope_factors_long.weight (F32 [32]): F32 [32]", changes);
        Assert.Contains(changes, c => c.StartsWith("set llama.rope.scaling.attn_factor = 1 (was 1.13", StringComparison.Ordinal));
        Assert.Equal(yarnHash, Sha(yarnFile));
        // yarn then pi == pi alone, and pi twice == pi once: nothing of the earlier patch is left over.
        Assert.Equal(File.ReadAllBytes(direct), File.ReadAllBytes(repatched));
        Assert.Equal(File.ReadAllBytes(direct), File.ReadAllBytes(twice));
    }

    [Fact]
    public void Patch_in_place_through_a_link_patches_the_file_it_points_to_and_keeps_its_permissions()
    {
        // Hugging Face's cache holds models as links: the rewrite replaced the link with a patched regular file and left
        // the model as it was; and a 600 model came out 644 (readable by everyone).
        using var dir = new TempDir();
        string model = dir.File("blob.gguf"), link = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);
        var privateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        File.SetUnixFileMode(model, privateMode);
        File.CreateSymbolicLink(link, model);

        AssertExit(0, CliProcess.Run("patch", link, "-f", fx.NtkFactors, "--in-place"));
        Assert.Equal(model, new FileInfo(link).LinkTarget);
        Assert.True(GgufReader.Read(model).TryGetTensor("rope_factors_long.weight", out _));
        Assert.Equal(privateMode, File.GetUnixFileMode(model));

        AssertExit(0, CliProcess.Run("patch", link, "--remove", "--in-place"));
        Assert.Equal(model, new FileInfo(link).LinkTarget);
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(model));
        Assert.Equal(privateMode, File.GetUnixFileMode(model));
        Assert.Equal([model, link], Directory.GetFiles(dir.Path).Order());
    }

    [Fact]
    public void An_in_place_update_waits_for_another_one_on_the_same_file()
    {
        // Two at once wrote their values in turn (one run's factors with the other's attention factor, both "OK"). An
        // update locks the whole file while it reads and writes; here this test holds that lock for 1.5 s.
        using var dir = new TempDir();
        string model = dir.File("model.gguf");
        AssertExit(0, CliProcess.Run("patch", TestPaths.TinyModel, "-f", fx.NtkFactors, "-o", model));
        var waited = System.Diagnostics.Stopwatch.StartNew();
        RunningCli run;
        using (var held = new FileStream(model, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            held.Lock(0, long.MaxValue);
            run = CliProcess.Start("patch", model, "-f", fx.PiFactors, "--in-place");
            Thread.Sleep(1500);
            Assert.False(run.Process.HasExited, "the update did not wait for the lock");
            held.Unlock(0, long.MaxValue);
        }
        var r = CliProcess.Finish(run);
        AssertExit(0, r);
        Assert.True(waited.Elapsed >= TimeSpan.FromSeconds(1.5));
        Assert.Equal(fx.PiSet.LongFactors, ReadFloats(GgufReader.Read(model), "rope_factors_long.weight"));
    }

    [Fact]
    public void Patch_in_place_rewrites_once_then_updates_only_the_factors_and_remove_in_place_restores_the_original()
    {
        using var dir = new TempDir();
        string model = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);

        var first = CliProcess.Run("patch", model, "-f", fx.NtkFactors, "--in-place", "--json");
        AssertExit(0, first);
        using (var json = JsonDocument.Parse(first.Stdout))
        {
            Assert.Equal("rewritten", json.RootElement.GetProperty("mode").GetString());
            Assert.Equal(model, json.RootElement.GetProperty("target").GetString());
        }
        long patchedLength = new FileInfo(model).Length;
        Assert.True(patchedLength > new FileInfo(TestPaths.TinyModel).Length);
        Assert.Equal([model], Directory.GetFiles(dir.Path));

        var second = CliProcess.Run("patch", model, "-f", fx.PiFactors, "--in-place", "--attn-factor", "su", "--json");
        AssertExit(0, second);
        using (var json = JsonDocument.Parse(second.Stdout))
        {
            Assert.Equal("in-place", json.RootElement.GetProperty("mode").GetString());
            // Two factor tensors, two provenance arrays and a few scalars: bytes, not the 10 MB model.
            long written = json.RootElement.GetProperty("bytes_written").GetInt64();
            Assert.InRange(written, 4 * N * 4, 2048);
            Assert.True(json.RootElement.GetProperty("verify").GetProperty("ok").GetBoolean());
        }
        Assert.Equal(patchedLength, new FileInfo(model).Length);
        var updated = GgufReader.Read(model);
        Assert.Equal(fx.PiSet.LongFactors, ReadFloats(updated, "rope_factors_long.weight"));
        Assert.Equal((float)Math.Sqrt(1 + Math.Log(4) / Math.Log(512)), updated.GetFloat32("llama.rope.scaling.attn_factor"), 1e-6f);

        var removed = CliProcess.Run("patch", model, "--remove", "--in-place", "--json");
        AssertExit(0, removed);
        using (var json = JsonDocument.Parse(removed.Stdout))
        {
            Assert.Equal("remove", json.RootElement.GetProperty("action").GetString());
            Assert.False(json.RootElement.TryGetProperty("factors", out _));
        }
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(model));
        Assert.Equal([model], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Patch_in_place_of_a_model_with_two_names_says_the_rewrite_leaves_the_other_name_the_old_file()
    {
        // The rename that ends a rewrite gives only this name the new file; the other kept the unpatched model unsaid.
        using var dir = new TempDir();
        string model = dir.File("model.gguf"), other = dir.File("other.gguf");
        File.Copy(TestPaths.TinyModel, model);
        SpecialFiles.HardLink(model, other);

        var first = CliProcess.Run("patch", model, "-f", fx.NtkFactors, "--in-place", "--json");
        AssertExit(0, first);
        Assert.Equal([$"longrope: warning: {model} has 2 names (hard links); rewritten in place it becomes a new file under this name, and the other name keeps the old one"],
            first.StderrLines);
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(other));
        Assert.True(GgufReader.Read(model).TryGetTensor("rope_factors_long.weight", out _));

        // An update in place writes into the file all its names share: nothing to say, both names see it.
        SpecialFiles.HardLink(model, dir.File("third.gguf"));
        var second = CliProcess.Run("patch", model, "-f", fx.PiFactors, "--in-place");
        AssertExit(0, second);
        Assert.Empty(second.StderrLines);
        Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(dir.File("third.gguf")));
    }

    [Fact]
    public void Patch_remove_whose_result_llama_cpp_will_not_load_exits_1_with_the_reason()
    {
        // A restore record edited to drop general.architecture: the removal wrote it and exited 0.
        using var dir = new TempDir();
        string tampered = dir.File("tampered.gguf");
        var patched = GgufReader.Read(fx.Patched);
        string[] absent = [.. patched["longrope.restore.absent_keys"].AsStringArray(), "general.architecture"];
        GgufRewriter.Rewrite(patched, new GgufEdit().SetValue("longrope.restore.absent_keys", GgufValue.Array(absent)), tampered);
        string restored = dir.File("restored.gguf");

        var r = CliProcess.Run("patch", tampered, "--remove", "-o", restored);

        AssertExit(1, r);
        Assert.Contains("verify: llama.cpp will refuse to load this file", r.Stdout);
        Assert.Contains("  error [no-architecture]: ", r.Stdout);
    }

    [Fact]
    public void Patch_remove_writes_the_original_model_back_and_needs_an_output()
    {
        using var dir = new TempDir();
        string restored = dir.File("restored.gguf");
        byte[] patchedHash = Sha(fx.Patched);

        var r = CliProcess.Run("patch", fx.Patched, "--remove", "-o", restored);

        AssertExit(0, r);
        Assert.Equal(patchedHash, Sha(fx.Patched));
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(restored));
        Assert.StartsWith($"removed LongRoPE from {fx.Patched} -> {restored}", r.Stdout);
        Assert.Contains("  - restored llama.context_length = 512", r.Stdout.Split('\n'));
        Assert.Contains("verify: no LongRoPE left; llama.cpp runs the file as it was before it was patched", r.Stdout);

        // Without -o there is no sensible default name (MODEL.longrope.gguf would hold no LongRoPE).
        AssertOneErrorLine(CliProcess.Run("patch", fx.Patched, "--remove"), 2, "--remove needs -o FILE");
        AssertOneErrorLine(CliProcess.Run("patch", TestPaths.TinyModel, "--remove", "-o", restored), 2, TestPaths.TinyModel, "no LongRoPE to remove");
        // A removal takes no factors: each option that would set them is refused, and nothing is written.
        foreach (string[] extra in new[] { new[] { "-f", fx.NtkFactors }, ["--context", "2048"], ["--original-context", "512"], ["--attn-factor", "1.1"] })
            AssertOneErrorLine(CliProcess.Run(["patch", fx.Patched, "--remove", "-o", dir.File("r2.gguf"), .. extra]), 2,
                "--remove takes no --factors, --original-context, --context or --attn-factor");
        Assert.False(File.Exists(dir.File("r2.gguf")));
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(restored));
    }

    [Fact]
    public void Patch_names_a_context_length_of_the_wrong_kind_instead_of_calling_it_missing()
    {
        // A STRING context length (here made with `edit`) was reported as "no 'llama.context_length' key".
        using var dir = new TempDir();
        string model = dir.File("string-context.gguf");
        AssertExit(0, CliProcess.Run("edit", TestPaths.TinyModel, "--set", "llama.context_length=string:4096", "-o", model));
        string output = dir.File("out.gguf");
        AssertOneErrorLine(CliProcess.Run("patch", model, "-f", fx.YarnFactors, "-o", output), 2,
            $"{model}: key 'llama.context_length' is STRING \"4096\": not a context length (a whole number of tokens from 1 to 2147483647; llama.cpp reads it as UINT32)");
        Assert.False(File.Exists(output));
    }

    public static TheoryData<string, string, double> AttentionChoices() => new()
    {
        // --attn-factor value, policy recorded, value expected for s = 2048 / 512 = 4, L = 512
        { "su", "su", Math.Sqrt(1 + Math.Log(4) / Math.Log(512)) },
        { "yarn", "yarn", 0.1 * Math.Log(4) + 1 },
        { "none", "none", 1 },
        { "1.25", "explicit", 1.25 },
    };

    [Theory]
    [MemberData(nameof(AttentionChoices))]
    public void Patch_attn_factor_overrides_the_factor_files_attention_factor(string choice, string policy, double expected)
    {
        using var dir = new TempDir();
        string output = dir.File("out.gguf");

        var r = CliProcess.Run("patch", TestPaths.TinyModel, "-f", fx.PiFactors, "--attn-factor", choice, "-o", output, "--json");

        AssertExit(0, r);
        using var json = JsonDocument.Parse(r.Stdout);
        var attention = json.RootElement.GetProperty("factors").GetProperty("attention_factor");
        Assert.Equal(policy, attention.GetProperty("policy").GetString());
        Assert.Equal(expected, attention.GetProperty("value").GetDouble(), 1e-6);
        var patched = GgufReader.Read(output);
        Assert.Equal((float)expected, patched.GetFloat32("llama.rope.scaling.attn_factor"), 1e-6f);
        Assert.Equal(policy, patched.GetString(LongRopeKeys.AttentionFactorPolicy).TrimEnd());
    }

    [Theory]
    [InlineData("bogus", "--attn-factor 'bogus': expected su, yarn, none or a number")]
    [InlineData("0", "--attn-factor 0: must be a finite number > 0")]
    [InlineData("1e-50", "--attn-factor 1e-50: out of range for a 32-bit float (it would be 0)")]
    [InlineData("1e-40", "--attn-factor 1e-40: its square, by which attention logits are scaled, is 0 in 32-bit floats")]
    public void Patch_refuses_a_bad_attn_factor_in_one_line(string choice, string expected)
    {
        using var dir = new TempDir();
        var r = CliProcess.Run("patch", TestPaths.TinyModel, "-f", fx.PiFactors, "--attn-factor", choice, "-o", dir.File("out.gguf"));
        AssertOneErrorLine(r, 2, expected);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    public enum BadFactors { NaN, WrongLength, OriginalNotBelowExtended, UnequalSets, NegativeFactor, InvalidJson }

    [Theory]
    [InlineData(BadFactors.NaN, "long factors must be finite and > 0: [3] = NaN")]
    [InlineData(BadFactors.WrongLength, "16 long factors, but tiny-passkey-512.gguf needs 32: rope dimension count 64 (from llama.rope.dimension_count) / 2")]
    [InlineData(BadFactors.OriginalNotBelowExtended, "original context length 2048 must be below the extended context length 2048")]
    [InlineData(BadFactors.UnequalSets, "32 long factors but 31 short factors")]
    [InlineData(BadFactors.NegativeFactor, "short factors must be finite and > 0: [0] = -1")]
    [InlineData(BadFactors.InvalidJson, "invalid JSON at line")]
    public void Patch_refuses_a_bad_factor_file_in_one_line_naming_it_and_writes_nothing(BadFactors bad, string expected)
    {
        using var dir = new TempDir();
        string factors = WriteBadFactors(dir.File("bad.json"), bad);
        string output = dir.File("out.gguf");
        byte[] before = Sha(TestPaths.TinyModel);

        var r = CliProcess.Run("patch", TestPaths.TinyModel, "-f", factors, "-o", output);

        string line = AssertOneErrorLine(r, 2, factors, expected);
        Assert.False(File.Exists(output), "no output for a bad factor file");
        Assert.Equal(before, Sha(TestPaths.TinyModel));
        if (bad == BadFactors.WrongLength)
            Assert.EndsWith($"(and 1 more error: 'longrope factors show {factors} --model {TestPaths.TinyModel}' lists them)", line);

        // `factors show --model` lists every problem instead, and exits 2 as well.
        if (bad is BadFactors.InvalidJson or BadFactors.UnequalSets or BadFactors.NegativeFactor) return;
        var shown = CliProcess.Run("factors", "show", factors, "--model", TestPaths.TinyModel, "--json");
        AssertExit(2, shown);
        // Standard error: the one line any bad input gets, beside the full report on standard output.
        Assert.StartsWith($"longrope: error: {factors}: invalid factor set: ", Assert.Single(shown.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        using var json = JsonDocument.Parse(shown.Stdout);
        Assert.False(json.RootElement.GetProperty("valid").GetBoolean());
        Assert.Contains(Strings(json.RootElement.GetProperty("errors")), e => expected.StartsWith(e, StringComparison.Ordinal) || e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Patch_refuses_an_architecture_llama_cpp_reads_no_factors_for_and_factors_make_warns()
    {
        using var dir = new TempDir();
        string qwen = QwenModel(dir.File("qwen2.gguf"));
        string output = dir.File("out.gguf");

        var r = CliProcess.Run("patch", qwen, "-f", fx.PiFactors, "-o", output);

        AssertOneErrorLine(r, 2, qwen, "architecture 'qwen2' does not read LongRoPE factor tensors in llama.cpp", "architectures that apply them: phi3");
        Assert.False(File.Exists(output));

        var v = CliProcess.Run("verify", qwen, "--json");
        AssertExit(1, v);
        using (var json = JsonDocument.Parse(v.Stdout))
        {
            Assert.Equal("none", json.RootElement.GetProperty("architecture_support").GetString());
            Assert.Equal("this file has no LongRoPE: llama.cpp will load and run it without LongRoPE", json.RootElement.GetProperty("verdict").GetString());
        }

        var made = CliProcess.Run("factors", "make", "-m", qwen, "--method", "pi", "-s", "4", "-o", dir.File("q.json"));
        AssertExit(0, made);
        string warning = Assert.Single(made.StderrLines);
        Assert.StartsWith("longrope: warning: architecture 'qwen2' does not read LongRoPE factor tensors", warning);
    }

    // ---------------------------------------------------------------- verify

    /// <summary>One GGUF file for each way a LongRoPE file goes wrong (docs/factor-format.md), built from the good
    /// patched file with GgufEdit directly, with the finding verify must report and what llama.cpp does with it.</summary>
    public static TheoryData<string, string> BadFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var (code, consequence, _) in BadFileTable) data.Add(code, consequence);
        return data;
    }

    internal static readonly (string Code, string Consequence, Action<GgufEdit>? Edit)[] BadFileTable =
    [
        ("no-architecture", "load-fails", e => e.RemoveKey("general.architecture")),
        ("context-missing", "load-fails", e => e.RemoveKey("llama.context_length")),
        ("key-type", "load-fails", e => e.SetValue("llama.context_length", GgufValue.UInt64(2048))),
        ("rope-dimensions", "load-fails", e => e.SetValue("llama.rope.dimension_count", GgufValue.UInt32(32))),
        ("unsupported-architecture", "load-fails", e => e.SetValue("general.architecture", GgufValue.String("qwen2"))),
        ("factors-without-longrope-type", "load-fails", e => e.RemoveKey("llama.rope.scaling.type")),
        ("rope-freqs-conflict", "load-fails", e => e.SetTensor(F32("rope_freqs.weight", Ramp(1, 2)))),
        ("per-layer-rope-tensor", "load-fails", e => e.SetTensor(F32("blk.0.rope_factors_long.weight", Ramp(1, 2)))),
        ("unknown-tensor", "load-fails", e => e.SetTensor(F32("extra.weight", Ramp(1, 2)))),
        ("missing-tensor", "load-fails", e => e.RemoveTensor("blk.0.ffn_up.weight")),
        ("head-count-invalid", "load-fails", e => e.SetValue("llama.attention.head_count", GgufValue.UInt32(0))),
        ("block-count-missing", "load-fails", e => e.RemoveKey("llama.block_count")),
        ("block-count-invalid", "process-aborts", e => e.SetValue("llama.block_count", GgufValue.UInt32(513))),
        ("expert-count-invalid", "process-aborts", e => e.SetValue("llama.expert_used_count", GgufValue.UInt32(1))),
        ("per-layer-key", "process-aborts", e => e.SetValue("llama.feed_forward_length", GgufValue.Array(new float[6]))),
        ("tokenizer-unknown", "load-fails", e => e.SetValue("tokenizer.ggml.model", GgufValue.String("spm"))),
        ("vocab-array-short", "load-fails", e => e.SetValue("tokenizer.ggml.scores", GgufValue.Array(new float[10]))),
        ("vocab-array-type", "process-aborts", e => e.SetValue("tokenizer.ggml.token_type", GgufValue.Array(Enumerable.Repeat("x", 400).ToArray()))),
        ("freq-base-invalid", "not-as-intended", e => e.SetValue("llama.rope.freq_base", GgufValue.Float32(float.NaN))),
        ("factor-shape", "load-fails", e => e.SetTensor(F32("rope_factors_long.weight", Ramp(1, 2, 16)))),
        ("scaling-type-unknown", "process-aborts", e => e.SetValue("llama.rope.scaling.type", GgufValue.String("bogus"))),
        ("factor-type", "process-aborts", e => e.SetTensor(F16("rope_factors_long.weight", Ramp(1, 4)))),
        ("factor-values", "not-as-intended", e => e.SetTensor(F32("rope_factors_long.weight", [.. Ramp(1, 4)[..5], float.NaN, .. Ramp(1, 4)[6..]]))),
        ("factor-missing-short", "not-as-intended", e => e.RemoveTensor("rope_factors_short.weight")),
        ("factor-missing-long", "not-as-intended", e => e.RemoveTensor("rope_factors_long.weight")),
        ("longrope-without-factors", "not-as-intended", e => e.RemoveTensor("rope_factors_long.weight").RemoveTensor("rope_factors_short.weight")),
        ("original-missing", "not-as-intended", e => e.RemoveKey("llama.rope.scaling.original_context_length")),
        ("context-not-extended", "not-as-intended", e => e.SetValue("llama.context_length", GgufValue.UInt32(512))),
        ("original-invalid", "not-as-intended", e => e.SetValue("llama.rope.scaling.original_context_length", GgufValue.UInt32(0))),
        ("attn-factor-invalid", "not-as-intended", e => e.SetValue("llama.rope.scaling.attn_factor", GgufValue.Float32(0))),
        ("scaling-factor-conflict", "not-as-intended", e => e.SetValue("llama.rope.scaling.factor", GgufValue.Float32(4))),
        // The unpatched model: nothing wrong with it, but it carries no LongRoPE, so the check fails too.
        ("not-longrope", "not-as-intended", null),
    ];

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Verify_exits_1_and_names_the_problem_for_each_bad_file_class(string code, string consequence)
    {
        var (file, before, r) = fx.BadFileRuns[code];

        AssertExit(1, r);
        Assert.Empty(r.Stderr);
        Assert.Equal(before, Sha(file));
        using var json = JsonDocument.Parse(r.Stdout);
        var root = json.RootElement;
        Assert.Equal(file, root.GetProperty("path").GetString());
        Assert.False(root.GetProperty("ok").GetBoolean());
        var findings = root.GetProperty("findings").EnumerateArray().ToList();
        var finding = Assert.Single(findings, f => f.GetProperty("code").GetString() == code);
        Assert.Equal("error", finding.GetProperty("severity").GetString());
        Assert.Equal(consequence, finding.GetProperty("consequence").GetString());
        Assert.False(string.IsNullOrWhiteSpace(finding.GetProperty("message").GetString()));
        bool loadFails = root.GetProperty("load_fails").GetBoolean(), aborts = root.GetProperty("process_aborts").GetBoolean();
        string verdict = root.GetProperty("verdict").GetString()!;
        switch (consequence)
        {
            case "load-fails":
                Assert.True(loadFails);
                Assert.Equal("llama.cpp will refuse to load this file", verdict);
                break;
            case "process-aborts":
                Assert.True(aborts);
                Assert.Contains(verdict, new[] { "llama.cpp will refuse to load this file", "llama.cpp will abort the whole process on this file (while loading it or at the first decode)" });
                break;
            default:
                Assert.False(loadFails || aborts, $"{code}: only not-as-intended findings expected");
                Assert.Equal(code == "not-longrope" ? "this file has no LongRoPE: llama.cpp will load and run it without LongRoPE"
                    : "llama.cpp will load and run this file, but not with the LongRoPE it is meant to carry", verdict);
                break;
        }
    }

    [Fact]
    public void Verify_text_output_shows_the_verdict_and_each_error_with_its_code()
    {
        using var dir = new TempDir();
        string file = dir.File("no-original.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(fx.Patched), new GgufEdit().RemoveKey("llama.rope.scaling.original_context_length"), file);

        var r = CliProcess.Run("verify", file);

        AssertExit(1, r);
        string[] lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"file:          {file}", lines[0]);
        Assert.Equal("verdict:       FAILED: llama.cpp will load and run this file, but not with the LongRoPE it is meant to carry", lines[2]);
        Assert.Contains(lines, l => l.StartsWith("error [original-missing]: no 'llama.rope.scaling.original_context_length'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("text", "not a GGUF file")]
    [InlineData("truncated", "runs past the end of the file")]
    [InlineData("missing", "no such GGUF model file")]
    public void Verify_exits_2_in_one_line_for_what_is_not_a_readable_gguf_file(string kind, string expected)
    {
        using var dir = new TempDir();
        string path = dir.File("input.gguf");
        switch (kind)
        {
            case "text": File.WriteAllText(path, "{\"format\": \"longrope-factors\"}\n"); break;
            case "truncated": File.WriteAllBytes(path, File.ReadAllBytes(fx.Patched)[..4000]); break;
            case "folder": Directory.CreateDirectory(path); break;
        }

        string line = AssertOneErrorLine(CliProcess.Run("verify", path), 2, path, expected);

        // With --json the same line, and a document that says the file is not ok and why (it was empty).
        var r = CliProcess.Run("verify", path, "--json");
        AssertExit(2, r);
        Assert.Equal(line, Assert.Single(r.StderrLines));
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(path, doc.RootElement.GetProperty("path").GetString());
        Assert.False(doc.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(line["longrope: error: ".Length..], doc.RootElement.GetProperty("problem").GetString());
    }

    // ---------------------------------------------------------------- missing files, usage errors, help

    [Fact]
    public void A_missing_file_is_one_line_naming_it()
    {
        using var dir = new TempDir();
        string missingModel = dir.File("nope.gguf"), missingFactors = dir.File("nope.json");

        AssertOneErrorLine(CliProcess.Run("patch", missingModel, "-f", fx.PiFactors), 2, missingModel, "no such GGUF model file");
        AssertOneErrorLine(CliProcess.Run("patch", TestPaths.TinyModel, "-f", missingFactors, "-o", dir.File("o.gguf")), 2, missingFactors, "no such factor file");
        AssertOneErrorLine(CliProcess.Run("factors", "show", missingFactors), 2, missingFactors, "no such factor file");
        AssertOneErrorLine(CliProcess.Run("edit", missingModel, "--set", "a=uint32:1", "-o", dir.File("o.gguf")), 2, missingModel, "no such GGUF model file");
        AssertOneErrorLine(CliProcess.Run("edit", dir.Path, "--set", "a=uint32:1", "-o", dir.File("o.gguf")), 2, dir.Path, "is a folder, not a GGUF model file");
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    public static TheoryData<string[], string> UsageMistakes() => new()
    {
        // verify's exit code 1 means "the file failed the check": a command-line mistake must not look like that.
        { ["verify"], "Required argument missing for command: 'verify'. (see 'longrope verify --help')" },
        { ["patch", "{model}"], "patch needs --factors FILE (or --remove)" },
        { ["patch", "{model}", "-f", "{pi}", "--in-place", "-o", "{out}"], "--in-place modifies MODEL itself; it cannot be combined with another --output" },
        { ["patch", "{model}", "-f", "{pi}", "-o", "{model}"], "the output would overwrite the input model; give another -o FILE, or --in-place" },
        { ["patch", "{model}", "-f", "{pi}", "--context", "many", "--jsn"], "Cannot parse argument 'many' for option '--context' as a whole number from -2147483648 to 2147483647." },
        { ["verify", "{model}", "--jsn"], "Unrecognized command or argument '--jsn'. Did you mean '--json'?" },
        // An unknown option before a file argument was taken for the file (the error named the model as unrecognized),
        // and among compare's folders for a folder not found.
        { ["verify", "--bogus", "{model}"], "longrope: error: Unrecognized option '--bogus'. (see 'longrope verify --help')" },
        { ["eval", "compare", "{dir}", "--jsn"], "longrope: error: Unrecognized option '--jsn'. Did you mean '--json'? (see 'longrope eval compare --help')" },
        { ["inspect", "-x.gguf"], "longrope: error: Unrecognized option '-x.gguf'. (no file -x.gguf here either; a file of that name goes as ./-x.gguf) (see 'longrope inspect --help')" },
        // After -- it is the file name it was said to be.
        { ["inspect", "--", "-x"], "-x: no such GGUF model file" },
        { ["factors", "make", "-m", "{model}", "--method", "rope", "-s", "4"], "--method 'rope': expected pi, ntk, yarn, critical or ones" },
        { ["factors", "make", "-m", "{model}", "--method", "pi", "-s", "1e400"], "--scale '1e400': out of range (at most 1.8E+308 in magnitude)" },
        { ["factors", "make", "-m", "{model}", "--method", "pi", "-s", "1"], "--scale 1: must be a number > 1 (the extended context is the model's original length times it)" },
        { ["pach", "{model}", "-f", "{pi}"], "longrope: error: Unknown command 'pach'. Did you mean 'patch'? (see 'longrope --help')" },
        // The parser lists choices on lines of their own and names .NET types: one line, in words.
        { ["generate", "{model}", "-p", "hi", "--factor-set", "medium"], "--factor-set 'medium': expected auto, short or long. (see 'longrope generate --help')" },
        { ["generate", "{model}", "-p", "hi", "--short-attention", "both"], "--short-attention 'both': expected model or file. (see 'longrope generate --help')" },
        { ["generate", "{model}", "-p", "hi", "--seed", "abc"], "Cannot parse argument 'abc' for option '--seed' as a whole number from 0 to 4294967295." },
        // Refused before the table is printed (it was printed with s = -0.00976562, then refused).
        { ["factors", "show", "{pi}", "--context", "-5"], "--context -5: must be a positive number of tokens" },
        { ["factors", "show", "{pi}", "--original-context", "0"], "--original-context 0: must be a positive number of tokens" },
        { ["generate", "{model}", "-p", "hi", "--seed", "4294967296"], "Cannot parse argument '4294967296' for option '--seed' as a whole number from 0 to 4294967295." },
        // llama.cpp's "draw a seed": the run said to repeat it with --seed 4294967295, which gave another text.
        { ["generate", "{model}", "-p", "hi", "--seed", "4294967295"], "--seed 4294967295: llama.cpp takes it as 'draw a seed', so the run could not be repeated; give 0 to 4294967294" },
        // An option given twice (was "Option '--lengths' expects a single argument but 2 were provided").
        { ["eval", "ppl", "{model}", "--text", "{pi}", "--lengths", "512", "--lengths", "1024"], "--lengths is given 2 times; give it once (several values go in one, comma-separated). (see 'longrope eval ppl --help')" },
        { ["generate", "{model}", "-p", "hi", "-n", "3", "-n", "4"], "--max-tokens (-n) is given 2 times; give it once. (see 'longrope generate --help')" },
        // A weight for a fitness that has no parts to weigh was ignored.
        { ["search", "{model}", "-L", "1024", "--fitness", "ppl", "--mix-weight", "0.3", "--text", "{pi}"], "--mix-weight weighs the two parts of --fitness mix; this search's fitness is ppl" },
    };

    [Theory]
    [MemberData(nameof(UsageMistakes))]
    public void Command_line_mistakes_exit_2_with_one_line(string[] args, string expected)
    {
        using var dir = new TempDir();
        string model = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);
        byte[] before = Sha(model);
        string[] resolved = args.Select(a => a.Replace("{model}", model).Replace("{pi}", fx.PiFactors).Replace("{out}", dir.File("out.gguf")).Replace("{dir}", dir.Path)).ToArray();

        var r = CliProcess.Run(resolved);

        AssertOneErrorLine(r, 2, expected);
        Assert.Equal(before, Sha(model));
        Assert.Equal([model], Directory.GetFiles(dir.Path));
    }

    [Theory]
    [InlineData("patch", "-f, --factors <FILE>", "--attn-factor <su|yarn|none|VALUE>", "--in-place", "--remove", "MODEL.longrope.gguf")]
    [InlineData("factors make", "--method <pi|ntk|yarn|critical|ones> (REQUIRED)", "-s, --scale <S> (REQUIRED)", "-o, --output <FILE>", "--json")]
    public void Help_describes_the_options_with_what_they_take(string command, params string[] expected)
    {
        var r = CliProcess.Run([.. command.Split(' '), "--help"]);
        AssertExit(0, r);
        Assert.Empty(r.Stderr);
        Assert.Contains($"longrope {command}", r.Stdout);
        foreach (string e in expected) Assert.Contains(e, r.Stdout);
    }

    [Fact]
    public void A_command_group_without_a_subcommand_prints_its_help_and_exits_2()
    {
        var r = CliProcess.Run("factors");
        AssertExit(2, r);
        Assert.Contains("make", r.Stdout);
        Assert.Contains("show <FILE>", r.Stdout);
    }

    // ---------------------------------------------------------------- helpers

    private static void AssertExit(int expected, CliResult r) => Assert.True(r.ExitCode == expected, $"expected exit {expected}, got {r}");

    /// <summary>Nothing on standard output, one `longrope: error:` line on standard error containing every phrase.</summary>
    private static string AssertOneErrorLine(CliResult r, int exitCode, params string[] phrases)
    {
        AssertExit(exitCode, r);
        Assert.True(r.Stdout.Length == 0, r.ToString());
        string line = Assert.Single(r.StderrLines);
        Assert.StartsWith("longrope: error: ", line);
        foreach (string p in phrases) Assert.Contains(p, line);
        return line;
    }

    /// <summary>A factor file that is valid JSON of this tool's format (made from the good one) but a bad set.</summary>
    private string WriteBadFactors(string path, BadFactors bad)
    {
        if (bad == BadFactors.InvalidJson)
        {
            File.WriteAllText(path, File.ReadAllText(fx.PiFactors)[..120]);
            return path;
        }
        var root = JsonNode.Parse(File.ReadAllText(fx.PiFactors))!.AsObject();
        var longF = root["long_factors"]!.AsArray();
        var shortF = root["short_factors"]!.AsArray();
        switch (bad)
        {
            case BadFactors.NaN:
                longF[3] = "NaN"; // how the format writes a non-finite factor (docs/factor-format.md)
                break;
            case BadFactors.WrongLength:
                while (longF.Count > 16) longF.RemoveAt(longF.Count - 1);
                while (shortF.Count > 16) shortF.RemoveAt(shortF.Count - 1);
                break;
            case BadFactors.OriginalNotBelowExtended:
                root["original_context_length"] = 2048;
                break;
            case BadFactors.UnequalSets:
                shortF.RemoveAt(shortF.Count - 1);
                break;
            case BadFactors.NegativeFactor:
                shortF[0] = -1;
                break;
        }
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    /// <summary>The tiny model relabelled as qwen2 (its llama.* keys renamed): a real model of an architecture whose
    /// llama.cpp loader creates no LongRoPE factor tensors.</summary>
    private static string QwenModel(string path)
    {
        var source = GgufReader.Read(TestPaths.TinyModel);
        var edit = new GgufEdit().SetValue("general.architecture", GgufValue.String("qwen2"));
        foreach (var e in source.Metadata.Where(e => e.Key.StartsWith("llama.", StringComparison.Ordinal)))
            edit.RemoveKey(e.Key).SetValue("qwen2." + e.Key["llama.".Length..], e.Value);
        GgufRewriter.Rewrite(source, edit, path);
        return path;
    }

    private static float[] Ramp(float from, float to, int n = N) => Enumerable.Range(0, n).Select(i => from + (to - from) * i / (n - 1)).ToArray();

    private static OutputTensor F32(string name, float[] values) => new(name, GgmlType.F32, [(ulong)values.Length], TensorData.Float32(values));

    private static OutputTensor F16(string name, float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 2), (Half)values[i]);
        return new OutputTensor(name, GgmlType.F16, [(ulong)values.Length], new TensorData.FromMemory(bytes));
    }

    private static float[] Floats(JsonElement array) => array.EnumerateArray().Select(e => e.GetSingle()).ToArray();

    private static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();

    internal static byte[] Sha(string path)
    {
        using var s = File.OpenRead(path);
        return SHA256.HashData(s);
    }

    private static float[] ReadFloats(GgufFile file, string tensor) => SmallTensorReader.ReadFloats(file, file.GetTensor(tensor))!;

    private static byte[] TensorSha(GgufFile file, string tensor)
    {
        var t = file.GetTensor(tensor);
        using var s = File.OpenRead(file.Path!);
        s.Position = file.AbsoluteOffset(t);
        var bytes = new byte[(int)t.ByteSize];
        s.ReadExactly(bytes);
        return SHA256.HashData(bytes);
    }
}
