using System.Text.Json;
using LongRopeGguf.Gguf.Tests.Support;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>gguf-py, an independent reader, sees in our written files exactly what our reader sees: every key, type and
/// value, every tensor's name, type, shape, offset and size, the SHA-256 of its bytes, the alignment and data offset.</summary>
public class GgufPyCrossCheckTests
{
    private static readonly float[] RopeFactors = Enumerable.Range(0, 32).Select(i => 1f + MathF.Pow(i / 31f, 2) * 7f).ToArray();

    [Fact]
    public void Generated_files_with_every_value_type_read_the_same_in_gguf_py()
    {
        using var dir = new TempDir();
        AssertSameAsGgufPy(GgufReader.Read(SampleFiles.WriteAllTypes(dir.File("all-v3.gguf"))));
        AssertSameAsGgufPy(GgufReader.Read(SampleFiles.WriteAllTypes(dir.File("all-v2.gguf"), version: 2)));
        AssertSameAsGgufPy(GgufReader.Read(SampleFiles.WriteAllTypes(dir.File("all-a64.gguf"), alignment: 64)));
    }

    [Fact]
    public void The_tiny_model_rewritten_with_edits_reads_the_same_in_gguf_py()
    {
        using var dir = new TempDir();
        var source = GgufReader.Read(TestPaths.TinyModel);
        var edited = GgufRewriter.Rewrite(source, new GgufEdit()
            .SetValue("general.name", GgufValue.String("tiny-passkey-512 (LongRoPE test) ✓"))
            .SetValue("llama.rope.scaling.attn_factor", GgufValue.Float32(1.1902381f))
            .RemoveKey("general.description")
            .SetTensor(new OutputTensor("rope_factors_long.weight", GgmlType.F32, [32], TensorData.Float32(RopeFactors))),
            dir.File("edited.gguf"));

        var dump = AssertSameAsGgufPy(edited);

        // And gguf-py sees the edits themselves.
        var kv = dump.GetProperty("kv").EnumerateArray().ToDictionary(e => e.GetProperty("key").GetString()!);
        Assert.False(kv.ContainsKey("general.description"));
        Assert.Equal("tiny-passkey-512 (LongRoPE test) ✓", kv["general.name"].GetProperty("value").GetString());
        Assert.Equal("llama.rope.scaling.attn_factor", dump.GetProperty("kv").EnumerateArray().Last().GetProperty("key").GetString());
        var rope = dump.GetProperty("tensors").EnumerateArray().Last();
        Assert.Equal("rope_factors_long.weight", rope.GetProperty("name").GetString());
        Assert.Equal(SampleFiles.Sha256(SampleFiles.F32Bytes(RopeFactors)), rope.GetProperty("sha256").GetString());
        Assert.Equal(source.Tensors.Count + 1, dump.GetProperty("tensor_count").GetInt32());
    }

