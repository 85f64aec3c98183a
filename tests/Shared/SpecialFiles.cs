using System.Runtime.InteropServices;

namespace LongRopeGguf.Tests;

/// <summary>Files .NET cannot make: named pipes and hard links.</summary>
public static partial class SpecialFiles
{
    /// <summary>Makes a named pipe (FIFO) at <paramref name="path"/> and returns the path.</summary>
    public static string Fifo(string path)
    {
        if (mkfifo(path, 0b110_110_000) != 0) throw new IOException($"mkfifo {path}: errno {Marshal.GetLastPInvokeError()}");
        return path;
    }

    /// <summary>Gives <paramref name="existing"/> a second name, <paramref name="newPath"/>, and returns it.</summary>
    public static string HardLink(string existing, string newPath)
    {
        if (link(existing, newPath) != 0) throw new IOException($"link {existing} {newPath}: errno {Marshal.GetLastPInvokeError()}");
        return newPath;
    }

    /// <summary>Waits until the process's main thread sleeps in the kernel's open(2) of a FIFO that has no other end
    /// (its signal handlers are registered long before), at most <paramref name="max"/>: a fixed sleep was too short
    /// on a loaded machine. False where the kernel does not say within it.</summary>
    public static bool WaitUntilInFifoOpen(System.Diagnostics.Process process, TimeSpan max)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (waited.Elapsed < max)
        {
            if (process.HasExited) throw new InvalidOperationException("the process ended instead of waiting for the FIFO");
            if (InFifoOpen(process.Id)) return true;
            Thread.Sleep(50);
        }
        return false;
    }

    /// <summary>Whether the process's main thread, which runs the command, sleeps in the kernel's FIFO open (Linux:
    /// /proc/PID/wchan names fifo_open or, inside it, wait_for_partner). Only the main thread: the runtime's debugger
    /// thread waits on a FIFO of its own from the start.</summary>
    private static bool InFifoOpen(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/wchan") is "fifo_open" or "wait_for_partner";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int mkfifo(string path, uint mode);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int link(string existing, string newPath);
}
