using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

public class VerifierTests
{
    private const string A = TestFiles.Arch;

    [Fact]
    public void A_patched_file_is_ok_and_the_plan_says_which_set_for_which_size()
    {
        using var dir = new TempDir();
        string path = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, FactorRules.Make(FactorMethod.Yarn, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), 4), path);
        var r = LongRopeVerifier.Verify(path);
        Assert.True(r.Ok, string.Join("\n", r.Findings));
        Assert.DoesNotContain(r.Findings, f => f.Severity != Severity.Info);
        Assert.Equal(FactorTensorSupport.WhenLongRope, r.Support);
        var p = r.Plan!;
        Assert.Equal(512, p.Threshold);
        Assert.Equal(512, p.LargestShortContext);
        Assert.False(p.UsesLongSet(512));
        Assert.True(p.UsesLongSet(513));
        Assert.True(p.UsesLongSet(0)); // 0 = the model's context length, 2048
        Assert.Contains(r.Findings, f => f.Code == "issue-24823");
        Assert.StartsWith("llama.cpp will load this file and apply LongRoPE: the short set for context sizes up to 512", r.Verdict);
        Assert.Equal(32, r.Factors!.Count);
    }

    [Theory]
    [InlineData(uint.MaxValue)]
    [InlineData(2147483648u)]
    public void An_original_length_above_int_max_is_the_uint32_llama_cpp_keeps_so_every_context_runs_short(uint original)
    {
        // It was cast to int: -1 (int.MinValue), "original-invalid: every context runs on the long set", the opposite.
        using var dir = new TempDir();
        string path = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, FactorRules.Make(FactorMethod.Yarn, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), 4), path);
        string bad = TestFiles.Write(dir, "bad.gguf", e => e.SetValue(LongRopeKeys.OriginalContextLength(A), GgufValue.UInt32(original)), path);
        var r = LongRopeVerifier.Verify(bad);
        Assert.False(r.Ok);
        Assert.DoesNotContain(r.Findings, f => f.Code == "original-invalid");
        var finding = Assert.Single(r.Findings, f => f.Code == "context-not-extended");
        Assert.Equal($"llama.context_length = 2048 is not above the original length {original}: the long set is used only for contexts above {original}, beyond the model's own length", finding.Message);
        Assert.Null(r.Plan);
    }

    [Fact]
    public void A_head_count_above_int_max_gives_the_head_size_llama_cpp_computes_in_unsigned()
    {
        // 256 / (int)4294967295 was -256 in the rope-dimensions finding, while tensor-shape said head size 0.
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "bad.gguf", e => e.SetValue(LongRopeKeys.HeadCount(A), GgufValue.UInt32(uint.MaxValue)));
        var r = LongRopeVerifier.Verify(bad);
        var finding = Assert.Single(r.Findings, f => f.Code == "rope-dimensions");
        Assert.Contains("differs from the head size 0:", finding.Message);
    }

    [Theory]
    [InlineData(1e-40f, "llama.rope.scaling.attn_factor = 9.99995E-41: cos and sin are multiplied by it, so attention breaks (its square, by which attention logits are scaled, is 0 in 32-bit floats)")]
    [InlineData(2e20f, "llama.rope.scaling.attn_factor = 2E+20: cos and sin are multiplied by it, so attention breaks (its square, by which attention logits are scaled, is Infinity in 32-bit floats)")]
    [InlineData(0f, "llama.rope.scaling.attn_factor = 0: cos and sin are multiplied by it, so attention breaks (must be a finite number > 0)")]
    public void An_attention_factor_whose_square_is_no_number_is_an_error_as_the_factor_validator_says(float value, string message)
    {
        // verify said OK with a warning showing "its square (0)" while factors show called the same value an error.
        using var dir = new TempDir();
        string path = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, FactorRules.Make(FactorMethod.Yarn, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), 4), path);
        string bad = dir.File("bad.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(path), new GgufEdit().SetValue(LongRopeKeys.AttentionFactor(A), GgufValue.Float32(value)), bad);
        var r = LongRopeVerifier.Verify(bad);
        Assert.False(r.Ok);
        var finding = Assert.Single(r.Findings, f => f.Code == "attn-factor-invalid");
        Assert.Equal(message, finding.Message);
        Assert.DoesNotContain(r.Findings, f => f.Code == "attn-factor-unusual");
    }

    [Fact]
    public void The_attention_factor_note_says_when_longrope_runs_short_contexts_at_the_models_own_magnitude()
    {
        using var dir = new TempDir();
        string path = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, FactorRules.Make(FactorMethod.Yarn, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), 4), path);
        var ours = Assert.Single(LongRopeVerifier.Verify(path).Findings, f => f.Code == "attn-factor");
        Assert.EndsWith("longrope's generate/chat/bench/eval/search run short contexts at the model's own magnitude (yarn_attn_factor 0.878249)", ours.Message);

        // Without this tool's longrope.* keys (a LongRoPE model from elsewhere) llama.cpp's behaviour is kept: no such note.
        var file = GgufReader.Read(path);
        string foreign = TestFiles.Write(dir, "foreign.gguf", e =>
        {
            foreach (var entry in file.Metadata)
                if (entry.Key.StartsWith("longrope.", StringComparison.Ordinal)) e.RemoveKey(entry.Key);
        }, path);
        var theirs = Assert.Single(LongRopeVerifier.Verify(foreign).Findings, f => f.Code == "attn-factor");
        Assert.DoesNotContain("own magnitude", theirs.Message);
        Assert.Contains("applies to both sets in llama.cpp", theirs.Message);
    }

    [Fact]
    public void Plan_rounds_to_256_and_splits_per_sequence()
    {
        var p = new FactorSetSelection(1000, "x", 4000);
        Assert.Equal(768, p.LargestShortContext);     // 769 -> 1024 > 1000
        Assert.False(p.UsesLongSet(768));
        Assert.True(p.UsesLongSet(769));
        Assert.Equal(768, p.SequenceContext(2048, 3, kvUnified: false)); // 2048 / 3 = 682 -> 768 (measured by the spike)
        Assert.Equal(2048, p.SequenceContext(2048, 3, kvUnified: true));
        // A context near int.MaxValue rounds past it, not to a negative size (and so to the short set).
        var huge = new FactorSetSelection(1000, "x", 2147483600);
        Assert.Equal(2147483648L, huge.SequenceContext(0));
        Assert.True(huge.UsesLongSet(0));
    }

    [Theory]
    // PI's policy is none (1): nothing lost, a warning. YaRN factors made for 0.1 ln 4 + 1 = 1.1386 ran at 1 in
    // llama.cpp, and verify said OK (exit 0) with the same warning.
    [InlineData(FactorMethod.Pi, 2, null)]
    [InlineData(FactorMethod.Yarn, 4, "no 'llama.rope.scaling.attn_factor': llama.cpp uses 1 (no attention magnitude scaling) for both sets, but the factors were made for 1.13863 (longrope.attn_factor_policy yarn)")]
    public void A_missing_attention_factor_is_an_error_only_where_the_files_own_policy_sets_another_value(FactorMethod method, double scale, string? error)
    {
        using var dir = new TempDir();
        string patched = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, FactorRules.Make(method, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), scale), patched);
        string noAttn = TestFiles.Write(dir, "no-attn.gguf", e => e.RemoveKey(LongRopeKeys.AttentionFactor(A)), patched);
        var r = LongRopeVerifier.Verify(noAttn);
        var finding = Assert.Single(r.Findings, f => f.Code == "attn-factor-missing");
        Assert.Equal(error is null, r.Ok);
        Assert.Equal(error is null ? Severity.Warning : Severity.Error, finding.Severity);
        if (error is not null) Assert.Equal(error, finding.Message);
        Assert.True(LlamaHarness.TryLoad(noAttn).Loaded); // it loads either way: not as intended, not refused
    }

    [Fact]
    public void An_original_context_below_256_warns_that_the_short_set_never_runs()
    {
        using var dir = new TempDir();
        string patched = dir.File("p200.gguf");
        var set = FactorRules.Make(FactorMethod.Pi, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), 2) with { OriginalContextLength = 200, ContextLength = 800 };
        LongRopePatcher.Patch(TestPaths.TinyModel, set, patched);
        var r = LongRopeVerifier.Verify(patched);
        Assert.True(r.Ok);
        Assert.Contains(r.Findings, f => f.Code == "short-set-unused" && f.Severity == Severity.Warning);
        Assert.StartsWith("every context size runs on the long set", Assert.Single(r.Findings, f => f.Code == "plan").Message);
        Assert.Equal("llama.cpp will load this file and apply LongRoPE: the long set for every context size (the short set is never used)", r.Verdict);
    }

    [Fact]
    public void Strings_from_the_file_reach_the_findings_escaped()
    {
        using var dir = new TempDir();
        string patched = dir.File("p.gguf");
        var set = FactorRules.Make(FactorMethod.Pi, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), 2) with { Source = "made by \u001b[2J\u001b]0;owned\u0007" };
        LongRopePatcher.Patch(TestPaths.TinyModel, set, patched);
        var provenance = Assert.Single(LongRopeVerifier.Verify(patched).Findings, f => f.Code == "provenance");
        Assert.StartsWith("factors from: made by \\u001b[2J\\u001b]0;owned\\u0007;", provenance.Message);
        Assert.DoesNotContain(provenance.Message, c => c < 0x20);
    }

    [Fact]
    public void Edited_provenance_and_unusual_values_are_warnings()
    {
        using var dir = new TempDir();
        string patched = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, FactorRules.Make(FactorMethod.Pi, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), 2), patched);
        float[] decreasing = FactorRules.Pi(32, 2);
        decreasing[10] = 0.5f;
        string edited = TestFiles.Write(dir, "edited.gguf", e =>
        {
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, decreasing));
            e.SetValue(LongRopeKeys.AttentionFactor(A), GgufValue.Float32(3f));
        }, patched);
        var r = LongRopeVerifier.Verify(edited);
        Assert.True(r.Ok);
        Assert.Contains(r.Findings, f => f.Code == "provenance-mismatch");
        Assert.Contains(r.Findings, f => f.Code == "factor-values-unusual" && f.Message.Contains("below 1", StringComparison.Ordinal));
        Assert.Contains(r.Findings, f => f.Code == "factor-values-unusual" && f.Message.Contains("decrease", StringComparison.Ordinal));
        Assert.Contains(r.Findings, f => f.Code == "attn-factor-unusual");
    }

    [Fact]
    public void Bad_factor_values_and_an_unextended_context_are_errors()
    {
        using var dir = new TempDir();
        string patched = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, FactorRules.Make(FactorMethod.Pi, ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel)), 2), patched);
        float[] nan = FactorRules.Pi(32, 2);
        nan[0] = float.NaN;
        string bad = TestFiles.Write(dir, "bad.gguf", e =>
        {
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, nan));
            e.SetValue(LongRopeKeys.ContextLength(A), GgufValue.UInt32(512));
        }, patched);
        var r = LongRopeVerifier.Verify(bad);
        Assert.False(r.Ok);
        Assert.Contains(r.Findings, f => f.Code == "factor-values" && f.Message.Contains("short factors must be finite", StringComparison.Ordinal));
        Assert.Contains(r.Findings, f => f.Code == "context-not-extended");
        Assert.False(r.LoadFails);
        Assert.Equal("llama.cpp will load and run this file, but not with the LongRoPE it is meant to carry", r.Verdict);
    }

    [Fact]
    public void A_factor_so_small_that_the_rotation_angle_overflows_is_an_error_and_llama_cpp_does_give_NaN()
    {
        // 1e-40 is a positive (subnormal) float: verify said OK and patch wrote it, and llama.cpp's logits were NaN.
        using var dir = new TempDir();
        var info = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));
        string patched = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, FactorRules.Make(FactorMethod.Pi, info, 2), patched);
        float[] tiny = FactorRules.Pi(32, 2);
        tiny[0] = 1e-40f;
        string bad = TestFiles.Write(dir, "tiny-factor.gguf", e => e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, tiny)), patched);
        var finding = Assert.Single(LongRopeVerifier.Verify(bad).Findings, f => f.Code == "factor-values");
        Assert.StartsWith("tensor 'rope_factors_long.weight': long factors below 6.31089E-30: [0] = 9.99995E-41: llama.cpp's rotation angle", finding.Message);
        Assert.Contains(LlamaHarness.Logits(bad, 1024), float.IsNaN);
        // At the limit the angle stays finite at every position, and so do the logits.
        tiny[0] = FactorValidator.MinimumFactor;
        string edge = TestFiles.Write(dir, "edge-factor.gguf", e => e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, tiny)), patched);
        Assert.DoesNotContain(LongRopeVerifier.Verify(edge).Findings, f => f.Code == "factor-values");
        Assert.DoesNotContain(LlamaHarness.Logits(edge, 1024), float.IsNaN);
        // patch refuses such a set before writing.
        var set = FactorRules.Make(FactorMethod.Pi, info, 2) with { LongFactors = [.. tiny.Select((f, i) => i == 0 ? 1e-40f : f)] };
        Assert.Throws<FactorSetException>(() => LongRopePatcher.Patch(TestPaths.TinyModel, set, dir.File("refused.gguf")));
        Assert.False(File.Exists(dir.File("refused.gguf")));
    }

    [Fact]
    public void A_plain_model_is_not_longrope()
    {
        var r = LongRopeVerifier.Verify(TestPaths.TinyModel);
        Assert.False(r.Ok);
        Assert.Equal("not-longrope", Assert.Single(r.Findings).Code);
        Assert.Null(r.Plan);
    }

    [Fact]
    public void Always_reading_architectures_need_no_scaling_type()
    {
        using var dir = new TempDir();
        // A phi3-labelled file is not loadable by the phi3 loader (different tensors), but its LongRoPE is checked
        // without the scaling type: phi3's loader reads the factor tensors regardless.
        string phi = TestFiles.Write(dir, "phi3.gguf", e =>
        {
            e.SetValue(GgufKeys.Architecture, GgufValue.String("phi3"));
            e.SetValue("phi3.context_length", GgufValue.UInt32(2048));
            e.SetValue("phi3.embedding_length", GgufValue.UInt32(256)); // the tiny model's, which every loader requires
            e.SetValue("phi3.block_count", GgufValue.UInt32(6));
            e.SetValue("phi3.rope.scaling.original_context_length", GgufValue.UInt32(512));
            e.SetValue("phi3.rope.dimension_count", GgufValue.UInt32(64));
            e.SetValue("phi3.rope.scaling.attn_factor", GgufValue.Float32(1.1f));
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, FactorRules.Pi(32, 4)));
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, FactorSet.Ones(32)));
        });
        var r = LongRopeVerifier.Verify(phi);
        Assert.Equal(FactorTensorSupport.Always, r.Support);
        Assert.True(r.Ok, string.Join("\n", r.Findings));
        Assert.Equal(512, r.Plan!.Threshold);
    }
}
