using LongRopeGguf.Gguf.Tests.Support;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>
/// Malformed and unsupported files: each must fail with one <see cref="GgufFormatException"/> line naming the file, the
/// field and the exact byte offset (computed here from the bytes the test wrote), while allocating almost nothing.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    /// <summary>What reading a small bad header may allocate: the reader's 64 KiB buffer and a little more.</summary>
    private const long AllocationBound = 1 << 20;

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private GgufFormatException AssertBad(RawGguf file, long offset, string field, string problem) =>
        AssertBad(file.ToArray(), offset, field, problem);

    private GgufFormatException AssertBad(byte[] bytes, long offset, string field, string problem)
    {
        string path = _dir.File($"bad-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var thrown = Record.Exception(() => GgufReader.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        var e = Assert.IsType<GgufFormatException>(thrown);
        Assert.Equal(offset, e.Offset);
        Assert.Contains(field, e.Field);
        Assert.Contains(problem, e.Problem);
        Assert.StartsWith($"{path}: ", e.Message);
        Assert.Contains($" at offset {offset}: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        Assert.True(allocated < AllocationBound, $"reading allocated {allocated} bytes");
        Assert.Equal(bytes, File.ReadAllBytes(path)); // never modified
        return e;
    }

    private static RawGguf OneKey(string key, GgufValue value) => new RawGguf().Header(3, 0, 1).Kv(key, value);

    [Fact]
    public void Wrong_magic()
    {
        var bytes = new RawGguf().Header(3, 0, 0).ToArray();
        bytes[3] = (byte)'L'; // "GGUL"
        AssertBad(bytes, 0, "magic", "not a GGUF file");
        AssertBad("GGML\x03\0\0\0"u8.ToArray(), 0, "magic", "not a GGUF file");
        AssertBad("GG"u8.ToArray(), 0, "magic", "truncated");
        AssertBad([], 0, "magic", "truncated");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(4u)]
    [InlineData(0xFFFFu)]
    public void Unsupported_version(uint version) =>
        AssertBad(new RawGguf().Header(version, 0, 0), 4, "version", $"unsupported GGUF version {version}");

    [Fact]
    public void Big_endian_file()
    {
        // A complete big-endian version 3 file (every field byte-swapped, magic as the bytes "GGUF", as gguf-py writes it).
        var be = RawGguf.Complete(SampleFiles.AllValueTypes(), SampleFiles.TensorSpecs(), bigEndian: true).ToArray();
        Assert.Equal("GGUF\0\0\0\x03"u8.ToArray(), be[..8]);
        AssertBad(be, 4, "version", "big-endian");
    }

    [Fact]
    public void Absurd_key_and_tensor_counts()
    {
        AssertBad(new RawGguf().Header(3, 0, 1UL << 60), 16, "metadata count", "cannot fit");
        AssertBad(new RawGguf().Header(3, 1UL << 60, 0), 8, "tensor count", "cannot fit");
        AssertBad(new RawGguf().Header(3, 0, ulong.MaxValue), 16, "metadata count", "cannot fit");
        AssertBad(new RawGguf().Header(3, long.MaxValue, 0), 8, "tensor count", "cannot fit");
        // Plausible-looking but still more than the file could hold: 3 keys need at least 39 bytes.
        var g = new RawGguf().Header(3, 0, 3).Kv("a", GgufValue.UInt8(1));
        AssertBad(g, 16, "metadata count", "cannot fit");
    }

    [Theory]
    [InlineData(GgufValueType.UInt8, 1UL << 60)]
    [InlineData(GgufValueType.Float64, 1UL << 60)]
    [InlineData(GgufValueType.Bool, ulong.MaxValue)]
    [InlineData(GgufValueType.String, 1UL << 60)]
    [InlineData(GgufValueType.Array, 1UL << 60)]
    [InlineData(GgufValueType.UInt32, 1000UL)] // 4000 bytes claimed, 8 present
    [InlineData(GgufValueType.String, 2UL)]    // two strings need at least 16 bytes, 8 present
    public void Array_lengths_beyond_the_file(GgufValueType elementType, ulong count)
    {
        var g = new RawGguf().Header(3, 0, 1).Mark("kv").Str("k").U32((uint)GgufValueType.Array)
            .U32((uint)elementType).Mark("count").U64(count).U64(0);
        AssertBad(g, g.At["count"], "metadata[0] 'k' array length", "cannot fit");
    }

    [Fact]
    public void Absurd_array_length_inside_a_nested_array()
    {
        var g = new RawGguf().Header(3, 0, 1).Str("k").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.Array).U64(2)
            .U32((uint)GgufValueType.Int32).U64(1).U32(7)                      // element 0: [7]
            .U32((uint)GgufValueType.Int32).Mark("count").U64(1UL << 60);      // element 1: 2^60 int32
        AssertBad(g, g.At["count"], "metadata[0] 'k' element [1] array length", "cannot fit");
    }

    [Theory]
    [InlineData(100UL)]
    [InlineData(1UL << 63)]
    [InlineData(ulong.MaxValue)]
    public void String_lengths_past_the_end_of_the_file(ulong length)
    {
        // The key itself. (Each file carries 32 spare bytes so that the key or tensor count itself is plausible.)
        var key = new RawGguf().Header(3, 0, 1).Mark("len").U64(length).Bytes("abc"u8).Bytes(new byte[32]);
        AssertBad(key, 24, "metadata[0] key length", "past the end");

        // A string value.
        var value = new RawGguf().Header(3, 0, 1).Str("k").U32((uint)GgufValueType.String).Mark("len").U64(length).Bytes("abc"u8).Bytes(new byte[32]);
        AssertBad(value, value.At["len"], "metadata[0] 'k' length", "past the end");

        // The third string of an array of strings.
        var array = new RawGguf().Header(3, 0, 1).Str("k").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.String).U64(3)
            .Str("a").Str("b").Mark("len").U64(length).Bytes("abc"u8).Bytes(new byte[32]);
        AssertBad(array, array.At["len"], "metadata[0] 'k' element [2] length", "past the end");

        // A tensor name.
        var name = new RawGguf().Header(3, 1, 0).Mark("len").U64(length).Bytes(new byte[30]);
        AssertBad(name, 24, "tensor[0] name length", "past the end");
    }

    [Theory]
    [InlineData(13u)]
    [InlineData(0xFFFFFFFFu)]
    public void Unknown_value_types(uint type)
    {
        var g = new RawGguf().Header(3, 0, 2).Kv("ok", GgufValue.UInt8(1)).Str("k").Mark("type").U32(type).U64(0);
        AssertBad(g, g.At["type"], "metadata[1] 'k' value type", $"unknown value type {type}");

        var a = new RawGguf().Header(3, 0, 1).Str("k").U32((uint)GgufValueType.Array).Mark("type").U32(type).U64(0);
        AssertBad(a, a.At["type"], "metadata[0] 'k' array element type", $"unknown value type {type}");
    }

    [Theory]
    [InlineData(4u)]  // Q4_2, removed
    [InlineData(5u)]  // Q4_3, removed
    [InlineData(31u)] // Q4_0_4_4, removed from files
    [InlineData(32u)]
    [InlineData(33u)]
    [InlineData(36u)] // IQ4_NL_4_4, removed
    [InlineData(37u)]
    [InlineData(38u)]
    [InlineData(1000u)]
    [InlineData(0xFFFFFFFFu)]
    public void Unknown_or_removed_tensor_types(uint type)
    {
        var g = new RawGguf().Header(3, 2, 0).TensorInfo("a", [8], (uint)GgmlType.F32, 0).TensorInfo("b", [256], type, 32);
        AssertBad(g, g.At["tensor b type"], "tensor[1] 'b' type", $"unknown or removed ggml tensor type {type}");
    }

    [Fact]
    public void Duplicate_keys()
    {
        var g = new RawGguf().Header(3, 0, 3).Kv("a", GgufValue.UInt8(1)).Kv("b", GgufValue.UInt8(2)).Kv("a", GgufValue.String("again"));
        var e = AssertBad(g, g.At["kv a"] /* the second one: marks are overwritten */, "metadata[2] 'a'", "duplicate key 'a'");
        Assert.True(e.Offset > 24);
    }

    [Fact]
    public void Keys_that_are_empty_or_not_UTF8_and_names_with_control_characters()
    {
        AssertBad(new RawGguf().Header(3, 0, 1).Kv("", GgufValue.UInt8(1)), 24, "metadata[0] key", "key is empty");

        // 0xFF can never appear in UTF-8: the error points at that byte (24 + 8 for the length + 2).
        var g = new RawGguf().Header(3, 0, 1).StrBytes([0x61, 0x62, 0xFF, 0x63]).U32((uint)GgufValueType.UInt8).U8(1);
        AssertBad(g, 34, "metadata[0] key", "not valid UTF-8");

        var t = new RawGguf().Header(3, 1, 0).StrBytes([0x74, 0xC3]).U32(1).U64(1).U32(0).U64(0);
        AssertBad(t, 33, "tensor[0] name", "not valid UTF-8");

        // A key with a line break stays on one line in the message.
        var nl = new RawGguf().Header(3, 0, 2).Kv("a\nb", GgufValue.UInt8(1)).Kv("a\nb", GgufValue.UInt8(2));
        var e = AssertBad(nl, nl.At["kv a\nb"], "metadata[1] 'a\\u000Ab'", "duplicate key");
        Assert.Contains("'a\\u000Ab'", e.Message);
    }

    [Fact]
    public void Tensor_names_that_are_duplicated_or_too_long_for_llama_cpp()
    {
        var g = new RawGguf().Header(3, 3, 0).TensorInfo("a", [8], 0, 0).TensorInfo("b", [8], 0, 32).TensorInfo("a", [8], 0, 64);
        AssertBad(g, g.At["tensor a"], "tensor[2] 'a'", "duplicate tensor name 'a'");

        string longName = new('n', GgufConstants.MaxTensorNameLength);
        var l = new RawGguf().Header(3, 1, 0).TensorInfo(longName, [8], 0, 0);
        AssertBad(l, 24, "tensor[0]", "name is 64 bytes");
    }

    [Fact]
    public void Tensor_data_outside_the_file()
    {
        // Header of 24 + (8+1+4+8+4+8) = 57 bytes, data section at 64; the file holds 32 bytes of data.
        var g = new RawGguf().Header(3, 2, 0).TensorInfo("a", [8], 0, 0).TensorInfo("b", [8], 0, 32);
        g.PadTo(32).Bytes(new byte[32]);
        AssertBad(g, g.At["tensor b offset"], "tensor[1] 'b' offset", "outside the data section");

        // An offset so large that offset + size overflows 64 bits.
        var o = new RawGguf().Header(3, 1, 0).TensorInfo("a", [8], 0, ulong.MaxValue - 31);
        o.PadTo(32).Bytes(new byte[32]);
        AssertBad(o, o.At["tensor a offset"], "tensor[0] 'a' offset", "outside the data section");
        // A corrupt offset is not called a truncated file.
        Assert.DoesNotContain("truncated", Assert.Throws<GgufFormatException>(() => GgufReader.Read(new MemoryStream(o.ToArray()))).Message);
    }

    [Fact]
    public void Misaligned_tensor_offsets()
    {
        var g = new RawGguf().Header(3, 2, 0).TensorInfo("a", [8], 0, 0).TensorInfo("b", [8], 0, 48);
        g.PadTo(32).Bytes(new byte[96]);
        AssertBad(g, g.At["tensor b offset"], "tensor[1] 'b' offset", "not a multiple of the alignment 32");

        var a64 = new RawGguf().Header(3, 2, 1).Kv(GgufKeys.Alignment, GgufValue.UInt32(64))
            .TensorInfo("a", [8], 0, 0).TensorInfo("b", [8], 0, 32);
        a64.PadTo(64).Bytes(new byte[128]);
        AssertBad(a64, a64.At["tensor b offset"], "tensor[1] 'b' offset", "not a multiple of the alignment 64");
    }

    [Fact]
    public void Overlapping_tensor_data()
    {
        // b starts inside a (a is 64 bytes at 0, b at 32).
        var g = new RawGguf().Header(3, 3, 0).TensorInfo("a", [16], 0, 0).TensorInfo("c", [8], 0, 96).TensorInfo("b", [8], 0, 32);
        g.PadTo(32).Bytes(new byte[128]);
        AssertBad(g, g.At["tensor b offset"], "tensor[2] 'b' offset", "overlaps tensor 'a'");
    }

    [Fact]
    public void Dimensions_whose_product_overflows_or_that_are_too_many()
    {
        var g = new RawGguf().Header(3, 1, 0).TensorInfo("a", [1UL << 32, 1UL << 32], 0, 0);
        AssertBad(g, g.At["tensor a ndims"], "tensor[0] 'a' dimensions", "overflows");

        // 2^61 F32 elements fit in int64, their 2^63 bytes do not.
        var b = new RawGguf().Header(3, 1, 0).TensorInfo("a", [1UL << 61], 0, 0);
        AssertBad(b, b.At["tensor a ndims"], "tensor[0] 'a' dimensions", "overflows");

        var n = new RawGguf().Header(3, 1, 0).TensorInfo("a", [8, 1UL << 63], 0, 0);
        AssertBad(n, n.At["tensor a ne[1]"], "tensor[0] 'a' ne[1]", "out of range");

        var d = new RawGguf().Header(3, 1, 0).TensorInfo("a", [1, 1, 1, 1, 8], 0, 0);
        AssertBad(d, d.At["tensor a ndims"], "tensor[0] 'a' dimension count", "5 dimensions");
        var big = new RawGguf().Header(3, 1, 0).Str("a").Mark("ndims").U32(0xFFFFFFFF).Bytes(new byte[32]);
        AssertBad(big, big.At["ndims"], "tensor[0] 'a' dimension count", "4294967295 dimensions");
    }

    [Fact]
    public void Rows_that_are_not_whole_blocks()
    {
        var g = new RawGguf().Header(3, 1, 0).TensorInfo("q", [33, 2], (uint)GgmlType.Q4_0, 0);
        AssertBad(g, g.At["tensor q ne[0]"], "tensor[0] 'q' ne[0]", "not a multiple of the Q4_0 block size 32");
        // No dimensions means one element, which no block type can hold.
        var z = new RawGguf().Header(3, 1, 0).TensorInfo("q", [], (uint)GgmlType.Q8_0, 0);
        AssertBad(z, z.At["tensor q ndims"], "tensor[0] 'q' dimension count", "no dimensions");
    }

    [Theory]
    [InlineData(48u)]
    [InlineData(0u)]
    [InlineData(33u)]
    public void Alignment_that_is_not_a_power_of_two(uint alignment)
    {
        var g = new RawGguf().Header(3, 0, 2).Kv("a", GgufValue.UInt8(1)).Kv(GgufKeys.Alignment, GgufValue.UInt32(alignment));
        AssertBad(g, g.At[$"kv {GgufKeys.Alignment} value"], GgufKeys.Alignment, $"alignment {alignment} is not a power of two");
    }

    [Fact]
    public void Alignment_of_the_wrong_type()
    {
        foreach (var value in new[] { GgufValue.UInt64(32), GgufValue.Int32(32), GgufValue.String("32"), GgufValue.Array(new uint[] { 32 }) })
        {
            var g = new RawGguf().Header(3, 0, 1).Kv(GgufKeys.Alignment, value);
            AssertBad(g, g.At[$"kv {GgufKeys.Alignment} value"], GgufKeys.Alignment, $"must be UINT32, found {value.DescribeType()}");
        }
    }

    [Fact]
    public void Arrays_nested_too_deeply()
    {
        var g = new RawGguf().Header(3, 0, 1).Str("k").U32((uint)GgufValueType.Array);
        for (int depth = 0; depth < GgufConstants.MaxArrayNesting; depth++) g.U32((uint)GgufValueType.Array).U64(1);
        g.Mark("deepest").U32((uint)GgufValueType.UInt8).U64(0);
        AssertBad(g, g.At["deepest"], "metadata[0] 'k' element [0]", $"nested deeper than {GgufConstants.MaxArrayNesting}");
    }

    [Fact]
    public void A_missing_file_is_a_format_error_naming_the_file()
    {
        string path = _dir.File("absent.gguf");
        var e = Assert.Throws<GgufFormatException>(() => GgufReader.Read(path));
        Assert.StartsWith(path + ": file at offset 0: ", e.Message);
    }

    /// <summary>Cutting a file at every byte: each prefix gives the error the format predicts for it (field, offset,
    /// kind), computed by <see cref="FieldMap"/> from the complete file.</summary>
    [Fact]
    public void Truncation_at_every_byte_of_a_generated_file_with_every_value_type_and_tensors()
    {
        string path = SampleFiles.WriteAllTypes(_dir.File("all.gguf"), alignment: 64);
        byte[] bytes = File.ReadAllBytes(path);
        var file = GgufReader.Read(path);
        int failing = AssertEveryPrefix(bytes, new FieldMap(file), bytes.Length);
        // Every prefix fails except those that only cut the padding after the last tensor.
        var last = file.Tensors[^1];
        Assert.Equal(file.AbsoluteOffset(last) + (long)last.ByteSize, failing);
        Assert.True(failing < bytes.Length);
    }

    [Fact]
    public void Truncation_at_every_byte_of_the_tiny_model_header()
    {
        var full = GgufReader.Read(TestPaths.TinyModel);
        var map = new FieldMap(full);
        int length = (int)full.DataOffset + 1024; // the whole header, its padding and the start of the data
        byte[] head = SampleFiles.ReadRange(TestPaths.TinyModel, 0, length);
        Assert.Equal(length, AssertEveryPrefix(head, map, length));
    }

    [Fact]
    public void A_model_cut_short_in_its_tensor_data_is_called_truncated_with_both_sizes()
    {
        // The common way a real model file is bad: a download or copy that stopped. The message about one tensor
        // outside the data section says so, with the size the tensors need.
        var full = GgufReader.Read(TestPaths.TinyModel);
        long needed = full.Tensors.Max(t => full.AbsoluteOffset(t) + (long)t.ByteSize);
        int cut = (int)(full.DataOffset + (needed - full.DataOffset) / 2);
        string path = _dir.File("partial.gguf");
        File.WriteAllBytes(path, SampleFiles.ReadRange(TestPaths.TinyModel, 0, cut));
        var e = Assert.Throws<GgufFormatException>(() => GgufReader.Read(path));
        Assert.StartsWith(path + ": tensor[", e.Message);
        Assert.Contains("lies outside the data section", e.Message);
        Assert.EndsWith($"; the file is {cut} bytes but its tensors end at byte {needed}: is it truncated (an incomplete download or copy)?", e.Message);

        // The whole file reads.
        Assert.Null(Record.Exception(() => GgufReader.Read(TestPaths.TinyModel)));

        // Cut inside the tensor table: a count any model could have says the file may be cut short.
        string header = _dir.File("header-cut.gguf");
        File.WriteAllBytes(header, SampleFiles.ReadRange(TestPaths.TinyModel, 0, 1000));
        Assert.EndsWith("(the file is 1000 bytes: is it truncated, an incomplete download or copy?)", Assert.Throws<GgufFormatException>(() => GgufReader.Read(header)).Message);
    }

    [Fact]
    public void A_corrupted_dimension_is_named_as_one_not_as_an_offset_of_a_truncated_file()
    {
        // One flipped bit in blk.0.attn_k.weight's ne[1] of the full-length model: the message blamed the offset field
        // and asked whether the file was truncated.
        var tiny = GgufReader.Read(TestPaths.TinyModel);
        var k = tiny.Tensors.Single(t => t.Name == "blk.0.attn_k.weight");
        long ne1 = k.InfoOffset + 8 + k.Name.Length + 4 + 8; // name length, name, dimension count, ne[0]
        byte[] bytes = File.ReadAllBytes(TestPaths.TinyModel);
        bytes[ne1 + 4] ^= 0x40;
        string path = _dir.File("flipped.gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<GgufFormatException>(() => GgufReader.Read(path));
        Assert.StartsWith($"{path}: tensor[{tiny.Tensors.ToList().IndexOf(k)}] 'blk.0.attn_k.weight' dimensions at offset {k.InfoOffset + 8 + k.Name.Length}: shape [256, ", e.Message);
        Assert.EndsWith(": a corrupted dimension", e.Message);
        Assert.DoesNotContain("truncated", e.Message);
    }

    private static int AssertEveryPrefix(byte[] bytes, FieldMap map, int prefixes)
    {
        int failures = 0;
        for (int n = 0; n < prefixes; n++)
        {
            var expected = map.ExpectedTruncationError(n);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var thrown = Record.Exception(() => GgufReader.Read(new MemoryStream(bytes, 0, n, writable: false)));
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < AllocationBound, $"prefix {n}: allocated {allocated} bytes");
            if (expected is null)
            {
                Assert.Null(thrown);
                continue;
            }
            var e = Assert.IsType<GgufFormatException>(thrown);
            if (e.Offset != expected.Value.Offset || !e.Field.Contains(expected.Value.Field) || !e.Problem.Contains(expected.Value.Problem))
                Assert.Fail($"prefix of {n} bytes: expected '{expected.Value.Field}' at {expected.Value.Offset} ({expected.Value.Problem}), got: {e.Message}");
            failures++;
        }
        return failures;
    }
}
