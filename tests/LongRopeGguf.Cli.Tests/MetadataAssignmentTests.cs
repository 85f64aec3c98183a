using LongRopeGguf.Gguf;

namespace LongRopeGguf.Cli.Tests;

public class MetadataAssignmentTests
{
    public static TheoryData<string, GgufValue> Valid() => new()
    {
        { "general.name=string:foo", GgufValue.String("foo") },
        { "general.name=string:", GgufValue.String("") },
        { "general.name=string:a=b:c d", GgufValue.String("a=b:c d") },
        { "k=uint8:255", GgufValue.UInt8(255) },
        { "k=int8:-128", GgufValue.Int8(-128) },
        { "k=uint16:65535", GgufValue.UInt16(65535) },
        { "k=int16:-32768", GgufValue.Int16(-32768) },
        { "llama.context_length=uint32:4096", GgufValue.UInt32(4096) },
        { "k=UINT32:4294967295", GgufValue.UInt32(uint.MaxValue) },
        { "k=int32:-2147483648", GgufValue.Int32(int.MinValue) },
        { "k=uint64:18446744073709551615", GgufValue.UInt64(ulong.MaxValue) },
        { "k=int64:-9223372036854775808", GgufValue.Int64(long.MinValue) },
        { "k=float32:1.1", GgufValue.Float32(1.1f) },
        { "k=float32:-0", GgufValue.Float32(-0f) },
        { "k=float32:-Infinity", GgufValue.Float32(float.NegativeInfinity) },
        // Every usual spelling of infinity and NaN ("inf" was refused while "Infinity" and "NaN" were taken).
        { "k=float32:inf", GgufValue.Float32(float.PositiveInfinity) },
        { "k=float32:-INF", GgufValue.Float32(float.NegativeInfinity) },
        { "k=float64:+inf", GgufValue.Float64(double.PositiveInfinity) },
        { "k=float32:nan", GgufValue.Float32(float.NaN) },
        { "k=float32:0e-50", GgufValue.Float32(0f) },
        { "k=float64:2.5e-300", GgufValue.Float64(2.5e-300) },
        { "k=bool:true", GgufValue.Bool(true) },
        { "k=bool:0", GgufValue.Bool(false) },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Parses_key_type_and_value_exactly(string text, GgufValue expected)
    {
        var a = MetadataAssignment.Parse(text);
        Assert.Equal(text[..text.IndexOf('=')], a.Key);
        Assert.Equal(expected, a.Value);
    }

    [Theory]
    [InlineData("general.name", "expected KEY=TYPE:VALUE")]
    [InlineData("=string:x", "the key is empty")]
    [InlineData("a key=string:x", "contains white space")]
    [InlineData("k=4096", "expected TYPE:VALUE after '='")]
    [InlineData("k=u32:4096", "unknown type 'u32'; expected one of uint8, int8")]
    [InlineData("k=array:1,2", "arrays cannot be set from the command line")]
    [InlineData("k=uint32:abc", "'abc' is not a valid uint32")]
    [InlineData("k=uint32:", "'' is not a valid uint32")]
    [InlineData("k=uint32:1.5", "'1.5' is not a valid uint32")]
    [InlineData("k=uint32:-1", "'-1' is out of range for uint32")]
    [InlineData("k=uint8:256", "'256' is out of range for uint8")]
    [InlineData("k=int64:9223372036854775808", "is out of range for int64")]
    [InlineData("k=uint64:99999999999999999999999999999999999999999", "is not a valid uint64")]
    [InlineData("k=float32:1e39", "'1e39' is out of range for float32")]
    [InlineData("k=float64:1e309", "'1e309' is out of range for float64")]
    // Too small: it rounded to 0 and was written as 0 without a word.
    [InlineData("k=float32:1e-50", "'1e-50' is out of range for float32")]
    [InlineData("k=float64:-2.5e-400", "'-2.5e-400' is out of range for float64")]
    [InlineData("k=float32:one", "'one' is not a valid float32")]
    [InlineData("k=bool:yes", "'yes' is not a valid bool (true, false, 1 or 0)")]
    public void Rejects_malformed_text_with_one_line_naming_option_and_value(string text, string problem)
    {
        var e = Assert.Throws<CliException>(() => MetadataAssignment.Parse(text));
        Assert.Equal(ExitCodes.BadInput, e.ExitCode);
        Assert.StartsWith($"--set '{text}': ", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void What_was_typed_is_shown_escaped_in_the_message()
    {
        // A line separator in the key was printed raw (the one-line error in two lines).
        var e = Assert.Throws<CliException>(() => MetadataAssignment.Parse("a\u2028b=string:x"));
        Assert.Equal("--set 'a\\u2028b=string:x': the key 'a\\u2028b' contains white space", e.Message);
    }

    [Fact]
    public void Bool_1_is_true_as_the_help_says() => Assert.Equal(GgufValue.Bool(true), MetadataAssignment.Parse("k=bool:1").Value);

    [Fact]
    public void A_count_list_takes_its_minimum_and_names_a_blank_list_as_empty()
    {
        // bench --lengths 2 said "2 is below the smallest count, 2 tokens"; " " was "an empty entry (two commas...)".
        Assert.Equal([2], TokenCountList.Parse("2", minimum: 2));
        Assert.Equal("--lengths ' ': no count given (comma-separated token counts, e.g. 1024,2048)",
            Assert.Throws<BadInputException>(() => TokenCountList.Parse(" ", 1)).Message);
    }
}
