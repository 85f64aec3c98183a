namespace LongRopeGguf.Gguf;

/// <summary>
/// Writes a file under a temporary name beside the target and renames it over the target only when complete, so an
/// exception, Ctrl-C or kill never leaves a half-written file at the target path. The temporary file is deleted on
/// failure (exceptions, cancellation) and when the process exits through Environment.Exit or the end of Main while a
/// write is in flight (it is one of the <see cref="ScratchFiles"/>). Signals are the application's business: a .NET process killed by SIGKILL, or by
/// SIGTERM/SIGINT that nothing handles, runs no cleanup at all (the CLI turns Ctrl-C and SIGTERM into cancellation).
/// A temporary file left by a process that is gone (its pid no longer running) is removed by the next write to that
/// target.
/// </summary>
public sealed partial class AtomicFile : IDisposable
{
    private const string TempMarker = ".longrope-tmp-";
    private bool _committed;

    /// <summary>The temporary file as a scratch file: deleted if the process ends before the write is done.</summary>
    private readonly IDisposable _tracked;

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private AtomicFile(string targetPath, string tempPath, FileStream stream, IDisposable tracked)
    {
        TargetPath = targetPath;
        TempPath = tempPath;
        Stream = stream;
        _tracked = tracked;
    }

    public string TargetPath { get; }
    public string TempPath { get; }
    public FileStream Stream { get; }

