using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>What statx says of a file: which file it is, how many names it has, who owns it; and the owner a file
/// rewritten in place keeps.</summary>
public class FileStatusTests
{
    [Fact]
    public void Two_names_of_one_file_are_one_file_and_a_copy_is_another()
    {
        using var dir = new TempDir();
        string a = dir.File("a.gguf"), b = dir.File("b.gguf"), copy = dir.File("copy.gguf");
        File.WriteAllText(a, "GGUF");
        SpecialFiles.HardLink(a, b);
        File.Copy(a, copy);

        var status = Assert.IsType<FileStatus>(FileStatus.Of(a));
        Assert.Equal(2u, status.Links);
        Assert.Equal(1u, FileStatus.Of(copy)!.Value.Links);
        Assert.True(FileStatus.SameInode(a, b));
        Assert.False(FileStatus.SameInode(a, copy));
        Assert.False(AtomicFile.SameFile(a, b)); // by path they are two files
        Assert.Null(FileStatus.Of(dir.File("missing.gguf")));
        Assert.False(FileStatus.SameInode(a, dir.File("missing.gguf")));
    }

    [Fact]
    public void The_owner_and_group_read_are_the_files()
    {
        using var dir = new TempDir();
        string a = dir.File("a.txt");
        File.WriteAllText(a, "x");
        // Who made it: the test's own user and group (/proc/self/status: "Uid: real effective ...").
        string[] status = File.ReadAllLines("/proc/self/status");
        uint Field(string name) => uint.Parse(status.First(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]);
        var s = FileStatus.Of(a)!.Value;
        Assert.Equal(Field("Uid"), s.Owner);
        Assert.Equal(Field("Gid"), s.Group);
        // The open file says the same as its path.
        using var open = new FileStream(a, FileMode.Open, FileAccess.Read);
        Assert.Equal(s, FileStatus.Of(open.SafeFileHandle));
    }

    [Fact]
    public void A_model_rewritten_in_place_and_a_results_file_rewritten_keep_their_owner_group_and_permissions()
    {
        // `sudo longrope patch --in-place` (or edit) gave the user's model to root: the new file was root's own. Only
        // root gives a file away; as another user the files stay theirs, and keep their mode either way.
        bool root = Environment.IsPrivilegedProcess;
        using var dir = new TempDir();
        File.WriteAllText(dir.File("mine"), "");
        var me = FileStatus.Of(dir.File("mine"))!.Value;
        var (owner, group) = root ? (1234u, 2345u) : (me.Owner, me.Group);
        string model = dir.File("model.gguf"), results = dir.File("results.md");
        File.Copy(TestPaths.TinyModel, model);
        File.WriteAllText(results, "old");
        foreach (string f in new[] { model, results })
        {
            using (var s = new FileStream(f, FileMode.Open, FileAccess.ReadWrite))
                Assert.Equal(root, new FileStatus(0, 0, 0, 1234, 2345).TryGiveOwnership(s.SafeFileHandle));
            File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        }

        var source = GgufReader.Read(model);
        GgufRewriter.Rewrite(source, new GgufEdit().SetValue("general.name", GgufValue.String("x")), model, new RewriteOptions { AllowOverwriteSource = true });
        AtomicFile.WriteAllText(results, "new");

        foreach (string f in new[] { model, results })
        {
            var s = FileStatus.Of(f)!.Value;
            Assert.Equal((owner, group), (s.Owner, s.Group));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(f));
        }
        Assert.Equal("x", GgufReader.Read(model).GetString("general.name"));
        Assert.Equal("new", File.ReadAllText(results));
        // A new file is the writer's own: nothing to keep.
        AtomicFile.WriteAllText(dir.File("fresh.md"), "new");
        Assert.Equal((me.Owner, me.Group), (FileStatus.Of(dir.File("fresh.md"))!.Value.Owner, FileStatus.Of(dir.File("fresh.md"))!.Value.Group));
    }
}
