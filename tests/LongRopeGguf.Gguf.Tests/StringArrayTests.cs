using System.Text;
using LongRopeGguf.Gguf.Tests.Support;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>STRING arrays read from a file keep their UTF-8 bytes and decode on demand (a 150k-token vocabulary is most
/// of a header's parse time). These tests pin that the laziness is invisible: values, equality, display, counts and
/// the bytes written back are what an eager string[] would give, including for bytes that are not valid UTF-8.</summary>
public class StringArrayTests
{
    private static readonly byte[][] Elements =
    [
        "first"u8.ToArray(), [], "α β"u8.ToArray(), [0x66, 0xFF, 0x6F], // 0xFF: not UTF-8, read as U+FFFD
        Encoding.UTF8.GetBytes(new string('x', 70_000)), // longer than the reader's 64 KiB buffer
        "▁the"u8.ToArray(),
    ];

    private static string WriteFile(TempDir dir)
    {
        var raw = new RawGguf().Header(3, 0, 2)
            .Kv("general.architecture", GgufValue.String("llama"))
            .Mark("kv tokens").Str("tokenizer.ggml.tokens").U32((uint)GgufValueType.Array)
            .U32((uint)GgufValueType.String).U64((ulong)Elements.Length);
        foreach (var e in Elements) raw.StrBytes(e);
        return raw.WriteTo(dir.File("strings.gguf"));
    }

    private static string[] Expected => Elements.Select(e => Encoding.UTF8.GetString(e)).ToArray();

    [Fact]
    public void Repeated_elements_are_found_by_their_bytes_as_llama_cpp_maps_them()
    {
        using var dir = new TempDir();
        // Unique as bytes, though 0xFF and 0xFE both decode to U+FFFD: llama.cpp's token map sees two tokens.
        var distinct = new RawGguf().Header(3, 0, 1).Str("t").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.String).U64(3)
            .StrBytes([0x66, 0xFF]).StrBytes([0x66, 0xFE]).StrBytes("f"u8.ToArray()).WriteTo(dir.File("distinct.gguf"));
        Assert.Null(GgufReader.Read(distinct)["t"].FindRepeatedString());
        Assert.Null(GgufReader.Read(WriteFile(dir))["tokenizer.ggml.tokens"].FindRepeatedString());

        var repeated = new RawGguf().Header(3, 0, 1).Str("t").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.String).U64(4)
            .StrBytes("a"u8.ToArray()).StrBytes("b"u8.ToArray()).StrBytes("c"u8.ToArray()).StrBytes("b"u8.ToArray()).WriteTo(dir.File("repeated.gguf"));
        Assert.Equal((1, 3), GgufReader.Read(repeated)["t"].FindRepeatedString());
        // Empty tokens do not collide: llama.cpp names each "[EMPTY_i]" before mapping it.
        var empties = new RawGguf().Header(3, 0, 1).Str("t").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.String).U64(3)
            .StrBytes([]).StrBytes("x"u8.ToArray()).StrBytes([]).WriteTo(dir.File("empties.gguf"));
        Assert.Null(GgufReader.Read(empties)["t"].FindRepeatedString());
        Assert.Null(GgufValue.Array(["", "x", ""]).FindRepeatedString());
        // The same answer for an array built in memory.
        Assert.Equal((1, 3), GgufValue.Array(["a", "b", "c", "b"]).FindRepeatedString());
        Assert.Null(GgufValue.Array(["a", "b"]).FindRepeatedString());
        Assert.Throws<GgufTypeMismatchException>(() => GgufValue.Array([1, 2]).FindRepeatedString());
    }

    [Fact]
    public void A_string_array_read_from_a_file_has_the_decoded_elements_and_equals_the_eager_value()
    {
        using var dir = new TempDir();
        var value = GgufReader.Read(WriteFile(dir))["tokenizer.ggml.tokens"];

        Assert.Equal(Elements.Length, value.Count);
        Assert.Equal("ARRAY[STRING]", value.DescribeType());
        Assert.Equal("f\uFFFDo", value.AsStringArray()[3]);
        Assert.Equal(Expected, value.AsStringArray());
        Assert.Equal(Expected, (string[])value.Payload);
        Assert.Equal(Expected, (string[])value.AsUntypedArray());
        var eager = GgufValue.Array(Expected);
        Assert.True(value.Equals(eager));
        Assert.True(eager.Equals(value));
        Assert.Equal(eager.GetHashCode(), value.GetHashCode());
        Assert.False(value.Equals(GgufValue.Array(Expected.Reverse().ToArray())));
        Assert.Throws<GgufTypeMismatchException>(() => value.AsFloat32Array());
    }

    [Fact]
    public void Display_decodes_only_what_it_shows_and_matches_the_eager_rendering()
    {
        using var dir = new TempDir();
        var lazy = GgufReader.Read(WriteFile(dir))["tokenizer.ggml.tokens"];
        var eager = GgufValue.Array(Expected);
        foreach (int max in new[] { 0, 1, 3, 6, 8 })
            Assert.Equal(eager.ToDisplayString(max), lazy.ToDisplayString(max));
        Assert.EndsWith(", ... (6 items)]", lazy.ToDisplayString(2));
    }

    [Fact]
    public void Two_reads_of_the_same_bytes_are_equal_and_different_bytes_with_the_same_text_are_too()
    {
        using var dir = new TempDir();
        string path = WriteFile(dir);
        var a = GgufReader.Read(path)["tokenizer.ggml.tokens"];
        var b = GgufReader.Read(path)["tokenizer.ggml.tokens"];
        Assert.True(a.Equals(b));

        // 0xFE decodes to U+FFFD as 0xFF does: the values (what accessors return) are equal, the bytes are not.
        var other = new RawGguf().Header(3, 0, 1).Str("k").U32((uint)GgufValueType.Array)
            .U32((uint)GgufValueType.String).U64((ulong)Elements.Length);
        foreach (var e in Elements) other.StrBytes(e.SequenceEqual(new byte[] { 0x66, 0xFF, 0x6F }) ? [0x66, 0xFE, 0x6F] : e);
        var c = GgufReader.Read(other.WriteTo(dir.File("other.gguf")))["k"];
        Assert.True(a.Equals(c));
    }

    [Fact]
    public void A_string_array_copied_into_another_key_is_written_with_its_original_bytes()
    {
        using var dir = new TempDir();
        var source = GgufReader.Read(WriteFile(dir));
        var tokens = source["tokenizer.ggml.tokens"];
        // Setting the value under a new key goes through the value writer, not the raw copy of untouched entries.
        var target = GgufRewriter.Rewrite(source, new GgufEdit().SetValue("copy.tokens", tokens), dir.File("out.gguf"));

        Assert.Equal(SampleFiles.EntryBytes(source, "tokenizer.ggml.tokens").AsSpan(FieldLengths.Length + "tokenizer.ggml.tokens".Length).ToArray(),
            SampleFiles.EntryBytes(target, "copy.tokens").AsSpan(FieldLengths.Length + "copy.tokens".Length).ToArray());
        var reread = GgufReader.Read(target.Path!);
        Assert.Equal(Expected, reread["copy.tokens"].AsStringArray());
        Assert.True(reread["copy.tokens"].Equals(target["copy.tokens"]));
    }

    [Fact]
    public void Truncation_inside_an_element_names_the_element_index_and_offset()
    {
        using var dir = new TempDir();
        byte[] full = File.ReadAllBytes(WriteFile(dir));
        // Cut inside element 4 (70,000 bytes, longer than the reader's buffer): its length runs past the end.
        var raw = new RawGguf().Header(3, 0, 2).Kv("general.architecture", GgufValue.String("llama"))
            .Str("tokenizer.ggml.tokens").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.String).U64((ulong)Elements.Length);
        foreach (var e in Elements[..4]) raw.StrBytes(e);
        long lengthAt = raw.Position;
        string cut = dir.File("cut.gguf");
        File.WriteAllBytes(cut, full[..(int)(lengthAt + 8 + 1000)]);

        var error = Assert.Throws<GgufFormatException>(() => GgufReader.Read(cut));
        Assert.Equal("metadata[1] 'tokenizer.ggml.tokens' element [4] length", error.Field);
        Assert.Equal(lengthAt, error.Offset);
    }
}
