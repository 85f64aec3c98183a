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
    private const int FallbackBufferSize = 1 << 20;
    private static bool s_copyFileRangeBroken = !OperatingSystem.IsLinux();

    public static void Copy(SafeFileHandle source, long sourceOffset, SafeFileHandle target, long targetOffset, long length,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long chunk = Math.Min(length, ChunkSize);
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
                // EXDEV, ENOSYS, EINVAL, EOPNOTSUPP...: the kernel or file system cannot do it; use the buffer path.
                if (total == 0) s_copyFileRangeBroken = true;
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
                if (n == 0) throw new EndOfStreamException($"source ended at offset {sourceOffset + done} while copying tensor data");
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

    [LibraryImport("libc", SetLastError = true)]
    private static partial long copy_file_range(SafeFileHandle fdIn, ref long offIn, SafeFileHandle fdOut, ref long offOut, nuint len, uint flags);
}
