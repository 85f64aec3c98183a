using LongRopeGguf.Gguf;

namespace LongRopeGguf.LongRope;

/// <summary>
/// The shapes llama.cpp's loader for the "llama" architecture gives the tensors it creates (src/models/llama.cpp and
/// create_tensor_qkv): a tensor of another shape fails the load with "check_tensor_dims: tensor ... has wrong shape".
/// Every layer is sized by the first layer's head counts and FFN width (LLAMA_LOAD_LOCALS reads n_head(), n_ff() of
/// layer 0), and the vocabulary size is the length of the token list. Companion of <see cref="LlamaTensorNames"/>,
/// which says which tensors exist; a patch never changes these shapes, so a mismatch is a defect of the source model.
/// </summary>
public static class LlamaTensorShapes
{
    /// <summary>The sizes the loader derives from the metadata, with the keys each came from (for the message).</summary>
    private sealed record Sizes(ulong Embd, ulong? Vocab, ulong? HeadK, ulong? HeadV, ulong? Heads, ulong? HeadsKv, ulong? Ff);

    /// <summary>A tensor whose shape differs from the loader's, with the shape expected and how it follows from the keys.</summary>
    public sealed record Mismatch(GgufTensorInfo Tensor, ulong[] Expected, string Basis)
    {
        public string ExpectedText => "[" + string.Join(", ", Expected) + "]";
    }

