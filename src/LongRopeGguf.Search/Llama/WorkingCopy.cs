using LongRopeGguf.LongRope;

namespace LongRopeGguf.Search.Llama;

/// <summary>
/// The one patched copy of the model that every candidate is measured on: written once with the first factor set
/// (a full patch), then each candidate's factors and attention factor are written into it in place
/// (<see cref="LongRopePatcher.UpdateInPlace"/>: a few hundred bytes, milliseconds whatever the model size) before the
/// model is loaded again (mmap makes that cheap). The model is never copied per candidate. Deleted on dispose.
/// </summary>
public sealed class WorkingCopy : IDisposable
{
    private readonly IDisposable _tracked;

    private WorkingCopy(string path, IDisposable tracked)
    {
        Path = path;
        _tracked = tracked;
    }

    public string Path { get; }

    /// <summary>Patches <paramref name="modelPath"/> with <paramref name="initial"/> into <paramref name="path"/>.</summary>
    public static WorkingCopy Create(string modelPath, string path, FactorSet initial, CancellationToken ct = default)
    {
        if (File.Exists(path)) File.Delete(path); // a leftover of an interrupted run: rebuilt from the model
        var tracked = Gguf.ScratchFiles.Track(path);
        try
        {
            LongRopePatcher.Patch(modelPath, initial, path, inPlace: false, new PatchOptions { Rewrite = new Gguf.RewriteOptions { CancellationToken = ct } });
        }
        catch
        {
            tracked.Dispose();
            throw;
        }
        return new WorkingCopy(path, tracked);
    }

    /// <summary>Writes a candidate's set into the copy.</summary>
    public void Apply(FactorSet set) => LongRopePatcher.UpdateInPlace(Path, set);

    public void Dispose()
    {
        _tracked.Dispose(); // first: once deleted, the name may be another search's file, which a forced exit must not delete
        try { File.Delete(Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
