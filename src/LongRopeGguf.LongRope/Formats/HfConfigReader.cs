using System.Globalization;
using System.Text.Json;

namespace LongRopeGguf.LongRope.Formats;

/// <summary>
/// Reads the LongRoPE factors of a Hugging Face config.json, in both layouts transformers writes:
/// <c>rope_scaling: {type|rope_type: "longrope"|"su", long_factor, short_factor}</c> (Phi-3, Phi-3.5, Phi-4-mini) with
/// <c>original_max_position_embeddings</c> at the top level or inside, and the newer <c>rope_parameters</c> (possibly
/// per layer type, of which "full_attention" is used). The extended length is <c>max_position_embeddings</c>.
/// The attention factor is <c>attention_factor</c> when given, else the su formula for s = extended / original, as
/// llama.cpp's Phi-3 converter computes it.
/// </summary>
public static class HfConfigReader
{
    public static FactorSet Parse(string text, string path, FactorReadOptions options)
    {
        using var doc = FactorSetReader.ParseJson(text, path);
        var top = doc.RootElement;
        if (top.ValueKind != JsonValueKind.Object) throw new FactorSetException($"{path}: expected a JSON object (a config.json)");

        JsonElement block;
        string blockName;
        if (top.TryGetProperty("rope_parameters", out var rp) && rp.ValueKind == JsonValueKind.Object)
        {
            blockName = "rope_parameters";
            block = rp;
            if (rp.TryGetProperty("full_attention", out var full) && full.ValueKind == JsonValueKind.Object)
            {
                block = full;
                blockName = "rope_parameters.full_attention";
            }
        }
        else if (top.TryGetProperty("rope_scaling", out var rs) && rs.ValueKind == JsonValueKind.Object)
        {
            block = rs;
            blockName = "rope_scaling";
        }
        else
        {
            throw new FactorSetException($"{path}: no 'rope_scaling' or 'rope_parameters' object: not a LongRoPE config.json");
        }

        string? type = FactorSetReader.ReadOptionalString(block, "rope_type", path) ?? FactorSetReader.ReadOptionalString(block, "type", path);
        if (type is null) throw new FactorSetException($"{path}: {blockName} has no 'rope_type' or 'type'");
        if (!type.Equals("longrope", StringComparison.OrdinalIgnoreCase) && !type.Equals("su", StringComparison.OrdinalIgnoreCase))
            throw new FactorSetException($"{path}: {blockName} type is '{type}', not LongRoPE (longrope or su)");

        if (!block.TryGetProperty("long_factor", out var longEl)) throw new FactorSetException($"{path}: {blockName} has no 'long_factor'");
        if (!block.TryGetProperty("short_factor", out var shortEl)) throw new FactorSetException($"{path}: {blockName} has no 'short_factor'");
        float[] longFactors = FactorSetReader.ReadFloatArray(longEl, path, blockName + ".long_factor");
        float[] shortFactors = FactorSetReader.ReadFloatArray(shortEl, path, blockName + ".short_factor");

        int original = options.OriginalContextLength
            ?? FactorSetReader.ReadOptionalInt(block, "original_max_position_embeddings", path)
            ?? FactorSetReader.ReadOptionalInt(top, "original_max_position_embeddings", path)
            // The model's own, as --original-context's help promises (patch, and factors show with --model).
            ?? options.DefaultOriginalContextLength
            ?? throw new FactorSetException($"{path}: no 'original_max_position_embeddings' (in {blockName} or at the top level); give the original context length (--original-context, or --model)");
        int context = options.ContextLength
            ?? FactorSetReader.ReadOptionalInt(top, "max_position_embeddings", path)
            ?? throw new FactorSetException($"{path}: no 'max_position_embeddings'; give the extended context length (--context)");

        CheckAgainstOwnModel(top, block, blockName, longFactors.Length, shortFactors.Length, path);

        string source = $"Hugging Face config {path} ({blockName}, type {type})";
        float? attention = FactorSetReader.ReadOptionalSingle(block, "attention_factor", path, $"{blockName}.attention_factor");
        return attention is float a
            ? FactorSet.Create(longFactors, shortFactors, original, context, AttentionFactorPolicy.Explicit, a, source)
            : FactorSet.Create(longFactors, shortFactors, original, context, AttentionFactorPolicy.Su, null, source);
    }

    /// <summary>The config describes its own model: a factor count that does not fit it means a broken config (the
    /// count is checked against the GGUF model separately).</summary>
    private static void CheckAgainstOwnModel(JsonElement top, JsonElement block, string blockName, int longCount, int shortCount, string path)
    {
        int? Positive(string name)
        {
            int? value = FactorSetReader.ReadOptionalInt(top, name, path, isTokenCount: false);
            if (value <= 0) throw new FactorSetException($"{path}: '{name}' is {value}; a model's {name} is at least 1");
            return value;
        }
        int? hidden = Positive("hidden_size");
        int? heads = Positive("num_attention_heads");
        int? headDim = Positive("head_dim");
        if (headDim is null && hidden is int h && heads is int n) headDim = h / n;
        if (headDim is not int hd) return;
        string partialIn = block.TryGetProperty("partial_rotary_factor", out _) ? blockName + ".partial_rotary_factor" : "partial_rotary_factor";
        double partial = FactorSetReader.ReadOptionalDouble(block, "partial_rotary_factor", path)
            ?? FactorSetReader.ReadOptionalDouble(top, "partial_rotary_factor", path) ?? 1.0;
        if (!(partial > 0 && partial <= 1))
            throw new FactorSetException($"{path}: '{partialIn}' is {partial.ToString(CultureInfo.InvariantCulture)}; the rotated share of a head is more than 0 and at most 1");
        int ropeDims = (int)(hd * partial);
        int needed = ropeDims / 2;
        string why = $"head dim {hd}{(partial != 1.0 ? $" x partial_rotary_factor {partial.ToString(CultureInfo.InvariantCulture)}" : "")} = {ropeDims} rotated dimensions / 2";
        if (longCount != needed) throw new FactorSetException($"{path}: {blockName}.long_factor has {longCount} values, but the config's own model needs {needed} ({why})");
        if (shortCount != needed) throw new FactorSetException($"{path}: {blockName}.short_factor has {shortCount} values, but the config's own model needs {needed} ({why})");
    }
}
