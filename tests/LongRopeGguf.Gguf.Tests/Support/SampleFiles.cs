using System.Security.Cryptography;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests.Support;

/// <summary>Generated GGUF content: metadata with every value type, and small tensors of several ggml types.</summary>
internal static class SampleFiles
{
    /// <summary>One key per scalar type (with extreme values), strings with non-ASCII text, an array of every element
    /// type, empty arrays and nested arrays. No NaN or infinity (JSON, and so the gguf-py cross-check, cannot carry them):
    /// <see cref="SpecialFloats"/> has those.</summary>
    public static List<GgufMetadataEntry> AllValueTypes(uint? alignment = null)
    {
        var list = new List<(string, GgufValue)>
        {
            ("general.architecture", GgufValue.String("testarch")),
            ("general.name", GgufValue.String("all value types")),
            ("test.u8", GgufValue.UInt8(255)),
            ("test.i8", GgufValue.Int8(-128)),
            ("test.u16", GgufValue.UInt16(65535)),
            ("test.i16", GgufValue.Int16(-32768)),
            ("test.u32", GgufValue.UInt32(uint.MaxValue)),
            ("test.i32", GgufValue.Int32(int.MinValue)),
            ("test.f32", GgufValue.Float32(3.14159274f)),
            ("test.f32_neg_zero", GgufValue.Float32(-0.0f)),
            ("test.f32_subnormal", GgufValue.Float32(float.Epsilon)),
            ("test.f32_max", GgufValue.Float32(float.MaxValue)),
            ("test.bool_true", GgufValue.Bool(true)),
            ("test.bool_false", GgufValue.Bool(false)),
            ("test.string", GgufValue.String("plain ASCII")),
            ("test.string_unicode", GgufValue.String("naïve café — 日本語 — ▁tok — 🦙 \"quoted\" \\ back\nnew line")),
            ("test.string_empty", GgufValue.String("")),
            ("test.u64", GgufValue.UInt64(ulong.MaxValue)),
            ("test.i64", GgufValue.Int64(long.MinValue)),
            ("test.f64", GgufValue.Float64(Math.PI)),
            ("test.f64_tiny", GgufValue.Float64(double.Epsilon)),
            ("test.arr_u8", GgufValue.Array(new byte[] { 0, 1, 127, 128, 255 })),
            ("test.arr_i8", GgufValue.Array(new sbyte[] { -128, -1, 0, 1, 127 })),
            ("test.arr_u16", GgufValue.Array(new ushort[] { 0, 1, 65535 })),
            ("test.arr_i16", GgufValue.Array(new short[] { short.MinValue, -1, short.MaxValue })),
            ("test.arr_u32", GgufValue.Array(new uint[] { 0, 1, uint.MaxValue })),
            ("test.arr_i32", GgufValue.Array(new int[] { int.MinValue, -7, int.MaxValue })),
            ("test.arr_f32", GgufValue.Array(new float[] { 1.0f, -2.5f, 1e-30f, 3.4e38f, -0.0f, 0.1f })),
            ("test.arr_bool", GgufValue.Array(new bool[] { true, false, true })),
            ("test.arr_str", GgufValue.Array(new string[] { "a", "", "ünï", "日本", "▁x", "🦙🦙" })),
            ("test.arr_u64", GgufValue.Array(new ulong[] { 0, ulong.MaxValue, 1UL << 60 })),
            ("test.arr_i64", GgufValue.Array(new long[] { long.MinValue, -1, long.MaxValue })),
            ("test.arr_f64", GgufValue.Array(new double[] { Math.E, -1e300, 5e-324 })),
            ("test.arr_empty_u8", GgufValue.Array(System.Array.Empty<byte>())),
            ("test.arr_empty_str", GgufValue.Array(System.Array.Empty<string>())),
            ("test.arr_empty_f32", GgufValue.Array(System.Array.Empty<float>())),
            ("test.arr_nested_i32", GgufValue.Array(new[]
            {
                GgufValue.Array(new int[] { 1, 2, 3 }),
                GgufValue.Array(System.Array.Empty<int>()),
                GgufValue.Array(new int[] { -4 }),
            })),
            ("test.arr_nested_mixed", GgufValue.Array(new[]
            {
                GgufValue.Array(new string[] { "x", "ÿ" }),
                GgufValue.Array(new float[] { 0.5f }),
                GgufValue.Array(new[] { GgufValue.Array(new ulong[] { 9, 10 }), GgufValue.Array(System.Array.Empty<bool>()) }),
            })),
            ("test.arr_nested_empty", GgufValue.Array(System.Array.Empty<GgufValue>())),
            ("test.unicode_key_ключ", GgufValue.UInt32(7)),
        };
        if (alignment is { } a) list.Insert(2, (GgufKeys.Alignment, GgufValue.UInt32(a)));
        return list.Select(kv => new GgufMetadataEntry(kv.Item1, kv.Item2)).ToList();
    }