    /// <summary>
    /// The tensors of <paramref name="file"/> whose shape the llama loader would refuse. A size that cannot be read
    /// (a key absent or of a type the loader refuses, which other checks report) leaves the tensors sized by it
    /// unchecked. Experts are not checked (<paramref name="expertCount"/> &gt; 0 skips the FFN).
    /// </summary>
    public static IReadOnlyList<Mismatch> Mismatches(GgufFile file, string arch, int blockCount, int expertCount)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)blockCount, LongRopeKeys.MaxLayers, nameof(blockCount));
        var result = new List<Mismatch>();
        if (ReadSizes(file, arch, blockCount) is not { } s) return result;
        string embd = $"{LongRopeKeys.EmbeddingLength(arch)} {s.Embd}";
        void Check(string name, ulong? first, ulong? second, string basis)
        {
            if (first is null || second is null || !file.TryGetTensor(name, out var t)) return;
            if (!Matches(t.Dimensions, [first.Value, second.Value])) result.Add(new Mismatch(t, [first.Value, second.Value], basis));
        }
        void Vector(string name, ulong? length, string basis)
        {
            if (length is null || !file.TryGetTensor(name, out var t)) return;
            if (!Matches(t.Dimensions, [length.Value])) result.Add(new Mismatch(t, [length.Value], basis));
        }

        string vocab = s.Vocab == 0 ? $"{embd}; no vocabulary (tokenizer.ggml.model none or no_vocab)" : $"{embd}; {s.Vocab} tokens in tokenizer.ggml.tokens";
        Check("token_embd.weight", s.Embd, s.Vocab, vocab);
        Check("output.weight", s.Embd, s.Vocab, vocab);
        Vector("output_norm.weight", s.Embd, embd);
        ulong? q = s.HeadK * s.Heads, k = s.HeadK * s.HeadsKv, v = s.HeadV * s.HeadsKv;
        string heads = $"head size {s.HeadK} x {LongRopeKeys.HeadCount(arch)} {s.Heads}";
        string kvHeads = $"head size {s.HeadK} x {arch}.attention.head_count_kv {s.HeadsKv}";
        string ff = $"{arch}.feed_forward_length {s.Ff}";
        for (int i = 0; i < blockCount; i++)
        {
            string b = $"blk.{i}.";
            Vector(b + "attn_norm.weight", s.Embd, embd);
            Vector(b + "ffn_norm.weight", s.Embd, embd);
            Check(b + "attn_q.weight", s.Embd, q, $"{embd}; {heads}");
            Check(b + "attn_k.weight", s.Embd, k, $"{embd}; {kvHeads}");
            Check(b + "attn_v.weight", s.Embd, v, $"{embd}; value head size {s.HeadV} x {arch}.attention.head_count_kv {s.HeadsKv}");
            Vector(b + "attn_q.bias", q, heads);
            Vector(b + "attn_k.bias", k, kvHeads);
            Vector(b + "attn_v.bias", v, $"value head size {s.HeadV} x {arch}.attention.head_count_kv {s.HeadsKv}");
            Check(b + "attn_qkv.weight", s.Embd, q + k + v, $"{embd}; Q {q} + K {k} + V {v}");
            Vector(b + "attn_qkv.bias", q + k + v, $"Q {q} + K {k} + V {v}");
            Check(b + "attn_output.weight", q, s.Embd, $"{heads}; {embd}");
            Vector(b + "attn_output.bias", s.Embd, embd);
            if (expertCount > 0) continue;
            Check(b + "ffn_gate.weight", s.Embd, s.Ff, $"{embd}; {ff}");
            Check(b + "ffn_up.weight", s.Embd, s.Ff, $"{embd}; {ff}");
            Check(b + "ffn_down.weight", s.Ff, s.Embd, $"{ff}; {embd}");
            Vector(b + "ffn_gate.bias", s.Ff, ff);
            Vector(b + "ffn_up.bias", s.Ff, ff);
            Vector(b + "ffn_down.bias", s.Embd, embd);
        }
        return result;
    }

    /// <summary>check_tensor_dims: each of the four dimensions equal, the ones not given being 1.</summary>
    private static bool Matches(IReadOnlyList<ulong> actual, ulong[] expected)
    {
        for (int i = 0; i < Math.Max(actual.Count, expected.Length); i++)
            if ((i < actual.Count ? actual[i] : 1) != (i < expected.Length ? expected[i] : 1)) return false;
        return true;
    }

    private static Sizes? ReadSizes(GgufFile file, string arch, int blockCount)
    {
        if (UInt32(file, LongRopeKeys.EmbeddingLength(arch)) is not { } embd) return null;
        ulong? heads = FirstLayer(file, LongRopeKeys.HeadCount(arch), blockCount);
        if (heads == 0) heads = null; // head-count-invalid
        ulong? kv = file.ContainsKey($"{arch}.attention.head_count_kv") ? FirstLayer(file, $"{arch}.attention.head_count_kv", blockCount) : heads;
        ulong? headK = file.ContainsKey(LongRopeKeys.KeyLength(arch)) ? UInt32(file, LongRopeKeys.KeyLength(arch)) : embd / heads;
        ulong? headV = file.ContainsKey($"{arch}.attention.value_length") ? UInt32(file, $"{arch}.attention.value_length") : embd / heads;
        // Without a vocabulary (tokenizer none or no_vocab) llama.cpp sizes the embedding 0 wide: measured "expected 256, 0".
        ulong? vocab = file.TryGetValue("tokenizer.ggml.model", out var model) && model.Type == GgufValueType.String && model.AsString() is "none" or "no_vocab" ? 0
            : file.TryGetValue("tokenizer.ggml.tokens", out var tokens) && tokens.Type == GgufValueType.Array && tokens.ElementType == GgufValueType.String ? (ulong)tokens.Count
            : null;
        return new Sizes(embd, vocab, headK, headV, heads, kv, FirstLayer(file, $"{arch}.feed_forward_length", blockCount));
    }

    private static ulong? UInt32(GgufFile file, string key) =>
        file.TryGetValue(key, out var v) && v.Type == GgufValueType.UInt32 ? v.AsUInt32() : null;

    /// <summary>A per-layer count's first layer: the scalar, or item 0 of a UINT32/INT32 array of one item per layer
    /// (get_key_or_arr; an array of another length fails the load before any tensor, reported as per-layer-key).</summary>
    private static ulong? FirstLayer(GgufFile file, string key, int blockCount)
    {
        if (!file.TryGetValue(key, out var v)) return null;
        if (v.Type == GgufValueType.UInt32) return v.AsUInt32();
        if (v.Type != GgufValueType.Array || v.Count != blockCount || v.Count == 0) return null;
        return v.ElementType switch
        {
            GgufValueType.UInt32 => v.AsArray<uint>(GgufValueType.UInt32)[0],
            GgufValueType.Int32 => (ulong)(uint)v.AsArray<int>(GgufValueType.Int32)[0],
            _ => null,
        };
    }
}
