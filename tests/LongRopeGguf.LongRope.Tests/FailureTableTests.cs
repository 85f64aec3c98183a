using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

/// <summary>
/// Every row of the facts document's failure table (and the other ways a LongRoPE file goes wrong): the bad file is
/// built with GgufEdit directly, llama.cpp's behaviour is shown where that is safe in this process (a failed load is
/// an exception; an abort runs in a child process), the verifier flags it, and the patcher prevents it.
/// </summary>
public class FailureTableTests
{
    private const string A = TestFiles.Arch;
    private static readonly float[] Ones = FactorSet.Ones(32);
    private static readonly float[] ShortF = TestFiles.Ramp(1f, 1.5f);
    private static readonly float[] LongF = FactorRules.Pi(32, 2);

    private static FactorSet Distinct => new(LongF, ShortF, 512, 1024, 1f, AttentionFactorPolicy.Explicit, "test");

    private static void LongRopeKeys3(GgufEdit e, uint context = 1024)
    {
        e.SetValue(LongRopeKeys.ScalingType(A), GgufValue.String("longrope"));
        e.SetValue(LongRopeKeys.OriginalContextLength(A), GgufValue.UInt32(512));
        e.SetValue(LongRopeKeys.ContextLength(A), GgufValue.UInt32(context));
    }

    private static void AssertFlags(string path, string code, Consequence consequence)
    {
        var report = LongRopeVerifier.Verify(path);
        Assert.False(report.Ok);
        Assert.Contains(report.Findings, f => f.Code == code && f.Severity == Severity.Error && f.Consequence == consequence);
    }

    private static void AssertLoadFails(string path, string logText)
    {
        var outcome = LlamaHarness.TryLoad(path);
        Assert.False(outcome.Loaded, $"{Path.GetFileName(path)} loaded");
        Assert.Contains(logText, outcome.Log);
    }

    /// <summary>The child that loaded <c>path</c> died of SIGABRT (exit 134) on <paramref name="assertion"/>; with
    /// <paramref name="whileLoading"/>, before the load returned (the child prints "loaded" once it has).</summary>
    private static void AssertAborted(TestFiles.ChildResult child, string assertion, bool whileLoading)
    {
        Assert.True(child.ExitCode == 134, $"exit {child.ExitCode}, not SIGABRT (134): {child.Stderr}");
        string? failed = child.Stderr.Split('\n').FirstOrDefault(l => l.Contains("GGML_ASSERT", StringComparison.Ordinal));
        Assert.True(failed?.Contains(assertion, StringComparison.Ordinal) == true, $"expected {assertion}, got: {failed ?? "no GGML_ASSERT"}");
        Assert.DoesNotContain("decoded", child.Stdout);
        if (whileLoading) Assert.DoesNotContain("loaded", child.Stdout);
        else Assert.Contains("loaded", child.Stdout);
    }

    private static string PatchedOutput(TempDir dir, string source, FactorSet? set = null)
    {
        string target = dir.File(Path.GetFileNameWithoutExtension(source) + ".fixed.gguf");
        LongRopePatcher.Patch(source, set ?? Distinct, target);
        Assert.True(LongRopeVerifier.Verify(target).Ok);
        Assert.True(LlamaHarness.TryLoad(target).Loaded);
        return target;
    }

