namespace LongRopeGguf.Gguf;

/// <summary>
/// A GGUF file is malformed or unsupported. <see cref="Message"/> is one line naming the file, the field and the
/// byte offset where the problem was found, e.g.
/// <c>model.gguf: metadata[3] 'llama.context_length' value type at offset 120: unknown value type 77</c>.
/// </summary>
public sealed class GgufFormatException : BadInputException
{
    public GgufFormatException(string? path, string field, long offset, string problem)
        : base($"{(path is null ? "" : path + ": ")}{field} at offset {offset}: {problem}")
    {
        Path = path;
        Field = field;
        Offset = offset;
        Problem = problem;
    }

    public string? Path { get; }
    public string Field { get; }
    public long Offset { get; }
    public string Problem { get; }
}
