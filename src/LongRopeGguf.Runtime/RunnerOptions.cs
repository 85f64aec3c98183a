namespace LongRopeGguf.Runtime;

/// <summary>How the runner loads the model and sizes its contexts.</summary>
public sealed record RunnerOptions
{
    /// <summary>Default prompt batch: large batches make prefill fast (one graph per 2048 tokens instead of per 512).</summary>
    public const int DefaultBatchSize = 2048;

    /// <summary>Layers to offload to the GPU; null: all of them when a GPU backend is present, none otherwise.</summary>
    public int? GpuLayers { get; init; }

    /// <summary>CPU threads for decoding and prompt processing; null: LLamaSharp's default (half the cores).</summary>
    public int? Threads { get; init; }

    /// <summary>n_batch = n_ubatch for every context (capped by the context size).</summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>Flash attention; null lets llama.cpp decide (it enables it where the backend supports it).</summary>
    public bool? FlashAttention { get; init; }

    /// <summary>
    /// Short contexts of a file this tool patched keep the file's attn_factor as llama.cpp applies it (true), instead of
    /// running at the model's own attention magnitude (false, the default; see <see cref="LongRope.ShortContextAttention"/>).
    /// </summary>
    public bool FileAttentionOnShortContexts { get; init; }

    /// <summary>ggml's GGML_MAX_N_THREADS.</summary>
    public const int MaxThreads = 512;

    public void Validate()
    {
        if (EngineProblem(GpuLayers, Threads, BatchSize) is { } problem) throw new RuntimeInputException(problem);
    }

    /// <summary>
    /// What is wrong with these llama.cpp settings (a batch of 0 tokens is a segmentation fault), or null: one check for
    /// the runner and the evaluation's engine, each throwing its own bad-input exception.
    /// </summary>
    public static string? EngineProblem(int? gpuLayers, int? threads, int batchSize) =>
        gpuLayers is < -1 ? $"--gpu-layers {gpuLayers}: must be -1 (all), 0 or more"
        : threads is <= 0 ? $"--threads {threads}: must be at least 1"
        // More than ggml's GGML_MAX_N_THREADS overflows its thread pool (a stack overflow, not an error).
        : threads is > MaxThreads ? $"--threads {threads}: at most {MaxThreads} (llama.cpp's limit)"
        : batchSize is < 1 or > 1 << 20 ? $"--batch-size {batchSize}: must be between 1 and {1 << 20}"
        : null;
}
