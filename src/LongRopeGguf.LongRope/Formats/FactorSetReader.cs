using System.Text.Json;

namespace LongRopeGguf.LongRope.Formats;

/// <summary>The factor file formats this tool reads.</summary>
public enum FactorFileFormat
{
    /// <summary>This tool's JSON (docs/factor-format.md): {"format": "longrope-factors", "version": 1, ...}.</summary>
    LongRopeJson,

    /// <summary>A Hugging Face config.json with rope_scaling / rope_parameters of type longrope (or su).</summary>
    HuggingFaceConfig,

    /// <summary>Plain numbers: microsoft/LongRoPE's search output (result_final.csv, one factor per line) or rows of
    /// comma-separated factors, one row per layer.</summary>
    Csv,
}

/// <summary>Reads a factor set from any supported format, telling them apart by content (not by file name).</summary>
public static class FactorSetReader
{
    /// <summary>Factor files are small; anything bigger is not one (and is not read into memory).</summary>
    public const long MaxFileBytes = 16 << 20;

    /// <summary>The most numbers a factor file may hold: a set has one factor per rotary dimension pair (tens to a few
    /// hundred), a per-layer CSV a row of them per layer. Millions of numbers are some other file, and showing them
    /// took a gigabyte.</summary>
    public const int MaxNumbers = 1 << 16;

    internal const string MaxNumbersReason = "which is no factor file (one factor per rotary dimension pair, a row per layer at most)";

    public static FactorSet Read(string path, FactorReadOptions? options = null)
    {
        options ??= FactorReadOptions.None;
        if (IsGguf(path)) return ReadGguf(path, options);
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            throw new FactorSetException($"{path}: not a GGUF file (it does not start with 'GGUF'), so no factors to take from it");
        string text = ReadText(path);
        // A model or other binary file would otherwise be read as a CSV and fail on its first "number".
        if (text.Contains('\0')) throw new FactorSetException($"{path}: a binary file, not a factor file (JSON, config.json or CSV)");
        // Not a CSV either, whose first "number" would be '[1.0'.
        if (text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n').StartsWith('['))
            throw new FactorSetException($"{path}: a JSON array, not a factor file: expected a JSON object (this tool's factor file or a config.json) or a CSV of factors");
        try
        {
            return Detect(text) switch
            {
                FactorFileFormat.LongRopeJson => FactorSetJson.Parse(text, path, options),
                FactorFileFormat.HuggingFaceConfig => HfConfigReader.Parse(text, path, options),
                _ => LongRopeCsvReader.Parse(text, path, options),
            };
        }
        catch (InvalidOperationException e) when (e.Message.Contains("surrogate", StringComparison.OrdinalIgnoreCase))
        {
            // Valid JSON syntax but no text: System.Text.Json parses "\ud800" and throws only when the string is read.
            throw new FactorSetException($"{path}: a JSON string holds an unpaired UTF-16 surrogate escape (such as \\ud800 without its pair), which is no text");
        }
    }

    private static bool IsGguf(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such factor file");
        return Gguf.GgufReader.HasMagic(path);
    }

    /// <summary>The factor set a GGUF model carries (to copy factors from one model to another, or to show them).</summary>
    private static FactorSet ReadGguf(string path, FactorReadOptions options)
    {
        var set = EmbeddedFactors.Read(Gguf.GgufReader.Read(path))
            ?? throw new FactorSetException($"{path}: this GGUF file has no '{LongRopeKeys.LongFactorsTensor}' tensor to take factors from");
        if (set.ShortFactors.Length == 0) throw new FactorSetException($"{path}: this GGUF file has no '{LongRopeKeys.ShortFactorsTensor}' tensor");
        if (options.OriginalContextLength is not null || options.ContextLength is not null)
            set = set.WithContextLengths(options.OriginalContextLength ?? set.OriginalContextLength, options.ContextLength ?? set.ContextLength);
        return set;
    }

    public static FactorFileFormat Detect(string text)
    {
        string trimmed = text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        if (!trimmed.StartsWith('{')) return FactorFileFormat.Csv;
        try
        {
            using var doc = JsonDocument.Parse(text, JsonOptions);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("format", out var f)
                && f.ValueKind == JsonValueKind.String && f.GetString() == FactorSetJson.FormatName)
                return FactorFileFormat.LongRopeJson;
            // This tool's format with its "format" line lost or changed: the JSON reader says which, where the
            // config.json reader would only say that there is no rope_scaling.
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("long_factors", out _)
                && !doc.RootElement.TryGetProperty("rope_scaling", out _) && !doc.RootElement.TryGetProperty("rope_parameters", out _))
                return FactorFileFormat.LongRopeJson;
        }
        catch (JsonException)
        {
            // Reported with its position by the reader that parses it.
        }
        return FactorFileFormat.HuggingFaceConfig;
    }

