namespace LongRopeGguf.Evaluation.Engine;

/// <summary>How llama.cpp runs the evaluation: CPU threads, GPU layers, batch size.</summary>
public sealed record EngineOptions
{
    /// <summary>CPU threads for decoding; null lets llama.cpp choose.</summary>
    public int? Threads { get; init; }

    /// <summary>Layers offloaded to a GPU when the native backend has one (ignored on the CPU backend).</summary>
    public int GpuLayers { get; init; } = 999;

    /// <summary>Tokens per llama_decode call.</summary>
    public int BatchSize { get; init; } = 512;

    public static EngineOptions Default { get; } = new();

    /// <summary>Refuses values llama.cpp would crash on (a batch of 0 tokens is a segmentation fault) or misread.</summary>
    public void Validate()
    {
        if (Threads is <= 0) throw new EvalInputException($"--threads {Threads}: must be at least 1");
        if (BatchSize is < 1 or > 1 << 20) throw new EvalInputException($"--batch-size {BatchSize}: must be between 1 and {1 << 20}");
        if (GpuLayers < -1) throw new EvalInputException($"--gpu-layers {GpuLayers}: must be -1 (all), 0 or more");
    }
}
