using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;
using Xunit.Abstractions;

namespace LongRopeGguf.LongRope.Tests;

public partial class PatcherTests
{
    private const string A = TestFiles.Arch;

    private static FactorSet SetA => FactorSet.Create(FactorRules.Yarn(64, 4, 10000, 512), FactorSet.Ones(32), 512, 2048,
        AttentionFactorPolicy.Su, null, "set A");

    private static FactorSet SetB => FactorSet.Create(FactorRules.Ntk(64, 8), TestFiles.Ramp(1f, 1.25f), 512, 4096,
        AttentionFactorPolicy.Yarn, null, "set B: a different source text");

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void Patch_writes_the_tensors_keys_and_provenance_and_leaves_the_input_alone()
    {
        using var dir = new TempDir();
        string before = Sha(TestPaths.TinyModel);
        string target = dir.File("a.gguf");
        var report = LongRopePatcher.Patch(TestPaths.TinyModel, SetA, target);
        Assert.Equal(before, Sha(TestPaths.TinyModel));
        Assert.Equal(PatchMode.Rewritten, report.Mode);
        Assert.Equal(new[] { "a.gguf" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName)); // no temporary file left

        var f = GgufReader.Read(target);
        foreach (var (name, values) in new[] { (LongRopeKeys.LongFactorsTensor, SetA.LongFactors), (LongRopeKeys.ShortFactorsTensor, SetA.ShortFactors) })
        {
            var t = f.GetTensor(name);
            Assert.Equal(GgmlType.F32, t.Type);
            Assert.Equal(new ulong[] { 32 }, t.Dimensions);
            Assert.Equal(values.ToArray(), SmallTensorReader.ReadFloats(f, t));
        }
        Assert.Equal("longrope", f.GetString(LongRopeKeys.ScalingType(A)));
        Assert.Equal(512u, f.GetUInt32(LongRopeKeys.OriginalContextLength(A)));
        Assert.Equal(2048u, f.GetUInt32(LongRopeKeys.ContextLength(A)));
        Assert.Equal(SetA.AttentionFactor, f.GetFloat32(LongRopeKeys.AttentionFactor(A)));
        Assert.Equal((float)Math.Sqrt(1 + Math.Log(4) / Math.Log(512)), f.GetFloat32(LongRopeKeys.AttentionFactor(A)));
        Assert.Equal(SetA.LongFactors.ToArray(), f[LongRopeKeys.ProvenanceLong].AsFloat32Array());
        Assert.Equal("su", f.GetString(LongRopeKeys.AttentionFactorPolicy).Trim());
        Assert.Equal("set A", f.GetString(LongRopeKeys.Source).Trim());
        Assert.Equal(SetA, EmbeddedFactors.Read(f));
        // Every tensor of the original keeps its data.
        var original = GgufReader.Read(TestPaths.TinyModel);
        foreach (var t in original.Tensors)
            Assert.Equal(TensorSha(original, t), TensorSha(f, f.GetTensor(t.Name)));
    }