    internal static JsonDocumentOptions JsonOptions => new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    internal static string ReadText(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: no such factor file");
        if (Gguf.FileKinds.Of(path) != Gguf.FileKind.Special)
        {
            if (info.Length > MaxFileBytes) throw new FactorSetException($"{path}: {info.Length:N0} bytes is too big for a factor file (at most {MaxFileBytes:N0})");
            return Decode(File.ReadAllBytes(path), path);
        }
        // A pipe (bash's <(...), /dev/stdin): read as it comes, bounded since its length is not known in advance, and
        // as bytes, so that a model is said as soon as its first bytes show it (not as text that is not UTF-8).
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        var bytes = new MemoryStream();
        var chunk = new byte[1 << 16];
        for (int n; (n = stream.Read(chunk, 0, chunk.Length)) > 0;)
        {
            bytes.Write(chunk, 0, n);
            if (bytes.Length >= 4 && bytes.Length - n < 4 && bytes.GetBuffer().AsSpan(0, 4).SequenceEqual("GGUF"u8))
                throw new FactorSetException($"{path}: a GGUF model through a pipe; give the model file itself to copy its factors");
            if (bytes.Length > MaxFileBytes) throw new FactorSetException($"{path}: more than {MaxFileBytes:N0} bytes is too big for a factor file");
        }
        return Decode(bytes.ToArray(), path);
    }

    /// <summary>The text of a factor file, strictly (<see cref="Gguf.StrictText"/>): read loosely, bad bytes would show
    /// as U+FFFD and be blamed on the "number" around them.</summary>
    private static string Decode(byte[] bytes, string path) =>
        Gguf.StrictText.Decode(bytes, out string? problem) ?? throw new FactorSetException($"{path}: {problem}");

