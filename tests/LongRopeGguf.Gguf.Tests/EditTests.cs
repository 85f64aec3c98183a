using LongRopeGguf.Gguf;
using LongRopeGguf.Gguf.Tests.Support;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>Rewrites with edits: what changes is exactly what was asked, everything else keeps its order and bytes, and
/// the output has the canonical layout.</summary>
public class EditTests
{
    private static readonly float[] RopeFactors = Enumerable.Range(0, 32).Select(i => 1f + i * 0.125f).ToArray();

    [Fact]
    public void Setting_an_existing_key_keeps_its_position_and_every_other_entry_keeps_its_bytes()
    {
        using var dir = new TempDir();
        var source = GgufReader.Read(TestPaths.TinyModel);
        var target = GgufRewriter.Rewrite(source, new GgufEdit()
            .SetValue("general.name", GgufValue.String("renamed model, longer than before"))
            .SetValue("llama.context_length", GgufValue.UInt32(4096)), dir.File("out.gguf"));

        Assert.Equal(source.Metadata.Select(e => e.Key), target.Metadata.Select(e => e.Key));
        Assert.Equal("renamed model, longer than before", target.GetString("general.name"));
        Assert.Equal(4096u, target.GetUInt32("llama.context_length"));
        foreach (var e in source.Metadata.Where(e => e.Key is not ("general.name" or "llama.context_length")))
            Assert.Equal(SampleFiles.EntryBytes(source, e.Key), SampleFiles.EntryBytes(target, e.Key));
        AssertTensorsUnchanged(source, target);
        Layout.AssertCanonical(target);
    }

    [Fact]
    public void New_keys_go_at_the_end_in_the_order_set_and_removed_keys_disappear()
    {
        using var dir = new TempDir();
        var source = GgufReader.Read(TestPaths.TinyModel);
        var edit = new GgufEdit()
            .SetValue("zz.added_first", GgufValue.Array(new[] { "α", "β" }))
            .RemoveKey("general.description")
            .SetValue("aa.added_second", GgufValue.Float64(2.5))
            .SetValue("zz.added_first", GgufValue.Array(new[] { "last", "wins" })) // a second set of the same key
            .RemoveKey("no.such.key");
        var target = GgufRewriter.Rewrite(source, edit, dir.File("out.gguf"));

        var expectedKeys = source.Metadata.Select(e => e.Key).Where(k => k != "general.description")
            .Append("zz.added_first").Append("aa.added_second");
        Assert.Equal(expectedKeys, target.Metadata.Select(e => e.Key));
        Assert.Equal(new[] { "last", "wins" }, target["zz.added_first"].AsStringArray());
        Assert.Equal(2.5, target["aa.added_second"].AsFloat64());
        Assert.False(target.ContainsKey("general.description"));
        foreach (var e in source.Metadata.Where(e => e.Key != "general.description"))
            Assert.Equal(SampleFiles.EntryBytes(source, e.Key), SampleFiles.EntryBytes(target, e.Key));
        AssertTensorsUnchanged(source, target);
        Layout.AssertCanonical(target);
    }

    [Fact]
    public void Tensors_can_be_added_replaced_and_removed_and_the_rest_keep_order_and_data()
    {
        using var dir = new TempDir();
        var source = GgufReader.Read(TestPaths.TinyModel);
        var replacement = SampleFiles.Bytes(7, 256 * 2); // output_norm.weight becomes F16 [256]
        var edit = new GgufEdit()
            .SetTensor(new OutputTensor("rope_factors_long.weight", GgmlType.F32, [32], TensorData.Float32(RopeFactors)))
            .SetTensor(new OutputTensor("output_norm.weight", GgmlType.F16, [256], new TensorData.FromMemory(replacement)))
            .RemoveTensor("blk.2.attn_q.weight")
            .SetTensor(new OutputTensor("odd_sized.weight", GgmlType.F32, [5], TensorData.Float32([1, 2, 3, 4, 5])));
        var target = GgufRewriter.Rewrite(source, edit, dir.File("out.gguf"));

        var expectedNames = source.Tensors.Select(t => t.Name).Where(n => n != "blk.2.attn_q.weight")
            .Append("rope_factors_long.weight").Append("odd_sized.weight").ToList();
        Assert.Equal(expectedNames, target.Tensors.Select(t => t.Name));
        var norm = target.GetTensor("output_norm.weight");
        Assert.Equal((GgmlType.F16, "[256]"), (norm.Type, norm.ShapeText));
        Assert.Equal(SampleFiles.Sha256(replacement), SampleFiles.TensorSha256(target, norm));
        var rope = target.GetTensor("rope_factors_long.weight");
        Assert.Equal(SampleFiles.Sha256(SampleFiles.F32Bytes(RopeFactors)), SampleFiles.TensorSha256(target, rope));
        Assert.False(target.TryGetTensor("blk.2.attn_q.weight", out _));
        foreach (var t in source.Tensors.Where(t => t.Name is not ("output_norm.weight" or "blk.2.attn_q.weight")))
        {
            var u = target.GetTensor(t.Name);
            Assert.Equal((t.Type, t.ShapeText), (u.Type, u.ShapeText));
            Assert.Equal(SampleFiles.TensorSha256(source, t), SampleFiles.TensorSha256(target, u));
        }
        Assert.Equal(source.Metadata.Select(e => e.Key), target.Metadata.Select(e => e.Key));
        Layout.AssertCanonical(target);
        // The added 20-byte tensor is last: the file ends with its padding to the alignment.
        Assert.Equal(target.AbsoluteOffset(target.Tensors[^1]) + 32, target.FileLength);
    }

