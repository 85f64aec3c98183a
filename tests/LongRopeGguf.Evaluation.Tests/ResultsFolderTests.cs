using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

public class ResultsFolderTests
{
    [Fact]
    public void Create_returns_the_highest_folder_it_made_and_removal_goes_no_higher()
    {
        using var dir = new TempDir();
        string leaf = Path.Combine(dir.Path, "a", "b", "c");
        Assert.Equal(dir.File("a"), ResultsFolder.Create(leaf));
        Assert.True(Directory.Exists(leaf));
        Assert.Null(ResultsFolder.Create(leaf)); // there already: nothing made, nothing to remove
        ResultsFolder.RemoveIfEmpty(leaf, null);
        Assert.True(Directory.Exists(leaf));

        ResultsFolder.RemoveIfEmpty(leaf, dir.File("a"));
        Assert.False(Directory.Exists(dir.File("a")));
        Assert.True(Directory.Exists(dir.Path)); // above what was made: stays although empty
    }

    [Fact]
    public void Removal_stops_at_the_first_folder_that_holds_something()
    {
        using var dir = new TempDir();
        string leaf = Path.Combine(dir.Path, "a", "b", "c");
        string? top = ResultsFolder.Create(leaf);
        File.WriteAllText(Path.Combine(dir.Path, "a", "note.txt"), "written meanwhile");
        ResultsFolder.RemoveIfEmpty(leaf, top);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "a", "b")));
        Assert.True(File.Exists(Path.Combine(dir.Path, "a", "note.txt")));

        Assert.Equal(Path.Combine(dir.Path, "a", "b"), ResultsFolder.Create(leaf));
        File.WriteAllText(Path.Combine(leaf, "result.json"), "{}");
        ResultsFolder.RemoveIfEmpty(leaf, Path.Combine(dir.Path, "a", "b"));
        Assert.True(File.Exists(Path.Combine(leaf, "result.json"))); // a folder with the run's output is never removed
    }
}