    [Fact]
    public void Patching_twice_gives_the_same_bytes_and_repatching_replaces_the_factors()
    {
        using var dir = new TempDir();
        string once = dir.File("once.gguf");
        string twice = dir.File("twice.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, SetA, once);
        LongRopePatcher.Patch(once, SetA, twice);
        Assert.Equal(File.ReadAllBytes(once), File.ReadAllBytes(twice));

        string b = dir.File("b.gguf");
        string backToA = dir.File("back-to-a.gguf");
        LongRopePatcher.Patch(once, SetB, b);
        var fb = GgufReader.Read(b);
        Assert.Equal(SetB, EmbeddedFactors.Read(fb));
        Assert.Equal(GgufReader.Read(once).Tensors.Count, fb.Tensors.Count);
        Assert.Equal(GgufReader.Read(once).Metadata.Select(e => e.Key), fb.Metadata.Select(e => e.Key)); // replaced, not added
        LongRopePatcher.Patch(b, SetA, backToA);
        Assert.Equal(File.ReadAllBytes(once), File.ReadAllBytes(backToA));
    }

    [Fact]
    public void In_place_update_writes_only_the_factor_and_value_bytes_of_the_same_file()
    {
        using var dir = new TempDir();
        string path = dir.File("model.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, SetA, path);
        byte[] before = File.ReadAllBytes(path);
        // A hard link sees the same inode: if the update replaced the file (new inode), the link would keep the old bytes.
        string link = dir.File("link.gguf");
        Assert.Equal(0, Link(path, link));

        var report = LongRopePatcher.UpdateInPlace(path, SetB);
        Assert.Equal(PatchMode.UpdatedInPlace, report.Mode);
        byte[] after = File.ReadAllBytes(path);
        Assert.Equal(after, File.ReadAllBytes(link));
        Assert.Equal(before.Length, after.Length);

        // The bytes that changed lie inside the factor tensors or inside values the update is allowed to touch.
        var f = GgufReader.Read(path);
        var allowed = new List<(long Start, long End)>();
        foreach (string name in new[] { LongRopeKeys.LongFactorsTensor, LongRopeKeys.ShortFactorsTensor })
        {
            var t = f.GetTensor(name);
            allowed.Add((f.AbsoluteOffset(t), f.AbsoluteOffset(t) + (long)t.ByteSize));
        }
        foreach (string key in new[] { LongRopeKeys.ContextLength(A), LongRopeKeys.OriginalContextLength(A), LongRopeKeys.AttentionFactor(A),
                     LongRopeKeys.ProvenanceLong, LongRopeKeys.ProvenanceShort, LongRopeKeys.ProvenanceContextLength,
                     LongRopeKeys.ProvenanceOriginalContextLength, LongRopeKeys.AttentionFactorPolicy, LongRopeKeys.Source })
        {
            Assert.True(f.TryGetEntry(key, out var e));
            allowed.Add((e.ValueOffset, e.Offset + e.Length));
        }
        int changed = 0;
        for (long i = 0; i < after.Length; i++)
        {
            if (before[i] == after[i]) continue;
            changed++;
            Assert.True(allowed.Any(r => i >= r.Start && i < r.End), $"byte {i} changed outside the factor data and updated values");
        }
        Assert.True(changed > 0);
        Assert.True(changed <= report.BytesWritten, $"{changed} bytes changed, {report.BytesWritten} written");

        // The result is exactly what a full rewrite with set B gives.
        string rewritten = dir.File("rewritten.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, SetB, rewritten);
        Assert.Equal(File.ReadAllBytes(rewritten), after);
    }

    [Fact]
    public void In_place_update_fits_the_source_to_its_stored_bytes_when_they_are_not_valid_utf8()
    {
        using var dir = new TempDir();
        string path = dir.File("model.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, SetA, path);
        var file = GgufReader.Read(path);
        file.TryGetEntry(LongRopeKeys.Source, out var entry);
        long length = new FileInfo(path).Length;
        // A lone 0xE9 in the provenance text decodes to U+FFFD (3 bytes of UTF-8): measured on the decoded text, the
        // new source would be fitted 2 bytes too long and refused after the factor tensors were already written.
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) { stream.Position = entry.ValueOffset + 8; stream.WriteByte(0xE9); }

        var report = LongRopePatcher.UpdateInPlace(path, SetB);
        Assert.Equal(PatchMode.UpdatedInPlace, report.Mode);
        Assert.Equal(length, new FileInfo(path).Length);
        var updated = GgufReader.Read(path);
        Assert.Equal(SetB.LongFactors.ToArray(), EmbeddedFactors.Read(updated)!.LongFactors.ToArray());
        int room = (int)(entry.Length - (entry.ValueOffset - entry.Offset)) - 8;
        Assert.Equal(LongRopePatcher.FitToBytes(SetB.Source, room, out _), updated.GetString(LongRopeKeys.Source));
    }

    [Fact]
    public void A_wrongly_typed_head_size_is_refused_before_anything_is_written_and_verify_reports_it()
    {
        using var dir = new TempDir();
        string model = dir.File("key-length-int32.gguf");
        // llama.cpp reads attention.key_length as UINT32 even when rope.dimension_count decides n_rot: INT32 fails the load.
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue("llama.attention.key_length", GgufValue.Int32(64)), model);
        string output = dir.File("out.gguf");

        var e = Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(model, SetA, output));
        Assert.Equal($"{model}: key 'llama.attention.key_length' is INT32; llama.cpp reads it as UINT32 and refuses to load the file", e.Message);
        Assert.False(File.Exists(output));

        var report = LongRopeVerifier.Verify(model);
        var finding = Assert.Single(report.Findings, f => f.Code == "key-type");
        Assert.StartsWith("'llama.attention.key_length' is INT32; llama.cpp reads it as UINT32", finding.Message);
        Assert.False(report.Ok);
    }

    [Fact]
    public void In_place_is_refused_for_files_without_the_factor_layout_and_patch_falls_back_to_an_atomic_rewrite()
    {
        using var dir = new TempDir();
        string path = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, path);
        Assert.Throws<InPlaceNotPossibleException>(() => LongRopePatcher.UpdateInPlace(path, SetA));
        Assert.Equal(Sha(TestPaths.TinyModel), Sha(path)); // refused before writing anything

        Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Patch(path, SetA, path)); // in place not asked for
        var first = LongRopePatcher.Patch(path, SetA, path, inPlace: true);
        Assert.Equal(PatchMode.Rewritten, first.Mode);
        Assert.Contains(first.Changes, c => c.StartsWith("rewrote the whole file (an in-place update needs the factor tensors and keys a first patch adds: ", StringComparison.Ordinal) && c.EndsWith("); later --in-place patches update only the factors", StringComparison.Ordinal));
        var second = LongRopePatcher.Patch(path, SetB, path, inPlace: true);
        Assert.Equal(PatchMode.UpdatedInPlace, second.Mode);
        Assert.Equal(SetB, EmbeddedFactors.Read(GgufReader.Read(path)));
        Assert.Equal(new[] { "model.gguf" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    /// <summary>The in-place path writes a few hundred bytes whatever the file's size: a 4 GiB file (sparse: a huge
    /// extra tensor that is never written) is updated by the same bytes as the 10 MB model. How long that takes is
    /// measured by bench/rewrite.sh (docs/benchmarks.md), not here.</summary>
    [Fact]
    public void In_place_update_writes_the_same_few_bytes_whatever_the_file_size()
    {
        using var dir = new TempDir();
        string small = dir.File("small.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, SetA, small);
        const long hugeBytes = 4L << 30;
        // The same model followed by 4 GiB (sparse) that no tensor claims: llama.cpp reads only its tensors' bytes, and
        // an update refuses a model it would not load, so every tensor keeps the shape the llama loader gives it.
        string big = dir.File("big.gguf");
        File.Copy(small, big);
        using (var stream = new FileStream(big, FileMode.Open, FileAccess.Write)) stream.SetLength(stream.Length + hugeBytes);
        Assert.True(new FileInfo(big).Length > hugeBytes);

        long smallBytes = LongRopePatcher.UpdateInPlace(small, SetB).BytesWritten;
        Assert.Equal(smallBytes, LongRopePatcher.UpdateInPlace(big, SetB).BytesWritten);
        Assert.True(LongRopePatcher.UpdateInPlace(big, SetB).BytesWritten < 2048);
        Assert.Equal(SetB, EmbeddedFactors.Read(GgufReader.Read(big)));
    }

    [Fact]
    public void Remove_restores_the_original_file()
    {
        using var dir = new TempDir();
        string patched = dir.File("patched.gguf");
        string restored = dir.File("restored.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, SetA, patched);
        LongRopePatcher.Patch(patched, SetB, patched, inPlace: true); // a search step in between
        LongRopePatcher.Remove(patched, restored);
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(restored));
    }

    [Fact]
    public void Remove_brings_back_a_replaced_rope_freqs_tensor_and_removed_keys()
    {
        using var dir = new TempDir();
        float[] freqs = TestFiles.Ramp(1f, 3f);
        string source = TestFiles.Write(dir, "llama3-style.gguf", e =>
        {
            e.SetTensor(TestFiles.F32(LongRopeKeys.RopeFreqsTensor, freqs));
            e.SetValue(LongRopeKeys.ScalingType(A), GgufValue.String("linear"));
            e.SetValue(LongRopeKeys.ScalingFactor(A), GgufValue.Float32(2));
        });
        string patched = dir.File("patched.gguf");
        string restored = dir.File("restored.gguf");
        LongRopePatcher.Patch(source, SetA, patched);
        LongRopePatcher.Remove(patched, restored);
        var s = GgufReader.Read(source);
        var r = GgufReader.Read(restored);
        Assert.Equal(s.Metadata.Select(e => (e.Key, e.Value)).OrderBy(x => x.Key), r.Metadata.Select(e => (e.Key, e.Value)).OrderBy(x => x.Key));
        Assert.Equal(s.Tensors.Select(t => t.Name).Order(), r.Tensors.Select(t => t.Name).Order());
        foreach (var t in s.Tensors) Assert.Equal(TensorSha(s, t), TensorSha(r, r.GetTensor(t.Name)));
        Assert.True(LlamaHarness.TryLoad(restored).Loaded);
    }

    public static TheoryData<string, string> DamagedRestoreRecords() => new()
    {
        // Each ended in "internal error" (exit 70) or a line that named neither the file nor the key.
        { "type", "longrope.restore.tensor.rope_freqs.weight.type = 99 is not a ggml type; the restore record is damaged, nothing written" },
        { "absent-keys", "'longrope.restore.absent_keys' is ARRAY[UINT32], not ARRAY[STRING]; the restore record is damaged, nothing written" },
        { "shape", "'longrope.restore.tensor.rope_freqs.weight.shape' is ARRAY[UINT32], not ARRAY[UINT64]; the restore record is damaged" },
        { "alignment", "the restore record (longrope.restore.*) cannot be applied: " },
        { "size", "the restore record (longrope.restore.*) cannot be applied: tensor 'rope_freqs.weight'" },
        // A record that said nothing of what the patch wrote: the LongRoPE stayed, reported as removed (exit 0).
        { "no-absent-tensors", "the restore record (longrope.restore.*) says nothing of tensor rope_factors_long.weight, which the patch wrote: it is incomplete, nothing written" },
        { "no-scaling-type", "the restore record (longrope.restore.*) says nothing of llama.rope.scaling.type, which the patch wrote: it is incomplete, nothing written" },
    };

    [Theory]
    [MemberData(nameof(DamagedRestoreRecords))]
    public void Remove_refuses_a_damaged_restore_record_naming_the_file_and_the_key(string damage, string message)
    {
        using var dir = new TempDir();
        string source = TestFiles.RopeFreqsModel(dir, "llama3-style.gguf", TestFiles.Ramp(1f, 3f));
        string patched = dir.File("patched.gguf");
        LongRopePatcher.Patch(source, SetA, patched);
        string damaged = TestFiles.Write(dir, "damaged.gguf", e =>
        {
            string tensor = LongRopeKeys.RestoreTensor(LongRopeKeys.RopeFreqsTensor, "");
            switch (damage)
            {
                case "type": e.SetValue(tensor + "type", GgufValue.UInt32(99)); break;
                case "absent-keys": e.SetValue(LongRopeKeys.RestoreAbsentKeys, GgufValue.Array(new uint[] { 1 })); break;
                case "shape": e.SetValue(tensor + "shape", GgufValue.Array(new uint[] { 32 })); break;
                case "alignment": e.SetValue(LongRopeKeys.RestoreKey("general.alignment"), GgufValue.UInt32(3)); break;
                case "size": e.SetValue(tensor + "shape", GgufValue.Array(new ulong[] { 1UL << 40 })); break;
                case "no-absent-tensors": e.RemoveKey(LongRopeKeys.RestoreAbsentTensors); break;
                case "no-scaling-type": e.SetValue(LongRopeKeys.RestoreAbsentKeys, GgufValue.Array(new[] { LongRopeKeys.OriginalContextLength(A) })); break;
            }
        }, patched);
        string target = dir.File("restored.gguf");
        var ex = Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Remove(damaged, target));
        Assert.StartsWith(damaged + ": ", ex.Message);
        Assert.Contains(message, ex.Message);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public void Remove_strips_longrope_from_a_file_patched_elsewhere_and_refuses_files_without_it()
    {
        using var dir = new TempDir();
        string native = TestFiles.Write(dir, "native.gguf", e =>
        {
            e.SetValue(LongRopeKeys.ScalingType(A), GgufValue.String("longrope"));
            e.SetValue(LongRopeKeys.OriginalContextLength(A), GgufValue.UInt32(512));
            e.SetValue(LongRopeKeys.AttentionFactor(A), GgufValue.Float32(1.1f));
            e.SetValue(LongRopeKeys.ContextLength(A), GgufValue.UInt32(2048));
            e.SetTensor(TestFiles.F32(LongRopeKeys.LongFactorsTensor, FactorRules.Pi(32, 4)));
            e.SetTensor(TestFiles.F32(LongRopeKeys.ShortFactorsTensor, FactorSet.Ones(32)));
        });
        string stripped = dir.File("stripped.gguf");
        LongRopePatcher.Remove(native, stripped);
        var f = GgufReader.Read(stripped);
        Assert.Equal(512u, f.GetUInt32(LongRopeKeys.ContextLength(A)));
        Assert.False(f.ContainsKey(LongRopeKeys.ScalingType(A)));
        Assert.False(f.TryGetTensor(LongRopeKeys.LongFactorsTensor, out _));
        Assert.Equal(LlamaHarness.Logits(TestPaths.TinyModel, 512), LlamaHarness.Logits(stripped, 512));

        var ex = Assert.Throws<LongRopePatchException>(() => LongRopePatcher.Remove(TestPaths.TinyModel, dir.File("x.gguf")));
        Assert.Contains("no LongRoPE to remove", ex.Message);
    }

    [Theory]
    [InlineData("nan")]
    [InlineData("zero")]
    [InlineData("negative")]
    [InlineData("original-not-below")]
    [InlineData("short-count")]
    public void Invalid_sets_are_refused_before_anything_is_written(string what)
    {
        using var dir = new TempDir();
        float[] longF = FactorRules.Pi(32, 2);
        float[] shortF = FactorSet.Ones(32);
        int original = 512, context = 1024;
        switch (what)
        {
            case "nan": longF[5] = float.NaN; break;
            case "zero": shortF[0] = 0; break;
            case "negative": longF[31] = -2; break;
            case "original-not-below": original = 1024; break;
            case "short-count": shortF = FactorSet.Ones(31); break;
        }
        var set = new FactorSet(longF, shortF, original, context, 1f, AttentionFactorPolicy.None, what);
        string target = dir.File("out.gguf");
        var ex = Assert.Throws<FactorSetException>(() => LongRopePatcher.Patch(TestPaths.TinyModel, set, target));
        Assert.StartsWith("factors for tiny-passkey-512.gguf: ", ex.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Default_output_is_beside_the_model()
    {
        Assert.Equal(Path.Combine("/m", "x.longrope.gguf"), LongRopePatcher.DefaultOutputPath("/m/x.gguf"));
        Assert.Equal(Path.Combine("/m", "x.bin.longrope.gguf"), LongRopePatcher.DefaultOutputPath("/m/x.bin"));
    }

    [Fact]
    public void Source_text_is_fitted_to_the_bytes_the_file_holds()
    {
        Assert.Equal("abc" + new string(' ', 7), LongRopePatcher.FitToBytes("abc", 10, out bool cut));
        Assert.False(cut);
        string fitted = LongRopePatcher.FitToBytes("ééééééé", 8, out cut); // 14 bytes of UTF-8
        Assert.True(cut);
        Assert.Equal(8, System.Text.Encoding.UTF8.GetByteCount(fitted));
        Assert.Equal("éé...", fitted.TrimEnd());
    }

    private static string TensorSha(GgufFile f, GgufTensorInfo t)
    {
        using var s = new FileStream(f.Path!, FileMode.Open, FileAccess.Read);
        var bytes = new byte[t.ByteSize];
        RandomAccess.Read(s.SafeFileHandle, bytes, f.AbsoluteOffset(t));
        return Convert.ToHexString(SHA256.HashData(bytes));
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string newPath);
}
