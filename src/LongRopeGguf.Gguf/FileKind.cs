using System.Runtime.InteropServices;

namespace LongRopeGguf.Gguf;

/// <summary>What a path names, following symbolic links.</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,

    /// <summary>A pipe (a FIFO, or bash's <c>&lt;(...)</c>), a device or a socket: it cannot be read by offset, and
    /// opening a FIFO waits for a writer.</summary>
    Special,
}

/// <summary>
/// Tells regular files from pipes and devices before they are opened: GGUF files are read by offset, which a pipe
/// cannot do (.NET then throws "stream does not support seeking" from deep inside), and opening a FIFO with no writer
/// blocks in the kernel, where no cancellation reaches it.
/// </summary>
public static partial class FileKinds
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int StatxModeOffset = 28; // struct statx: the u16 stx_mode, the same on every Linux architecture
    private const int StatxSize = 256;
    private const int TypeMask = 0xF000, Regular = 0x8000, DirectoryType = 0x4000;

    public static FileKind Of(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                Span<byte> buffer = stackalloc byte[StatxSize];
                if (statx(AtFdCwd, path, 0, StatxType, ref MemoryMarshal.GetReference(buffer)) != 0)
                {
                    // Not there (ENOENT, ENOTDIR); anything else (EACCES, a seccomp profile's EPERM) is left to .NET.
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is ENoEnt or ENotDir) return FileKind.Missing;
                    return Fallback(path);
                }
                int type = BitConverter.ToUInt16(buffer.Slice(StatxModeOffset, 2)) & TypeMask;
                return type switch { Regular => FileKind.Regular, DirectoryType => FileKind.Directory, _ => FileKind.Special };
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
                // glibc before 2.28 (2018), or no "libc" to bind: fall back to what .NET can tell.
            }
        }
        return Fallback(path);
    }

    /// <summary>What .NET can tell: it shows no pipes or devices (they read as regular files).</summary>
    private static FileKind Fallback(string path) =>
        Directory.Exists(path) ? FileKind.Directory : File.Exists(path) ? FileKind.Regular : FileKind.Missing;

    private const int ENoEnt = 2, ENotDir = 20;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, ref byte buffer);
}