    [Fact]
    public void Factor_tensors_without_the_longrope_type_fail_to_load()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "no-type.gguf", e =>
        {
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, LongF));
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, ShortF));
        });
        // The file's tensors, then the ones the loader created: the two factor tensors are the difference.
        int tensors = TestFiles.Tiny.Tensors.Count;
        AssertLoadFails(bad, $"done_getting_tensors: wrong number of tensors; expected {tensors + 2}, got {tensors}");
        AssertFlags(bad, "factors-without-longrope-type", Consequence.LoadFails);
        string fixedFile = PatchedOutput(dir, bad);
        Assert.Equal("longrope", GgufReader.Read(fixedFile).GetString(LongRopeKeys.ScalingType(A)));
    }

    [Fact]
    public void Rope_freqs_together_with_longrope_fails_to_load_and_the_patcher_removes_it()
    {
        using var dir = new TempDir();
        string patched = dir.File("patched.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Distinct, patched);
        string bad = TestFiles.Write(dir, "both.gguf", e => e.SetTensor(TestFiles.F32(LongRopeKeys.RopeFreqsTensor, ShortF)), patched);
        AssertLoadFails(bad, "wrong number of tensors");
        AssertFlags(bad, "rope-freqs-conflict", Consequence.LoadFails);

        // A llama-3-style model with rope_freqs: the patch removes it and says so, and the result loads.
        string withFreqs = TestFiles.RopeFreqsModel(dir, "llama3-style.gguf", ShortF);
        string target = dir.File("llama3-style.longrope.gguf");
        var report = LongRopePatcher.Patch(withFreqs, Distinct, target);
        Assert.Contains(report.Changes, c => c.StartsWith("removed rope_freqs.weight", StringComparison.Ordinal));
        Assert.False(GgufReader.Read(target).TryGetTensor(LongRopeKeys.RopeFreqsTensor, out _));
        Assert.True(LlamaHarness.TryLoad(target).Loaded);
        Assert.True(LongRopeVerifier.Verify(target).Ok);
    }

    [Fact]
    public void An_extra_tensor_fails_to_load_and_unsupported_architectures_are_refused()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "extra.gguf", e => e.SetTensor(TestFiles.F32("blk.0.attn_extra.weight", [1, 2, 3, 4])));
        AssertLoadFails(bad, "wrong number of tensors");
        AssertFlags(bad, "unknown-tensor", Consequence.LoadFails);

        // Factor tensors in an architecture whose loader never creates them are extra tensors: the patcher refuses,
        // naming the architectures that do read them, and writes nothing.
        string other = TestFiles.Write(dir, "gpt2.gguf", e => e.SetValue(GgufKeys.Architecture, GgufValue.String("gpt2")));
        string target = dir.File("gpt2.longrope.gguf");
        var ex = Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(other, Distinct, target));
        Assert.Contains("'gpt2'", ex.Message);
        Assert.Contains("phi3", ex.Message);
        Assert.Contains("llama", ex.Message);
        Assert.False(File.Exists(target));
        string gpt2WithFactors = TestFiles.Write(dir, "gpt2-factors.gguf", e =>
        {
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, LongF));
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, ShortF));
        }, other);
        AssertFlags(gpt2WithFactors, "unsupported-architecture", Consequence.LoadFails);
    }

    /// <summary>An empty string value: llama.cpp loads the model, and LLamaSharp 0.30.0's LLamaWeights then throws
    /// ArgumentNullException reading its metadata (why the runner refuses such a file first, RunOutputsTests).</summary>
    [Fact]
    public void An_empty_string_value_loads_in_llama_cpp_but_LLamaSharps_metadata_reader_throws()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "empty-name.gguf", e => e.SetValue("general.name", GgufValue.String("")));
        var outcome = LlamaHarness.TryLoad(bad);
        Assert.IsType<ArgumentNullException>(outcome.Error);
        Assert.Contains("load_tensors:", outcome.Log); // llama.cpp got as far as the tensor data
        Assert.DoesNotContain("failed to load model", outcome.Log);
    }

    /// <summary>The factor tensors are global: with a layer prefix (blk.0.rope_factors_long.weight) they are tensors
    /// the loader never creates, and the load fails.</summary>
    [Fact]
    public void Per_layer_factor_tensors_fail_to_load()
    {
        using var dir = new TempDir();
        string patched = dir.File("patched.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Distinct, patched);
        string bad = TestFiles.Write(dir, "per-layer.gguf", e => e.SetTensor(TestFiles.F32("blk.0." + LongRopeKeys.LongFactorsTensor, LongF)), patched);
        int tensors = GgufReader.Read(patched).Tensors.Count;
        AssertLoadFails(bad, $"wrong number of tensors; expected {tensors + 1}, got {tensors}");
        AssertFlags(bad, "per-layer-rope-tensor", Consequence.LoadFails);
    }

    /// <summary>An architecture outside the facts document's lists (qwen2: the tiny model relabelled, which llama.cpp
    /// runs as it is) creates no factor tensors, whatever the scaling type says: factors make the load fail.</summary>
    [Fact]
    public void Factor_tensors_in_an_architecture_that_reads_none_fail_to_load()
    {
        using var dir = new TempDir();
        string qwen = TestFiles.Relabelled(dir, "qwen2.gguf", "qwen2");
        Assert.True(LlamaHarness.TryLoad(qwen).Loaded, "the relabelled model itself loads");
        string bad = TestFiles.Write(dir, "qwen2-longrope.gguf", e =>
        {
            e.SetValue(LongRopeKeys.ScalingType("qwen2"), GgufValue.String("longrope"));
            e.SetValue(LongRopeKeys.OriginalContextLength("qwen2"), GgufValue.UInt32(512));
            e.SetValue(LongRopeKeys.ContextLength("qwen2"), GgufValue.UInt32(1024));
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, LongF));
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, ShortF));
        }, qwen);
        int tensors = TestFiles.Tiny.Tensors.Count;
        AssertLoadFails(bad, $"wrong number of tensors; expected {tensors + 2}, got {tensors}");
        AssertFlags(bad, "unsupported-architecture", Consequence.LoadFails);
    }

    /// <summary>Each layer's Q, K and V as one fused attn_qkv.weight (rows of Q, then K, then V), the separate ones kept or not.</summary>
    private static void FuseQkv(GgufEdit e, bool keepSeparate)
    {
        var tiny = TestFiles.Tiny;
        for (int i = 0; i < 6; i++)
        {
            string b = $"blk.{i}.";
            byte[] fused = [.. TestFiles.TensorBytes(tiny, b + "attn_q.weight"), .. TestFiles.TensorBytes(tiny, b + "attn_k.weight"), .. TestFiles.TensorBytes(tiny, b + "attn_v.weight")];
            e.SetTensor(new OutputTensor(b + "attn_qkv.weight", GgmlType.F16, [256, 768], new TensorData.FromMemory(fused)));
            if (!keepSeparate)
                foreach (string x in (string[])["attn_q.weight", "attn_k.weight", "attn_v.weight"]) e.RemoveTensor(b + x);
        }
    }

    [Fact]
    public void Per_weight_scales_and_a_fused_qkv_load_and_verify_agrees_but_tensors_of_the_other_layout_fail()
    {
        using var dir = new TempDir();
        // FP8/NVFP4 files carry W.scale and W.input_scale beside a weight W: llama.cpp's generic pass creates them
        // (verify called them unknown and patch refused such models).
        string scaled = TestFiles.Write(dir, "scaled.gguf", e =>
        {
            e.SetTensor(TestFiles.F32("blk.0.attn_q.scale", [1f]));
            e.SetTensor(TestFiles.F32("blk.0.attn_q.input_scale", [1f]));
            e.SetTensor(TestFiles.F32("blk.3.attn_output.scale", [1f]));
            e.SetTensor(TestFiles.F32("blk.5.ffn_down.input_scale", [1f]));
        });
        Assert.True(LlamaHarness.TryLoad(scaled).Loaded);
        Assert.DoesNotContain(LongRopeVerifier.Verify(scaled).Findings, f => f.Severity == Severity.Error && f.Code != "not-longrope");
        Assert.True(LongRopeVerifier.Verify(PatchedOutput(dir, scaled)).Ok);
        // This llama.cpp has no output scale: the load fails, and verify says so.
        string outputScale = TestFiles.Write(dir, "output-scale.gguf", e => e.SetTensor(TestFiles.F32("output.scale", [1f])));
        AssertLoadFails(outputScale, "wrong number of tensors");
        AssertFlags(outputScale, "unknown-tensor", Consequence.LoadFails);

        // A fused QKV instead of Q, K and V loads (no missing Q/K/V), and so does its patched copy.
        string fused = TestFiles.Write(dir, "fused.gguf", e => FuseQkv(e, keepSeparate: false));
        Assert.True(LlamaHarness.TryLoad(fused).Loaded);
        Assert.DoesNotContain(LongRopeVerifier.Verify(fused).Findings, f => f.Severity == Severity.Error && f.Code != "not-longrope");
        string fusedPatched = PatchedOutput(dir, fused);
        Assert.True(LlamaHarness.TryLoad(fusedPatched).Loaded);
        Assert.True(LongRopeVerifier.Verify(fusedPatched).Ok);
        // Both layouts in one file: the loader reads the fused one and leaves Q/K/V over (verify accepted this).
        string both = TestFiles.Write(dir, "fused-and-separate.gguf", e => FuseQkv(e, keepSeparate: true));
        AssertLoadFails(both, "wrong number of tensors");
        AssertFlags(both, "unknown-tensor", Consequence.LoadFails);
        Assert.Contains(LongRopeVerifier.Verify(both).Findings, f => f.Message.StartsWith("tensor 'blk.0.attn_q.weight' is not created when the layer has a fused blk.0.attn_qkv.weight", StringComparison.Ordinal));
        // A scale beside a weight the loader does not read is not created either.
        string fusedQScale = TestFiles.Write(dir, "fused-q-scale.gguf", e => e.SetTensor(TestFiles.F32("blk.0.attn_q.scale", [1f])), fused);
        AssertLoadFails(fusedQScale, "wrong number of tensors");
        AssertFlags(fusedQScale, "unknown-tensor", Consequence.LoadFails);
        // Shared-expert tensors: the llama loader reads no shared expert size, so it never creates them.
        string shared = TestFiles.Write(dir, "shared-expert.gguf", e => e.SetTensor(TestFiles.F32("blk.0.ffn_up_shexp.weight", [1f, 2f])));
        AssertLoadFails(shared, "wrong number of tensors");
        AssertFlags(shared, "unknown-tensor", Consequence.LoadFails);
        // A layer number as the loader never writes it.
        string zero = TestFiles.Write(dir, "leading-zero.gguf", e => e.SetTensor(TestFiles.F32("blk.01.attn_norm.weight", Enumerable.Repeat(1f, 256).ToArray())));
        AssertLoadFails(zero, "wrong number of tensors");
        Assert.Contains(LongRopeVerifier.Verify(zero).Findings, f => f.Code == "unknown-tensor" && f.Message.StartsWith("tensor 'blk.01.attn_norm.weight' is not named as the loader names layers", StringComparison.Ordinal));
        // Expert tensors in a model without experts.
        string expert = TestFiles.Write(dir, "expert.gguf", e => e.SetTensor(TestFiles.F32("blk.0.ffn_gate_inp.weight", [1f, 2f])));
        AssertLoadFails(expert, "wrong number of tensors");
        Assert.Contains(LongRopeVerifier.Verify(expert).Findings, f => f.Code == "unknown-tensor" && f.Message.Contains("not created in a model without experts", StringComparison.Ordinal));
    }

    [Fact]
    public void One_file_of_a_split_model_is_not_judged_by_its_share_of_the_tensors_and_patch_refuses_it()
    {
        using var dir = new TempDir();
        // The first of two files: it lacks the tensors the second holds, which llama.cpp reads from there.
        string shard = TestFiles.Write(dir, "tiny-00001-of-00002.gguf", e =>
        {
            e.SetValue(GgufKeys.SplitCount, GgufValue.UInt16(2));
            e.SetValue(GgufKeys.SplitNumber, GgufValue.UInt16(0));
            e.RemoveTensor("blk.5.ffn_down.weight");
        });
        var report = LongRopeVerifier.Verify(shard);
        Assert.DoesNotContain(report.Findings, f => f.Code is "missing-tensor" or "unknown-tensor");
        var split = Assert.Single(report.Findings, f => f.Code == "split-file");
        Assert.Equal(Severity.Warning, split.Severity);
        Assert.StartsWith("file 1 of 2 of a split GGUF", split.Message);

        string target = dir.File("patched.gguf");
        var refused = Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(shard, Distinct, target));
        Assert.StartsWith($"{shard}: file 1 of 2 of a split GGUF (split.count = 2): ", refused.Message);
        Assert.Contains("llama-gguf-split --merge", refused.Message);
        Assert.False(File.Exists(target));
        // --remove changes the file's tensors too: refused the same way (it deleted two and said the file ran as before).
        string patchedShard = TestFiles.Write(dir, "patched-00001-of-00002.gguf", e =>
        {
            e.SetValue(GgufKeys.SplitCount, GgufValue.UInt16(2));
            e.SetValue(GgufKeys.SplitNumber, GgufValue.UInt16(0));
        }, PatchedOutput(dir, TestPaths.TinyModel));
        Assert.Contains("of a split GGUF", Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Remove(patchedShard, target)).Message);
        Assert.False(File.Exists(target));
        // A later file carries no general.* keys (llama-gguf-split writes them to the first): said as a split file,
        // not as "not a llama.cpp model".
        string second = TestFiles.Write(dir, "tiny-00002-of-00002.gguf", e =>
        {
            e.SetValue(GgufKeys.SplitCount, GgufValue.UInt16(2));
            e.SetValue(GgufKeys.SplitNumber, GgufValue.UInt16(1));
            e.RemoveKey(GgufKeys.Architecture);
        });
        var later = Assert.Single(LongRopeVerifier.Verify(second).Findings);
        Assert.Equal(("split-file", Severity.Error), (later.Code, later.Severity));
        Assert.StartsWith("file 2 of 2 of a split GGUF", later.Message);
        Assert.StartsWith($"{second}: file 2 of 2 of a split GGUF", Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(second, Distinct, target)).Message);
        // split.count 1 is a whole model.
        string whole = TestFiles.Write(dir, "whole.gguf", e => e.SetValue(GgufKeys.SplitCount, GgufValue.UInt16(1)));
        Assert.DoesNotContain(LongRopeVerifier.Verify(whole).Findings, f => f.Code == "split-file");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(4294967295u)]
    public void A_context_length_that_is_no_length_loads_and_verify_does_not_say_it_would_not(uint length)
    {
        // verify said "llama.cpp will refuse to load this file" (a rope-dimensions finding); llama.cpp loads and runs it.
        using var dir = new TempDir();
        string odd = TestFiles.Write(dir, $"context-{length}.gguf", e => e.SetValue("llama.context_length", GgufValue.UInt32(length)));
        Assert.True(LlamaHarness.TryLoad(odd).Loaded);
        var report = LongRopeVerifier.Verify(odd);
        var finding = Assert.Single(report.Findings, f => f.Code == "context-invalid");
        Assert.Equal((Severity.Error, Consequence.NotAsIntended), (finding.Severity, finding.Consequence));
        Assert.StartsWith($"key 'llama.context_length' is UINT32 {length}: not a context length", finding.Message);
        Assert.False(report.LoadFails);
    }

    [Fact]
    public void No_attention_heads_fail_to_load_and_verify_says_so()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "no-heads.gguf", e => e.SetValue("llama.attention.head_count", GgufValue.UInt32(0)));
        AssertLoadFails(bad, "wrong shape");
        AssertFlags(bad, "head-count-invalid", Consequence.LoadFails);
    }

    [Fact]
    public void A_missing_required_tensor_fails_to_load_and_is_flagged_but_a_missing_optional_one_is_not()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "no-ffn.gguf", e => e.RemoveTensor("blk.1.ffn_down.weight"));
        AssertLoadFails(bad, "missing tensor 'blk.1.ffn_down.weight'");
        AssertFlags(bad, "missing-tensor", Consequence.LoadFails);
        Assert.Contains(LongRopeVerifier.Verify(bad).Findings, f => f.Message.StartsWith("tensor 'blk.1.ffn_down.weight' is missing: ", StringComparison.Ordinal));

        // No weights at all: the first in load order is named, with the count of the rest.
        string empty = TestFiles.Write(dir, "no-weights.gguf", e => { foreach (var t in GgufReader.Read(TestPaths.TinyModel).Tensors) e.RemoveTensor(t.Name); });
        Assert.Empty(GgufReader.Read(empty).Tensors);
        AssertLoadFails(empty, "missing tensor 'token_embd.weight'");
        var finding = Assert.Single(LongRopeVerifier.Verify(empty).Findings, f => f.Code == "missing-tensor");
        Assert.StartsWith("tensor 'token_embd.weight' is missing (and ", finding.Message);

        // A patch would keep the defect: refused before anything is written.
        string target = dir.File("no-ffn.longrope.gguf");
        var refused = Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, target));
        Assert.Equal($"{bad}: llama.cpp cannot use this model, patched or not (missing-tensor: tensor 'blk.1.ffn_down.weight' is missing: "
            + "the llama loader requires it, so the load fails with 'missing tensor'); nothing written", refused.Message);
        Assert.False(File.Exists(target));
        // A patched model with the same defect: an --in-place update of its factors is refused too (it updated them and
        // then failed its own verify).
        string patchedBad = dir.File("patched-no-ffn.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(PatchedOutput(dir, TestPaths.TinyModel)), new GgufEdit().RemoveTensor("blk.1.ffn_down.weight"), patchedBad);
        byte[] before = File.ReadAllBytes(patchedBad);
        Assert.Contains("(missing-tensor: ", Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(patchedBad, Distinct, patchedBad, inPlace: true)).Message);
        Assert.Equal(before, File.ReadAllBytes(patchedBad));
        string extra = TestFiles.Write(dir, "extra.gguf", e => e.SetTensor(TestFiles.F32("blk.0.attn_extra.weight", [1, 2, 3, 4])));
        Assert.Contains("(unknown-tensor: tensor 'blk.0.attn_extra.weight'", Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(extra, Distinct, target)).Message);
        Assert.False(File.Exists(target));

        // The output matrix is optional (tied to the embedding): without it the model loads, and verify agrees.
        string tied = TestFiles.Write(dir, "tied.gguf", e => e.RemoveTensor("output.weight"));
        Assert.True(LlamaHarness.TryLoad(tied).Loaded);
        Assert.DoesNotContain(LongRopeVerifier.Verify(tied).Findings, f => f.Code == "missing-tensor");
        Assert.True(LongRopeVerifier.Verify(PatchedOutput(dir, tied)).Ok);
    }

    [Fact]
    public void Factors_of_n_rot_elements_fail_to_load_and_the_patcher_refuses_them()
    {
        using var dir = new TempDir();
        float[] sixtyFour = FactorRules.Pi(64, 2);
        string bad = TestFiles.Write(dir, "n-rot.gguf", e =>
        {
            LongRopeKeys3(e);
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, sixtyFour));
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, FactorSet.Ones(64)));
        });
        AssertLoadFails(bad, "check_tensor_dims: tensor 'rope_factors_long.weight' has wrong shape");
        AssertFlags(bad, "factor-shape", Consequence.LoadFails);

        var set = new FactorSet(sixtyFour, FactorSet.Ones(64), 512, 1024, 1f, AttentionFactorPolicy.None, "64 factors");
        string target = dir.File("refused.gguf");
        var ex = Assert.Throws<FactorSetException>(() => LongRopePatcher.Patch(TestPaths.TinyModel, set, target));
        Assert.Contains("64 long factors, but tiny-passkey-512.gguf needs 32: rope dimension count 64 (from llama.rope.dimension_count) / 2", ex.Message);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public void F16_factors_abort_the_process_and_the_patcher_writes_F32()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "f16.gguf", e =>
        {
            LongRopeKeys3(e);
            e.SetTensor(TestFiles.F16(LongRopeKeys.LongFactorsTensor, LongF));
            e.SetTensor(TestFiles.F16(LongRopeKeys.ShortFactorsTensor, ShortF));
        });
        AssertFlags(bad, "factor-type", Consequence.ProcessAborts);

        // Never in this process. Measured with LLamaSharp 0.30.0 (CPU): the abort comes while the model loads (the
        // loader's buffer check builds a rope op with the factor tensor, and ggml_rope_ext asserts it is F32), not at
        // the first decode as the facts document says; either way the whole process dies and nothing is decoded.
        var child = TestFiles.DecodeInChildProcess(bad);
        AssertAborted(child, "GGML_ASSERT(c->type == GGML_TYPE_F32)", whileLoading: true);

        // Patching the F16 file rewrites the factors as F32, and the same child decodes it.
        string fixedFile = PatchedOutput(dir, bad);
        Assert.All(new[] { LongRopeKeys.LongFactorsTensor, LongRopeKeys.ShortFactorsTensor },
            n => Assert.Equal(GgmlType.F32, GgufReader.Read(fixedFile).GetTensor(n).Type));
        var ok = TestFiles.DecodeInChildProcess(fixedFile);
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.Contains("decoded", ok.Stdout);
    }

    [Fact]
    public void Longrope_type_without_factor_tensors_runs_plain_rope_silently()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "type-only.gguf", e => LongRopeKeys3(e));
        Assert.Equal(LlamaHarness.Logits(TestPaths.TinyModel, 1024), LlamaHarness.Logits(bad, 1024));
        AssertFlags(bad, "longrope-without-factors", Consequence.NotAsIntended);

        // The patcher always writes both tensors.
        var patched = GgufReader.Read(PatchedOutput(dir, bad));
        Assert.True(patched.TryGetTensor(LongRopeKeys.LongFactorsTensor, out _));
        Assert.True(patched.TryGetTensor(LongRopeKeys.ShortFactorsTensor, out _));
    }

    [Fact]
    public void Only_the_long_tensor_runs_short_contexts_without_factors()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "long-only.gguf", e =>
        {
            LongRopeKeys3(e);
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, LongF));
        });
        string longRef = TestFiles.RopeFreqsModel(dir, "long-freqs.gguf", LongF);
        Assert.Equal(LlamaHarness.Logits(TestPaths.TinyModel, 512), LlamaHarness.Logits(bad, 512)); // no factors at all
        Assert.Equal(LlamaHarness.Logits(longRef, 1024), LlamaHarness.Logits(bad, 1024));
        AssertFlags(bad, "factor-missing-short", Consequence.NotAsIntended);
        PatchedOutput(dir, bad);
    }

    [Fact]
    public void Without_the_original_length_the_threshold_is_the_context_length()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "no-original.gguf", e =>
        {
            e.SetValue(LongRopeKeys.ScalingType(A), GgufValue.String("longrope"));
            e.SetValue(LongRopeKeys.ContextLength(A), GgufValue.UInt32(1024));
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, LongF));
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, ShortF));
        });
        string shortRef = TestFiles.RopeFreqsModel(dir, "short-freqs.gguf", ShortF);
        Assert.Equal(LlamaHarness.Logits(shortRef, 1024), LlamaHarness.Logits(bad, 1024)); // the short set at 1024
        string longRef = TestFiles.RopeFreqsModel(dir, "long-freqs.gguf", LongF);
        Assert.Equal(LlamaHarness.Logits(longRef, 1280), LlamaHarness.Logits(bad, 1280)); // the long set past it
        AssertFlags(bad, "original-missing", Consequence.NotAsIntended);
        Assert.Equal((uint)512, GgufReader.Read(PatchedOutput(dir, bad)).GetUInt32(LongRopeKeys.OriginalContextLength(A)));
    }

    [Fact]
    public void An_unknown_scaling_type_aborts_while_loading()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "su-type.gguf", e =>
        {
            LongRopeKeys3(e);
            e.SetValue(LongRopeKeys.ScalingType(A), GgufValue.String("su"));
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, LongF));
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, ShortF));
        });
        AssertFlags(bad, "scaling-type-unknown", Consequence.ProcessAborts);
        var child = TestFiles.DecodeInChildProcess(bad);
        AssertAborted(child, "GGML_ASSERT(hparams.rope_scaling_type_train != LLAMA_ROPE_SCALING_TYPE_UNSPECIFIED)", whileLoading: true);
        PatchedOutput(dir, bad);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(513u)]
    [InlineData(4294967295u)]
    public void A_layer_count_outside_1_to_512_aborts_the_load_and_verify_says_so_at_once(uint blocks)
    {
        // Found by review: verify, patch and every load listed the missing tensors of every layer of the block count
        // (3,000,000 layers: 44 s and 2.7 GB; 2^31: killed for memory). llama.cpp asserts on the count first.
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, $"blocks-{blocks}.gguf", e => e.SetValue("llama.block_count", GgufValue.UInt32(blocks)));
        var child = TestFiles.DecodeInChildProcess(bad);
        AssertAborted(child, "GGML_ASSERT(hparams.n_layer_all > 0 && hparams.n_layer_all <= LLAMA_MAX_LAYERS)", whileLoading: true);

        var report = LongRopeVerifier.Verify(bad);
        var finding = Assert.Single(report.Findings, f => f.Severity == Severity.Error);
        Assert.Equal(("block-count-invalid", Consequence.ProcessAborts), (finding.Code, finding.Consequence));
        Assert.Equal($"llama.block_count = {blocks}: llama.cpp takes 1 to 512 layers and aborts the process while loading "
            + "(GGML_ASSERT n_layer_all > 0 && n_layer_all <= LLAMA_MAX_LAYERS)", finding.Message);
        string target = dir.File("blocks.longrope.gguf");
        Assert.Contains("llama.cpp cannot use this model, patched or not (block-count-invalid: ", Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, target)).Message);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public void A_layer_count_llama_cpp_accepts_is_judged_by_its_tensors_and_a_missing_or_mistyped_one_fails_the_load()
    {
        using var dir = new TempDir();
        // 512 is allowed: the load fails on the first layer the file lacks, and verify names it (counting the rest).
        string many = TestFiles.Write(dir, "blocks-512.gguf", e => e.SetValue("llama.block_count", GgufValue.UInt32(512)));
        AssertLoadFails(many, "missing tensor 'blk.6.attn_norm.weight'");
        var missing = Assert.Single(LongRopeVerifier.Verify(many).Findings, f => f.Code == "missing-tensor");
        Assert.StartsWith($"tensor 'blk.6.attn_norm.weight' is missing (and {506 * 9 - 1:N0} more)", missing.Message);

        string none = TestFiles.Write(dir, "no-blocks.gguf", e => e.RemoveKey("llama.block_count"));
        AssertLoadFails(none, "key not found in model: llama.block_count");
        AssertFlags(none, "block-count-missing", Consequence.LoadFails);
        string int32 = TestFiles.Write(dir, "int32-blocks.gguf", e => e.SetValue("llama.block_count", GgufValue.Int32(6)));
        AssertLoadFails(int32, "key llama.block_count has wrong type i32 but expected type u32");
        AssertFlags(int32, "block-count-invalid", Consequence.LoadFails);
        // Neither is judged tensor by tensor: the load stops before the tensors.
        Assert.DoesNotContain(LongRopeVerifier.Verify(none).Findings, f => f.Code is "missing-tensor" or "unknown-tensor");
    }

    [Theory]
    [InlineData(513u, 2u, "llama.expert_count = 513: llama.cpp takes at most 512 experts", "n_expert <= LLAMA_MAX_EXPERTS")]
    [InlineData(2u, 3u, "llama.expert_used_count = 3 with llama.expert_count = 2: more experts used than there are", "n_expert_used <= hparams.n_expert")]
    [InlineData(null, 1u, "llama.expert_used_count = 1 with no llama.expert_count: more experts used than there are", "n_expert_used <= hparams.n_expert")]
    [InlineData(2u, null, "llama.expert_count = 2 with no llama.expert_used_count: a model with experts must use some", "n_expert_used > 0")]
    public void Expert_counts_llama_cpp_asserts_on_abort_the_load_and_verify_says_so(uint? experts, uint? used, string why, string assertion)
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "experts.gguf", e =>
        {
            if (experts is uint x) e.SetValue("llama.expert_count", GgufValue.UInt32(x));
            if (used is uint u) e.SetValue("llama.expert_used_count", GgufValue.UInt32(u));
        });
        var child = TestFiles.DecodeInChildProcess(bad);
        AssertAborted(child, assertion, whileLoading: true);
        var finding = Assert.Single(LongRopeVerifier.Verify(bad).Findings, f => f.Severity == Severity.Error);
        Assert.Equal(("expert-count-invalid", Consequence.ProcessAborts), (finding.Code, finding.Consequence));
        Assert.Equal($"{why}, and llama.cpp aborts the process while loading (GGML_ASSERT on the expert counts)", finding.Message);
    }

    [Fact]
    public void Zero_experts_load_and_verify_as_none_and_a_mistyped_count_fails_the_load()
    {
        using var dir = new TempDir();
        string zero = TestFiles.Write(dir, "zero-experts.gguf", e =>
        {
            e.SetValue("llama.expert_count", GgufValue.UInt32(0));
            e.SetValue("llama.expert_used_count", GgufValue.UInt32(0));
        });
        Assert.True(LlamaHarness.TryLoad(zero).Loaded);
        Assert.DoesNotContain(LongRopeVerifier.Verify(zero).Findings, f => f.Severity == Severity.Error && f.Code != "not-longrope");
        string int32 = TestFiles.Write(dir, "int32-experts.gguf", e => e.SetValue("llama.expert_count", GgufValue.Int32(0)));
        AssertLoadFails(int32, "key llama.expert_count has wrong type i32 but expected type u32");
        AssertFlags(int32, "expert-count-invalid", Consequence.LoadFails);
    }

    [Fact]
    public void A_repeated_token_aborts_while_the_vocabulary_loads_and_verify_says_so()
    {
        // One corrupted byte in a token's text is enough (found by fuzzing the header): verify passed such a file.
        using var dir = new TempDir();
        string[] tokens = TestFiles.Tiny["tokenizer.ggml.tokens"].AsStringArray();
        int first = Array.IndexOf(tokens, "a"), repeat = Array.IndexOf(tokens, "b");
        Assert.True(first >= 0 && repeat >= 0);
        var changed = (string[])tokens.Clone();
        changed[repeat] = "a";
        string bad = TestFiles.Write(dir, "repeated-token.gguf", e => e.SetValue("tokenizer.ggml.tokens", GgufValue.Array(changed)));

        AssertFlags(bad, "duplicate-token", Consequence.ProcessAborts);
        var finding = LongRopeVerifier.Verify(bad).Findings.Single(f => f.Code == "duplicate-token");
        Assert.Contains($"tokenizer.ggml.tokens[{Math.Max(first, repeat)}] repeats [{Math.Min(first, repeat)}] ('a')", finding.Message);
        var child = TestFiles.DecodeInChildProcess(bad);
        AssertAborted(child, "GGML_ASSERT(id_to_token.size() == token_to_id.size())", whileLoading: true);
        // The unchanged vocabulary has no repeat.
        Assert.Null(TestFiles.Tiny["tokenizer.ggml.tokens"].FindRepeatedString());
        // No patch mends a vocabulary: refused before anything is written.
        string target = dir.File("repeated-token.longrope.gguf");
        Assert.Contains("llama.cpp cannot use this model, patched or not (duplicate-token: ", Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, target)).Message);
        Assert.False(File.Exists(target));
    }

    public static TheoryData<string, string> WronglyTypedModelKeys() => new()
    {
        // Keys of the model itself, which a patch does not touch: verify said OK and patch wrote a file that failed.
        { "general.name", "uint32" }, { "general.file_type", "uint64" }, { "llama.vocab_size", "int32" },
        { "llama.attention.layer_norm_rms_epsilon", "float64" }, { "llama.attention.value_length", "int32" },
        { "llama.rope.scaling.finetuned", "uint8" }, { "tokenizer.ggml.model", "uint32" },
        { "tokenizer.ggml.bos_token_id", "int32" }, { "tokenizer.ggml.add_bos_token", "uint8" },
        { "tokenizer.ggml.pre", "uint32" }, { "tokenizer.ggml.eos_token_id", "int32" }, { "tokenizer.ggml.unknown_token_id", "int32" },
        { "tokenizer.ggml.padding_token_id", "int32" }, { "tokenizer.ggml.add_eos_token", "uint8" },
    };

    private static GgufValue WrongValue(string type) => type switch
    {
        "uint32" => GgufValue.UInt32(1), "uint64" => GgufValue.UInt64(1), "int32" => GgufValue.Int32(1),
        "float64" => GgufValue.Float64(1e-5), "uint8" => GgufValue.UInt8(1),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    [Theory]
    [MemberData(nameof(WronglyTypedModelKeys))]
    public void A_wrongly_typed_model_key_fails_to_load_verify_says_so_and_patch_refuses_it(string key, string type)
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "wrong-type.gguf", e => e.SetValue(key, WrongValue(type)));
        AssertLoadFails(bad, $"key {key} has wrong type");
        AssertFlags(bad, "model-key-type", Consequence.LoadFails);
        string target = dir.File("wrong-type.longrope.gguf");
        Assert.Contains("llama.cpp cannot use this model, patched or not (model-key-type: ", Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, target)).Message);
        Assert.False(File.Exists(target));
    }

    [Theory]
    [InlineData("llama.embedding_length", "key not found in model: llama.embedding_length")]
    [InlineData("tokenizer.ggml.model", "key not found in model: tokenizer.ggml.model")]
    [InlineData("tokenizer.ggml.tokens", "cannot find tokenizer vocab in model file")]
    [InlineData("llama.attention.layer_norm_rms_epsilon", "key not found in model: llama.attention.layer_norm_rms_epsilon")]
    public void A_missing_required_model_key_fails_to_load_and_verify_says_so(string key, string logText)
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "missing.gguf", e => e.RemoveKey(key));
        AssertLoadFails(bad, logText);
        AssertFlags(bad, "model-key-missing", Consequence.LoadFails);
        Assert.Contains($"no '{key}'", LongRopeVerifier.Verify(bad).Findings.Single(f => f.Code == "model-key-missing").Message);
        Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, dir.File("out.gguf")));
    }

    [Fact]
    public void An_array_of_arrays_makes_llama_cpp_refuse_the_file()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "nested.gguf", e => e.SetValue("x.nested", GgufValue.Array([GgufValue.Array(new uint[] { 1, 2 })])));
        AssertLoadFails(bad, "invalid GGUF type");
        AssertFlags(bad, "nested-array", Consequence.LoadFails);
        Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, dir.File("out.gguf")));
    }

    [Theory]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    public void A_negative_or_nan_norm_epsilon_aborts_at_the_first_decode_and_verify_says_so(float eps)
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "eps.gguf", e => e.SetValue("llama.attention.layer_norm_rms_epsilon", GgufValue.Float32(eps)));
        AssertFlags(bad, "norm-epsilon-invalid", Consequence.ProcessAborts);
        var child = TestFiles.DecodeInChildProcess(bad);
        AssertAborted(child, "GGML_ASSERT(eps >= 0.0f)", whileLoading: false);
        Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, dir.File("out.gguf")));
    }

    private static readonly uint[] FourHeadsPerLayer = [4, 4, 4, 4, 4, 4];

    public static TheoryData<string, string, string> BadPerLayerAndVocabularyKeys() => new()
    {
        // key, variant, what llama.cpp logs: each made verify say OK (or only "not-longrope") before.
        { "llama.attention.head_count", "uint32 x5", "has wrong array length; expected 6, got 5" },
        { "llama.feed_forward_length", "uint32 x7", "has wrong array length; expected 6, got 7" },
        { "llama.attention.head_count", "float32 x5", "has wrong array length; expected 6, got 5" },
        { "llama.attention.head_count", "uint64 x6", "is not a string/float32/uint32/int32 array" },
        { "llama.attention.head_count_kv", "int32", "key llama.attention.head_count_kv has wrong type" },
        { "llama.feed_forward_length", "uint16", "key llama.feed_forward_length has wrong type" },
        { "llama.attention.head_count", "absent", "check_tensor_dims: tensor 'blk.0.attn_q.weight' has wrong shape" },
        { "llama.feed_forward_length", "absent", "check_tensor_dims: tensor 'blk.0.ffn_gate.weight' has wrong shape" },
        { "tokenizer.ggml.model", "bogus", "unknown tokenizer: 'bogus'" },
        { "tokenizer.ggml.model", "gpt2", "cannot find tokenizer merges in model file" },
        { "tokenizer.ggml.scores", "float32 x353", "Index out of array bounds for scores (353 < 354)" },
        { "tokenizer.ggml.scores", "float32", "Index out of array bounds for scores (1 < 354)" },
        { "tokenizer.ggml.token_type", "int32 x353", "Index out of array bounds for toktypes (353 < 354)" },
    };

    private static GgufValue? Variant(string key, string variant) => variant switch
    {
        "absent" => null,
        "uint32 x5" => GgufValue.Array(FourHeadsPerLayer[..5]),
        "uint32 x7" => GgufValue.Array(new uint[7]),
        "float32 x5" => GgufValue.Array(new float[5]),
        "uint64 x6" => GgufValue.Array(new ulong[6]),
        "float32 x6" => GgufValue.Array(new float[6]),
        "string x6" => GgufValue.Array(new string[6].Select(_ => "4").ToArray()),
        "int32" => GgufValue.Int32(4),
        "uint16" => GgufValue.UInt16(768),
        "float32 x353" => GgufValue.Array(new float[353]),
        "float32" => GgufValue.Float32(0),
        "int32 x353" => GgufValue.Array(Enumerable.Repeat(1, 353).ToArray()),
        "string x354" => GgufValue.Array(Enumerable.Repeat("a", 354).ToArray()),
        _ => GgufValue.String(variant),
    };

    private static void SetVariant(GgufEdit e, string key, string variant)
    {
        if (Variant(key, variant) is { } value) e.SetValue(key, value);
        else e.RemoveKey(key);
    }

    [Theory]
    [MemberData(nameof(BadPerLayerAndVocabularyKeys))]
    public void A_bad_per_layer_count_or_vocabulary_array_fails_to_load_verify_says_so_and_patch_refuses_it(string key, string variant, string logText)
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "bad.gguf", e => SetVariant(e, key, variant));
        AssertLoadFails(bad, logText);
        var finding = LongRopeVerifier.Verify(bad).Findings.Single(f => f.Severity == Severity.Error && f.Consequence == Consequence.LoadFails);
        Assert.Contains(key, finding.Message);
        string target = dir.File("bad.longrope.gguf");
        Assert.Contains($"llama.cpp cannot use this model, patched or not ({finding.Code}: ", Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, target)).Message);
        Assert.False(File.Exists(target));
    }

    [Theory]
    [InlineData("llama.attention.head_count", "float32 x6", "GGML_ASSERT((std::is_same<T, float>::value))")]
    [InlineData("llama.attention.head_count_kv", "string x6", "GGML_ASSERT((std::is_same<T, std::string>::value))")]
    [InlineData("tokenizer.ggml.scores", "string x354", "GGML_ASSERT(ctx->kv[key_id].get_type() != GGUF_TYPE_STRING)")]
    [InlineData("tokenizer.ggml.token_type", "string x354", "GGML_ASSERT(ctx->kv[key_id].get_type() != GGUF_TYPE_STRING)")]
    public void A_per_layer_count_or_vocabulary_array_of_the_wrong_item_type_aborts_the_process_and_verify_says_so(string key, string variant, string assertion)
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "abort.gguf", e => SetVariant(e, key, variant));
        var finding = LongRopeVerifier.Verify(bad).Findings.Single(f => f.Severity == Severity.Error && f.Code != "not-longrope");
        Assert.Equal(Consequence.ProcessAborts, finding.Consequence);
        Assert.Contains($"'{key}'", finding.Message);
        var child = TestFiles.DecodeInChildProcess(bad);
        AssertAborted(child, assertion, whileLoading: true);
        Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, dir.File("out.gguf")));
    }

    [Fact]
    public void Per_layer_counts_and_vocabulary_arrays_llama_cpp_takes_raise_no_finding_and_patch_as_usual()
    {
        // Each of these loads and decodes (measured); the checks above must not call them broken.
        using var dir = new TempDir();
        (string Key, GgufValue Value)[] fine =
        [
            ("llama.attention.head_count", GgufValue.Array(FourHeadsPerLayer)), ("llama.attention.head_count_kv", GgufValue.Array(FourHeadsPerLayer.Select(h => (int)h).ToArray())),
            ("llama.feed_forward_length", GgufValue.Array(Enumerable.Repeat(768u, 6).ToArray())), ("tokenizer.ggml.scores", GgufValue.Array(new float[400])),
            ("tokenizer.ggml.scores", GgufValue.Array(new int[354])), ("tokenizer.ggml.token_type", GgufValue.Array(Enumerable.Repeat(1u, 354).ToArray())),
            ("tokenizer.ggml.model", GgufValue.String("t5")),
        ];
        foreach (var (key, value) in fine)
        {
            string file = TestFiles.Write(dir, "fine.gguf", e => e.SetValue(key, value));
            Assert.True(LlamaHarness.TryLoad(file).Loaded, $"{key} = {value.DescribeType()} did not load");
            Assert.Equal(["not-longrope"], LongRopeVerifier.Verify(file).Findings.Where(f => f.Severity == Severity.Error).Select(f => f.Code));
            Assert.True(LongRopeVerifier.Verify(LongRopePatcher.Patch(file, Distinct, dir.File("fine.longrope.gguf")).TargetPath).Ok, key);
        }
    }

    public static TheoryData<string, string> WronglyShapedTensors() => new()
    {
        // edit, the tensor llama.cpp names: verify said OK and patch wrote a copy that failed the same way.
        { "head_count_kv 2", "blk.0.attn_k.weight" },
        { "value_length 32", "blk.0.attn_v.weight" },
        { "feed_forward_length 512", "blk.0.ffn_gate.weight" },
        { "token_embd [256, 353]", "token_embd.weight" },
        { "blk.3.attn_output [128, 512]", "blk.3.attn_output.weight" },
        { "output_norm [255]", "output_norm.weight" },
        { "one more token", "token_embd.weight" },
        { "tokenizer none", "token_embd.weight" },
    };

    private static void MisShape(GgufEdit e, string edit)
    {
        var tiny = TestFiles.Tiny;
        switch (edit)
        {
            case "head_count_kv 2": e.SetValue("llama.attention.head_count_kv", GgufValue.UInt32(2)); break;
            case "value_length 32": e.SetValue("llama.attention.value_length", GgufValue.UInt32(32)); break;
            case "feed_forward_length 512": e.SetValue("llama.feed_forward_length", GgufValue.UInt32(512)); break;
            case "token_embd [256, 353]": e.SetTensor(new OutputTensor("token_embd.weight", GgmlType.F32, [256, 353], TensorData.Float32(new float[256 * 353]))); break;
            case "blk.3.attn_output [128, 512]": e.SetTensor(new OutputTensor("blk.3.attn_output.weight", GgmlType.F32, [128, 512], TensorData.Float32(new float[128 * 512]))); break;
            case "output_norm [255]": e.SetTensor(TestFiles.F32("output_norm.weight", new float[255])); break;
            case "one more token":
                e.SetValue("tokenizer.ggml.tokens", GgufValue.Array([.. tiny["tokenizer.ggml.tokens"].AsStringArray(), "extra"]));
                e.SetValue("tokenizer.ggml.scores", GgufValue.Array([.. tiny["tokenizer.ggml.scores"].AsFloat32Array(), 0f]));
                e.SetValue("tokenizer.ggml.token_type", GgufValue.Array([.. tiny["tokenizer.ggml.token_type"].AsArray<int>(GgufValueType.Int32), 1]));
                break;
            case "tokenizer none": e.SetValue("tokenizer.ggml.model", GgufValue.String("none")); break;
            default: throw new ArgumentOutOfRangeException(nameof(edit));
        }
    }

    [Theory]
    [MemberData(nameof(WronglyShapedTensors))]
    public void A_tensor_of_the_wrong_shape_fails_to_load_verify_names_it_and_patch_refuses_the_model(string edit, string tensor)
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "shape.gguf", e => MisShape(e, edit));
        AssertLoadFails(bad, $"check_tensor_dims: tensor '{tensor}' has wrong shape");
        var finding = LongRopeVerifier.Verify(bad).Findings.Single(f => f.Severity == Severity.Error && f.Code != "not-longrope");
        Assert.Equal(("tensor-shape", Consequence.LoadFails), (finding.Code, finding.Consequence));
        Assert.StartsWith($"tensor '{tensor}' has shape ", finding.Message);
        string target = dir.File("shape.longrope.gguf");
        Assert.Contains("(tensor-shape: ", Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, target)).Message);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public void The_llama_loader_sizes_every_layer_by_the_first_layers_counts_and_verify_agrees()
    {
        // Per-layer head counts that differ after layer 0 load (llama.cpp sizes all layers' K/V by layer 0): no
        // tensor-shape finding; the same arrays starting with 2 fail on layer 0's K.
        using var dir = new TempDir();
        string later = TestFiles.Write(dir, "later.gguf", e => e.SetValue("llama.attention.head_count_kv", GgufValue.Array(new uint[] { 4, 4, 2, 2, 2, 2 })));
        Assert.True(LlamaHarness.TryLoad(later).Loaded);
        Assert.DoesNotContain(LongRopeVerifier.Verify(later).Findings, f => f.Code == "tensor-shape");
        string first = TestFiles.Write(dir, "first.gguf", e => e.SetValue("llama.attention.head_count_kv", GgufValue.Array(new uint[] { 2, 4, 4, 4, 4, 4 })));
        AssertLoadFails(first, "check_tensor_dims: tensor 'blk.0.attn_k.weight' has wrong shape");
        Assert.Contains("(and 11 more tensors)", LongRopeVerifier.Verify(first).Findings.Single(f => f.Code == "tensor-shape").Message);
    }

    [Fact]
    public void A_token_list_of_numbers_aborts_while_the_vocabulary_loads_and_verify_says_so()
    {
        using var dir = new TempDir();
        int count = TestFiles.Tiny["tokenizer.ggml.tokens"].Count;
        string bad = TestFiles.Write(dir, "numbers.gguf", e => e.SetValue("tokenizer.ggml.tokens", GgufValue.Array(new uint[count])));
        AssertFlags(bad, "token-list-type", Consequence.ProcessAborts);
        var child = TestFiles.DecodeInChildProcess(bad);
        AssertAborted(child, "GGML_ASSERT(ctx->kv[key_id].get_type() == GGUF_TYPE_STRING)", whileLoading: true);
        Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(bad, Distinct, dir.File("out.gguf")));
    }

    [Fact]
    public void A_wrongly_typed_length_fails_to_load_and_the_patcher_rewrites_it_as_uint32()
    {
        using var dir = new TempDir();
        string bad = TestFiles.Write(dir, "float-original.gguf", e =>
        {
            LongRopeKeys3(e);
            e.SetValue(LongRopeKeys.OriginalContextLength(A), GgufValue.Float32(512));
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, LongF));
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, ShortF));
        });
        AssertLoadFails(bad, "wrong type");
        AssertFlags(bad, "key-type", Consequence.LoadFails);
        var report = LongRopePatcher.Patch(bad, Distinct, dir.File("fixed.gguf"));
        Assert.Contains(report.Changes, c => c.Contains("original_context_length = 512 (was 512 FLOAT32)", StringComparison.Ordinal));
        Assert.True(LlamaHarness.TryLoad(report.TargetPath).Loaded);
    }

    [Fact]
    public void A_linear_scaling_factor_compounds_with_the_factors_and_the_patcher_removes_it()
    {
        using var dir = new TempDir();
        string patched = dir.File("patched.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, Distinct, patched);
        string bad = TestFiles.Write(dir, "with-factor.gguf", e => e.SetValue(LongRopeKeys.ScalingFactor(A), GgufValue.Float32(2)), patched);
        string longRef = TestFiles.RopeFreqsModel(dir, "long-freqs.gguf", LongF);
        float[] expected = LlamaHarness.Logits(longRef, 1024);
        Assert.True(LogitMath.MaxAbsDiff(expected, LlamaHarness.Logits(bad, 1024)) > 0.05f);
        AssertFlags(bad, "scaling-factor-conflict", Consequence.NotAsIntended);

        string linear = TestFiles.Write(dir, "linear.gguf", e =>
        {
            e.SetValue(LongRopeKeys.ScalingType(A), GgufValue.String("linear"));
            e.SetValue(LongRopeKeys.ScalingFactor(A), GgufValue.Float32(2));
        });
        string target = dir.File("linear.longrope.gguf");
        var report = LongRopePatcher.Patch(linear, Distinct, target);
        Assert.Contains(report.Changes, c => c.StartsWith("removed llama.rope.scaling.factor", StringComparison.Ordinal));
        Assert.Equal(expected, LlamaHarness.Logits(target, 1024));
    }

    [Fact]
    public void A_non_canonical_data_layout_fails_to_load_and_the_patcher_writes_the_canonical_one()
    {
        using var dir = new TempDir();
        string bad = dir.File("swapped.gguf");
        File.Copy(TestPaths.TinyModel, bad);
        // Swap where two tensors of the same size are stored (data and offsets): the same model for a reader that
        // follows the offsets, but not the order llama.cpp's gguf_init requires.
        var file = GgufReader.Read(bad);
        var q = file.GetTensor("blk.0.attn_q.weight");
        var k = file.GetTensor("blk.0.attn_k.weight");
        Assert.Equal(q.ByteSize, k.ByteSize);
        using (var s = new FileStream(bad, FileMode.Open, FileAccess.ReadWrite))
        {
            var qData = new byte[q.ByteSize];
            var kData = new byte[k.ByteSize];
            RandomAccess.Read(s.SafeFileHandle, qData, file.AbsoluteOffset(q));
            RandomAccess.Read(s.SafeFileHandle, kData, file.AbsoluteOffset(k));
            RandomAccess.Write(s.SafeFileHandle, kData, file.AbsoluteOffset(q));
            RandomAccess.Write(s.SafeFileHandle, qData, file.AbsoluteOffset(k));
            WriteOffset(s, q, k.Offset);
            WriteOffset(s, k, q.Offset);
        }
        AssertLoadFails(bad, "offset");
        AssertFlags(bad, "data-layout", Consequence.LoadFails);

        string fromBad = dir.File("from-swapped.gguf");
        string fromGood = dir.File("from-original.gguf");
        LongRopePatcher.Patch(bad, Distinct, fromBad);
        LongRopePatcher.Patch(TestPaths.TinyModel, Distinct, fromGood);
        Assert.Equal(LlamaHarness.Logits(fromGood, 1024), LlamaHarness.Logits(fromBad, 1024));
    }

    private static void WriteOffset(FileStream s, GgufTensorInfo t, ulong offset)
    {
        long at = t.InfoOffset + 8 + System.Text.Encoding.UTF8.GetByteCount(t.Name) + 4 + 8L * t.Dimensions.Count + 4;
        RandomAccess.Write(s.SafeFileHandle, BitConverter.GetBytes(offset), at);
    }
}
