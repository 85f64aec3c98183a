using LongRopeGguf.Runtime;

namespace LongRopeGguf.Cli;

/// <summary>
/// Lines of a piped input (a chat fed by a script), decoded as strictly as prompt files are (<see cref="TextFiles"/>):
/// a line that is not UTF-8, or holds a NUL, is refused with its number and the offset of the bad byte, where the
/// console's reader turned it into replacement characters that reached the model. Each line is bounded as a prompt
/// file is; the reader goes on after a refused line.
/// </summary>
internal sealed class StrictLineReader(Stream input, long maxLineBytes = TextFiles.PromptLimitBytes)
{
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _start, _end;
    private bool _ended;
    private int _lineNumber;

    /// <summary>The next line without its line end (a trailing CR too), or null at the end of the input; a line that
    /// cannot be text throws <see cref="RuntimeInputException"/> once it has been read.</summary>
    public string? ReadLine()
    {
        using var line = new MemoryStream();
        bool tooLong = false;
        while (true)
        {
            if (_start == _end)
            {
                if (_ended || (_end = input.Read(_buffer, 0, _buffer.Length)) == 0)
                {
                    _ended = true;
                    _start = _end = 0;
                    if (line.Length == 0 && !tooLong) return null; // the end, after a complete last line
                    break;
                }
                _start = 0;
            }
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            int stop = newline < 0 ? _end : newline;
            if (!tooLong && line.Length + (stop - _start) <= maxLineBytes) line.Write(_buffer, _start, stop - _start);
            else tooLong = true;
            _start = newline < 0 ? _end : newline + 1;
            if (newline >= 0) break;
        }
        _lineNumber++;
        if (tooLong) throw new RuntimeInputException($"standard input, line {_lineNumber}: longer than {maxLineBytes:N0} bytes");
        var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
        if (bytes.EndsWith((byte)'\r')) bytes = bytes[..^1];
        // A byte-order mark before the first line (an editor's UTF-8): not part of it, as TextFiles has it ("\uFEFF/stats" was sent as a message).
        if (_lineNumber == 1 && bytes.StartsWith(Gguf.StrictText.Utf8Bom)) bytes = bytes[Gguf.StrictText.Utf8Bom.Length..];
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0) throw new RuntimeInputException($"standard input, line {_lineNumber}: a NUL byte at offset {nul}, not text");
        return Gguf.StrictText.DecodeUtf8(bytes, out string? problem) ?? throw new RuntimeInputException($"standard input, line {_lineNumber}: {problem}");
    }
}
