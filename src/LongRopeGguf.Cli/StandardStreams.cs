using LongRopeGguf.Runtime;

namespace LongRopeGguf.Cli;

/// <summary>
/// Whether a standard stream was closed when the command started (<c>&lt;&amp;-</c>, <c>&gt;&amp;-</c>). The .NET runtime
/// opens files and pipes of its own before Main, and the lowest free descriptor goes first: a closed standard input
/// became the read end of the runtime's internal pipe (a chat read from it for ever), a closed standard output a file
/// the runtime reads. Linux only (/proc); false elsewhere.
/// </summary>
internal static class StandardStreams
{
    /// <summary>Standard input as bytes: empty when it was closed (as &lt;/dev/null), not the runtime's pipe.</summary>
    public static Stream OpenInput() => WasClosed(0) ? Stream.Null : Console.OpenStandardInput();

    public static bool WasClosed(int fd)
    {
        if (!OperatingSystem.IsLinux() || fd is < 0 or > 2) return false;
        if (fd == 0) return FileDescriptors.StandardInputClosed();
        // Standard output or error that cannot be written is not the caller's: nobody opens an output read-only.
        return FileDescriptors.Target(fd) is null || FileDescriptors.AccessMode(fd) == FileDescriptors.ReadOnly;
    }
}
