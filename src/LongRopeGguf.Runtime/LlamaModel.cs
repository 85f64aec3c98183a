using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Exceptions;
using LLama.Native;

namespace LongRopeGguf.Runtime;

/// <summary>
/// One model in llama.cpp: the weights, loaded once per process, and the contexts made from them as the work needs
/// (a short-set and a long-set context can live side by side; neither reloads the weights).
/// </summary>
public sealed class LlamaModel : IDisposable
{
    private static int s_weightLoads;
    private readonly Dictionary<int, ModelContext> _idle = new();
    private bool _disposed;

    private LlamaModel(ModelContextInfo info, LLamaWeights weights, BackendInfo backend, RunnerOptions options, int gpuLayers,
        (int, int)? offload, TimeSpan loadTime)
    {
        Info = info;
        Weights = weights;
        Backend = backend;
        Options = options;
        GpuLayers = gpuLayers;
        Offload = offload;
        LoadTime = loadTime;
    }

    /// <summary>How many times this process has loaded weights through the runner (the proof that moves never reload).</summary>
    public static int WeightLoads => Volatile.Read(ref s_weightLoads);

    public ModelContextInfo Info { get; }
    public LLamaWeights Weights { get; }
    public BackendInfo Backend { get; }
    public RunnerOptions Options { get; }

    /// <summary>The n_gpu_layers passed to llama.cpp.</summary>
    public int GpuLayers { get; }

    /// <summary>"offloaded N/M layers to GPU" as llama.cpp logged it; null on a CPU-only build, which logs nothing.</summary>
    public (int Offloaded, int Total)? Offload { get; }

    public TimeSpan LoadTime { get; }

    /// <summary>Contexts created so far for this model (each one is a KV cache, not a weight load).</summary>
    public int ContextsCreated { get; private set; }

    /// <summary>Reads the header with our GGUF reader (refusing a file llama.cpp would abort on), then loads the weights
    /// into llama.cpp.</summary>
    public static LlamaModel Load(string path, RunnerOptions? options = null) => Load(ModelContextInfo.Read(path), options);

    /// <summary>Loads the weights of a model whose header <see cref="ModelContextInfo.Read"/> has read and checked (the
    /// command line reads it before llama.cpp is set up: no second read and check of a large header).</summary>
    public static LlamaModel Load(ModelContextInfo info, RunnerOptions? options = null)
    {
        options ??= new RunnerOptions();
        options.Validate();
        var backend = NativeRuntime.Backend();
        int allLayers = info.LayerCount + 1; // repeating layers + the output layer, as llama.cpp counts them
        int gpuLayers = options.GpuLayers switch
        {
            null => backend.HasGpu ? allLayers : 0,
            -1 => allLayers,
            { } n => n,
        };
        var modelParams = new ModelParams(info.Path) { GpuLayerCount = gpuLayers };
        long mark = NativeRuntime.Log.Position;
        var sw = Stopwatch.StartNew();
        LLamaWeights weights;
        try
        {
            weights = LLamaWeights.LoadFromFile(modelParams);
        }
        catch (Exception e) when (e is LoadWeightsFailedException or RuntimeError)
        {
            string cause = NativeRuntime.Log.BestErrorSince(mark) ?? NativeRuntime.OneLine(e.Message);
            throw new LlamaFailureException($"{info.Path}: llama.cpp cannot load this model: {cause}", e);
        }
        Interlocked.Increment(ref s_weightLoads);
        var offload = NativeRuntime.Log.OffloadSince(mark);
        return new LlamaModel(info, weights, backend, options, gpuLayers, offload, sw.Elapsed);
    }

