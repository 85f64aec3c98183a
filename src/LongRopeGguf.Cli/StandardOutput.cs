using System.Text;
using LongRopeGguf.Gguf;
using Microsoft.Win32.SafeHandles;

namespace LongRopeGguf.Cli;

/// <summary>
/// Standard output when it is a pipe or a device. .NET's console stream drops a write that fails with EPIPE, so
/// `longrope generate ... | head -c 5` generated to the end and exited 0 after the reader had gone; and a full device
/// said "No space left on device" without naming standard output. Through this writer the first failed write ends the
/// command: quietly with 141 (128 + SIGPIPE, what a program the signal ends reports) when the reader has gone, with
/// "standard output: ..." (exit 2) otherwise.
/// </summary>
internal static class StandardOutput
{
    /// <summary>The exit status after the reader of standard output has gone: 128 + SIGPIPE (13).</summary>
    public const int BrokenPipe = 141;

    private const int EPipe = 32;

    /// <summary>The reporting stream when <see cref="Install"/> set one up; null on a terminal or regular file.</summary>
    private static ReportingStream? installed;

    /// <summary>
    /// Standard output as bytes, for the --json writers: the reporting stream when one is installed (a --json report
    /// into `| head -c 1` ended 0 as if read; `> /dev/full` did not say where it failed), .NET's console stream
    /// otherwise. Disposing it leaves file descriptor 1 open, as disposing .NET's does.
    /// </summary>
    public static Stream OpenStream() => installed ?? Console.OpenStandardOutput();

    /// <summary>Replaces Console.Out with the reporting writer when standard output is a pipe, socket or device (not a
    /// terminal, whose console handling stays .NET's; not a regular file, which the console writes by its own offset).</summary>
    public static void Install()
    {
        if (!OperatingSystem.IsLinux() || !Console.IsOutputRedirected) return;
        Stream stream;
        if (StandardStreams.WasClosed(1))
            stream = new UnwritableStream();
        else if (FileKinds.Of("/proc/self/fd/1") == FileKind.Special)
            stream = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        else
            return;
        installed = new ReportingStream(stream);
        Console.SetOut(new StreamWriter(installed, new UTF8Encoding(false), 4096) { AutoFlush = true });
    }

    /// <summary>Standard output closed (<c>&gt;&amp;-</c>): the first write says so, where .NET said "Access to the path is
    /// denied" (the runtime had opened a file of its own, read-only, as file descriptor 1).</summary>
    private sealed class UnwritableStream : WriteOnlyStream
    {
        public override void Flush() { }
        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("closed (the command was started with it closed)");
    }

    /// <summary>The reader of standard output has gone (EPIPE): nothing more to say to anyone.</summary>
    internal sealed class ClosedException(IOException inner) : IOException("standard output: the reader has gone (broken pipe)", inner);

    /// <summary>Stream's Dispose does nothing here (no override), so a `using` of <see cref="OpenStream"/> keeps it
    /// working for Console.Out and the next writer.</summary>
    private sealed class ReportingStream(Stream inner) : WriteOnlyStream
    {
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            try { inner.Write(buffer); }
            catch (IOException e) { throw Reported(e); }
        }

        public override void Flush()
        {
            try { inner.Flush(); }
            catch (IOException e) { throw Reported(e); }
        }

        private static IOException Reported(IOException e) =>
            e.HResult == EPipe ? new ClosedException(e) : new IOException($"standard output: {e.Message}", e);
    }

    /// <summary>A stream that only writes, in order: the members Stream requires that such a stream does not have.</summary>
    private abstract class WriteOnlyStream : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
