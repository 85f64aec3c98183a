namespace LongRopeGguf.Gguf.Tests;

/// <summary>Strings from a file never reach the terminal with control characters in them.</summary>
public class DisplayTextTests
{
    [Fact]
    public void Control_characters_are_escaped_and_other_text_is_left_alone()
    {
        Assert.Equal("plain ünï 日本 🦙", DisplayText.Escape("plain ünï 日本 🦙"));
        Assert.Equal("a\\u001b[2J\\u001b]0;title\\u0007\\n\\r\\t\\u007f\\u009bz", DisplayText.Escape("a\u001b[2J\u001b]0;title\u0007\n\r\t\u007f\u009bz"));
        // Line separators and bidirectional controls: printed raw by inspect (a key split in two, text reordered).
        Assert.Equal("a\\u2028b\\u2029c\\u202ed\\u2066e\\u2069f\u2030", DisplayText.Escape("a\u2028b\u2029c\u202ed\u2066e\u2069f\u2030"));
    }

    [Fact]
    public void A_string_value_displays_quoted_and_escaped()
    {
        string shown = GgufValue.String("name\u001b[2J \"q\" \\ end\n").ToDisplayString();
        Assert.Equal("\"name\\u001b[2J \\\"q\\\" \\\\ end\\n\"", shown);
        Assert.DoesNotContain(shown, c => c < 0x20);
    }
}
