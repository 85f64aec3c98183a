using LLama.Native;
using LongRopeGguf.Runtime;

namespace LongRopeGguf.Evaluation.Engine;

/// <summary>
/// One llama.cpp context made for a mode and a length, with the few sequence operations evaluation needs: decode
/// tokens into a sequence (in batch-size chunks, reading logits where asked), copy and trim sequences, greedy answers.
/// </summary>
public sealed class EvalContext : IDisposable
{
    private readonly LLamaBatch _batch = new();

    internal EvalContext(EvalModel model, SafeLLamaContextHandle handle, RopeMode mode, int length, float? shortContextAttn = null)
    {
        Model = model;
        Native = handle;
        Mode = mode;
        Length = length;
        ContextSize = (int)handle.ContextSize;
        ContextPerSequence = NativeLlama.ContextSizePerSequence(handle);
        FactorSet = model.Info.FactorSetAt(ContextPerSequence).Name();
        RopeDescription = mode.Describe(length, model.Info.OriginalContextLength);
        if (shortContextAttn is { } f)
        {
            // Predicted from the planned size before llama.cpp made the context: it must have picked the short set.
            if (FactorSet != "short")
            {
                handle.Dispose();
                throw new LlamaFailureException($"length {length}: llama.cpp chose the {FactorSet} set (n_ctx_seq {ContextPerSequence}) where the short one was planned");
            }
            RopeDescription += $"; {OwnMagnitudeNote} (yarn_attn_factor {f.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)})";
        }
    }

    /// <summary>What a trial's rope text says when its short context ran at the model's own attention magnitude.</summary>
    public const string OwnMagnitudeNote = "model's own attention magnitude";

    public EvalModel Model { get; }
    public RopeMode Mode { get; }

    /// <summary>The length the mode's RoPE settings were chosen for.</summary>
    public int Length { get; }

    /// <summary>n_ctx as llama.cpp allocated it (rounded up to a multiple of 256).</summary>
    public int ContextSize { get; }

    /// <summary>n_ctx_seq: what llama.cpp compares with the original context to choose a LongRoPE factor set.</summary>
    public int ContextPerSequence { get; }

    /// <summary>LongRoPE factor set llama.cpp applies in this context: long, short or none.</summary>
    public string FactorSet { get; }

    public string RopeDescription { get; }

    /// <summary>The llama.cpp context (made at handle level, as the runner makes its own: see ModelContext.Create).</summary>
    private SafeLLamaContextHandle Native { get; }

    /// <summary>
    /// Decodes <paramref name="tokens"/> into sequence <paramref name="seq"/> at positions <paramref name="startPos"/>...
    /// For every token index i with <paramref name="wantLogits"/>(i), <paramref name="onLogits"/>(i, logits) is called with
    /// the next-token logits at that position (valid only during the call).
    /// </summary>
    public void Decode(int seq, ReadOnlySpan<int> tokens, int startPos, Func<int, bool> wantLogits, LogitsHandler onLogits, CancellationToken ct = default)
    {
        int chunk = (int)Native.BatchSize;
        var requested = new List<(int tokenIndex, int batchIndex)>();
        for (int start = 0; start < tokens.Length; start += chunk)
        {
            ct.ThrowIfCancellationRequested();
            int n = Math.Min(chunk, tokens.Length - start);
            _batch.Clear();
            requested.Clear();
            for (int i = 0; i < n; i++)
            {
                int ti = start + i;
                bool want = wantLogits(ti);
                int bi = _batch.Add((LLamaToken)tokens[ti], startPos + ti, (LLamaSeqId)seq, want);
                if (want) requested.Add((ti, bi));
            }
            long mark = NativeLlama.Mark();
            var result = Native.Decode(_batch);
            if (result != DecodeResult.Ok)
                throw new LlamaFailureException(
                    $"llama_decode failed ({result}) at positions {startPos + start}..{startPos + start + n - 1} of sequence {seq} in a {ContextSize}-token context (mode {Mode.Name}) {NativeLlama.ErrorsSince(mark)}".Trim());
            foreach (var (ti, bi) in requested)
                onLogits(ti, Native.GetLogitsIth(bi));
        }
    }

    /// <summary>Decodes <paramref name="tokens"/> and returns the next-token logits after the last one (a copy).</summary>
    public float[] DecodeLast(int seq, ReadOnlySpan<int> tokens, int startPos, CancellationToken ct = default)
    {
        if (tokens.Length == 0) throw new ArgumentException("nothing to decode", nameof(tokens));
        float[]? last = null;
        int lastIndex = tokens.Length - 1;
        Decode(seq, tokens, startPos, i => i == lastIndex, (_, l) => last = l.ToArray(), ct);
        return last!;
    }

    /// <summary>Decodes without reading any logits (a shared prefix).</summary>
    public void DecodeSilently(int seq, ReadOnlySpan<int> tokens, int startPos, CancellationToken ct = default) =>
        Decode(seq, tokens, startPos, static _ => false, static (_, _) => { }, ct);

    /// <summary>
    /// Greedy continuation of sequence <paramref name="seq"/>: the first token is the argmax of
    /// <paramref name="firstLogits"/> (at position <paramref name="nextPos"/>), each further one is decoded to get the
    /// next. Stops after <paramref name="count"/> tokens or at end of generation.
    /// </summary>
    public int[] Greedy(int seq, ReadOnlySpan<float> firstLogits, int nextPos, int count, CancellationToken ct = default)
    {
        var output = new List<int>(count);
        int next = ArgMax(firstLogits);
        for (int step = 0; step < count; step++)
        {
            if (Model.IsEndOfGeneration(next)) break;
            output.Add(next);
            if (step == count - 1) break; // the last answer token needs no decode of its own
            ct.ThrowIfCancellationRequested();
            _batch.Clear();
            _batch.Add((LLamaToken)next, nextPos++, (LLamaSeqId)seq, true);
            var result = Native.Decode(_batch);
            if (result != DecodeResult.Ok)
                throw new LlamaFailureException($"llama_decode failed ({result}) while generating at position {nextPos - 1} in a {ContextSize}-token context (mode {Mode.Name})");
            next = ArgMax(Native.GetLogitsIth(0));
        }
        return output.ToArray();
    }

    /// <summary>Makes <paramref name="dst"/> share <paramref name="src"/>'s cells for positions [0, <paramref name="endPos"/>).</summary>
    public void CopySequence(int src, int dst, int endPos) =>
        Native.MemorySequenceCopy((LLamaSeqId)src, (LLamaSeqId)dst, 0, endPos);

    /// <summary>Drops positions [<paramref name="fromPos"/>, end) of a sequence.</summary>
    public void TrimSequence(int seq, int fromPos)
    {
        Native.MemorySequenceRemove((LLamaSeqId)seq, fromPos, -1);
    }

    public void ClearAll() => Native.MemoryClear();

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    public void Dispose() => Native.Dispose();
}

/// <summary>Receives the next-token logits at one token of a decode (the span is only valid during the call).</summary>
public delegate void LogitsHandler(int tokenIndex, ReadOnlySpan<float> logits);
