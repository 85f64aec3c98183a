namespace LongRopeGguf.Gguf;

/// <summary>One key/value pair of a GGUF header.</summary>
/// <param name="Offset">Absolute offset of the entry (its key length) in the source file, or -1 when not read from a file.</param>
/// <param name="Length">Encoded length of the whole entry (key and value) in the source file.</param>
/// <param name="ValueOffset">Absolute offset of the value bytes (after the type tag).</param>
public sealed record GgufMetadataEntry(string Key, GgufValue Value, long Offset = -1, long Length = 0, long ValueOffset = -1);