    /// <summary>Starts a write of <paramref name="targetPath"/>. With <paramref name="keepAttributes"/>, a target that
    /// exists passes its permissions, owner and group on to the new file before it takes the target's place (a model
    /// rewritten in place keeps them, never wider for a moment; `sudo longrope patch --in-place` gave it to root).</summary>
    public static AtomicFile Create(string targetPath, bool keepAttributes = false)
    {
        string full = System.IO.Path.GetFullPath(targetPath);
        string dir = System.IO.Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{targetPath}: folder {dir} does not exist");
        // Checked now, not when the finished file is renamed over it: by then the whole write would be wasted.
        if (WhyNotATarget(full) is { } why) throw new IOException($"{targetPath}: {why}");
        string stem = TempStem(System.IO.Path.GetFileName(full));
        RemoveStaleTempFiles(dir, stem);
        string temp = System.IO.Path.Combine(dir, $"{stem}{Environment.ProcessId}-{Guid.NewGuid():N}");
        FileStream stream;
        try
        {
            stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 1 << 16);
        }
        // The system's messages name the temporary file, which the user never asked for; name the target and folder.
        catch (UnauthorizedAccessException)
        {
            throw new UnauthorizedAccessException($"{targetPath}: cannot write in folder {dir} (permission denied)");
        }
        catch (IOException e)
        {
            // Not found: a folder that takes no new files (/proc). Otherwise the system's reason (read-only file
            // system, no space left), with the target's name where it named the temporary file.
            string reason = e is FileNotFoundException or DirectoryNotFoundException ? "" : $" ({e.Message.Replace(temp, full).ReplaceLineEndings(" ").Trim()})";
            throw new IOException($"{targetPath}: cannot create a file in folder {dir}{reason}", e);
        }
        var tracked = ScratchFiles.Track(temp);
        if (keepAttributes && !OperatingSystem.IsWindows() && File.Exists(full))
        {
            // Owner first: chown clears set-user-ID bits. Best effort, both: a file system without Unix permissions
            // (FAT, some CIFS/FUSE mounts) keeps its own, and only root gives a file away. Through the open handle:
            // the temporary name sits in a folder its owner may write, who could swap it for a link before root
            // changes it.
            var handle = stream.SafeFileHandle;
            if (FileStatus.Of(full) is { } old && FileStatus.Of(handle) is { } made && (old.Owner, old.Group) != (made.Owner, made.Group))
                old.TryGiveOwnership(handle);
            // Permission bits only: a link planted at a results path to a set-user-ID program made a setuid data file.
            const UnixFileMode permissions = (UnixFileMode)0x1FF; // rwxrwxrwx
            try { File.SetUnixFileMode(handle, File.GetUnixFileMode(full) & permissions); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException) { }
        }
        return new AtomicFile(full, temp, stream, tracked);
    }

    /// <summary>
    /// Why a finished write could not take the place of <paramref name="fullPath"/>, or null: a folder, a device or
    /// system file, a pipe or socket. Commands ask before their work starts, so that a run is not spent on a result
    /// that cannot be written.
    /// </summary>
    public static string? WhyNotATarget(string fullPath)
    {
        if (Directory.Exists(fullPath)) return "is a folder, not a file";
        // By the folder's real path too: "devlink/null" with devlink -> /dev is /dev/null.
        if (File.Exists(fullPath) && (IsSystemFile(fullPath) || IsSystemFile(Canonical(fullPath))))
            return "a device or system file; refusing to replace it (write to a file in a regular folder)";
        // A pipe, socket or device elsewhere would be replaced by a regular file as silently (a FIFO a reader waits on).
        if (FileKinds.Of(fullPath) == FileKind.Special)
            return "is a pipe, socket or device, not a file; refusing to replace it (give another file name)";
        return null;
    }

    /// <summary>
    /// Files under /dev, /proc and /sys: the rename that finishes a write would put a regular file in their place (as
    /// root, `-o /dev/null` would replace the device). .NET shows no file type (a device reads as a regular file), so
    /// the folders are named instead: no model or factor file belongs there, except in /dev/shm (a RAM disk that people
    /// load models from).
    /// </summary>
    public static bool IsSystemFile(string fullPath) =>
        (fullPath.StartsWith("/dev/", StringComparison.Ordinal) && !fullPath.StartsWith("/dev/shm/", StringComparison.Ordinal))
        || fullPath.StartsWith("/proc/", StringComparison.Ordinal) || fullPath.StartsWith("/sys/", StringComparison.Ordinal);

    /// <summary>Flushes (to the disk too when <paramref name="durable"/>) and renames the temporary file over the target.</summary>
    public void Commit(bool durable = false)
    {
        try
        {
            Stream.Flush(flushToDisk: durable);
            // Renamed while still open (and locked) on Unix: between the two, another writer's clean-up would take a
            // closed file for a dead writer's and delete it.
            if (!OperatingSystem.IsWindows()) File.Move(TempPath, TargetPath, overwrite: true);
            Stream.Dispose();
            if (OperatingSystem.IsWindows()) File.Move(TempPath, TargetPath, overwrite: true);
        }
        catch (IOException e) { throw Failed(e); } // the disk filled, the folder went, the target became a folder

        _committed = true;
        _tracked.Dispose();
    }

    public void Dispose()
    {
        if (_committed) return;
        // Closing flushes what is buffered once more: on a full disk that failed again, and its exception (naming the
        // hidden temporary file) replaced the one Failed had made of the first. The file is deleted anyway.
        try { Stream.Dispose(); }
        catch (IOException) { }
        TryDelete(TempPath);
        _tracked.Dispose();
    }

    /// <summary>
    /// The temporary name's start for a target name: ".NAME.longrope-tmp-", NAME cut so that the whole temporary name
    /// (with the pid and a 32-digit GUID) fits in 255 bytes (a valid 245-byte target name could not be written).
    /// </summary>
    private static string TempStem(string targetName)
    {
        const int maxNameBytes = 255, suffixBytes = 1 + 10 + 1 + 32; // "." + pid + "-" + GUID
        int room = maxNameBytes - suffixBytes - TempMarker.Length;
        string name = targetName;
        while (System.Text.Encoding.UTF8.GetByteCount(name) > room)
            name = name[..(char.IsLowSurrogate(name[^1]) && name.Length > 1 ? name.Length - 2 : name.Length - 1)];
        return $".{name}{TempMarker}";
    }

    private static void RemoveStaleTempFiles(string dir, string stem)
    {
        foreach (string f in Directory.EnumerateFiles(dir, $"{stem}*"))
        {
            string rest = System.IO.Path.GetFileName(f)[stem.Length..];
            int dash = rest.IndexOf('-');
            if (dash <= 0 || !int.TryParse(rest[..dash], out int pid) || IsRunning(pid)) continue;
            // The pid is this machine's, in this pid namespace: a writer in a container or on another host sharing the
            // folder has one that may look gone. Its stream holds a lock (FileShare.None is an flock on Unix), so a
            // file that cannot be opened exclusively is still being written.
            // Opened for writing: on NFS an exclusive lock needs a writable descriptor (a read-only probe "succeeded").
            try { new FileStream(f, FileMode.Open, FileAccess.ReadWrite, FileShare.None).Dispose(); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            TryDelete(f);
        }
    }

    /// <summary>
    /// An I/O failure while this file was written, said of the target (the system's message names the hidden temporary
    /// file, which the user never asked for), with nothing written to it.
    /// </summary>
    public IOException Failed(IOException e)
    {
        if (e is WriteFailedException) return e;
        string reason = e.Message.Replace($" : '{TempPath}'", "").Replace(TempPath, TargetPath).ReplaceLineEndings(" ").Trim();
        return new WriteFailedException($"{TargetPath}: cannot write it ({reason}); nothing written to it", e);
    }

    private sealed class WriteFailedException(string message, Exception inner) : IOException(message, inner);

    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/> atomically (results, transcripts, charts): a
    /// failure or a kill leaves the old file or none, never a cut one.</summary>
    /// <remarks>As File.WriteAllBytes did for a file that exists: through a symbolic link to its target, keeping the
    /// file's permissions, owner and group (a 0600 summary became 0644, a linked results file was replaced by a copy). A
    /// hard link is split: the other name keeps the old content.</remarks>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> content)
    {
        string target = OperatingSystem.IsWindows() ? path : Canonical(path);
        using var file = Create(target, keepAttributes: true);
        try
        {
            file.Stream.Write(content);
            file.Commit();
        }
        catch (IOException e) { throw file.Failed(e); }
    }

    public static void WriteAllText(string path, string content) => WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(content));

    private static bool IsRunning(int pid)
    {
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}");
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    /// <summary>True when the two paths name the same file after resolving symbolic links, in the file name and in
    /// any folder on the way (so "models-link/x.gguf" is seen to be "models/x.gguf"). Hard links are not detected.</summary>
    public static bool SameFile(string a, string b) => string.Equals(Canonical(a), Canonical(b), StringComparison.Ordinal);

    /// <summary>The path with every symbolic link resolved; for a file that does not exist yet, its folder's
    /// canonical path plus its name.</summary>
    private static string Canonical(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            var info = new FileInfo(full);
            return info.Exists && info.LinkTarget is not null ? info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full : full;
        }
        if (RealPath(full) is { } real) return real;
        string? dir = System.IO.Path.GetDirectoryName(full);
        return dir is not null && RealPath(dir) is { } realDir ? System.IO.Path.Combine(realDir, System.IO.Path.GetFileName(full)) : full;
    }

    private static string? RealPath(string path)
    {
        IntPtr resolved = realpath(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero) return null; // does not exist (or cannot be resolved)
        try { return System.Runtime.InteropServices.Marshal.PtrToStringUTF8(resolved); }
        finally { free(resolved); }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial IntPtr realpath(string path, IntPtr resolved);

    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial void free(IntPtr pointer);
}
