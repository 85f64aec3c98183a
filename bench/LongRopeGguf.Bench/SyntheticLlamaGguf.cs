using System.Buffers.Binary;
using LongRopeGguf.Gguf;

namespace LongRopeGguf.Bench;

/// <summary>The shape of a synthetic llama model, chosen so that its file is about a requested size.</summary>
/// <param name="Embedding">n_embd (a multiple of 512: whole Q4_K blocks, head_dim 128, 4 query heads per KV head).</param>
/// <param name="FeedForward">n_ff (a multiple of 256: ffn_down rows are whole Q4_K blocks).</param>
public sealed record LlamaShape(int Vocab, int Layers, int Embedding, int FeedForward)
{
    public const int HeadDim = 128;
    public int Heads => Embedding / HeadDim;
    public int KvHeads => Heads / 4;
    public int KvDim => KvHeads * HeadDim;

    /// <summary>Bytes of tensor data (padding excluded).</summary>
    public long DataBytes => SyntheticLlamaGguf.Tensors(this).Sum(t => (long)GgmlTypeTraits.Get(t.Type).ByteSize(t.Dims)!.Value);

    /// <summary>The largest shape with the usual n_ff ~ 3.5 n_embd whose file is at most <paramref name="bytes"/>, then
    /// n_ff widened in steps of 256 until the file reaches <paramref name="bytes"/> (the vocabulary and layer count
    /// stay fixed, so the tensor count stays ~300 whatever the size).</summary>
    public static LlamaShape ForSize(long bytes, int vocab, int layers)
    {
        static int Ff(int d) => Math.Max(256, (int)(3.5 * d) / 256 * 256);
        int d = 512;
        while (new LlamaShape(vocab, layers, d + 512, Ff(d + 512)).DataBytes <= bytes) d += 512;
        var shape = new LlamaShape(vocab, layers, d, Ff(d));
        while (shape.DataBytes < bytes) shape = shape with { FeedForward = shape.FeedForward + 256 };
        return shape;
    }
}

/// <summary>
/// Writes a llama-style GGUF of realistic header and size for benchmarks: the llama keys, a GPT-2-style vocabulary
/// (string array), scores (float array) and token types, and ~300 tensors in Q4_K / F16 / F32 as a Q4_K_M file has.
/// Tensor data is a repeated pseudo-random pattern with a counter stamped into every 4 KiB, so that it is generated
/// at disk speed yet no two pages are alike (nothing a file system could store as a hole or deduplicate).
/// </summary>
public static class SyntheticLlamaGguf
{
    /// <summary>A planned tensor: name, type, dimensions (ne[0] first).</summary>
    public sealed record PlannedTensor(string Name, GgmlType Type, ulong[] Dims);

    public static IEnumerable<PlannedTensor> Tensors(LlamaShape s)
    {
        ulong d = (ulong)s.Embedding, ff = (ulong)s.FeedForward, kv = (ulong)s.KvDim, v = (ulong)s.Vocab;
        yield return new("token_embd.weight", GgmlType.Q4_K, [d, v]);
        for (int i = 0; i < s.Layers; i++)
        {
            yield return new($"blk.{i}.attn_norm.weight", GgmlType.F32, [d]);
            yield return new($"blk.{i}.attn_q.weight", GgmlType.Q4_K, [d, d]);
            yield return new($"blk.{i}.attn_k.weight", GgmlType.Q4_K, [d, kv]);
            yield return new($"blk.{i}.attn_v.weight", GgmlType.Q4_K, [d, kv]);
            yield return new($"blk.{i}.attn_output.weight", GgmlType.Q4_K, [d, d]);
            yield return new($"blk.{i}.ffn_norm.weight", GgmlType.F32, [d]);
            yield return new($"blk.{i}.ffn_gate.weight", GgmlType.Q4_K, [d, ff]);
            yield return new($"blk.{i}.ffn_up.weight", GgmlType.Q4_K, [d, ff]);
            yield return new($"blk.{i}.ffn_down.weight", GgmlType.Q4_K, [ff, d]);
        }
        yield return new("output_norm.weight", GgmlType.F32, [d]);
        yield return new("output.weight", GgmlType.F16, [d, v]);
    }

