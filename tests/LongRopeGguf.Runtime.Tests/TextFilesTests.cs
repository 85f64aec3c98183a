using System.Text;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Runtime.Tests;

/// <summary>Text files from the command line: size checked before reading, strict UTF-8, one line naming the offset.</summary>
public class TextFilesTests
{
    private static string Problem(string path, long max = 1 << 20) =>
        Assert.Throws<RuntimeInputException>(() => TextFiles.Read(path, "--text", max)).Message;

    [Fact]
    public void Utf8_text_is_read_whole_without_its_byte_order_mark()
    {
        using var dir = new TempDir();
        string path = dir.File("a.txt");
        File.WriteAllBytes(path, [.. Encoding.UTF8.Preamble, .. Encoding.UTF8.GetBytes("Größe: 5 €\n")]);
        Assert.Equal("Größe: 5 €\n", TextFiles.Read(path, "--text", 100));
    }

    [Fact]
    public void Each_problem_is_one_line_naming_option_file_and_offset()
    {
        using var dir = new TempDir();
        string big = dir.File("big.txt"), nul = dir.File("nul.txt"), latin1 = dir.File("latin1.txt");
        File.WriteAllText(big, new string('x', 101));
        File.WriteAllBytes(nul, [(byte)'a', (byte)'b', 0, (byte)'c']);
        File.WriteAllBytes(latin1, [.. Encoding.ASCII.GetBytes("caf"), 0xE9, (byte)' ', (byte)'!']); // é in Latin-1

        Assert.Equal($"--text {big}: 101 bytes is too big for a text file here (at most 100 bytes); is it a model or another binary file?", Problem(big, 100));
        Assert.Equal($"--text {nul}: a binary file (a NUL byte at offset 2), not UTF-8 text", Problem(nul));
        Assert.Equal($"--text {latin1}: not UTF-8 text (invalid byte 0xE9 at offset 3)", Problem(latin1));
        Assert.Equal($"--text {dir.Path}: is a folder, not a text file", Problem(dir.Path));
        Assert.Equal($"--text {dir.File("none.txt")}: no such file", Problem(dir.File("none.txt")));
    }

    [Fact]
    public void Utf16_and_utf32_with_a_byte_order_mark_are_text_and_their_bad_sequences_are_named()
    {
        using var dir = new TempDir();
        string le = dir.File("le.txt"), be = dir.File("be.txt"), u32 = dir.File("u32.txt"), broken = dir.File("broken.txt");
        File.WriteAllText(le, "pass key 123 €", new UnicodeEncoding(bigEndian: false, byteOrderMark: true)); // what PowerShell 5's > writes
        File.WriteAllText(be, "pass key 123 €", new UnicodeEncoding(bigEndian: true, byteOrderMark: true));
        File.WriteAllText(u32, "pass key 123 €", new UTF32Encoding(bigEndian: false, byteOrderMark: true));
        File.WriteAllBytes(broken, [0xFF, 0xFE, (byte)'a', 0, 0x00, 0xD8, (byte)'b', 0]); // a high surrogate without its pair
        Assert.Equal("pass key 123 €", TextFiles.Read(le, "--text", 100));
        Assert.Equal("pass key 123 €", TextFiles.Read(be, "--text", 100));
        Assert.Equal("pass key 123 €", TextFiles.Read(u32, "--text", 100));
        // The unit that is half a pair, not where the decoder noticed it (byte 6).
        Assert.Equal($"--text {broken}: not UTF-16 text, though it starts with UTF-16's byte order mark (invalid at offset 4)", Problem(broken));
    }

    [Fact]
    public async Task A_pipe_is_read_up_to_the_limit()
    {
        using var dir = new TempDir();
        string fifo = SpecialFiles.Fifo(dir.File("fifo"));
        Task Writer(int bytes) => Task.Run(() =>
        {
            try
            {
                using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                w.Write(Encoding.ASCII.GetBytes(new string('k', bytes)));
            }
            catch (IOException) { } // the reader stopped early: a broken pipe
        });
        var small = Writer(50);
        Assert.Equal(new string('k', 50), TextFiles.Read(fifo, "--prompt-file", 100));
        await small;
        var big = Writer(300_000);
        Assert.Equal($"--prompt-file {fifo}: more than 100,000 bytes is too big for a text file here (at most 100,000 bytes); is it a model or another binary file?",
            Assert.Throws<RuntimeInputException>(() => TextFiles.Read(fifo, "--prompt-file", 100_000)).Message);
        // The writer ends with a broken pipe once the reader has stopped; it is not waited for longer than that.
        await Task.WhenAny(big, Task.Delay(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void The_size_is_refused_before_anything_is_read()
    {
        // A sparse 1 GiB file: refused from its length alone, without allocating or reading it.
        using var dir = new TempDir();
        string path = dir.File("sparse.bin");
        using (var s = File.Create(path)) s.SetLength(1L << 30);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("1,073,741,824 bytes is too big", Problem(path, TextFiles.CorpusLimitBytes));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the refused file was read");
    }
}
