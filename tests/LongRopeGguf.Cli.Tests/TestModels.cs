using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Cli.Tests;

/// <summary>GGUF files made for these tests, written with the library's own writer.</summary>
public static class TestModels
{
    /// <summary>Every value type, edge values included (extremes, -0, NaN, infinities, empty and non-ASCII strings,
    /// empty arrays, an array of arrays), and tensors of several types and ranks.</summary>
    public static string AllValueTypes(string path)
    {
        var metadata = new List<GgufMetadataEntry>
        {
            new("general.architecture", GgufValue.String("llama")),
            new("general.name", GgufValue.String("all \"value\" types\n\t\\ é 漢字 🙂")),
            new("llama.context_length", GgufValue.UInt32(uint.MaxValue)),
            new("llama.rope.freq_base", GgufValue.Float32(-0f)),
            new("llama.rope.scaling.factor", GgufValue.Float32(float.NaN)),
            new("test.uint8", GgufValue.UInt8(byte.MaxValue)),
            new("test.int8", GgufValue.Int8(sbyte.MinValue)),
            new("test.uint16", GgufValue.UInt16(ushort.MaxValue)),
            new("test.int16", GgufValue.Int16(short.MinValue)),
            new("test.int32", GgufValue.Int32(int.MinValue)),
            new("test.uint64", GgufValue.UInt64(ulong.MaxValue)),
            new("test.int64", GgufValue.Int64(long.MinValue)),
            new("test.float32", GgufValue.Float32(1.17549435E-38f)),
            new("test.float64.pi", GgufValue.Float64(Math.PI)),
            new("test.float64.inf", GgufValue.Float64(double.PositiveInfinity)),
            new("test.float64.ninf", GgufValue.Float64(double.NegativeInfinity)),
            new("test.bool.true", GgufValue.Bool(true)),
            new("test.bool.false", GgufValue.Bool(false)),
            new("test.string.empty", GgufValue.String("")),
            new("test.array.uint8", GgufValue.Array(new byte[] { 0, 1, 255 })),
            new("test.array.int8", GgufValue.Array(new sbyte[] { -128, 0, 127 })),
            new("test.array.uint16", GgufValue.Array(new ushort[] { 0, 65535 })),
            new("test.array.int16", GgufValue.Array(new short[] { -32768, 32767 })),
            new("test.array.uint32", GgufValue.Array(new uint[] { 0, uint.MaxValue })),
            new("test.array.int32", GgufValue.Array(new[] { int.MinValue, -1, int.MaxValue })),
            new("test.array.uint64", GgufValue.Array(new[] { 0UL, ulong.MaxValue })),
            new("test.array.int64", GgufValue.Array(new[] { long.MinValue, long.MaxValue })),
            new("test.array.float32", GgufValue.Array(new[] { 0.1f, -0f, float.NaN, float.PositiveInfinity, float.Epsilon, float.MaxValue })),
            new("test.array.float64", GgufValue.Array(new[] { 0.1, -2.5e-300, double.NegativeInfinity })),
            new("test.array.bool", GgufValue.Array(new[] { true, false, true })),
            new("test.array.string", GgufValue.Array(new[] { "a", "", "ü\"\n", "<0x0A>" })),
            new("test.array.empty", GgufValue.Array(Array.Empty<float>())),
            new("test.array.nested", GgufValue.Array(new[] { GgufValue.Array(new[] { 1, 2 }), GgufValue.Array(new[] { "x" }), GgufValue.Array(Array.Empty<double>()) })),
        };
        var tensors = new List<OutputTensor>
        {
            Filled("token_embd.weight", GgmlType.Q4_K, [256, 3]),
            Filled("blk.0.attn_norm.weight", GgmlType.F32, [7]),
            Filled("blk.0.attn_q.weight", GgmlType.F16, [5, 3, 2]),
            Filled("blk.0.ffn_up.weight", GgmlType.Q8_0, [64, 2, 1, 3]),
            new("rope_factors_long.weight", GgmlType.F32, [4], TensorData.Float32([1f, 1.5f, 2f, 4f])),
        };
        GgufRewriter.WriteNew(path, metadata, tensors);
        return path;
    }

    /// <summary>The tiny model with LongRoPE keys and factor tensors added, as the patcher will write them.</summary>
    public static string LongRopePatched(string path)
    {
        var source = GgufReader.Read(TestPaths.TinyModel);
        var ones = Enumerable.Repeat(1f, 32).ToArray();
        var edit = new GgufEdit()
            .SetValue("llama.context_length", GgufValue.UInt32(2048))
            .SetValue("llama.rope.scaling.type", GgufValue.String("longrope"))
            .SetValue("llama.rope.scaling.original_context_length", GgufValue.UInt32(512))
            .SetValue("llama.rope.scaling.attn_factor", GgufValue.Float32(1.1f))
            .SetTensor(new OutputTensor("rope_factors_long.weight", GgmlType.F32, [32], TensorData.Float32(ones.Select((_, i) => 1f + i / 8f).ToArray())))
            .SetTensor(new OutputTensor("rope_factors_short.weight", GgmlType.F32, [32], TensorData.Float32(ones)));
        GgufRewriter.Rewrite(source, edit, path);
        return path;
    }

    /// <summary>A file of about <paramref name="bytes"/> whose tensor data is pseudo-random (I8 tensors of 16 MiB), so
    /// that copying it really moves data.</summary>
    public static string Big(string path, long bytes)
    {
        const long tensorBytes = 16L << 20;
        var block = new byte[1 << 20];
        new Random(7).NextBytes(block);
        var tensors = new List<OutputTensor>();
        for (int i = 0; i * tensorBytes < bytes; i++)
        {
            int stamp = i;
            tensors.Add(new OutputTensor($"blk.{i}.ffn_up.weight", GgmlType.I8, [4096, (ulong)(tensorBytes / 4096)],
                new TensorData.Generated(tensorBytes, s =>
                {
                    for (long done = 0; done < tensorBytes; done += block.Length)
                    {
                        block[0] = (byte)stamp++;
                        s.Write(block);
                    }
                })));
        }
        // With the header facts a LongRoPE patch needs (512-token context, 64 RoPE dimensions: 32 factors, a layer
        // count), so that `patch` can be interrupted mid-copy too; phi3, whose tensors are not checked against a
        // loader's list as llama's are (these are no model's).
        GgufRewriter.WriteNew(path, [
            new("general.architecture", GgufValue.String("phi3")), new("general.name", GgufValue.String("big")),
            new("phi3.context_length", GgufValue.UInt32(512)), new("phi3.embedding_length", GgufValue.UInt32(4096)),
            new("phi3.attention.head_count", GgufValue.UInt32(64)), new("phi3.rope.dimension_count", GgufValue.UInt32(64)),
            new("phi3.block_count", GgufValue.UInt32((uint)tensors.Count)),
            new("tokenizer.ggml.model", GgufValue.String("none")), // a model without a vocabulary: llama.cpp requires the key
        ], tensors);
        return path;
    }

    private static OutputTensor Filled(string name, GgmlType type, ulong[] dims)
    {
        int n = (int)GgmlTypeTraits.Get(type).ByteSize(dims)!.Value;
        var bytes = new byte[n];
        for (int i = 0; i < n; i++) bytes[i] = (byte)(i * 31 + name.Length);
        // Keep F32/F16 values finite (no exponent of all ones): clear the top bit of every byte.
        if (type is GgmlType.F32 or GgmlType.F16) for (int i = 0; i < n; i++) bytes[i] &= 0x3F;
        return new OutputTensor(name, type, dims, new TensorData.FromMemory(bytes));
    }
}