    [Fact]
    public void Edits_on_a_generated_file_keep_untouched_entries_and_tensors_exactly()
    {
        using var dir = new TempDir();
        var source = GgufReader.Read(SampleFiles.WriteAllTypes(dir.File("all.gguf")));
        var target = GgufRewriter.Rewrite(source, new GgufEdit()
            .SetValue("test.arr_str", GgufValue.Array(new[] { "replaced", "ü" }))
            .RemoveKey("test.u8")
            .SetValue("test.new", GgufValue.Array(new[] { GgufValue.Array(new[] { 1.5 }) }))
            .RemoveTensor("t.f16")
            .SetTensor(new OutputTensor("t.q8_0", GgmlType.Q8_0, [64], new TensorData.FromMemory(SampleFiles.Bytes(9, 68)))),
            dir.File("out.gguf"));

        Assert.Equal(source.Metadata.Select(e => e.Key).Where(k => k != "test.u8").Append("test.new"), target.Metadata.Select(e => e.Key));
        foreach (var e in source.Metadata.Where(e => e.Key is not ("test.u8" or "test.arr_str")))
        {
            Assert.Equal(SampleFiles.EntryBytes(source, e.Key), SampleFiles.EntryBytes(target, e.Key));
            Assert.Equal(e.Value, target[e.Key]);
        }
        Assert.Equal(new[] { "t.f32", "t.q4_0", "t.q8_0", "t.q4_k" }, target.Tensors.Select(t => t.Name));
        Assert.Equal([64UL], target.GetTensor("t.q8_0").Dimensions);
        foreach (string name in new[] { "t.f32", "t.q4_0", "t.q4_k" })
            Assert.Equal(SampleFiles.TensorSha256(source, source.GetTensor(name)), SampleFiles.TensorSha256(target, target.GetTensor(name)));
        Layout.AssertCanonical(target);
    }

    [Fact]
    public void An_alignment_of_64_is_honoured_when_writing_and_when_changed_by_an_edit()
    {
        using var dir = new TempDir();
        var aligned64 = GgufReader.Read(SampleFiles.WriteAllTypes(dir.File("a64.gguf"), alignment: 64));
        Assert.Equal(64u, aligned64.Alignment);
        Assert.Equal(0, aligned64.DataOffset % 64);
        Assert.Equal(new ulong[] { 0, 64, 128, 256, 384 }, aligned64.Tensors.Select(t => t.Offset));
        Layout.AssertCanonical(aligned64);

        // 32 -> 64 by an edit: the data moves to the new layout, bytes unchanged.
        var source = GgufReader.Read(SampleFiles.WriteAllTypes(dir.File("a32.gguf")));
        Assert.Equal(new ulong[] { 0, 32, 64, 160, 288 }, source.Tensors.Select(t => t.Offset));
        var to64 = GgufRewriter.Rewrite(source, new GgufEdit().SetValue(GgufKeys.Alignment, GgufValue.UInt32(64)), dir.File("to64.gguf"));
        Assert.Equal(64u, to64.Alignment);
        Assert.Equal(aligned64.Tensors.Select(t => t.Offset), to64.Tensors.Select(t => t.Offset));
        Layout.AssertCanonical(to64);
        foreach (var t in source.Tensors)
            Assert.Equal(SampleFiles.TensorSha256(source, t), SampleFiles.TensorSha256(to64, to64.GetTensor(t.Name)));

        // 64 -> default by removing the key.
        var back = GgufRewriter.Rewrite(to64, new GgufEdit().RemoveKey(GgufKeys.Alignment), dir.File("back.gguf"));
        Assert.Equal(32u, back.Alignment);
        Assert.Equal(source.Tensors.Select(t => t.Offset), back.Tensors.Select(t => t.Offset));
        Assert.Equal(File.ReadAllBytes(source.Path!), File.ReadAllBytes(back.Path!));

        // The tiny model at 64: every tensor size is a multiple of 64, so only the data section start may move.
        var tiny = GgufReader.Read(TestPaths.TinyModel);
        var tiny64 = GgufRewriter.Rewrite(tiny, new GgufEdit().SetValue(GgufKeys.Alignment, GgufValue.UInt32(64)), dir.File("tiny64.gguf"));
        Layout.AssertCanonical(tiny64, zeroPadding: false);
        Assert.Equal(0, tiny64.DataOffset % 64);
        AssertTensorsUnchanged(tiny, tiny64);
    }

