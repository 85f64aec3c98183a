using System.Globalization;

namespace LongRopeGguf.Runtime;

/// <summary>
/// This process's open file descriptors as Linux shows them in /proc/self (what a descriptor names, how it was opened).
/// The .NET runtime opens files and pipes of its own before Main, and the lowest free descriptor goes first: a closed
/// standard input becomes the read end of the runtime's internal pipe, whose write end this same process holds, so a
/// read from it never ends. Linux only; elsewhere nothing is known (null, false).
/// </summary>
public static class FileDescriptors
{
    private const int AccessModeMask = 3;
    public const int ReadOnly = 0, WriteOnly = 1;

    /// <summary>What the descriptor names ("/dev/pts/0", "pipe:[1234]"); null when it is not open or not known.</summary>
    public static string? Target(int fd)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try { return new FileInfo($"/proc/self/fd/{fd}").LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The O_ACCMODE bits of the descriptor's flags (/proc/self/fdinfo: "flags: 0100002", octal).</summary>
    public static int? AccessMode(int fd)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            foreach (string line in File.ReadLines($"/proc/self/fdinfo/{fd}"))
                if (line.StartsWith("flags:", StringComparison.Ordinal))
                    return Convert.ToInt32(line["flags:".Length..].Trim(), 8) & AccessModeMask;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }

    /// <summary>Standard input was closed when the process started (&lt;&amp;-): descriptor 0 is gone, or is what the
    /// runtime opened in its place: the JIT runtime's own pipe, or /dev/urandom, which the native (AOT) build's runtime
    /// opens first (a chat read random bytes for ever; nobody types a chat from it).</summary>
    public static bool StandardInputClosed()
    {
        if (!OperatingSystem.IsLinux()) return false;
        return Target(0) switch
        {
            null => true,
            "/dev/urandom" or "/dev/random" => true,
            _ => IsOwnPipe(0),
        };
    }

    /// <summary>The descriptor is a pipe whose write end another descriptor of this process holds: reading it waits for
    /// ever (a shell's `exec 3&lt;&amp;0` duplicates the read end, never the write end).</summary>
    public static bool IsOwnPipe(int fd)
    {
        if (Target(fd) is not { } target || !target.StartsWith("pipe:", StringComparison.Ordinal)) return false;
        foreach (string entry in Entries())
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int other) && other != fd
                && Target(other) == target && AccessMode(other) == WriteOnly)
                return true;
        return false;
    }

    private static IEnumerable<string> Entries()
    {
        try { return Directory.GetFileSystemEntries("/proc/self/fd"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
