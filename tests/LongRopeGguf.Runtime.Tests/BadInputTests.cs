using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;

namespace LongRopeGguf.Runtime.Tests;

/// <summary>Bad input ends in one clear exception: ours for what we can check, llama.cpp's own cause for the rest.</summary>
public class BadInputTests
{
    [Fact]
    public void A_missing_model_is_named()
    {
        var e = Assert.Throws<RuntimeInputException>(() => Load("/nonexistent/model.gguf"));
        Assert.Equal("/nonexistent/model.gguf: no such model file", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_gguf_is_rejected_by_our_reader_before_llama_cpp_sees_it()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("notes.gguf"), "this is not a model");
        var e = Assert.Throws<GgufFormatException>(() => Load(dir.File("notes.gguf")));
        Assert.Contains("not a GGUF file", e.Message);
        Assert.Contains("notes.gguf", e.Message);
    }

    [Fact]
    public void A_model_llama_cpp_cannot_load_reports_llama_cpps_cause()
    {
        // Factor tensors without rope.scaling.type = longrope: the llama loader does not expect them (facts doc).
        using var dir = new TempDir();
        string path = dir.File("bad.gguf");
        var source = GgufReader.Read(TestPaths.TinyModel);
        var factors = Enumerable.Repeat(1f, 32).ToArray();
        GgufRewriter.Rewrite(source, new GgufEdit()
            .SetTensor(new OutputTensor("rope_factors_long.weight", GgmlType.F32, [32], TensorData.Float32(factors)))
            .SetTensor(new OutputTensor("rope_factors_short.weight", GgmlType.F32, [32], TensorData.Float32(factors))), path);
        int loads = LlamaModel.WeightLoads;
        var e = Assert.Throws<LlamaFailureException>(() => Load(path));
        Assert.StartsWith($"{path}: llama.cpp cannot load this model: ", e.Message);
        Assert.Contains("wrong number of tensors", e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.Equal(loads, LlamaModel.WeightLoads);
    }

    [Fact]
    public void A_context_beyond_the_model_is_refused_before_llama_cpp_is_asked()
    {
        using var patched = Load(PatchedModelFixture.PatchedModel);
        using var c = new Conversation(patched);
        var e = Assert.Throws<RuntimeInputException>(() => c.Append(patched.Tokenize(new string('a', 4000), addBos: true), reserve: 200));
        Assert.Equal("4201 tokens (prompt 4001 + 200 to generate) do not fit: the model's context_length is 4096", e.Message);
        Assert.Empty(c.Tokens);

        using var fixedContext = new Conversation(patched, new ConversationOptions(ContextSize: 8192));
        var f = Assert.Throws<RuntimeInputException>(() => fixedContext.Append(patched.Tokenize("hi", addBos: true)));
        Assert.Equal("--context 8192 is beyond the model's context_length 4096", f.Message);
    }

    [Theory]
    // A sliding window makes llama.cpp's caches smaller, except for Phi-3, whose window it disables (the full cache).
    [InlineData("llama", "sliding_window", 2047u, 6144L, true)]
    [InlineData("phi3", "sliding_window", 2047u, 6144L, false)]
    // A corrupt count saturates (refused as too big) instead of throwing OverflowException (an internal error) or wrapping.
    [InlineData("llama", "head_count_kv", null, long.MaxValue, false)]
    public void The_kv_cache_estimate_knows_sliding_windows_and_survives_corrupt_counts(string arch, string key, uint? window, long perToken, bool upperBound)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        var source = GgufReader.Read(TestPaths.TinyModel);
        var edit = new GgufEdit();
        if (arch != "llama")
            foreach (var e in source.Metadata.Where(e => e.Key.StartsWith("llama.", StringComparison.Ordinal)))
                edit.RemoveKey(e.Key).SetValue(arch + e.Key["llama".Length..], e.Value);
        edit.SetValue(GgufKeys.Architecture, GgufValue.String(arch));
        edit.SetValue($"{arch}.attention.{key}", window is { } w ? GgufValue.UInt32(w) : GgufValue.UInt64(long.MaxValue));
        GgufRewriter.Rewrite(source, edit, path);
        var info = ModelContextInfo.FromHeader(GgufReader.Read(path), path);
        Assert.Equal(perToken, info.KvBytesPerToken);
        Assert.Equal(upperBound, info.KvEstimateIsUpperBound);
        Assert.Equal((long)Int128.Min((Int128)perToken * 1000, long.MaxValue), info.KvCacheBytes(1000)); // saturated, never wrapped to a size that fits

        // Past long: not a count (the UINT64 threw OverflowException, an internal error): the estimate goes without it.
        GgufRewriter.Rewrite(source, new GgufEdit().SetValue("llama.attention.head_count_kv", GgufValue.UInt64(ulong.MaxValue)), dir.File("u.gguf"));
        Assert.Equal(6144, ModelContextInfo.FromHeader(GgufReader.Read(dir.File("u.gguf")), dir.File("u.gguf")).KvBytesPerToken);
    }

