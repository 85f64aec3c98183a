namespace LongRopeGguf.Gguf.Tests.Support;

internal static class Layout
{
    /// <summary>The layout llama.cpp requires and the writer must produce: the data section at the first multiple of the
    /// alignment after the header, tensors in descriptor order each at the next multiple of the alignment after the
    /// previous one, zero padding (where <paramref name="zeroPadding"/>), and the file ending at the aligned end of the
    /// last tensor.</summary>
    public static void AssertCanonical(GgufFile file, bool zeroPadding = true)
    {
        Assert.Equal(GgufReader.AlignUp(file.HeaderLength, file.Alignment), file.DataOffset);
        ulong expected = 0;
        foreach (var t in file.Tensors)
        {
            Assert.True(t.Offset == expected, $"tensor '{t.Name}' at {t.Offset}, canonical offset {expected}");
            Assert.Equal(0UL, t.Offset % file.Alignment);
            expected = (ulong)GgufReader.AlignUp((long)(t.Offset + t.ByteSize), file.Alignment);
        }
        Assert.Equal(file.DataOffset + (long)expected, file.FileLength);
        if (!zeroPadding) return;
        byte[] all = File.ReadAllBytes(file.Path!);
        Assert.All(all[(int)file.HeaderLength..(int)file.DataOffset], b => Assert.Equal(0, b));
        long end = file.DataOffset;
        foreach (var t in file.Tensors)
        {
            long start = file.AbsoluteOffset(t);
            Assert.All(all[(int)end..(int)start], b => Assert.Equal(0, b));
            end = start + (long)t.ByteSize;
        }
        Assert.All(all[(int)end..], b => Assert.Equal(0, b));
    }
}