    /// <summary>
    /// What in the file would abort the whole process inside llama.cpp (an assertion: no error to catch, and a core
    /// dump instead of a message) or make every output meaningless (NaN logits from a NaN attention factor, RoPE base or
    /// factor), as one line naming the file, or null. Every model load asks first.
    /// </summary>
    /// <param name="header">The model's header, as the load read it (no second read).</param>
    public static string? WhyNotToLoad(Gguf.GgufFile header)
    {
        var findings = LongRope.LongRopeVerifier.Verify(header).Findings;
        if (findings.FirstOrDefault(f => f.Consequence == LongRope.Consequence.ProcessAborts) is { } abort)
            return $"{header.Path}: llama.cpp would abort the process on this file: {abort.Message}";
        // The run would "work" and print nothing or noise: a NaN attention factor, RoPE base or factor makes every
        // logit NaN (generate printed an empty text and exited 0).
        if (findings.FirstOrDefault(f => f.Severity == LongRope.Severity.Error && LongRope.LongRopeVerifier.MeaninglessOutputCodes.Contains(f.Code)) is { } broken)
            return $"{header.Path}: llama.cpp would run this file but its output would be meaningless: {broken.Message} (longrope verify lists what is wrong)";
        // LLamaSharp 0.30.0 reads every metadata value as text when it loads a model, and an empty one throws inside it
        // (ArgumentNullException from SafeLlamaModelHandle.ReadMetadata: an internal error, exit 70); llama.cpp itself
        // accepts the file.
        if (header.Metadata.FirstOrDefault(m => UnreadableByLLamaSharp(m.Value)) is { } empty)
        {
            string key = Gguf.DisplayText.Escape(empty.Key);
            return $"{header.Path}: '{key}' is an empty string, which LLamaSharp 0.30.0 cannot read (its model load fails): give it a value "
                + $"(longrope edit MODEL --in-place --set '{key}=string:TEXT') or remove it (--remove '{key}')";
        }
        return null;
    }

    /// <summary>A metadata value LLamaSharp 0.30.0 fails on when it loads a model (an empty string; llama.cpp takes it).</summary>
    public static bool UnreadableByLLamaSharp(Gguf.GgufValue value) => value.Type == Gguf.GgufValueType.String && value.AsString().Length == 0;

    /// <summary>The exact llama.cpp context parameters the runner uses for <paramref name="plan"/> (also used by the bare benchmark loop).</summary>
    public ModelParams ContextParams(ContextPlan plan)
    {
        uint batch = (uint)Math.Min(Options.BatchSize, plan.ContextSize);
        var p = new ModelParams(Info.Path)
        {
            ContextSize = (uint)plan.ContextSize,
            BatchSize = batch,
            UBatchSize = batch,
            SeqMax = 1,
            KVUnified = true, // n_ctx_seq = n_ctx: the size we plan is the size llama.cpp compares with the original length
            Threads = Options.Threads,
            BatchThreads = Options.Threads,
            FlashAttention = Options.FlashAttention,
            GpuLayerCount = GpuLayers,
        };
        if (ShortContextAttnParameter(plan) is { } f) p.YarnAttentionFactor = f;
        return p;
    }

    /// <summary>The yarn_attn_factor that gives <paramref name="plan"/>'s context the model's own attention magnitude
    /// (a short context of a file this tool patched, unless the options keep the file's), or null: llama.cpp's default.</summary>
    public float? ShortContextAttnParameter(ContextPlan plan) =>
        plan.FactorSet == FactorSetKind.Short && RunsShortContextsAtOwnMagnitude ? Info.ShortContextAttnParameter : null;

    /// <summary>Whether this model's short contexts get another attention magnitude than llama.cpp would give them:
    /// a file this tool patched (<see cref="ModelContextInfo.ShortContextAttnParameter"/>), unless the options keep the file's.</summary>
    public bool RunsShortContextsAtOwnMagnitude => Info.ShortContextAttnParameter is not null && !Options.FileAttentionOnShortContexts;

    /// <summary>A context for <paramref name="plan"/>: an idle one of the same size (cleared) or a new one.</summary>
    public ModelContext AcquireContext(ContextPlan plan)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.Remove(plan.ContextSize, out var ctx))
        {
            ctx.Reuse(plan);
            return ctx;
        }
        var created = new ModelContext(this, plan);
        ContextsCreated++;
        return created;
    }

    /// <summary>Gives a context back. One idle context per factor set is kept, so a conversation can come back to it.</summary>
    public void ReleaseContext(ModelContext context)
    {
        if (_disposed) { context.Dispose(); return; }
        foreach (var (size, other) in _idle.Where(kv => kv.Value.Plan.FactorSet == context.Plan.FactorSet).ToList())
        {
            _idle.Remove(size);
            other.Dispose();
        }
        _idle[context.Size] = context;
    }

    /// <summary>Frees idle contexts (memory; the benchmark uses it so that each move pays for a new context).</summary>
    public void TrimIdleContexts()
    {
        foreach (var c in _idle.Values) c.Dispose();
        _idle.Clear();
    }

    public LLamaToken[] Tokenize(string text, bool addBos, bool special = false) =>
        Weights.Tokenize(text, addBos, special, System.Text.Encoding.UTF8);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        TrimIdleContexts();
        Weights.Dispose();
    }
}
