using System.Text.Json;
using System.Text.Json.Serialization;

namespace LongRopeGguf.Runtime;

/// <summary>One message of a chat.</summary>
public sealed record ChatMessage(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("content")] string Content);

/// <summary>A saved chat (<c>/save</c>, <c>/load</c>): the messages, and the model they were written with (for information).</summary>
public sealed record ChatTranscript(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("messages")] IReadOnlyList<ChatMessage> Messages)
{
    public const string CurrentFormat = "longrope-chat/1";

    private static readonly HashSet<string> s_roles = new(StringComparer.Ordinal) { "system", "user", "assistant" };

    /// <summary>Writes the transcript atomically (a temporary file beside it, renamed over it); refuses a folder and
    /// a GGUF file (a model typed where the transcript's name should be).</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        OutputFiles.RefuseFolderOrModel(full, "/save");
        // Saving again over a transcript is the usual case; over any other file (a README, a script) it is a slip.
        if (Gguf.FileKinds.Of(full) == Gguf.FileKind.Special)
            throw new RuntimeInputException($"/save {full}: is a pipe, socket or device, not a file; refusing to replace it (give another file name)");
        // A link whose target is gone "exists" to File.Exists and is no transcript: said as what it is.
        if (new FileInfo(full).LinkTarget is { } target && !File.Exists(Path.GetFullPath(target, Path.GetDirectoryName(full)!)))
            throw new RuntimeInputException($"/save {full}: a symbolic link to {target}, which does not exist; refusing to replace it (give another file name)");
        if (File.Exists(full) && !IsTranscript(full))
            throw new RuntimeInputException($"/save {full}: exists and is not a chat transcript; refusing to overwrite it (give another file name, or remove it first)");
        try
        {
            Gguf.AtomicFile.WriteAllText(full, JsonSerializer.Serialize(this, ChatTranscriptJsonContext.Default.ChatTranscript) + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e.Message.StartsWith(full + ":", StringComparison.Ordinal))
        {
            throw new RuntimeInputException("/save " + e.Message); // the file's own problem (no folder, no permission), said as the others are
        }
    }

    private static bool IsTranscript(string path)
    {
        try { Load(path); return true; }
        catch (Exception e) when (e is RuntimeInputException or IOException) { return false; } // one it cannot read is said as such
    }

    /// <summary>Reads and checks a transcript; every problem is one line, "/load FILE: problem", naming the field.</summary>
    public static ChatTranscript Load(string path)
    {
        string full = Path.GetFullPath(path);
        RuntimeInputException Bad(string problem) => new($"/load {full}: {problem}");
        if (Directory.Exists(full)) throw Bad("is a folder, not a transcript file");
        if (!File.Exists(full)) throw Bad("no such transcript file");
        ChatTranscript? t;
        try
        {
            t = JsonSerializer.Deserialize(TextFiles.Read(full, "/load", TextFiles.PromptLimitBytes), ChatTranscriptJsonContext.Default.ChatTranscript);
        }
        catch (JsonException e)
        {
            throw Bad($"not a chat transcript (line {e.LineNumber + 1}: {Gguf.JsonErrors.Describe(e)})");
        }
        if (t is null) throw Bad("not a chat transcript (null)");
        if (t.Format != CurrentFormat) throw Bad($"format is '{t.Format}', expected '{CurrentFormat}'");
        if (t.Messages is null) throw Bad("no 'messages' array");
        for (int i = 0; i < t.Messages.Count; i++)
        {
            var m = t.Messages[i];
            if (m?.Role is null || !s_roles.Contains(m.Role))
                throw Bad($"messages[{i}].role is '{m?.Role}', expected system, user or assistant");
            if (m.Content is null) throw Bad($"messages[{i}].content is missing");
            // JSON can carry what no text file or typed line can (piped lines and prompt files refuse it): a NUL, which
            // a chat template cuts the message at.
            if (m.Content.IndexOf('\0') is >= 0 and int nul) throw Bad($"messages[{i}].content holds a NUL character (character {nul}), not text");
        }
        return t;
    }
}

// Source-generated (de)serialization: no reflection, so the Native AOT build of the CLI reads and writes transcripts.
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(ChatTranscript))]
internal sealed partial class ChatTranscriptJsonContext : JsonSerializerContext;
