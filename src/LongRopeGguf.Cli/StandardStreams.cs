using System.Globalization;

namespace LongRopeGguf.Cli;

/// <summary>
/// Whether a standard stream was closed when the command started (<c>&lt;&amp;-</c>, <c>&gt;&amp;-</c>). The .NET runtime
/// opens files and pipes of its own before Main, and the lowest free descriptor goes first: a closed standard input
/// became the read end of the runtime's internal pipe (a chat read from it for ever), a closed standard output a file
/// the runtime reads. Linux only (/proc); false elsewhere.
/// </summary>
internal static class StandardStreams
{
    private const int AccessModeMask = 3, WriteOnly = 1, ReadOnly = 0;

    /// <summary>Standard input as bytes: empty when it was closed (as &lt;/dev/null), not the runtime's pipe.</summary>
    public static Stream OpenInput() => WasClosed(0) ? Stream.Null : Console.OpenStandardInput();

    public static bool WasClosed(int fd)
    {
        if (!OperatingSystem.IsLinux() || fd is < 0 or > 2) return false;
        string? target = Target(fd);
        if (target is null) return true;
        int? mode = AccessMode(fd);
        // Standard output or error that cannot be written is not the caller's: nobody opens an output read-only.
        if (fd > 0) return mode == ReadOnly;
        // The native (AOT) build's runtime opens /dev/urandom first: a chat read random bytes for ever. Nobody types a
        // chat from it.
        if (target is "/dev/urandom" or "/dev/random") return true;
        // Standard input that is a pipe whose write end this same process holds: the JIT runtime's own pipe (a shell's
        // `exec 3<&0` duplicates the read end, never the write end).
        if (!target.StartsWith("pipe:", StringComparison.Ordinal)) return false;
        foreach (string entry in SafeEntries())
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int other) && other != fd
                && Target(other) == target && AccessMode(other) == WriteOnly)
                return true;
        return false;
    }

    private static IEnumerable<string> SafeEntries()
    {
        try { return Directory.GetFileSystemEntries("/proc/self/fd"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    private static string? Target(int fd)
    {
        try { return new FileInfo($"/proc/self/fd/{fd}").LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The O_ACCMODE bits of the descriptor's flags (/proc/self/fdinfo: "flags: 0100002", octal).</summary>
    private static int? AccessMode(int fd)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/self/fdinfo/{fd}"))
                if (line.StartsWith("flags:", StringComparison.Ordinal))
                    return Convert.ToInt32(line["flags:".Length..].Trim(), 8) & AccessModeMask;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }
}