    /// <summary>Values that must survive bit for bit: NaN payloads, infinities, signed zeros, subnormals.</summary>
    public static List<GgufMetadataEntry> SpecialFloats() =>
    [
        new("special.f32_nan", GgufValue.Float32(BitConverter.Int32BitsToSingle(0x7FC00123))),
        new("special.f32_neg_nan", GgufValue.Float32(BitConverter.Int32BitsToSingle(unchecked((int)0xFFA00001)))),
        new("special.f32_inf", GgufValue.Float32(float.PositiveInfinity)),
        new("special.f64_neg_inf", GgufValue.Float64(double.NegativeInfinity)),
        new("special.f64_nan", GgufValue.Float64(BitConverter.Int64BitsToDouble(0x7FF8000000000ABCL))),
        new("special.arr_f32", GgufValue.Array(new[] { float.NaN, float.NegativeInfinity, -0.0f, 0.0f, float.Epsilon })),
        new("special.arr_f64", GgufValue.Array(new[] { double.NaN, double.PositiveInfinity, -0.0, 0.0, double.Epsilon })),
    ];

    /// <summary>Deterministic pseudo-random bytes standing in for tensor data.</summary>
    public static byte[] Bytes(int seed, int length)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static byte[] F32Bytes(params float[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>(name, type, dims, data) of small tensors whose sizes are not multiples of 32, so padding is exercised:
    /// F32 [3] (12 B), F16 [5, 2] (20 B), Q4_0 [64, 2] (72 B), Q8_0 [32, 3] (102 B), Q4_K [256, 2] (288 B).</summary>
    public static List<(string Name, GgmlType Type, ulong[] Dims, byte[] Data)> TensorSpecs()
    {
        var halves = Enumerable.Range(0, 10).Select(i => BitConverter.HalfToUInt16Bits((Half)(i * 0.37f - 1.5f))).ToArray();
        return
        [
            ("t.f32", GgmlType.F32, [3], F32Bytes(1.5f, -2.25f, 1e-3f)),
            ("t.f16", GgmlType.F16, [5, 2], System.Runtime.InteropServices.MemoryMarshal.AsBytes(halves.AsSpan()).ToArray()),
            ("t.q4_0", GgmlType.Q4_0, [64, 2], Bytes(40, 72)),
            ("t.q8_0", GgmlType.Q8_0, [32, 3], Bytes(80, 102)),
            ("t.q4_k", GgmlType.Q4_K, [256, 2], Bytes(120, 288)),
        ];
    }

    /// <summary>The specs as tensors for the writer: the Q4_K tensor's data is generated by a callback (streamed in
    /// two pieces), the others come from memory.</summary>
    public static List<OutputTensor> Tensors(IEnumerable<(string Name, GgmlType Type, ulong[] Dims, byte[] Data)> specs) =>
        specs.Select(s => new OutputTensor(s.Name, s.Type, s.Dims, s.Type == GgmlType.Q4_K
            ? new TensorData.Generated(s.Data.Length, stream =>
            {
                stream.Write(s.Data, 0, s.Data.Length / 2);
                stream.Write(s.Data, s.Data.Length / 2, s.Data.Length - s.Data.Length / 2);
            })
            : new TensorData.FromMemory(s.Data))).ToList();

    /// <summary>Writes the all-types file with the five sample tensors.</summary>
    public static string WriteAllTypes(string path, uint version = 3, uint? alignment = null)
    {
        GgufRewriter.WriteNew(path, AllValueTypes(alignment), Tensors(TensorSpecs()), version);
        return path;
    }

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>SHA-256 of a byte range of a file, streamed.</summary>
    public static string Sha256(string path, long offset, long length)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        fs.Position = offset;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        while (length > 0)
        {
            int n = fs.Read(buffer, 0, (int)Math.Min(buffer.Length, length));
            if (n == 0) throw new EndOfStreamException($"{path}: range ends past the end of the file");
            sha.AppendData(buffer, 0, n);
            length -= n;
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    public static string TensorSha256(GgufFile file, GgufTensorInfo t) => Sha256(file.Path!, file.AbsoluteOffset(t), (long)t.ByteSize);

    public static byte[] ReadRange(string path, long offset, long length)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var b = new byte[length];
        fs.Position = offset;
        fs.ReadExactly(b);
        return b;
    }

    /// <summary>The raw bytes of a metadata entry (key and value) as they are in its file.</summary>
    public static byte[] EntryBytes(GgufFile file, string key)
    {
        Assert.True(file.TryGetEntry(key, out var e), $"no key {key}");
        return ReadRange(file.Path!, e.Offset, e.Length);
    }
}
