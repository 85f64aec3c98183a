using LongRopeGguf.Gguf.Tests.Support;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>Files written from scratch read back equal; rewriting any file without edits reproduces it byte for byte.</summary>
public class RoundTripTests
{
    [Fact]
    public void Rewriting_the_tiny_model_without_edits_is_byte_identical()
    {
        using var dir = new TempDir();
        var source = GgufReader.Read(TestPaths.TinyModel);
        string target = dir.File("copy.gguf");
        GgufRewriter.Rewrite(source, new GgufEdit(), target);
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(target));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Theory]
    [InlineData(3u)]
    [InlineData(2u)]
    public void A_written_file_with_every_value_type_reads_back_equal(uint version)
    {
        using var dir = new TempDir();
        string path = SampleFiles.WriteAllTypes(dir.File("all.gguf"), version);
        var expected = SampleFiles.AllValueTypes();
        var specs = SampleFiles.TensorSpecs();

        var file = GgufReader.Read(path);

        Assert.Equal(version, file.Version);
        Assert.Equal(expected.Select(e => e.Key), file.Metadata.Select(e => e.Key));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Value.DescribeType(), file.Metadata[i].Value.DescribeType());
            Assert.True(expected[i].Value.Equals(file.Metadata[i].Value), $"{expected[i].Key}: wrote {expected[i].Value}, read {file.Metadata[i].Value}");
        }
        Assert.Equal(specs.Select(s => s.Name), file.Tensors.Select(t => t.Name));
        foreach (var (spec, t) in specs.Zip(file.Tensors))
        {
            Assert.Equal(spec.Type, t.Type);
            Assert.Equal(spec.Dims, t.Dimensions);
            Assert.Equal((ulong)spec.Data.Length, t.ByteSize);
            Assert.Equal(SampleFiles.Sha256(spec.Data), SampleFiles.TensorSha256(file, t));
        }
        Assert.Equal(32u, file.Alignment);
        Assert.Equal("testarch", file.Architecture);
        Assert.Equal("testarch.context_length", file.ArchitectureKey("context_length"));
    }

    [Theory]
    [InlineData(3u, 32u)]
    [InlineData(2u, 32u)]
    [InlineData(3u, 64u)]
    public void The_writer_produces_exactly_the_bytes_of_an_independent_encoder(uint version, uint alignment)
    {
        using var dir = new TempDir();
        uint? alignmentKey = alignment == 32 ? null : alignment;
        string path = SampleFiles.WriteAllTypes(dir.File("all.gguf"), version, alignmentKey);
        byte[] expected = RawGguf.Complete(SampleFiles.AllValueTypes(alignmentKey), SampleFiles.TensorSpecs(), version, alignment).ToArray();
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData(3u, null)]
    [InlineData(2u, null)]
    [InlineData(3u, 64u)]
    public void Rewriting_a_generated_file_without_edits_is_byte_identical(uint version, uint? alignment)
    {
        using var dir = new TempDir();
        string path = SampleFiles.WriteAllTypes(dir.File("all.gguf"), version, alignment);
        string copy = dir.File("copy.gguf");
        var written = GgufRewriter.Rewrite(GgufReader.Read(path), new GgufEdit(), copy);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(copy));
        Assert.Equal(version, written.Version);
        Assert.Equal(2, Directory.GetFiles(dir.Path).Length);
    }

    [Fact]
    public void Values_larger_than_the_readers_64_KiB_buffer_round_trip()
    {
        using var dir = new TempDir();
        string longText = string.Concat(Enumerable.Range(0, 30_000).Select(i => i % 7 == 0 ? "é🦙" : "abc"));
        var entries = new List<GgufMetadataEntry>
        {
            new("big.string", GgufValue.String(longText)),
            new("big.strings", GgufValue.Array(Enumerable.Range(0, 70_000).Select(i => $"tok{i}").ToArray())),
            new("big.floats", GgufValue.Array(Enumerable.Range(0, 40_000).Select(i => i * 0.001f).ToArray())),
            new("after", GgufValue.String("still in step")),
        };
        string path = dir.File("big.gguf");
        GgufRewriter.WriteNew(path, entries, SampleFiles.Tensors(SampleFiles.TensorSpecs()));
        Assert.True(new FileInfo(path).Length > 3 * 65536);

        var file = GgufReader.Read(path);
        for (int i = 0; i < entries.Count; i++) Assert.Equal(entries[i].Value, file.Metadata[i].Value);
        string copy = dir.File("copy.gguf");
        GgufRewriter.Rewrite(file, new GgufEdit(), copy);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(copy));

        // Cut inside the long string: the string's length field is named (its bytes are no longer all there).
        var bytes = File.ReadAllBytes(path);
        var cut = Record.Exception(() => GgufReader.Read(new MemoryStream(bytes, 0, 70_000)));
        var e = Assert.IsType<GgufFormatException>(cut);
        Assert.Equal((file.Metadata[0].ValueOffset, "metadata[0] 'big.string' length"), (e.Offset, e.Field));
    }

    [Fact]
    public void NaN_payloads_infinities_and_signed_zeros_survive_bit_for_bit()
    {
        using var dir = new TempDir();
        string path = dir.File("special.gguf");
        var entries = SampleFiles.SpecialFloats();
        GgufRewriter.WriteNew(path, entries, []);
        var file = GgufReader.Read(path);
        for (int i = 0; i < entries.Count; i++)
            Assert.True(entries[i].Value.Equals(file.Metadata[i].Value), entries[i].Key);
        Assert.Equal(0x7FC00123, BitConverter.SingleToInt32Bits(file.GetFloat32("special.f32_nan")));
        string copy = dir.File("copy.gguf");
        GgufRewriter.Rewrite(file, new GgufEdit(), copy);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(copy));
    }

    [Fact]
    public void Value_equality_is_bitwise_for_floats_in_scalars_and_arrays()
    {
        Assert.NotEqual(GgufValue.Float32(0.0f), GgufValue.Float32(-0.0f));
        Assert.NotEqual(GgufValue.Array(new[] { 0.0f }), GgufValue.Array(new[] { -0.0f }));
        Assert.NotEqual(GgufValue.Array(new[] { 0.0 }), GgufValue.Array(new[] { -0.0 }));
        Assert.NotEqual(GgufValue.Array(new[] { float.NaN }), GgufValue.Array(new[] { BitConverter.Int32BitsToSingle(0x7FC00001) }));
        Assert.Equal(GgufValue.Array(new[] { float.NaN }), GgufValue.Array(new[] { float.NaN }));
        Assert.NotEqual(GgufValue.UInt32(1), GgufValue.Int32(1));
        Assert.NotEqual(GgufValue.Array(new uint[] { 1 }), GgufValue.Array(new int[] { 1 }));
        Assert.NotEqual(GgufValue.Array(new[] { GgufValue.Array(new[] { 1 }) }), GgufValue.Array(new[] { GgufValue.Array(new[] { 2 }) }));
        Assert.Equal(GgufValue.Array(new[] { GgufValue.Array(new[] { "é" }) }), GgufValue.Array(new[] { GgufValue.Array(new[] { "é" }) }));
    }

    [Fact]
    public void Untouched_entries_keep_bytes_the_value_model_cannot_express()
    {
        // A bool stored as 2 (llama.cpp and gguf-py read any non-zero byte as true), a string value that is not valid
        // UTF-8, and non-zero bytes in the padding before the data section and between tensors.
        var g = new RawGguf().Header(3, 2, 3);
        g.Kv("general.architecture", GgufValue.String("x"));
        g.Mark("kv odd.bool").Str("odd.bool").U32((uint)GgufValueType.Bool).U8(2);
        g.Mark("kv odd.str").Str("odd.str").U32((uint)GgufValueType.String).StrBytes([0x61, 0xFF, 0xFE, 0x62]);
        g.TensorInfo("a", [3], (uint)GgmlType.F32, 0).TensorInfo("b", [1], (uint)GgmlType.F32, 32);
        g.PadTo(32, fill: 0xAB);
        g.Bytes(SampleFiles.F32Bytes(1, 2, 3)).PadTo(32, fill: 0xCD).Bytes(SampleFiles.F32Bytes(4)).PadTo(32, fill: 0xEF);
        using var dir = new TempDir();
        string path = g.WriteTo(dir.File("odd.gguf"));

        var file = GgufReader.Read(path);
        Assert.True(file.GetBool("odd.bool"));
        Assert.Equal("a\uFFFD\uFFFDb", file.GetString("odd.str"));

        string copy = dir.File("copy.gguf");
        GgufRewriter.Rewrite(file, new GgufEdit(), copy);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(copy));

        // An unrelated edit still leaves those two entries' bytes alone.
        string edited = dir.File("edited.gguf");
        var e = GgufRewriter.Rewrite(file, new GgufEdit().SetValue("general.architecture", GgufValue.String("y")), edited);
        Assert.Equal(SampleFiles.EntryBytes(file, "odd.bool"), SampleFiles.EntryBytes(e, "odd.bool"));
        Assert.Equal(SampleFiles.EntryBytes(file, "odd.str"), SampleFiles.EntryBytes(e, "odd.str"));
    }

    [Fact]
    public void The_reader_records_where_each_entry_and_descriptor_lies()
    {
        using var dir = new TempDir();
        foreach (string path in new[] { TestPaths.TinyModel, SampleFiles.WriteAllTypes(dir.File("all.gguf"), alignment: 64) })
        {
            var file = GgufReader.Read(path);
            var map = new FieldMap(file);
            for (int i = 0; i < file.Metadata.Count; i++)
            {
                var e = file.Metadata[i];
                Assert.Equal(map.Entries[i], (e.Offset, e.ValueOffset, e.Length));
            }
            Assert.Equal(map.TensorInfos, file.Tensors.Select(t => t.InfoOffset));
            Assert.Equal(map.HeaderLength, file.HeaderLength);
            Assert.Equal(GgufReader.AlignUp(map.HeaderLength, file.Alignment), file.DataOffset);
        }
    }

    [Fact]
    public void A_file_without_tensors_is_not_padded_out_to_a_huge_alignment()
    {
        // Valid for llama.cpp, which does not align the (empty) data section when there are no tensors.
        using var dir = new TempDir();
        var metadata = new List<GgufMetadataEntry> { new(GgufKeys.Alignment, GgufValue.UInt32(1u << 31)), new("general.name", GgufValue.String("n")) };
        string path = RawGguf.Complete(metadata, [], alignment: 1).WriteTo(dir.File("huge-alignment.gguf"));
        var file = GgufReader.Read(path);
        Assert.Equal(1u << 31, file.Alignment);
        Assert.Equal(file.HeaderLength, file.FileLength);

        GgufRewriter.Rewrite(file, new GgufEdit(), dir.File("copy.gguf"));
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(dir.File("copy.gguf")));
        var edited = GgufRewriter.Rewrite(file, new GgufEdit().SetValue("general.name", GgufValue.String("renamed")), dir.File("edited.gguf"));
        Assert.Equal(edited.HeaderLength, edited.FileLength);
        var fresh = GgufRewriter.WriteNew(dir.File("new.gguf"), metadata, []);
        Assert.Equal(fresh.HeaderLength, fresh.FileLength);

        // A tensor-less file that does carry its padding keeps it.
        string padded = RawGguf.Complete(SampleFiles.AllValueTypes(alignment: 64), [], alignment: 64).WriteTo(dir.File("padded.gguf"));
        Assert.Equal(0, new FileInfo(padded).Length % 64);
        GgufRewriter.Rewrite(GgufReader.Read(padded), new GgufEdit(), dir.File("padded-copy.gguf"));
        Assert.Equal(File.ReadAllBytes(padded), File.ReadAllBytes(dir.File("padded-copy.gguf")));
    }

    [Fact]
    public void WriteNew_refuses_versions_it_cannot_write()
    {
        using var dir = new TempDir();
        Assert.Throws<ArgumentOutOfRangeException>(() => GgufRewriter.WriteNew(dir.File("v1.gguf"), SampleFiles.AllValueTypes(), [], version: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => GgufRewriter.WriteNew(dir.File("v4.gguf"), SampleFiles.AllValueTypes(), [], version: 4));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
