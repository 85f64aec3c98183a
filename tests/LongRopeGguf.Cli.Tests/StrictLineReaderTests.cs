using LongRopeGguf.Runtime;

namespace LongRopeGguf.Cli.Tests;

/// <summary>A chat's piped input, read as strictly as a prompt file: a line that is not text is refused by number and
/// offset (it reached the model as replacement characters), and the lines after it are read as usual.</summary>
public class StrictLineReaderTests
{
    private static StrictLineReader Over(byte[] bytes, long max = 1 << 20) => new(new MemoryStream(bytes), max);

    [Fact]
    public void Lines_come_without_their_line_ends_and_a_last_line_without_one_is_read()
    {
        var r = Over("one\r\ntwo\n\nthrée"u8.ToArray());
        Assert.Equal("one", r.ReadLine());
        Assert.Equal("two", r.ReadLine());
        Assert.Equal("", r.ReadLine());
        Assert.Equal("thrée", r.ReadLine());
        Assert.Null(r.ReadLine());
        Assert.Null(Over([]).ReadLine());

        // A byte-order mark before the first line is not part of it (a /command behind one was sent as a message).
        var marked = Over([0xEF, 0xBB, 0xBF, .. "/stats\nx\n"u8.ToArray()]);
        Assert.Equal("/stats", marked.ReadLine());
        Assert.Equal("x", marked.ReadLine());
    }

    [Fact]
    public void A_line_that_is_not_text_is_refused_and_the_next_one_read()
    {
        var r = Over([.. "ok\nabc"u8.ToArray(), 0x80, 0xFF, .. "def\nhi"u8.ToArray(), 0x00, .. "there\nlast\n"u8.ToArray()]);
        Assert.Equal("ok", r.ReadLine());
        Assert.Equal("standard input, line 2: not UTF-8 text (invalid byte 0x80 at offset 3)", Assert.Throws<RuntimeInputException>(r.ReadLine).Message);
        Assert.Equal("standard input, line 3: a NUL byte at offset 2, not text", Assert.Throws<RuntimeInputException>(r.ReadLine).Message);
        Assert.Equal("last", r.ReadLine());
        Assert.Null(r.ReadLine());
    }

    [Fact]
    public void A_line_longer_than_the_bound_is_refused_without_keeping_it_and_the_reader_goes_on()
    {
        // Longer than the 64 KiB read buffer too: the line is dropped across reads, not held.
        var r = Over([.. new byte[200_000].Select(_ => (byte)'x'), (byte)'\n', .. "next\n"u8.ToArray()], max: 1000);
        Assert.Equal("standard input, line 1: longer than 1,000 bytes", Assert.Throws<RuntimeInputException>(r.ReadLine).Message);
        Assert.Equal("next", r.ReadLine());
        Assert.Null(r.ReadLine());
    }

    [Fact]
    public void A_too_long_last_line_without_a_line_end_is_refused_not_dropped()
    {
        var r = new StrictLineReader(new MemoryStream(Enumerable.Repeat((byte)'x', 2000).ToArray()), 1000);
        Assert.Equal("standard input, line 1: longer than 1,000 bytes", Assert.Throws<LongRopeGguf.Runtime.RuntimeInputException>(r.ReadLine).Message);
        Assert.Null(r.ReadLine());
    }

    [Fact]
    public void A_line_of_exactly_the_limit_is_read()
    {
        var r = new StrictLineReader(new MemoryStream("abcd\n"u8.ToArray()), 4);
        Assert.Equal("abcd", r.ReadLine());
    }
}
