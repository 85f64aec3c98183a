using System.Buffers.Binary;
using CsCheck;
using LongRopeGguf.Gguf.Tests.Support;
using LongRopeGguf.Tests;
using Xunit.Abstractions;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>
/// Random mutations of real headers (the tiny model's, and a generated file with every value type): reading either
/// succeeds or throws <see cref="GgufFormatException"/>, never anything else, never hangs, and allocates memory in
/// proportion to the bytes it read; a file that reads successfully can be rewritten, and the rewrite reads back equal.
///
/// Each test runs for LONGROPE_FUZZ_SECONDS / 2 seconds (default 10, so 5 s each in CI). To fuzz longer, e.g. 10 minutes:
///   LONGROPE_FUZZ_SECONDS=600 dotnet test tests/LongRopeGguf.Gguf.Tests --filter FullyQualifiedName~FuzzTests
/// A failure reports CsCheck's seed and the shrunk mutation list; replay it with CsCheck_Seed=&lt;seed&gt; in the
/// environment.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private static int SecondsPerTest =>
        Math.Max(1, (int.TryParse(Environment.GetEnvironmentVariable("LONGROPE_FUZZ_SECONDS"), out int s) && s > 0 ? s : 10) / 2);

    /// <summary>A read taking longer than this is a hang (a 12 KB header parses in well under a millisecond).</summary>
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);

    public enum MutationKind { FlipByte, InsertBytes, RemoveBytes, OverwriteUInt64Field, OverwriteUInt32Field, Truncate }

    /// <param name="Where">Position as a fraction of the current length (or of the field list).</param>
    public sealed record Mutation(MutationKind Kind, double Where, int Size, ulong Value)
    {
        public override string ToString() => $"{Kind}@{Where:F4} size {Size} value 0x{Value:X}";
    }

    private static readonly ulong[] Extremes =
    [
        0, 1, 2, 3, 4, 12, 13, 31, 32, 64, 255, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1UL << 32, 1UL << 40,
        1UL << 60, long.MaxValue, 1UL << 63, ulong.MaxValue - 31, ulong.MaxValue,
    ];

    private static readonly Gen<Mutation[]> Mutations =
        Gen.Select(Gen.Enum<MutationKind>(), Gen.Double[0, 1], Gen.Int[1, 16],
                Gen.Frequency((3, Gen.OneOf(Extremes)), (2, Gen.ULong[0, 2000]), (1, Gen.ULong)),
                (kind, where, size, value) => new Mutation(kind, where, size, value))
            .Array[1, 4];

    [Fact]
    public void Mutations_of_a_generated_file_with_every_value_type()
    {
        using var dir = new TempDir();
        string path = SampleFiles.WriteAllTypes(dir.File("all.gguf"), alignment: 64);
        Fuzz(dir, File.ReadAllBytes(path), tailLength: 0, new FieldMap(GgufReader.Read(path)));
    }

    [Fact]
    public void Mutations_of_the_tiny_model_header()
    {
        // The header plus the start of the data is mutated; the rest of the 10 MB file is tensor data, which the reader
        // never looks at: it stands as zeros of the same length (a sparse file when written out).
        using var dir = new TempDir();
        var model = GgufReader.Read(TestPaths.TinyModel);
        int headLength = (int)model.DataOffset + 1024;
        byte[] head = SampleFiles.ReadRange(TestPaths.TinyModel, 0, headLength);
        Fuzz(dir, head, model.FileLength - headLength, new FieldMap(model));
    }

    private void Fuzz(TempDir dir, byte[] original, long tailLength, FieldMap map)
    {
        long[] u64Fields = map.Steps.Where(s => s.Size == 8).Select(s => s.Offset).Distinct().Order().ToArray();
        long[] u32Fields = map.Steps.Where(s => s.Size == 4).Select(s => s.Offset).Distinct().Order().ToArray();
        // The unmutated file goes through the whole success path (read, write out, rewrite, re-read) at least once.
        Assert.True(CheckCase(dir, original, tailLength));
        int cases = 0, readable = 0;
        Mutations.Sample(mutations =>
        {
            byte[] bytes = Apply(original, mutations, u64Fields, u32Fields);
            if (CheckCase(dir, bytes, tailLength)) Interlocked.Increment(ref readable);
            Interlocked.Increment(ref cases);
        }, time: SecondsPerTest, threads: 1, print: m => string.Join("; ", m.Select(x => x.ToString())));
        output.WriteLine($"{cases} mutated files in {SecondsPerTest} s, {readable} readable (rewritten and re-read equal), {cases - readable} refused with a GgufFormatException");
        Assert.True(cases > 20, $"only {cases} cases ran");
        Assert.True(readable < cases, $"all {cases} mutated files were readable: the mutations do not reach the header");
    }

    /// <summary>Reads one mutated file; returns whether it was readable (after checking its rewrite).</summary>
    private static bool CheckCase(TempDir dir, byte[] head, long tailLength)
    {
        var stream = new HeadAndZeros(head, tailLength);
        GgufFile? file = null;
        Exception? error = null;
        long allocated = 0;
        var read = Task.Run(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { file = GgufReader.Read(stream); }
            catch (Exception e) { error = e; }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        });
        if (!read.Wait(CaseTimeout)) throw new TimeoutException($"reading did not finish within {CaseTimeout}");

        // Memory follows the bytes actually read: a count or length can only make the reader go further through the
        // file, never allocate ahead of it. The factor covers per-item objects (an entry is at least 13 bytes on disk
        // and a few dozen in memory, plus list growth).
        long bound = 24 * stream.FurthestRead + (1 << 20);
        if (allocated > bound) throw new Exception($"reading allocated {allocated} bytes after reading {stream.FurthestRead} (bound {bound})");

        if (error is not null)
        {
            if (error is not GgufFormatException fe) throw new Exception($"unexpected {error.GetType().Name}: {error.Message}", error);
            if (fe.Message.Contains('\n') || fe.Message.Contains('\r') || !fe.Message.Contains($" at offset {fe.Offset}: "))
                throw new Exception($"malformed error message: {fe.Message}");
            if (fe.Offset < 0 || fe.Offset > stream.Length) throw new Exception($"error offset {fe.Offset} outside the file: {fe.Message}");
            return false;
        }

        // Readable: write it out (the zero tail as a hole), rewrite it, and read the rewrite back.
        string path = dir.File($"case-{Guid.NewGuid():N}.gguf");
        string copy = path + ".copy";
        try
        {
            using (var fs = new FileStream(path, FileMode.CreateNew))
            {
                fs.Write(head);
                fs.SetLength(head.Length + tailLength);
            }
            var fromDisk = GgufReader.Read(path);
            var rewritten = GgufReader.Read(GgufRewriter.Rewrite(fromDisk, new GgufEdit(), copy).Path!);
            AssertSameHeader(file!, fromDisk);
            AssertSameHeader(file!, rewritten);
        }
        finally
        {
            File.Delete(path);
            File.Delete(copy);
        }
        return true;
    }

    private static void AssertSameHeader(GgufFile a, GgufFile b)
    {
        Assert.Equal(a.Version, b.Version);
        Assert.Equal(a.Alignment, b.Alignment);
        Assert.Equal(a.Metadata.Count, b.Metadata.Count);
        for (int i = 0; i < a.Metadata.Count; i++)
        {
            Assert.Equal(a.Metadata[i].Key, b.Metadata[i].Key);
            Assert.True(a.Metadata[i].Value.Equals(b.Metadata[i].Value), $"value of '{a.Metadata[i].Key}' changed");
        }
        Assert.Equal(a.Tensors.Select(t => (t.Name, t.Type, t.ShapeText)), b.Tensors.Select(t => (t.Name, t.Type, t.ShapeText)));
    }

    private static byte[] Apply(byte[] original, Mutation[] mutations, long[] u64Fields, long[] u32Fields)
    {
        var bytes = new List<byte>(original);
        foreach (var m in mutations)
        {
            int at = Math.Min(bytes.Count, (int)(m.Where * bytes.Count));
            switch (m.Kind)
            {
                case MutationKind.FlipByte when at < bytes.Count:
                    bytes[at] ^= (byte)(m.Value % 255 + 1);
                    break;
                case MutationKind.InsertBytes:
                    bytes.InsertRange(at, Enumerable.Range(0, m.Size).Select(i => (byte)(m.Value >> (8 * (i % 8)))));
                    break;
                case MutationKind.RemoveBytes:
                    bytes.RemoveRange(at, Math.Min(m.Size, bytes.Count - at));
                    break;
                case MutationKind.OverwriteUInt64Field:
                    Overwrite(bytes, u64Fields, m.Where, 8, m.Value);
                    break;
                case MutationKind.OverwriteUInt32Field:
                    Overwrite(bytes, u32Fields, m.Where, 4, m.Value);
                    break;
                case MutationKind.Truncate:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
            }
        }
        return bytes.ToArray();
    }

    /// <summary>Writes a value over a field of the original layout (lengths, counts, dimensions, offsets, type tags).</summary>
    private static void Overwrite(List<byte> bytes, long[] fields, double where, int size, ulong value)
    {
        long at = fields[Math.Min(fields.Length - 1, (int)(where * fields.Length))];
        if (at + size > bytes.Count) return;
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        for (int i = 0; i < size; i++) bytes[(int)at + i] = b[i];
    }

    /// <summary>A read-only stream of some bytes followed by zeros, recording how far it was read.</summary>
    private sealed class HeadAndZeros(byte[] head, long zeros) : Stream
    {
        private long _position;

        public long FurthestRead { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => head.Length + zeros;

        public override long Position
        {
            get => _position;
            set => _position = value;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Clamp(Length - _position, 0, buffer.Length);
            for (int i = 0; i < n; i++)
            {
                long p = _position + i;
                buffer[i] = p < head.Length ? head[p] : (byte)0;
            }
            _position += n;
            FurthestRead = Math.Max(FurthestRead, _position);
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => Length + offset,
        };

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
