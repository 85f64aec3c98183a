using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using LongRopeGguf.Runtime;

namespace LongRopeGguf.Evaluation.Engine;

/// <summary>
/// A model file loaded into llama.cpp for evaluation: its weights, what its header says about RoPE, and its tokenizer.
/// Contexts for any mode and length are made from it (several may be alive at once).
/// </summary>
public sealed class EvalModel : IDisposable, Prompts.ITextTokenizer
{
    private readonly LlamaModel _model;

    private EvalModel(string path, LlamaModel model, EngineOptions options)
    {
        Path = path;
        _model = model;
        Options = options;
    }

    public string Path { get; }
    public LLamaWeights Weights => _model.Weights;
    /// <summary>What the header says about the context and RoPE (the runner's reading of it).</summary>
    public ModelContextInfo Info => _model.Info;
    public EngineOptions Options { get; }

    /// <summary>Reads and checks the header (a missing or bad file, or one llama.cpp would abort on, fails there in one
    /// line), then loads the weights the runner's way.</summary>
    public static EvalModel Load(string path, EngineOptions? options = null)
    {
        options ??= EngineOptions.Default;
        options.Validate();
        var info = ModelContextInfo.Read(path);
        NativeLlama.EnsureConfigured();
        var model = LlamaModel.Load(info, new RunnerOptions { GpuLayers = options.GpuLayers, Threads = options.Threads, BatchSize = options.BatchSize });
        return new EvalModel(System.IO.Path.GetFullPath(path), model, options);
    }

    /// <summary>Token ids of <paramref name="text"/> as llama.cpp tokenizes it (special tokens not parsed).</summary>
    public int[] Tokenize(string text, bool addBos)
    {
        var tokens = Weights.Tokenize(text, addBos, special: false, Encoding.UTF8);
        var ids = new int[tokens.Length];
        for (int i = 0; i < tokens.Length; i++) ids[i] = (int)tokens[i];
        return ids;
    }

    /// <summary>Text of generated tokens (bytes of split UTF-8 characters are joined).</summary>
    public string Detokenize(IEnumerable<int> ids)
    {
        var decoder = new StreamingTokenDecoder(Encoding.UTF8, Weights);
        foreach (int id in ids) decoder.Add(id);
        return decoder.Read();
    }

    public bool IsEndOfGeneration(int token) =>
        (Weights.Vocab.EOS is { } eos && token == (int)eos) || (Weights.Vocab.EOT is { } eot && token == (int)eot);

    /// <summary>
    /// Loads the file of a patched <paramref name="mode"/>, refusing one whose tokenizer differs from this model's on
    /// <paramref name="probeText"/>: its results would be of other prompts than the base model's modes.
    /// </summary>
    public EvalModel LoadPatched(RopeMode mode, string probeText)
    {
        var model = Load(mode.PatchedPath!, Options);
        if (!model.Tokenize(probeText, addBos: true).AsSpan().SequenceEqual(Tokenize(probeText, addBos: true)))
        {
            model.Dispose();
            throw new EvalInputException($"--patched {mode.Name}={mode.PatchedPath}: its tokenizer differs from {System.IO.Path.GetFileName(Path)}'s; patch the same base model");
        }
        return model;
    }

    /// <summary>The n_batch a context of <paramref name="sequences"/> sequences runs with: the option, at least one
    /// token per sequence.</summary>
    public int BatchFor(int sequences) => Math.Max(Options.BatchSize, sequences);

    /// <summary>
    /// A context for <paramref name="mode"/> holding <paramref name="cells"/> tokens, shared by
    /// <paramref name="sequences"/> sequences in one unified KV cache (so every sequence sees n_ctx_seq = n_ctx, and a
    /// LongRoPE file picks its factor set from the whole context size, exactly as a one-sequence context would).
    /// </summary>
    public EvalContext CreateContext(RopeMode mode, int length, int cells, int sequences = 1)
    {
        EnsureContextFits(cells);
        var p = new ModelParams(Path)
        {
            ContextSize = (uint)cells,
            SeqMax = (uint)sequences,
            KVUnified = true,
            // llama.cpp keeps an output row per sequence and asserts that they fit in n_batch: --batch-size 1 with a
            // two-sequence grid aborted the process (GGML_ASSERT n_outputs_max). The batch is a speed setting; it is
            // raised to the sequences held.
            BatchSize = (uint)BatchFor(sequences),
            UBatchSize = (uint)Math.Min(BatchFor(sequences), 512),
            GpuLayerCount = Options.GpuLayers,
        };
        if (Options.Threads is { } t) { p.Threads = t; p.BatchThreads = t; }
        mode.Apply(p, length, Info.OriginalContextLength);
        // A short context of a file this tool patched runs at the model's own attention magnitude, as the runner runs it.
        float? shortAttn = mode.RunsFileRope
            && Info.FactorSetAt(ContextPlanner.RoundUp(cells)) == FactorSetKind.Short ? Info.ShortContextAttnParameter : null;
        if (shortAttn is { } f) p.YarnAttentionFactor = f;
        // The sizes were checked before (EnsureContextFits, and against the GPU's free memory where the layers are
        // there): what is left is llama.cpp's own failure (exit 3). Made the runner's way, at handle level: LLamaSharp's
        // LLamaContext went on with the null handle of a context llama.cpp could not make, and the process died.
        MemoryCheck.EnsureContextFits(_model, cells);
        SafeLLamaContextHandle handle;
        try
        {
            handle = ModelContext.Create(_model, p, NativeLlama.Mark());
        }
        catch (LlamaFailureException e)
        {
            throw new LlamaFailureException($"length {length}, mode {mode.Name}: {e.Message}", e);
        }
        return new EvalContext(this, handle, mode, length, shortAttn);
    }

    /// <summary>Refuses a non-positive size, or a context whose KV cache alone would not fit in the memory that is free now.</summary>
    public void EnsureContextFits(long cells) => EnsureContextFits(Info, cells);

    /// <summary>The same check from the header alone, before any model is loaded or copied.</summary>
    /// <remarks>Nine tenths of the memory available: the weights and llama.cpp's compute buffers need the rest. The full
    /// cache is assumed for a sliding-window model too (an upper bound; Phi-3's window llama.cpp disables); a header
    /// without the attention shape is left to llama.cpp.</remarks>
    public static void EnsureContextFits(ModelContextInfo info, long cells)
    {
        if (cells <= 0) throw new EvalInputException($"length {cells}: must be a positive number of tokens");
        if (cells > uint.MaxValue / 2) throw new EvalInputException($"length {cells}: beyond what llama.cpp can address");
        if (info.KvCacheBytes(cells) is not { } need) return;
        long available = MemoryCheck.AvailableHostMemory() ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (need > available * 9 / 10)
            throw new EvalInputException(
                $"length {cells}: the KV cache alone needs {MemoryCheck.Gib(need)} GiB, more than the {MemoryCheck.Gib(available)} GiB of memory available ({info.LayerCount} layers, {info.KvBytesPerToken} bytes per token in F16)");
    }

    public void Dispose() => _model.Dispose();
}