    [Fact]
    public void Tensors_without_data_are_laid_out_like_any_other_even_at_the_end()
    {
        // Found by the fuzz test: a copied zero-byte tensor last in the file used to leave the file ending before its
        // offset, so the rewrite could not be read back. Zero-byte tensors may sit anywhere (they overlap nothing).
        var g = new RawGguf().Header(3, 3, 0).TensorInfo("a", [3], 0, 0).TensorInfo("empty", [0, 4], 0, 0).TensorInfo("last", [8, 0], 0, 0);
        g.PadTo(32).Bytes(SampleFiles.F32Bytes(1, 2, 3)).PadTo(32);
        using var dir = new TempDir();
        var source = GgufReader.Read(g.WriteTo(dir.File("empty.gguf")));
        var copy = GgufRewriter.Rewrite(source, new GgufEdit(), dir.File("copy.gguf"));
        Assert.Equal(new ulong[] { 0, 32, 32 }, copy.Tensors.Select(t => t.Offset));
        Layout.AssertCanonical(copy);
        Assert.Equal(SampleFiles.TensorSha256(source, source.Tensors[0]), SampleFiles.TensorSha256(copy, copy.Tensors[0]));

        var added = GgufRewriter.Rewrite(source, new GgufEdit().SetTensor(new OutputTensor("new", GgmlType.F16, [0], new TensorData.FromMemory(Array.Empty<byte>()))),
            dir.File("added.gguf"));
        Layout.AssertCanonical(added);
    }

    [Fact]
    public void Invalid_edits_are_refused_before_anything_is_written()
    {
        using var dir = new TempDir();
        var source = GgufReader.Read(TestPaths.TinyModel);
        string target = dir.File("out.gguf");
        void Refused(GgufEdit edit) => Assert.Throws<BadInputException>(() => GgufRewriter.Rewrite(source, edit, target));

        Refused(new GgufEdit().SetValue(GgufKeys.Alignment, GgufValue.UInt64(64)));
        Refused(new GgufEdit().SetValue(GgufKeys.Alignment, GgufValue.UInt32(48)));
        Refused(new GgufEdit().SetValue(GgufKeys.Alignment, GgufValue.UInt32(0)));
        // 2^30 made a 10 MB model a 62 GB file; 1 MiB is the largest padding written.
        Assert.Contains("above 1048576 (1 MiB)", Assert.Throws<BadInputException>(() => GgufRewriter.Rewrite(source, new GgufEdit().SetValue(GgufKeys.Alignment, GgufValue.UInt32(1u << 30)), target)).Message);
        Refused(new GgufEdit().SetValue(GgufKeys.Alignment, GgufValue.UInt32(GgufRewriter.MaxAlignment * 2)));
        Refused(new GgufEdit().SetTensor(new OutputTensor("x", GgmlType.F32, [33], TensorData.Float32(RopeFactors))));
        Refused(new GgufEdit().SetTensor(new OutputTensor("x", GgmlType.Q8_0, [33], new TensorData.FromMemory(new byte[34]))));
        Refused(new GgufEdit().SetTensor(new OutputTensor(new string('n', 64), GgmlType.F32, [32], TensorData.Float32(RopeFactors))));
        Refused(new GgufEdit().SetTensor(new OutputTensor("x", GgmlType.F32, [1, 1, 1, 1, 32], TensorData.Float32(RopeFactors))));
        Assert.Empty(Directory.GetFiles(dir.Path));
        Assert.Equal(GgufRewriter.MaxAlignment, GgufRewriter.Rewrite(source, new GgufEdit().SetValue(GgufKeys.Alignment, GgufValue.UInt32(GgufRewriter.MaxAlignment)), target).Alignment);
    }

    private static void AssertTensorsUnchanged(GgufFile source, GgufFile target)
    {
        Assert.Equal(source.Tensors.Select(t => (t.Name, t.Type, t.ShapeText)), target.Tensors.Select(t => (t.Name, t.Type, t.ShapeText)));
        foreach (var (s, t) in source.Tensors.Zip(target.Tensors))
            Assert.Equal(SampleFiles.TensorSha256(source, s), SampleFiles.TensorSha256(target, t));
    }
}
