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

    public void Validate()
    {
        if (GpuLayers is < -1) throw new RuntimeInputException($"--gpu-layers {GpuLayers}: must be -1 (all), 0 or more");
        if (Threads is <= 0) throw new RuntimeInputException($"--threads {Threads}: must be at least 1");
        if (BatchSize is < 1 or > 1 << 20) throw new RuntimeInputException($"--batch-size {BatchSize}: must be between 1 and {1 << 20}");
    }
}