    [Fact]
    public void A_context_that_cannot_fit_in_memory_is_refused_before_llama_cpp_tries()
    {
        // A file that claims a 1G-token context: its KV cache (6 layers x 2 x 256 x 2 bytes per token) is 6 TiB.
        using var dir = new TempDir();
        string path = dir.File("huge.gguf");
        var source = GgufReader.Read(TestPaths.TinyModel);
        GgufRewriter.Rewrite(source, new GgufEdit().SetValue("llama.context_length", GgufValue.UInt32(1u << 30)), path);
        using var model = Load(path);
        Assert.Equal(6 * 2 * 256 * 2, model.Info.KvBytesPerToken);
        using var c = new Conversation(model, new ConversationOptions(ContextSize: 1 << 30));
        var e = Assert.Throws<RuntimeInputException>(() => c.Append(model.Tokenize("hi", addBos: true)));
        Assert.StartsWith($"a {1 << 30}-token context needs about 6144.0 GiB of KV cache, but only ", e.Message);
        Assert.Empty(c.Tokens);
        // The model is still usable afterwards.
        using var ok = new Conversation(model);
        ok.Append(model.Tokenize(Reference.Prompt, addBos: true), reserve: 5);
        Assert.Equal("31415", ok.Generate(new GenerationOptions(5, SamplingOptions.Greedy)).Text);
    }

    [Fact]
    public void A_context_llama_cpp_fails_to_allocate_is_an_error_not_a_crash()
    {
        // Past our estimate, llama.cpp's own allocation fails (96 GiB of KV); LLamaContext would crash the process here.
        using var model = Load(TestPaths.TinyModel);
        var parameters = model.ContextParams(new ContextPlan(1 << 24, FactorSetKind.None, "test"));
        var e = Assert.Throws<LlamaFailureException>(() => ModelContext.Create(model, parameters, NativeRuntime.Log.Position));
        Assert.StartsWith($"llama.cpp cannot create a {1 << 24}-token context: ", e.Message);
        Assert.Contains("failed to allocate", e.Message);
    }

    [Fact]
    public void Generating_from_an_empty_conversation_is_refused()
    {
        using var model = Load(TestPaths.TinyModel);
        using var c = new Conversation(model);
        var e = Assert.Throws<RuntimeInputException>(() => c.Generate(new GenerationOptions(4, SamplingOptions.Greedy)));
        Assert.Contains("prompt is empty", e.Message);
    }

    [Fact]
    public void Forcing_a_set_on_a_model_without_longrope_is_refused()
    {
        using var model = Load(TestPaths.TinyModel);
        using var c = new Conversation(model, new ConversationOptions(FactorSetChoice.Long));
        var e = Assert.Throws<RuntimeInputException>(() => c.Append(model.Tokenize("hi", addBos: true)));
        Assert.Contains("--factor-set long: ", e.Message);
        Assert.Contains("has no LongRoPE factor sets (plain RoPE)", e.Message);
    }

    [Fact]
    public void Factor_tensors_without_the_longrope_type_give_no_set_switching()
    {
        // llama.cpp reads the tensors only with the type: the runner said "factor set long" and took --factor-set long.
        using var dir = new TempDir();
        var metadata = new List<GgufMetadataEntry>
        {
            new(GgufKeys.Architecture, GgufValue.String("llama")),
            new("llama.context_length", GgufValue.UInt32(4096)),
            new("llama.rope.scaling.original_context_length", GgufValue.UInt32(512)),
            new("llama.block_count", GgufValue.UInt32(2)),
            new("llama.embedding_length", GgufValue.UInt32(64)),
            new("llama.attention.head_count", GgufValue.UInt32(2)),
        };
        byte[] factors = System.Runtime.InteropServices.MemoryMarshal.AsBytes(Enumerable.Repeat(1f, 16).ToArray().AsSpan()).ToArray();
        var tensors = new[] { "rope_factors_long.weight", "rope_factors_short.weight" }
            .Select(n => new OutputTensor(n, GgmlType.F32, [16], new TensorData.FromMemory(factors))).ToList();
        string path = dir.File("llama-untyped.gguf");
        GgufRewriter.WriteNew(path, metadata, tensors);
        var info = ModelContextInfo.Read(path);
        Assert.False(info.HasLongRope);
        Assert.Equal(FactorSetKind.None, ContextPlanner.Plan(info, new ContextRequest(600)).FactorSet);
        Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(info, new ContextRequest(100, FactorSet: FactorSetChoice.Long)));
    }

    [Fact]
    public void A_token_count_of_zero_in_the_header_is_refused_as_such()
    {
        using var dir = new TempDir();
        foreach (string key in new[] { "llama.context_length", "llama.rope.scaling.original_context_length" })
        {
            string path = dir.File(key + ".gguf");
            GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue(key, GgufValue.UInt32(0)), path);
            var e = Assert.Throws<RuntimeInputException>(() => ModelContextInfo.Read(path));
            Assert.Contains($"{key} at offset ", e.Message);
            Assert.EndsWith(": value 0 is not a usable token count", e.Message);
        }
    }
}
