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
        // A shape whose sizes could not all be read is not checked.
        void Check(string name, string basis, params ulong?[] dims)
        {
            if (dims.Any(d => d is null) || !file.TryGetTensor(name, out var t)) return;
            ulong[] expected = [.. dims.Select(d => d!.Value)];
            if (!Matches(t.Dimensions, expected)) result.Add(new Mismatch(t, expected, basis));
        }

        string vocab = s.Vocab == 0 ? $"{embd}; no vocabulary (tokenizer.ggml.model none or no_vocab)" : $"{embd}; {s.Vocab} tokens in tokenizer.ggml.tokens";
        Check("token_embd.weight", vocab, s.Embd, s.Vocab);
        Check("output.weight", vocab, s.Embd, s.Vocab);
        Check("output_norm.weight", embd, s.Embd);
        ulong? q = s.HeadK * s.Heads, k = s.HeadK * s.HeadsKv, v = s.HeadV * s.HeadsKv;
        string heads = $"head size {s.HeadK} x {LongRopeKeys.HeadCount(arch)} {s.Heads}";
        string kvHeads = $"head size {s.HeadK} x {arch}.attention.head_count_kv {s.HeadsKv}";
        string vHeads = $"value head size {s.HeadV} x {arch}.attention.head_count_kv {s.HeadsKv}";
        string ff = $"{arch}.feed_forward_length {s.Ff}";
        for (int i = 0; i < blockCount; i++)
        {
            string b = $"blk.{i}.";
            Check(b + "attn_norm.weight", embd, s.Embd);
            Check(b + "ffn_norm.weight", embd, s.Embd);
            Check(b + "attn_q.weight", $"{embd}; {heads}", s.Embd, q);
            Check(b + "attn_k.weight", $"{embd}; {kvHeads}", s.Embd, k);
            Check(b + "attn_v.weight", $"{embd}; {vHeads}", s.Embd, v);
            Check(b + "attn_q.bias", heads, q);
            Check(b + "attn_k.bias", kvHeads, k);
            Check(b + "attn_v.bias", vHeads, v);
            Check(b + "attn_qkv.weight", $"{embd}; Q {q} + K {k} + V {v}", s.Embd, q + k + v);
            Check(b + "attn_qkv.bias", $"Q {q} + K {k} + V {v}", q + k + v);
            Check(b + "attn_output.weight", $"{heads}; {embd}", q, s.Embd);
            Check(b + "attn_output.bias", embd, s.Embd);
            if (expertCount > 0) continue;
            Check(b + "ffn_gate.weight", $"{embd}; {ff}", s.Embd, s.Ff);
            Check(b + "ffn_up.weight", $"{embd}; {ff}", s.Embd, s.Ff);
            Check(b + "ffn_down.weight", $"{ff}; {embd}", s.Ff, s.Embd);
            Check(b + "ffn_gate.bias", ff, s.Ff);
            Check(b + "ffn_up.bias", ff, s.Ff);
            Check(b + "ffn_down.bias", embd, s.Embd);
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
