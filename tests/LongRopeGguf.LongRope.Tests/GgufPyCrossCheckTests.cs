using System.Security.Cryptography;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

/// <summary>gguf-py (llama.cpp's own Python reader) reads patched files and sees the same keys, values and tensors.</summary>
public class GgufPyCrossCheckTests
{
    // Where gguf-py cannot be set up, GgufPy fails this test (a skipped cross-check would leave the run green).
    [Fact]
    public void Gguf_py_reads_the_patched_file_as_we_wrote_it()
    {
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Yarn(64, 4, 10000, 512), TestFiles.Ramp(1f, 1.2f), 512, 2048, AttentionFactorPolicy.Su, null, "gguf-py check");
        string path = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, set, path);
        var ours = GgufReader.Read(path);
        var py = GgufPy.Dump(path);

        Assert.Equal(ours.DataOffset, py.GetProperty("data_offset").GetInt64());
        var kv = py.GetProperty("kv").EnumerateArray().ToList();
        Assert.Equal(ours.Metadata.Select(e => e.Key), kv.Select(k => k.GetProperty("key").GetString()));
        Assert.Equal(ours.Metadata.Select(e => e.Value.Type.ToGgufName()), kv.Select(k => k.GetProperty("type").GetString()));
        JsonElement Value(string key) => kv.Single(k => k.GetProperty("key").GetString() == key).GetProperty("value");
        Assert.Equal("longrope", Value("llama.rope.scaling.type").GetString());
        Assert.Equal(512, Value("llama.rope.scaling.original_context_length").GetInt32());
        Assert.Equal(2048, Value("llama.context_length").GetInt32());
        Assert.Equal(set.AttentionFactor, Value("llama.rope.scaling.attn_factor").GetSingle());
        Assert.Equal(set.LongFactors.ToArray(), Value(LongRopeKeys.ProvenanceLong).EnumerateArray().Select(v => v.GetSingle()).ToArray());
        Assert.Equal("gguf-py check", Value(LongRopeKeys.Source).GetString()!.TrimEnd());

        var tensors = py.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(ours.Tensors.Select(t => t.Name), tensors.Select(t => t.GetProperty("name").GetString()));
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
        foreach (var (t, p) in ours.Tensors.Zip(tensors))
        {
            Assert.Equal(t.Type.ToString(), p.GetProperty("type").GetString());
            Assert.Equal(t.Dimensions, p.GetProperty("shape").EnumerateArray().Select(d => d.GetUInt64()));
            Assert.Equal(t.Offset, p.GetProperty("offset").GetUInt64());
            var bytes = new byte[t.ByteSize];
            RandomAccess.Read(stream.SafeFileHandle, bytes, ours.AbsoluteOffset(t));
            Assert.Equal(Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), p.GetProperty("sha256").GetString());
        }
        var longT = tensors.Single(t => t.GetProperty("name").GetString() == LongRopeKeys.LongFactorsTensor);
        Assert.Equal("F32", longT.GetProperty("type").GetString());
        Assert.Equal(new ulong[] { 32 }, longT.GetProperty("shape").EnumerateArray().Select(d => d.GetUInt64()));
    }
}
