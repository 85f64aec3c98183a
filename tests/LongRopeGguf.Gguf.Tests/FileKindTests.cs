using System.Diagnostics;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

public class FileKindTests
{
    [Fact]
    public void Tells_files_folders_fifos_devices_and_missing_paths_apart_following_links()
    {
        using var dir = new TempDir();
        string file = dir.File("model.gguf"), fifo = dir.File("fifo"), link = dir.File("link.gguf");
        File.WriteAllText(file, "GGUF");
        File.CreateSymbolicLink(link, file);
        SpecialFiles.Fifo(fifo);

        Assert.Equal(FileKind.Regular, FileKinds.Of(file));
        Assert.Equal(FileKind.Regular, FileKinds.Of(link));
        Assert.Equal(FileKind.Directory, FileKinds.Of(dir.Path));
        Assert.Equal(FileKind.Special, FileKinds.Of(fifo));
        Assert.Equal(FileKind.Special, FileKinds.Of("/dev/null"));
        Assert.Equal(FileKind.Missing, FileKinds.Of(dir.File("nothing")));

        // The reader says so instead of blocking in open(2) on the FIFO, and HasMagic reads nothing from it.
        var e = Assert.Throws<GgufFormatException>(() => GgufReader.Read(fifo));
        Assert.Contains("not a regular file (a pipe, device or socket)", e.Message);
        Assert.False(GgufReader.HasMagic(fifo));
    }
}
