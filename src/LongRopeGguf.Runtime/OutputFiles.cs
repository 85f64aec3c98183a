using LongRopeGguf.Gguf;

namespace LongRopeGguf.Runtime;

/// <summary>
/// Checks for the side outputs of the run commands (llama.cpp's log, generate's logits, chat's transcripts): they are
/// written by plain truncate-and-write, so a mistyped name must not take the model, or any other model, with it.
/// </summary>
public static class OutputFiles
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<string, (string Role, string Description)> s_inUse = new(StringComparer.Ordinal);

    /// <summary>Records a file this run reads or writes (the prompt file, llama.cpp's log, the logits file), so that
    /// another output of the run is not pointed at it: <paramref name="role"/> names it in the refusal ("--prompt-file").
    /// A role given again replaces its earlier file; <paramref name="description"/>, when given, is what the refusal
    /// calls it (llama.cpp's log at its default place was not given as --log-file).</summary>
    public static void MarkInUse(string path, string role, string? description = null)
    {
        lock (s_lock)
        {
            foreach (var key in s_inUse.Where(kv => kv.Value.Role == role).Select(kv => kv.Key).ToList()) s_inUse.Remove(key);
            s_inUse[Path.GetFullPath(path)] = (role, description ?? role);
        }
    }

    /// <summary>Throws a <see cref="RuntimeInputException"/> when <paramref name="path"/> is a folder, an existing
    /// GGUF file, or a file this run already uses (<see cref="MarkInUse"/>) under another role. <paramref name="option"/>
    /// names where the path came from ("--log-file", "/save"). A file that a finished write replaces
    /// (<paramref name="replaced"/>: all but the log, which is appended to where it is, /dev/null included) is also
    /// refused where that write would be (a device, a pipe).</summary>
    public static void RefuseFolderOrModel(string path, string option, bool replaced = true)
    {
        string full = Path.GetFullPath(path);
        lock (s_lock)
        {
            // Only files: /dev/stderr and /dev/stdout can be the same terminal, and writing both there is fine.
            if (FileKinds.Of(full) is FileKind.Regular or FileKind.Missing)
                foreach (var (used, (role, description)) in s_inUse)
                    if (role != option && AtomicFile.SameFile(full, used))
                        throw new RuntimeInputException($"{option} {full}: is also this run's {description}; refusing to overwrite it (give another file name)");
        }
        // Before the work, what the write at its end would refuse (a folder, /dev/full, a FIFO).
        var kind = FileKinds.Of(full);
        string? why = replaced ? AtomicFile.WhyNotATarget(full) : kind == FileKind.Directory ? "is a folder, not a file" : null;
        if (why is not null) throw new RuntimeInputException($"{option} {full}: {why}");
        if (kind == FileKind.Regular && StartsLikeAModel(full))
            throw new RuntimeInputException($"{option} {full}: is a GGUF model file; refusing to overwrite it (give another file name)");
    }

    /// <summary>Whether the file starts with GGUF's magic; a file this process cannot read (write-only) is no model it
    /// could have been given, and the write itself says whether it may be replaced.</summary>
    private static bool StartsLikeAModel(string path)
    {
        try { return GgufReader.HasMagic(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
