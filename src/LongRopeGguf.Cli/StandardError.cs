using System.Text;

namespace LongRopeGguf.Cli;

/// <summary>
/// Standard error that cannot be written (closed with <c>2&gt;&amp;-</c>, a full device): a message that cannot be
/// shown is dropped, as C programs' stderr does. .NET throws instead (EBADF as UnauthorizedAccessException, ENOSPC as
/// IOException); the error path that printed "longrope: error: ..." then threw again while reporting an internal error,
/// and the process aborted (SIGABRT, exit 134) or exited 70 for what was bad input. The exit code still says what
/// happened.
/// </summary>
internal static class StandardError
{
    public static void Install() => Console.SetError(TextWriter.Synchronized(new DroppingWriter(Console.Error)));

    private sealed class DroppingWriter(TextWriter inner) : TextWriter
    {
        /// <summary>Set at the first failed write: the rest would fail the same way (and slowly, one exception each).</summary>
        private bool _failed;

        public override Encoding Encoding => inner.Encoding;

        [System.Diagnostics.CodeAnalysis.AllowNull]
        public override string NewLine { get => inner.NewLine; set => inner.NewLine = value; }

        public override void Write(char value) => Try(() => inner.Write(value));
        public override void Write(string? value) => Try(() => inner.Write(value));
        public override void Write(char[] buffer, int index, int count) => Try(() => inner.Write(buffer, index, count));
        public override void Write(ReadOnlySpan<char> buffer)
        {
            if (_failed) return;
            string text = buffer.ToString();
            Try(() => inner.Write(text));
        }
        public override void WriteLine() => Try(inner.WriteLine);
        public override void WriteLine(string? value) => Try(() => inner.WriteLine(value));
        public override void Flush() => Try(inner.Flush);

        private void Try(Action write)
        {
            if (_failed) return;
            try { write(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { _failed = true; }
        }
    }
}
