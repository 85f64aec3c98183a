using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

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
}
