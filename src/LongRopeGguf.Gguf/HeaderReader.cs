using System.Buffers.Binary;
using System.Text;

namespace LongRopeGguf.Gguf;

/// <summary>
/// Little-endian primitive reads over a seekable stream through one fixed buffer, tracking the absolute offset and
/// checking every length against the bytes left in the file before anything is allocated.
/// </summary>
internal sealed class HeaderReader
{
    private const int BufferSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly byte[] _buffer;
    private readonly string? _path;
    private long _bufferStart;
    private int _position;
    private int _length;

    public HeaderReader(Stream stream, string? path)
    {
        _stream = stream;
        _path = path;
        FileLength = stream.Length;
        _bufferStart = stream.Position;
        // No bigger than the file: reading a 3 KB header (or each of the thousands of prefixes the truncation tests
        // read) should not allocate 64 KB.
        _buffer = new byte[(int)Math.Clamp(FileLength - _bufferStart, 16, BufferSize)];
    }

    public long FileLength { get; }

    public long Position => _bufferStart + _position;

    public long Remaining => FileLength - Position;

    public GgufFormatException Error(string field, long offset, string problem) => new(_path, field, offset, problem);

    /// <summary>Makes <paramref name="count"/> bytes available in the buffer, or throws a truncation error for
    /// <paramref name="field"/> followed by <paramref name="fieldSuffix"/>. The two parts are joined only when an
    /// error is thrown: a 150k-entry vocabulary would otherwise build 150k field names that are never shown.</summary>
    private ReadOnlySpan<byte> Take(int count, string field, string? fieldSuffix = null)
    {
        if (_length - _position < count)
        {
            string Named() => fieldSuffix is null ? field : field + fieldSuffix;
            if (Remaining < count)
                throw Error(Named(), Position, $"file is truncated: {count} bytes needed, {Math.Max(0, Remaining)} left (file length {FileLength})");
            Refill();
            // The stream delivered less than its Length promised (file shrunk while being read).
            if (_length - _position < count)
                throw Error(Named(), Position, $"file is truncated: {count} bytes needed, the file ended after {_length - _position} (length was {FileLength})");
        }
        var span = _buffer.AsSpan(_position, count);
        _position += count;
        return span;
    }

    private void Refill()
    {
        int kept = _length - _position;
        Buffer.BlockCopy(_buffer, _position, _buffer, 0, kept);
        _bufferStart += _position;
        _position = 0;
        _length = kept;
        _stream.Position = _bufferStart + _length;
        while (_length < _buffer.Length)
        {
            int n = _stream.Read(_buffer, _length, _buffer.Length - _length);
            if (n == 0) break;
            _length += n;
        }
    }

    public byte ReadUInt8(string field) => Take(1, field)[0];
    public ushort ReadUInt16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field));
    public uint ReadUInt32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));
    public ulong ReadUInt64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));
    public float ReadFloat32(string field) => BinaryPrimitives.ReadSingleLittleEndian(Take(4, field));
    public double ReadFloat64(string field) => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, field));

    /// <summary>More tensors or keys than any model has: a count past it is corrupt rather than cut short.</summary>
    private const ulong PlausibleCount = 1 << 20;

    /// <summary>Checks that <paramref name="count"/> items of at least <paramref name="minItemSize"/> bytes each can
    /// still fit in the file, so that absurd counts fail before any allocation.</summary>
    public void EnsureCountFits(ulong count, int minItemSize, string field, long countOffset)
    {
        if (minItemSize > 0 && count > (ulong)Math.Max(0, Remaining) / (ulong)minItemSize)
            // A count a model could have (57 tensors) in too short a file is the file's end, not the count's fault.
            throw Error(field, countOffset, $"count {count} cannot fit: {Remaining} bytes left in the file"
                + (count <= PlausibleCount ? $" (the file is {FileLength} bytes: is it truncated, an incomplete download or copy?)" : ""));
        if (count > int.MaxValue)
            throw Error(field, countOffset, $"count {count} exceeds the supported maximum {int.MaxValue}");
    }

    /// <summary>Reads a length-prefixed string. Invalid UTF-8 becomes U+FFFD unless <paramref name="strictUtf8"/>, which
    /// refuses it (keys and tensor names: they are looked up by name and must re-encode to the same bytes).</summary>
    public string ReadString(string field, bool strictUtf8 = false)
    {
        int n = ReadStringLength(field, out long dataOffset);
        if (n <= _buffer.Length) return Decode(Take(n, field), field, dataOffset, strictUtf8);
        var bytes = new byte[n];
        ReadLong(bytes, field, dataOffset);
        return Decode(bytes, field, dataOffset, strictUtf8);
    }

    /// <summary>Reads a length-prefixed string's bytes, undecoded, onto the end of <paramref name="destination"/>
    /// (the elements of a STRING array, see <see cref="Utf8StringArray"/>).</summary>
    public void ReadStringBytes(string field, System.Buffers.ArrayBufferWriter<byte> destination)
    {
        long lengthOffset = Position;
        int n = ReadStringLength(field, out long dataOffset);
        if ((long)destination.WrittenCount + n > Array.MaxLength)
            throw Error(field + " length", lengthOffset, $"the array's strings would exceed {Array.MaxLength} bytes");
        var span = destination.GetSpan(n)[..n];
        if (n <= _buffer.Length) Take(n, field).CopyTo(span);
        else ReadLong(span, field, dataOffset);
        destination.Advance(n);
    }

    /// <summary>Reads a string's length and checks it against the bytes left in the file.</summary>
    private int ReadStringLength(string field, out long dataOffset)
    {
        long lengthOffset = Position;
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field, " length"));
        if (length > (ulong)Math.Max(0, Remaining))
            throw Error(field + " length", lengthOffset, $"string length {length} runs past the end of the file ({Remaining} bytes left)");
        if (length > int.MaxValue)
            throw Error(field + " length", lengthOffset, $"string length {length} exceeds the supported maximum");
        dataOffset = Position;
        return (int)length;
    }

    /// <summary>Reads a string longer than the buffer (and known to fit in the file) in one piece.</summary>
    private void ReadLong(Span<byte> bytes, string field, long dataOffset)
    {
        int copied = _length - _position;
        _buffer.AsSpan(_position, copied).CopyTo(bytes);
        _stream.Position = Position + copied;
        try
        {
            _stream.ReadExactly(bytes[copied..]);
        }
        catch (EndOfStreamException)
        {
            throw Error(field, dataOffset, $"file is truncated: the {bytes.Length}-byte string ended early (length was {FileLength})");
        }
        _bufferStart = dataOffset + bytes.Length;
        _position = _length = 0;
    }

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private string Decode(ReadOnlySpan<byte> bytes, string field, long offset, bool strict)
    {
        if (!strict) return Encoding.UTF8.GetString(bytes);
        try
        {
            return s_strictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw Error(field, offset + Math.Max(0, e.Index), "not valid UTF-8");
        }
    }

    /// <summary>Fills a span of primitives (little-endian on disk; this library runs on little-endian hosts).</summary>
    public void ReadInto<T>(Span<T> destination, string field) where T : unmanaged
    {
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination);
        while (bytes.Length > 0)
        {
            int chunk = Math.Min(bytes.Length, _buffer.Length);
            Take(chunk, field).CopyTo(bytes);
            bytes = bytes[chunk..];
        }
    }
}