    /// <summary>Compares gguf-py's view of <paramref name="file"/> with ours, field by field; returns gguf-py's dump.</summary>
    private static JsonElement AssertSameAsGgufPy(GgufFile file)
    {
        var dump = GgufPy.Dump(file.Path!);
        string where = Path.GetFileName(file.Path!);

        Assert.Equal(file.Version, dump.GetProperty("version").GetUInt32());
        Assert.Equal(file.Alignment, dump.GetProperty("alignment").GetUInt32());
        Assert.Equal(file.DataOffset, dump.GetProperty("data_offset").GetInt64());
        Assert.Equal(file.Metadata.Count, dump.GetProperty("kv_count").GetInt32());
        Assert.Equal(file.Tensors.Count, dump.GetProperty("tensor_count").GetInt32());

        var kv = dump.GetProperty("kv").EnumerateArray().ToList();
        Assert.Equal(file.Metadata.Select(e => e.Key), kv.Select(e => e.GetProperty("key").GetString()));
        foreach (var (ours, theirs) in file.Metadata.Zip(kv))
        {
            Assert.Equal(ours.Value.Type.ToGgufName(), theirs.GetProperty("type").GetString());
            if (ours.Value.Type == GgufValueType.Array)
                Assert.Equal(ours.Value.ElementType.ToGgufName(), theirs.GetProperty("array_type").GetString());
            AssertSameValue(ours.Value, theirs.GetProperty("value"), $"{where}: {ours.Key}");
        }

        var tensors = dump.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(file.Tensors.Count, tensors.Count);
        foreach (var (ours, theirs) in file.Tensors.Zip(tensors))
        {
            Assert.Equal(ours.Name, theirs.GetProperty("name").GetString());
            Assert.Equal(ours.Type.ToString(), theirs.GetProperty("type").GetString());
            Assert.Equal((uint)ours.Type, theirs.GetProperty("type_id").GetUInt32());
            Assert.Equal(ours.Dimensions, theirs.GetProperty("shape").EnumerateArray().Select(d => d.GetUInt64()));
            Assert.Equal(ours.Offset, theirs.GetProperty("offset").GetUInt64());
            Assert.Equal(ours.ByteSize, theirs.GetProperty("n_bytes").GetUInt64());
            Assert.Equal(SampleFiles.TensorSha256(file, ours), theirs.GetProperty("sha256").GetString());
        }
        return dump;
    }

    private static void AssertSameValue(GgufValue ours, JsonElement theirs, string what)
    {
        switch (ours.Type)
        {
            case GgufValueType.Array:
            {
                var items = theirs.EnumerateArray().ToList();
                var array = ours.AsUntypedArray();
                Assert.True(array.Length == items.Count, $"{what}: {array.Length} items, gguf-py {items.Count}");
                for (int i = 0; i < items.Count; i++)
                {
                    object item = array.GetValue(i)!;
                    var element = item as GgufValue ?? RawGguf.Scalar(ours.ElementType, item);
                    AssertSameValue(element, items[i], $"{what}[{i}]");
                }
                return;
            }
            case GgufValueType.String:
                Assert.Equal(ours.AsString(), theirs.GetString());
                return;
            case GgufValueType.Bool:
                Assert.Equal(ours.AsBool(), theirs.GetBoolean());
                return;
            case GgufValueType.Float32:
                // gguf-py prints the float32 widened to a double; narrowing it back must give the same bits.
                Assert.True(BitConverter.SingleToInt32Bits(ours.AsFloat32()) == BitConverter.SingleToInt32Bits((float)theirs.GetDouble()),
                    $"{what}: {ours.AsFloat32():R} vs gguf-py {theirs.GetRawText()}");
                return;
            case GgufValueType.Float64:
                Assert.True(BitConverter.DoubleToInt64Bits(ours.AsFloat64()) == BitConverter.DoubleToInt64Bits(theirs.GetDouble()),
                    $"{what}: {ours.AsFloat64():R} vs gguf-py {theirs.GetRawText()}");
                return;
            case GgufValueType.UInt64:
                Assert.Equal(ours.AsUInt64(), theirs.GetUInt64());
                return;
            default:
                long expected = ours.Type switch
                {
                    GgufValueType.UInt8 => ours.AsUInt8(),
                    GgufValueType.Int8 => ours.AsInt8(),
                    GgufValueType.UInt16 => ours.AsUInt16(),
                    GgufValueType.Int16 => ours.AsInt16(),
                    GgufValueType.UInt32 => ours.AsUInt32(),
                    GgufValueType.Int32 => ours.AsInt32(),
                    GgufValueType.Int64 => ours.AsInt64(),
                    _ => throw new InvalidOperationException($"{what}: unexpected {ours.Type}"),
                };
                Assert.True(theirs.ValueKind == JsonValueKind.Number && theirs.GetInt64() == expected, $"{what}: {expected} vs gguf-py {theirs.GetRawText()}");
                return;
        }
    }
}