    public static GgufFile Write(string path, LlamaShape shape, int seed = 1)
    {
        var rng = new Random(seed);
        var vocab = Vocabulary(shape.Vocab, rng);
        var metadata = new List<GgufMetadataEntry>
        {
            Entry("general.architecture", GgufValue.String("llama")),
            Entry("general.name", GgufValue.String($"synthetic-llama-{shape.Embedding}x{shape.Layers}")),
            Entry("general.file_type", GgufValue.UInt32(15)), // MOSTLY_Q4_K_M
            Entry("general.quantization_version", GgufValue.UInt32(2)),
            Entry("llama.vocab_size", GgufValue.UInt32((uint)shape.Vocab)),
            Entry("llama.context_length", GgufValue.UInt32(8192)),
            Entry("llama.embedding_length", GgufValue.UInt32((uint)shape.Embedding)),
            Entry("llama.block_count", GgufValue.UInt32((uint)shape.Layers)),
            Entry("llama.feed_forward_length", GgufValue.UInt32((uint)shape.FeedForward)),
            Entry("llama.attention.head_count", GgufValue.UInt32((uint)shape.Heads)),
            Entry("llama.attention.head_count_kv", GgufValue.UInt32((uint)shape.KvHeads)),
            Entry("llama.rope.freq_base", GgufValue.Float32(500000f)),
            Entry("llama.rope.dimension_count", GgufValue.UInt32(LlamaShape.HeadDim)),
            Entry("llama.attention.layer_norm_rms_epsilon", GgufValue.Float32(1e-5f)),
            Entry("tokenizer.ggml.model", GgufValue.String("gpt2")),
            Entry("tokenizer.ggml.pre", GgufValue.String("llama-bpe")),
            Entry("tokenizer.ggml.tokens", GgufValue.Array(vocab)),
            Entry("tokenizer.ggml.scores", GgufValue.Array(Enumerable.Range(0, shape.Vocab).Select(i => -(float)i).ToArray())),
            Entry("tokenizer.ggml.token_type", GgufValue.Array(Enumerable.Range(0, shape.Vocab).Select(i => i < 2 ? 3 : 1).ToArray())),
            Entry("tokenizer.ggml.bos_token_id", GgufValue.UInt32(0)),
            Entry("tokenizer.ggml.eos_token_id", GgufValue.UInt32(1)),
            Entry("tokenizer.chat_template", GgufValue.String(string.Concat(Enumerable.Repeat(
                "{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] }}<|eot_id|>{% endfor %}", 8)))),
        };
        var patterns = new Dictionary<GgmlType, byte[]>();
        var tensors = Tensors(shape).Select(t =>
        {
            long bytes = (long)GgmlTypeTraits.Get(t.Type).ByteSize(t.Dims)!.Value;
            if (!patterns.TryGetValue(t.Type, out var pattern)) patterns[t.Type] = pattern = Pattern(t.Type, rng);
            return new OutputTensor(t.Name, t.Type, t.Dims, new TensorData.Generated(bytes, s => WritePattern(s, pattern, bytes)));
        }).ToList();
        return GgufRewriter.WriteNew(path, metadata, tensors);
    }

    private static GgufMetadataEntry Entry(string key, GgufValue value) => new(key, value);

    /// <summary>Special tokens, then GPT-2-style byte-level word pieces ("Ġ" marks a leading space), all distinct.</summary>
    private static string[] Vocabulary(int size, Random rng)
    {
        var tokens = new List<string>(size) { "<|begin_of_text|>", "<|end_of_text|>" };
        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        const string letters = "etaoinshrdlcumwfgypbvkjxqz";
        var chars = new char[16];
        while (tokens.Count < size)
        {
            int n = 0;
            if (rng.Next(10) < 6) chars[n++] = 'Ġ';
            int length = 1 + (int)Math.Min(10, -Math.Log(1 - rng.NextDouble()) * 4);
            for (int i = 0; i < length; i++) chars[n++] = letters[(int)(letters.Length * Math.Pow(rng.NextDouble(), 1.8))];
            string t = new(chars, 0, n);
            if (seen.Add(t)) tokens.Add(t);
            else if (seen.Add(t + tokens.Count)) tokens.Add(t + tokens.Count);
        }
        return tokens.ToArray();
    }

    private const int PatternBytes = 4 << 20;
    private const int StampEvery = 4096;

    /// <summary>About 4 MiB of plausible data of one type, a whole number of its blocks: F32 norms near 1, F16 weights
    /// within +-0.1, Q4_K blocks with small positive scales and random nibbles.</summary>
    private static byte[] Pattern(GgmlType type, Random rng)
    {
        var traits = GgmlTypeTraits.Get(type);
        var b = new byte[PatternBytes / traits.BytesPerBlock * traits.BytesPerBlock];
        switch (type)
        {
            case GgmlType.F32:
                for (int i = 0; i < b.Length; i += 4) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i), 1f + (float)(rng.NextDouble() - 0.5) * 0.1f);
                break;
            case GgmlType.F16:
                for (int i = 0; i < b.Length; i += 2) BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(i), (Half)((rng.NextDouble() - 0.5) * 0.2));
                break;
            default:
                rng.NextBytes(b);
                for (int i = 0; i < b.Length; i += traits.BytesPerBlock)
                {
                    BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(i), (Half)(0.001 + rng.NextDouble() * 0.01));     // d
                    BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(i + 2), (Half)(0.001 + rng.NextDouble() * 0.01)); // dmin
                }
                break;
        }
        return b;
    }

    private static long s_stamp;

    /// <summary>Writes <paramref name="bytes"/> bytes of the pattern, stamping a running counter into the last 4 bytes
    /// of every 4 KiB (low bytes of F32/F16 values, or Q4_K nibbles and 6-bit scales, never a Q4_K d or dmin: those
    /// positions are 12..140 bytes into their 144-byte blocks).</summary>
    private static void WritePattern(Stream s, byte[] pattern, long bytes)
    {
        var chunk = new byte[pattern.Length];
        while (bytes > 0)
        {
            pattern.CopyTo(chunk, 0);
            uint stamp = (uint)Interlocked.Increment(ref s_stamp);
            for (int at = StampEvery - 4; at + 4 <= chunk.Length; at += StampEvery)
            {
                // Low bytes only (of two F16 values, or the low mantissa of an F32): values stay finite.
                chunk[at] ^= (byte)stamp;
                chunk[at + 2] ^= (byte)((stamp >> 8) & 0x7F);
                stamp++;
            }
            int n = (int)Math.Min(bytes, chunk.Length);
            s.Write(chunk, 0, n);
            bytes -= n;
        }
    }
}
