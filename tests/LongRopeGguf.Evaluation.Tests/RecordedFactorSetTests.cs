using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Gguf;
using LongRopeGguf.Runtime;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>Which factor set eval records and refuses by: the loader's rule, not the scaling type alone.</summary>
public class RecordedFactorSetTests
{
    private static string Write(TempDir dir, string arch, string? scalingType)
    {
        var metadata = new List<GgufMetadataEntry>
        {
            new(GgufKeys.Architecture, GgufValue.String(arch)),
            new($"{arch}.context_length", GgufValue.UInt32(4096)),
            new($"{arch}.rope.scaling.original_context_length", GgufValue.UInt32(512)),
            new($"{arch}.block_count", GgufValue.UInt32(2)),
            new($"{arch}.embedding_length", GgufValue.UInt32(64)),
            new($"{arch}.attention.head_count", GgufValue.UInt32(2)),
        };
        if (scalingType is not null) metadata.Add(new($"{arch}.rope.scaling.type", GgufValue.String(scalingType)));
        byte[] factors = System.Runtime.InteropServices.MemoryMarshal.AsBytes(Enumerable.Repeat(1f, 16).ToArray().AsSpan()).ToArray();
        var tensors = new[] { "rope_factors_long.weight", "rope_factors_short.weight" }
            .Select(n => new OutputTensor(n, GgmlType.F32, [16], new TensorData.FromMemory(factors))).ToList();
        string path = dir.File($"{arch}-{scalingType ?? "none"}.gguf");
        GgufRewriter.WriteNew(path, metadata, tensors);
        return path;
    }

    [Theory]
    [InlineData("phi3", null, "long", "short")]      // phi3's loader creates the factor tensors whatever the type (a Phi-3 128k GGUF has none)
    [InlineData("phi3", "longrope", "long", "short")]
    [InlineData("llama", "longrope", "long", "short")]
    [InlineData("llama", null, "none", "none")]      // the llama loader creates them only for longrope
    [InlineData("llama", "yarn", "none", "none")]
    public void The_factor_set_follows_the_loaders_rule_for_the_architecture(string arch, string? scalingType, string above, string within)
    {
        using var dir = new TempDir();
        var info = ModelContextInfo.Read(Write(dir, arch, scalingType));
        Assert.Equal(above, info.FactorSetAt(1024).Name());
        Assert.Equal(within, info.FactorSetAt(512).Name());
    }

    [Fact]
    public void A_phi3_file_with_factors_and_no_scaling_type_is_refused_as_a_built_in_modes_model()
    {
        // Its factors run under yarn and none too, whose results would say "yarn" and "no rescaling".
        using var dir = new TempDir();
        string phi3 = Write(dir, "phi3", null);
        var e = Assert.Throws<EvalInputException>(() => RopeMode.RefuseBuiltInModesOnPatchedModel(phi3, [RopeMode.Yarn]));
        Assert.StartsWith($"{phi3}: MODEL carries LongRoPE factors, which llama.cpp would apply under mode 'yarn' too", e.Message);
        RopeMode.RefuseBuiltInModesOnPatchedModel(Write(dir, "llama", null), [RopeMode.Yarn]); // not applied there: nothing to refuse
    }
}
