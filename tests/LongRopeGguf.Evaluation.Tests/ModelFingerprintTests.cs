using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

public class ModelFingerprintTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    public void Other_weights_under_the_same_header_and_size_are_another_model_and_a_copy_is_the_same(double where)
    {
        // Two quantisations or fine-tunes of one checkpoint share header and length: a search resumed the other one's
        // log, cached fitness values included. The samples of the weights (start, middle, end) tell them apart.
        using var dir = new TempDir();
        string a = dir.File("a.gguf"), b = dir.File("b.gguf"), copy = dir.File("copy.gguf");
        File.Copy(TestPaths.TinyModel, a);
        File.Copy(TestPaths.TinyModel, b);
        File.Copy(TestPaths.TinyModel, copy);
        var file = GgufReader.Read(b);
        long data = file.FileLength - file.DataOffset;
        long offset = file.DataOffset + Math.Min(data - 1, (long)(where * (data - 1)));
        using (var s = new FileStream(b, FileMode.Open, FileAccess.ReadWrite))
        {
            s.Position = offset;
            int old = s.ReadByte();
            s.Position = offset;
            s.WriteByte((byte)(old ^ 0x55));
        }
        Assert.Equal(GgufReader.Read(a).HeaderLength, GgufReader.Read(b).HeaderLength);
        Assert.NotEqual(ModelFingerprint.Of(a), ModelFingerprint.Of(b));
        Assert.Equal(ModelFingerprint.Of(a), ModelFingerprint.Of(copy));
    }
}
