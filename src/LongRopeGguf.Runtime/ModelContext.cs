using System.Diagnostics;
using System.Runtime.InteropServices;
using LLama.Common;
using LLama.Extensions;
using LLama.Native;

namespace LongRopeGguf.Runtime;

/// <summary>
/// One llama.cpp context (a KV cache of a fixed size, hence a fixed factor set) holding a single sequence, with the
/// two operations the runner needs: evaluate a run of tokens in large batches, and read the next-token logits.
/// </summary>
public sealed class ModelContext : IDisposable
{
    private readonly LLamaBatch _batch = new();
    private int _logitsIndex = -1;

    internal ModelContext(LlamaModel model, ContextPlan plan)
    {
        Model = model;
        Params = model.ContextParams(plan);
        MemoryCheck.EnsureContextFits(model, plan.ContextSize);
        long mark = NativeRuntime.Log.Position;
        var sw = Stopwatch.StartNew();
        Handle = Create(model, Params, mark);
        CreateTime = sw.Elapsed;
        Plan = plan;
        SequenceContextSize = NativeContextQueries.SequenceContextSize(Handle) ?? Size;
        // The set is decided by llama.cpp from n_ctx_seq; make sure it is the one we planned (a guard against a change
        // in how llama.cpp rounds or splits contexts).
        var actual = ContextPlanner.SetFor(model.Info, SequenceContextSize);
        if (actual != plan.FactorSet || Size != plan.ContextSize)
        {
            Handle.Dispose();
            throw new LlamaFailureException($"llama.cpp made a {Size}-token context (n_ctx_seq {SequenceContextSize}, {actual} set) instead of the planned {plan.ContextSize} ({plan.FactorSet} set)");
        }
    }

    /// <summary>
    /// Creates a llama.cpp context. Not through LLamaContext: when llama.cpp cannot make the context (memory), LLamaSharp
    /// 0.30.0's LLamaContext constructor goes on with the null handle and the process dies (SIGSEGV); the handle-level
    /// call returns an invalid handle that we can turn into an error.
    /// </summary>
    public static SafeLLamaContextHandle Create(LlamaModel model, ModelParams parameters, long logMark)
    {
        parameters.ToLlamaContextParams(out var native);
        SafeLLamaContextHandle handle;
        try
        {
            handle = SafeLLamaContextHandle.Create(model.Weights.NativeHandle, native);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string why = NativeRuntime.Log.BestErrorSince(logMark) ?? NativeRuntime.OneLine(e.Message);
            throw new LlamaFailureException($"llama.cpp cannot create a {parameters.ContextSize}-token context: {why}", e);
        }
        if (handle.IsInvalid)
        {
            string cause = NativeRuntime.Log.BestErrorSince(logMark) ?? "no reason logged";
            throw new LlamaFailureException($"llama.cpp cannot create a {parameters.ContextSize}-token context: {cause}");
        }
        return handle;
    }

    public LlamaModel Model { get; }

    /// <summary>The llama.cpp context.</summary>
    public SafeLLamaContextHandle Handle { get; }

    /// <summary>The parameters this context was created with.</summary>
    public ModelParams Params { get; }

    public ContextPlan Plan { get; private set; }

    /// <summary>n_ctx.</summary>
    public int Size => (int)Handle.ContextSize;

    /// <summary>n_ctx_seq as llama.cpp reports it: what it compares with the original context length.</summary>
    public int SequenceContextSize { get; }

    public int BatchSize => (int)Handle.BatchSize;

    public TimeSpan CreateTime { get; }

    /// <summary>Whether <see cref="Logits"/> holds the next-token logits of the last evaluated position.</summary>
    public bool HasLogits => _logitsIndex >= 0;

    internal void Reuse(ContextPlan plan)
    {
        Clear();
        Plan = plan;
    }

    /// <summary>Forgets every evaluated token.</summary>
    public void Clear()
    {
        Handle.MemoryClear();
        _logitsIndex = -1;
    }

    /// <summary>Forgets the tokens at positions <paramref name="position"/> and later.</summary>
    public void RemoveFrom(int position)
    {
        Handle.MemorySequenceRemove(LLamaSeqId.Zero, position, -1);
        _logitsIndex = -1;
    }

    /// <summary>
    /// Evaluates <paramref name="tokens"/> at positions <paramref name="startPosition"/>.. in batches of n_batch tokens,
    /// computing logits for the last one only.
    /// </summary>
    public void Evaluate(ReadOnlySpan<LLamaToken> tokens, int startPosition, CancellationToken cancellationToken = default)
    {
        if (tokens.IsEmpty) return;
        if (startPosition + tokens.Length > Size)
            throw new InvalidOperationException($"{startPosition + tokens.Length} tokens do not fit a {Size}-token context");
        int batchSize = BatchSize;
        for (int done = 0; done < tokens.Length; done += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = Math.Min(batchSize, tokens.Length - done);
            _batch.Clear();
            bool last = done + n == tokens.Length;
            for (int i = 0; i < n; i++)
                _batch.Add(tokens[done + i], startPosition + done + i, LLamaSeqId.Zero, last && i == n - 1);
            Decode(startPosition + done);
            _logitsIndex = last ? n - 1 : -1;
        }
        // A GPU backend returns from decode before the work is done: wait, so prefill timings are true.
        Handle.Synchronize();
    }

    /// <summary>Evaluates one token (a decode step) and keeps its logits.</summary>
    public void EvaluateOne(LLamaToken token, int position)
    {
        if (position >= Size) throw new InvalidOperationException($"position {position} is beyond the {Size}-token context");
        _batch.Clear();
        _batch.Add(token, position, LLamaSeqId.Zero, true);
        Decode(position);
        _logitsIndex = 0;
    }

    /// <summary>Next-token logits after the last evaluated token (valid until the next evaluation).</summary>
    public Span<float> Logits => _logitsIndex >= 0
        ? Handle.GetLogitsIth(_logitsIndex)
        : throw new InvalidOperationException("no logits: the last evaluation did not end a sequence");

    /// <summary>The batch row whose logits a sampler reads.</summary>
    public int LogitsIndex => _logitsIndex >= 0 ? _logitsIndex : throw new InvalidOperationException("no logits available");

    private void Decode(int position)
    {
        var result = Handle.Decode(_batch);
        if (result != DecodeResult.Ok)
        {
            _logitsIndex = -1;
            throw new LlamaFailureException(result == DecodeResult.NoKvSlot
                ? $"llama.cpp has no room left in the {Size}-token context at position {position}"
                : $"llama.cpp failed to decode at position {position}: {result}");
        }
    }

    public void Dispose() => Handle.Dispose();
}

/// <summary>llama.cpp context queries that LLamaSharp 0.30.0 does not bind, resolved from the loaded libllama.</summary>
public static unsafe class NativeContextQueries
{
    private static readonly Lazy<IntPtr> s_nCtxSeq = new(() =>
        NativeLibrary.TryLoad("libllama.so", out var h) && NativeLibrary.TryGetExport(h, "llama_n_ctx_seq", out var f) ? f : IntPtr.Zero);

    /// <summary>n_ctx_seq (KV cells one sequence may use), or null when the loaded libllama does not export it.</summary>
    public static int? SequenceContextSize(SafeLLamaContextHandle ctx)
    {
        IntPtr f = s_nCtxSeq.Value;
        if (f == IntPtr.Zero) return null;
        return (int)((delegate* unmanaged[Cdecl]<IntPtr, uint>)f)(ctx.DangerousGetHandle());
    }
}
