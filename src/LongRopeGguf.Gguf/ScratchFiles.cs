namespace LongRopeGguf.Gguf;

/// <summary>
/// Files a run works in that are not its results (the temporary file of an <see cref="AtomicFile"/> write, a search's
/// working copy of the model and its lock file, eval's patched copies): their owner deletes them when the work ends,
/// and these are deleted when the process ends first (at exit, or by <see cref="DeleteAll"/> where a signal ends it, as
/// for a run that does not stop in time after one). A search stopped so left a copy of the model (gigabytes for a real
/// one) in its results folder.
/// </summary>
public static class ScratchFiles
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> s_files = new(StringComparer.Ordinal);

    static ScratchFiles()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteAll();
    }

    /// <summary>Deletes <paramref name="path"/> if the process ends before the returned registration is disposed (the
    /// owner has then deleted the file, or kept it on purpose).</summary>
    public static IDisposable Track(string path)
    {
        string full = Path.GetFullPath(path);
        s_files[full] = 0;
        return new Registration(full);
    }

    /// <summary>Deletes every tracked file: the process is about to end without their owners.</summary>
    public static void DeleteAll()
    {
        foreach (string path in s_files.Keys)
        {
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private sealed class Registration(string path) : IDisposable
    {
        public void Dispose() => s_files.TryRemove(path, out _);
    }
}
