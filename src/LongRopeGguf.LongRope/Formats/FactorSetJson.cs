using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LongRopeGguf.LongRope.Formats;

/// <summary>
/// This tool's factor file (docs/factor-format.md), version 1:
/// <code>
/// {
///   "format": "longrope-factors", "version": 1,
///   "original_context_length": 512, "context_length": 2048,
///   "attention_factor": { "policy": "su", "value": 1.1047 },
///   "long_factors": [...], "short_factors": [...],
///   "source": "..."
/// }
/// </code>
/// Floats are written in their shortest round-trip form, so reading a written file gives back the same bits.
/// </summary>
public static class FactorSetJson
{
    public const string FormatName = "longrope-factors";
    public const int CurrentVersion = 1;

    /// <summary>Relative tolerance between a stored attention value and its policy's formula (floats written by other tools).</summary>
    private const double PolicyTolerance = 1e-5;

    public static FactorSet Read(string path, FactorReadOptions? options = null) =>
        Parse(FactorSetReader.ReadText(path), path, options ?? FactorReadOptions.None);

    public static FactorSet Parse(string text, string path, FactorReadOptions options)
    {
        using var doc = FactorSetReader.ParseJson(text, path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new FactorSetException($"{path}: expected a JSON object");
        string? format = FactorSetReader.ReadOptionalString(root, "format", path);
        if (format != FormatName) throw new FactorSetException($"{path}: 'format' is {(format is null ? "missing" : $"'{format}'")}, expected '{FormatName}'");
        int version = FactorSetReader.ReadOptionalInt(root, "version", path, isTokenCount: false) ?? throw new FactorSetException($"{path}: no 'version'");
        if (version < 1 || version > CurrentVersion)
            throw new FactorSetException($"{path}: version {version} is not supported (this tool reads version {CurrentVersion}{(version > CurrentVersion ? "; the file is from a newer tool" : "")})");

        float[] longFactors = root.TryGetProperty("long_factors", out var l) ? FactorSetReader.ReadFloatArray(l, path, "long_factors")
            : throw new FactorSetException($"{path}: no 'long_factors'");
        float[] shortFactors = root.TryGetProperty("short_factors", out var s) ? FactorSetReader.ReadFloatArray(s, path, "short_factors")
            : throw new FactorSetException($"{path}: no 'short_factors'");
        int original = options.OriginalContextLength ?? FactorSetReader.ReadOptionalInt(root, "original_context_length", path)
            ?? throw new FactorSetException($"{path}: no 'original_context_length'");
        int context = options.ContextLength ?? FactorSetReader.ReadOptionalInt(root, "context_length", path)
            ?? throw new FactorSetException($"{path}: no 'context_length'");
        string source = FactorSetReader.ReadOptionalString(root, "source", path) ?? $"factor file {path}";

        if (!root.TryGetProperty("attention_factor", out var att) || att.ValueKind != JsonValueKind.Object)
            throw new FactorSetException($"{path}: 'attention_factor' must be an object {{\"policy\": ..., \"value\": ...}}");
        string policyName = FactorSetReader.ReadOptionalString(att, "policy", path) ?? throw new FactorSetException($"{path}: no 'attention_factor.policy'");
        if (!AttentionFactors.TryParsePolicy(policyName, out var policy))
            throw new FactorSetException($"{path}: attention_factor.policy '{policyName}' is not one of su, yarn, none, explicit");
        double? value = FactorSetReader.ReadOptionalDouble(att, "value", path);

        if (policy == AttentionFactorPolicy.Explicit)
        {
            if (value is null) throw new FactorSetException($"{path}: attention_factor.policy is explicit but there is no 'value'");
            return FactorSet.Create(longFactors, shortFactors, original, context, policy, FactorSetReader.ReadOptionalSingle(att, "value", path, "attention_factor.value"), source);
        }
        if (original <= 0) throw new FactorSetException($"{path}: original_context_length {original} must be > 0");
        var set = FactorSet.Create(longFactors, shortFactors, original, context, policy, null, source);
        // A stored value that disagrees with its policy means the file was edited by hand or the lengths were
        // overridden; the policy wins only when the lengths were overridden (the value is then stale by design).
        if (value is double v && options.OriginalContextLength is null && options.ContextLength is null
            && (!double.IsFinite(v) || Math.Abs(v - set.AttentionFactor) > PolicyTolerance * Math.Max(1, Math.Abs(v))))
            throw new FactorSetException($"{path}: attention_factor.value {v.ToString("R", CultureInfo.InvariantCulture)} does not match policy {policyName} "
                + $"({set.AttentionFactor.ToString("R", CultureInfo.InvariantCulture)} for s = {context}/{original}); use policy \"explicit\" for a value of your own");
        return set;
    }

    public static void Write(FactorSet set, string path)
    {
        string full = Path.GetFullPath(path);
        using var file = Gguf.AtomicFile.Create(full, keepAttributes: true); // a search resumed with sudo kept the user's factors.json theirs
        try
        {
            Write(set, file.Stream);
            file.Commit();
        }
        catch (IOException e) { throw file.Failed(e); }
    }

    public static void Write(FactorSet set, Stream output)
    {
        using (var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented))
            Write(set, w);
        output.WriteByte((byte)'\n');
        output.Flush();
    }

    public static string ToJson(FactorSet set)
    {
        using var ms = new MemoryStream();
        Write(set, ms);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public static void Write(FactorSet set, Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("format", FormatName);
        w.WriteNumber("version", CurrentVersion);
        w.WriteNumber("original_context_length", set.OriginalContextLength);
        w.WriteNumber("context_length", set.ContextLength);
        w.WriteNumber("scale", Math.Round(set.Scale, 6));
        w.WriteStartObject("attention_factor");
        w.WriteString("policy", AttentionFactors.Name(set.AttentionFactorPolicy));
        WriteFloat(w, "value", set.AttentionFactor);
        w.WriteEndObject();
        WriteArray(w, "long_factors", set.LongFactors.AsSpan());
        WriteArray(w, "short_factors", set.ShortFactors.AsSpan());
        w.WriteString("source", set.Source);
        w.WriteEndObject();
        w.Flush();
    }

    private static void WriteArray(Utf8JsonWriter w, string name, ReadOnlySpan<float> values)
    {
        w.WriteStartArray(name);
        foreach (float f in values)
        {
            if (float.IsFinite(f)) w.WriteNumberValue(f);
            else w.WriteStringValue(f.ToString(CultureInfo.InvariantCulture)); // readable again, and refused by validation
        }
        w.WriteEndArray();
    }

    private static void WriteFloat(Utf8JsonWriter w, string name, float f)
    {
        if (float.IsFinite(f)) w.WriteNumber(name, f);
        else w.WriteString(name, f.ToString(CultureInfo.InvariantCulture));
    }
}
