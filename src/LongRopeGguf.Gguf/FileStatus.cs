using System.Runtime.InteropServices;

namespace LongRopeGguf.Gguf;

/// <summary>
/// What Linux says of a file that .NET does not: which file it is (device and inode, so that two names of one file
/// are seen as one), how many names it has, and who owns it. Read with statx(2), whose buffer has one layout on
/// every architecture (struct stat does not).
/// </summary>
public readonly partial record struct FileStatus(ulong Device, ulong Inode, uint Links, uint Owner, uint Group)
{
    // struct statx (linux/stat.h): offsets of the fields read here; the whole buffer is 256 bytes.
    private const int BufferLength = 256, NlinkOffset = 16, UidOffset = 20, GidOffset = 24, InoOffset = 32, DevMajorOffset = 136, DevMinorOffset = 140;
    private const int AtFdCwd = -100, AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;

    /// <summary>The file's status after following symbolic links; null where it cannot be read (missing, no
    /// permission, not Linux, a C library without statx).</summary>
    public static FileStatus? Of(string path)
    {
        if (!OperatingSystem.IsLinux() || path.Contains('\0')) return null;
        Span<byte> buffer = stackalloc byte[BufferLength];
        try
        {
            if (statx(AtFdCwd, path, 0, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) != 0) return null;
        }
        catch (EntryPointNotFoundException) { return null; } // glibc before 2.28
        catch (DllNotFoundException) { return null; }
        return FromBuffer(buffer);
    }

    private static FileStatus FromBuffer(ReadOnlySpan<byte> buffer)
    {
        ulong device = ((ulong)Read32(buffer, DevMajorOffset) << 32) | Read32(buffer, DevMinorOffset);
        return new FileStatus(device, MemoryMarshal.Read<ulong>(buffer[InoOffset..]), Read32(buffer, NlinkOffset), Read32(buffer, UidOffset), Read32(buffer, GidOffset));
    }

    /// <summary>The status of the open file <paramref name="handle"/> (statx with AT_EMPTY_PATH): no path to swap for
    /// a link between the look and the change.</summary>
    public static FileStatus? Of(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux()) return null;
        Span<byte> buffer = stackalloc byte[BufferLength];
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) != 0) return null;
        }
        catch (EntryPointNotFoundException) { return null; }
        catch (DllNotFoundException) { return null; }
        finally { if (added) handle.DangerousRelease(); }
        return FromBuffer(buffer);
    }

    /// <summary>Whether the two paths are names of one file (the same inode on the same device): a hard link too,
    /// which path comparison cannot see.</summary>
    public static bool SameInode(string a, string b) =>
        Of(a) is { } x && Of(b) is { } y && x.Device == y.Device && x.Inode == y.Inode;

    /// <summary>Gives the open file <paramref name="handle"/> this owner and group, as far as the process may: root can;
    /// another user only a group it belongs to (the owner is theirs already). Best effort: false where nothing could be
    /// changed. By handle (fchown), not by path: in a folder another user can write, root changing a path could be
    /// made to change a file the path was swapped for.</summary>
    public bool TryGiveOwnership(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux()) return false;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            return fchown(fd, Owner, Group) == 0 || fchown(fd, uint.MaxValue, Group) == 0; // -1: leave the owner
        }
        catch (EntryPointNotFoundException) { return false; }
        finally { if (added) handle.DangerousRelease(); }
    }

    private static uint Read32(ReadOnlySpan<byte> buffer, int offset) => MemoryMarshal.Read<uint>(buffer[offset..]);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, ref byte buffer);

    [LibraryImport("libc")]
    private static partial int fchown(int fd, uint owner, uint group);
}