    /// <summary>Parses JSON, turning syntax errors into one line with the file and position, and refusing a key given
    /// twice in one object: which of two factor arrays a file means is not for a reader to guess.</summary>
    internal static JsonDocument ParseJson(string text, string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new FactorSetException($"{path}: invalid JSON at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}: {FirstSentence(e.Message)}");
        }
        if (RepeatedKey(doc.RootElement, "") is { } repeated)
        {
            doc.Dispose();
            throw new FactorSetException($"{path}: the key '{repeated}' is given twice; keep one");
        }
        return doc;
    }

    /// <summary>
    /// The path ('rope_scaling.long_factor') of the first key that an object this reader reads holds twice; null when
    /// none. Objects it never reads (a config.json's id2label or quantization_config) are not judged: Python and
    /// transformers take the last of two keys there, and the file is not this tool's to refuse for them.
    /// </summary>
    private static string? RepeatedKey(JsonElement e, string prefix)
    {
        if (e.ValueKind != JsonValueKind.Object) return null;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
        {
            if (!names.Add(p.Name)) return prefix + p.Name;
            if (ReadObjects.Contains(p.Name) && RepeatedKey(p.Value, prefix + p.Name + ".") is { } inner) return inner;
        }
        return null;
    }

    /// <summary>The objects inside a factor file or config.json whose keys the readers read.</summary>
    private static readonly HashSet<string> ReadObjects = new(StringComparer.Ordinal) { "rope_scaling", "rope_parameters", "full_attention", "attention_factor" };

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" LineNumber", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim();
    }

    /// <summary>A JSON array of numbers as floats; names the property and index of anything else.</summary>
    internal static float[] ReadFloatArray(JsonElement e, string path, string property)
    {
        if (e.ValueKind != JsonValueKind.Array) throw new FactorSetException($"{path}: '{property}' must be an array of numbers, found {Describe(e)}");
        if (e.GetArrayLength() > MaxNumbers)
            throw new FactorSetException($"{path}: '{property}' has {e.GetArrayLength():N0} values, more than {MaxNumbers:N0}, {MaxNumbersReason}");
        var values = new float[e.GetArrayLength()];
        int i = 0;
        foreach (var item in e.EnumerateArray())
        {
            values[i] = item.ValueKind switch
            {
                // Parsed as single precision directly: the shortest round-trip text of a float gives back its exact bits.
                JsonValueKind.Number when item.TryGetSingle(out float v) => v,
                JsonValueKind.Number when item.TryGetDouble(out double d) => (float)d,
                // Python's json writes NaN/Infinity as bare words, which System.Text.Json refuses; quoted forms are read
                // so that the validator can name the bad value instead of a parse error.
                JsonValueKind.String when float.TryParse(item.GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float f) => f,
                // Beyond even double range (1e400): said below as out of range, not as "the number 1e400, not a number".
                JsonValueKind.Number => float.PositiveInfinity,
                _ => throw new FactorSetException($"{path}: '{property}'[{i}] is {Describe(item)}, not a number"),
            };
            string written = item.ValueKind == JsonValueKind.String ? item.GetString()! : item.GetRawText();
            // Factors are 32-bit floats in llama.cpp: said as written, not as the Infinity or 0 they became.
            if (Gguf.NumberText.OutOfRange(values[i], written))
                throw new FactorSetException($"{path}: '{property}'[{i}] is {written}, {OutOfSingleRangeReason}");
            i++;
        }
        return values;
    }


    internal const string OutOfSingleRangeReason = "outside the range of a 32-bit float, as llama.cpp stores factors (about 1e-45 to 3.4e38)";

    /// <param name="isTokenCount">The value counts tokens (a context length): said so when it is too big or negative.
    /// Otherwise (a version, a model size) only the range is named: "the most tokens" read wrongly for those.</param>
    internal static int? ReadOptionalInt(JsonElement obj, string property, string path, bool isTokenCount = true)
    {
        if (obj.ValueKind != JsonValueKind.Object || !obj.TryGetProperty(property, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v)) return v;
        if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue) return (int)d;
        // A whole number, but past what a token count can be: "must be a whole number" would contradict what is written.
        if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out d) && d == Math.Floor(d))
            throw new FactorSetException(!isTokenCount
                ? $"{path}: '{property}' is {e.GetRawText()}, outside {int.MinValue}..{int.MaxValue}"
                : d > 0
                ? $"{path}: '{property}' is {e.GetRawText()}, more than {int.MaxValue} (the most tokens llama.cpp can address)"
                : $"{path}: '{property}' is {e.GetRawText()}, not a token count");
        throw new FactorSetException($"{path}: '{property}' must be a whole number, found {Describe(e)}");
    }

    internal static double? ReadOptionalDouble(JsonElement obj, string property, string path)
    {
        if (obj.ValueKind != JsonValueKind.Object || !obj.TryGetProperty(property, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.Number)
            return e.TryGetDouble(out double d) ? d : e.GetRawText().StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity; // beyond double: ±1e400
        // Quoted as in the factor arrays (Python's json writes NaN and Infinity bare, and files quote them): the value is
        // then judged by the validator ("attention factor NaN must be a finite number > 0"), not called "a string".
        if (e.ValueKind == JsonValueKind.String && double.TryParse(e.GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double quoted))
            return quoted;
        throw new FactorSetException($"{path}: '{property}' must be a number, found {Describe(e)}");
    }

    /// <param name="label">How the message names the value (default: the property's name).</param>
    internal static float? ReadOptionalSingle(JsonElement obj, string property, string path, string? label = null)
    {
        if (obj.ValueKind != JsonValueKind.Object || !obj.TryGetProperty(property, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        float value = e.ValueKind == JsonValueKind.Number && e.TryGetSingle(out float f) ? f : (float)ReadOptionalDouble(obj, property, path)!.Value;
        // A 32-bit value in llama.cpp, as the factors: 1e-50 is said as written, not as the 0 it became.
        string written = e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();
        if (Gguf.NumberText.OutOfRange(value, written))
            throw new FactorSetException($"{path}: '{label ?? property}' is {written}, {OutOfSingleRangeReason}");
        return value;
    }

    internal static string? ReadOptionalString(JsonElement obj, string property, string path)
    {
        if (obj.ValueKind != JsonValueKind.Object || !obj.TryGetProperty(property, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.String) return e.GetString();
        throw new FactorSetException($"{path}: '{property}' must be a string, found {Describe(e)}");
    }

    internal static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Truncate(e.GetString() ?? "")}\"",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.Array => $"an array of {e.GetArrayLength()}",
        JsonValueKind.Object => "an object",
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        _ => "null",
    };

    private static string Truncate(string s) => Gguf.DisplayText.Escape(s.Length > 40 ? s[..40] + "..." : s);
}
