using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LongRopeGguf.Gguf;

/// <summary>
/// Copies a byte range between two files at explicit offsets without passing the data through managed memory:
/// Linux's copy_file_range (in-kernel, what coreutils' cp uses) where it works, a 1 MiB pooled buffer otherwise.
/// Copies in chunks so that cancellation and progress are seen at least every <see cref="ChunkSize"/> bytes.
/// </summary>
internal static partial class FileRangeCopier
{
    private const long ChunkSize = 64L << 20;

    /// <summary>
    /// The bytes before the source's first page boundary are copied on their own, so that every later copy starts on
    /// a page boundary. When the two offsets sit at the same place within a page (an edit that did not move the data
    /// section, or moved it by whole pages) both sides are then page-aligned. Measured on Linux 6.18 / ext4 with
    /// bench/copy_alignment.py (docs/benchmarks.md): 64 MiB copies from a data section starting mid-page cost 9-15%
    /// more CPU than cp's copy of the whole file; with the partial first page split off, 1-8% more in two runs of three
    /// (a small effect on a noisy shared machine). GGUF data sections start at a multiple of 32 only, so the
    /// mid-page start is the common case.
    /// </summary>
    private const long PageSize = 4096;
    private const int FallbackBufferSize = 1 << 20;
    private static bool s_copyFileRangeBroken = !OperatingSystem.IsLinux();

    public static void Copy(SafeFileHandle source, long sourceOffset, SafeFileHandle target, long targetOffset, long length,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long head = (PageSize - sourceOffset % PageSize) % PageSize;
            long chunk = Math.Min(length, head != 0 ? head : ChunkSize);
            long copied = s_copyFileRangeBroken ? 0 : TryCopyFileRange(source, sourceOffset, target, targetOffset, chunk);
            if (copied <= 0) copied = CopyThroughBuffer(source, sourceOffset, target, targetOffset, chunk);
            sourceOffset += copied;
            targetOffset += copied;
            length -= copied;
            progress?.Invoke(copied);
        }
    }

    private static long TryCopyFileRange(SafeFileHandle source, long sourceOffset, SafeFileHandle target, long targetOffset, long length)
    {
        long inOff = sourceOffset, outOff = targetOffset, total = 0;
        while (total < length)
        {
            long n = copy_file_range(source, ref inOff, target, ref outOff, (nuint)(length - total), 0);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                // EXDEV, ENOSYS, EINVAL, EOPNOTSUPP...: the kernel or file system cannot do it, now or ever; use the
                // buffer path from now on. Other errors (ENOSPC, EIO) are not a reason to give up on the fast path for
                // the rest of the process: the buffer path retries this chunk and reports the error in .NET's words.
                if (total == 0 && errno is EXDEV or ENOSYS or EINVAL or EOPNOTSUPP or EBADF or EPERM) s_copyFileRangeBroken = true;
                break;
            }
            if (n == 0) break; // source shorter than expected: let the buffered path report it
            total += n;
        }
        return total;
    }

    private static long CopyThroughBuffer(SafeFileHandle source, long sourceOffset, SafeFileHandle target, long targetOffset, long length)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(FallbackBufferSize);
        try
        {
            long done = 0;
            while (done < length)
            {
                int want = (int)Math.Min(buffer.Length, length - done);
                int n = RandomAccess.Read(source, buffer.AsSpan(0, want), sourceOffset + done);
                if (n == 0) throw new EndOfStreamException($"ended at offset {sourceOffset + done} while its tensor data was copied");
                RandomAccess.Write(target, buffer.AsSpan(0, n), targetOffset + done);
                done += n;
            }
            return done;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private const int EPERM = 1, EINTR = 4, EBADF = 9, EXDEV = 18, EINVAL = 22, ENOSYS = 38, EOPNOTSUPP = 95;

    [LibraryImport("libc", SetLastError = true)]
    private static partial long copy_file_range(SafeFileHandle fdIn, ref long offIn, SafeFileHandle fdOut, ref long offOut, nuint len, uint flags);
}
