using LongRopeGguf.Gguf;
using LongRopeGguf.Gguf.Tests.Support;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>In-place edits change exactly the bytes of the value or tensor concerned, never the file's length, and refuse
/// anything that would need the file to be laid out again.</summary>
public class InPlaceEditorTests
{
    [Fact]
    public void Tensor_data_and_same_size_values_are_overwritten_in_place_and_nothing_else_changes()
    {
        using var dir = new TempDir();
        string path = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, path);
        byte[] expected = File.ReadAllBytes(path);
        var file = GgufReader.Read(path);
        var norm = file.GetTensor("output_norm.weight"); // F32 [256]
        var embd = file.GetTensor("token_embd.weight");  // F16 [256, 354]
        float[] newNorm = Enumerable.Range(0, 256).Select(i => i * 0.5f).ToArray();
        byte[] newEmbd = SampleFiles.Bytes(3, (int)embd.ByteSize);
        var values = new Dictionary<string, GgufValue>
        {
            ["llama.context_length"] = GgufValue.UInt32(2048),
            ["llama.rope.freq_base"] = GgufValue.Float32(500000f),
            ["general.name"] = GgufValue.String(new string('x', file.GetString("general.name").Length)),
            ["tokenizer.ggml.add_bos_token"] = GgufValue.Bool(false),
            ["tokenizer.ggml.scores"] = GgufValue.Array(Enumerable.Range(0, 354).Select(i => -i * 0.25f).ToArray()),
        };

        using (var editor = GgufInPlaceEditor.Open(path))
        {
            editor.WriteTensorData("output_norm.weight", newNorm);
            editor.WriteTensorData("token_embd.weight", newEmbd);
            foreach (var (key, value) in values) editor.SetValue(key, value);
        }

        // The expected file: the original bytes with each value's encoding (by the tests' own encoder) and each
        // tensor's data put at their offsets.
        SampleFiles.F32Bytes(newNorm).CopyTo(expected, file.AbsoluteOffset(norm));
        newEmbd.CopyTo(expected, file.AbsoluteOffset(embd));
        foreach (var (key, value) in values)
        {
            file.TryGetEntry(key, out var entry);
            new RawGguf().Value(value).ToArray().CopyTo(expected, entry.ValueOffset);
        }
        Assert.Equal(expected, File.ReadAllBytes(path));

        var reread = GgufReader.Read(path);
        foreach (var (key, value) in values) Assert.Equal(value, reread[key]);
        Assert.Equal(file.Metadata.Select(e => (e.Key, e.Offset, e.Length)), reread.Metadata.Select(e => (e.Key, e.Offset, e.Length)));
    }

    [Fact]
    public void Changes_that_do_not_fit_in_place_are_refused_and_leave_the_file_as_it_was()
    {
        using var dir = new TempDir();
        string path = SampleFiles.WriteAllTypes(dir.File("all.gguf"), alignment: 64);
        byte[] before = File.ReadAllBytes(path);

        using (var editor = GgufInPlaceEditor.Open(path))
        {
            Assert.Throws<BadInputException>(() => editor.SetValue("test.string", GgufValue.String("a different length")));
            Assert.Throws<BadInputException>(() => editor.SetValue("test.arr_u32", GgufValue.Array(new uint[] { 1, 2 })));
            Assert.Throws<BadInputException>(() => editor.SetValue("test.arr_str", GgufValue.Array(new[] { "a", "", "ünï", "日本", "▁x", "🦙🦙🦙" })));
            Assert.Throws<GgufTypeMismatchException>(() => editor.SetValue("test.u32", GgufValue.UInt64(1)));
            Assert.Throws<GgufTypeMismatchException>(() => editor.SetValue("test.u32", GgufValue.Int32(1)));
            Assert.Throws<GgufTypeMismatchException>(() => editor.SetValue("test.arr_u32", GgufValue.Array(new int[] { 1, 2, 3 })));
            Assert.Throws<GgufMissingEntryException>(() => editor.SetValue("test.absent", GgufValue.UInt32(1)));
            // The alignment decides the layout: it cannot change without moving the data (same value is fine).
            Assert.Throws<BadInputException>(() => editor.SetValue(GgufKeys.Alignment, GgufValue.UInt32(32)));
            editor.SetValue(GgufKeys.Alignment, GgufValue.UInt32(64));

            Assert.Throws<BadInputException>(() => editor.WriteTensorData("t.f32", new float[4]));
            Assert.Throws<BadInputException>(() => editor.WriteTensorData("t.f32", new byte[11]));
            Assert.Throws<BadInputException>(() => editor.WriteTensorData("t.f16", new float[10])); // F16, not F32
            Assert.Throws<GgufMissingEntryException>(() => editor.WriteTensorData("t.absent", new float[1]));

            // Several values at once: all are checked before any is written, so the one that fits is not written either.
            Assert.Throws<BadInputException>(() => editor.SetValues([("test.u32", GgufValue.UInt32(7)), ("test.string", GgufValue.String("a different length"))]));
        }
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_string_s_room_is_its_stored_bytes_even_when_they_are_not_valid_utf8()
    {
        using var dir = new TempDir();
        string path = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, path);
        var file = GgufReader.Read(path);
        file.TryGetEntry("general.name", out var entry);
        int stored = file.GetString("general.name").Length; // ASCII in the tiny model
        // One byte of the name replaced by 0xE9, a lone UTF-8 lead byte: it decodes to U+FFFD, 3 bytes of UTF-8.
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) { stream.Position = entry.ValueOffset + 8; stream.WriteByte(0xE9); }
        using var editor = GgufInPlaceEditor.Open(path);
        Assert.NotEqual(stored, System.Text.Encoding.UTF8.GetByteCount(editor.File.GetString("general.name")));
        Assert.Equal(stored, editor.StoredStringBytes("general.name"));
        editor.SetValue("general.name", GgufValue.String(new string('y', stored)));
        Assert.Throws<GgufTypeMismatchException>(() => editor.StoredStringBytes("llama.context_length"));
    }

    [Fact]
    public void Opening_a_bad_file_for_editing_reports_a_format_error_and_keeps_the_file()
    {
        using var dir = new TempDir();
        string path = dir.File("bad.gguf");
        byte[] bytes = File.ReadAllBytes(SampleFiles.WriteAllTypes(dir.File("all.gguf")))[..100];
        File.WriteAllBytes(path, bytes);
        Assert.Throws<GgufFormatException>(() => GgufInPlaceEditor.Open(path));
        Assert.Equal(bytes, File.ReadAllBytes(path));
        File.WriteAllBytes(path, bytes); // the handle was released: the file can be written again
    }
}
