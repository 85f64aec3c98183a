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
        if (Runtime.RunnerOptions.EngineProblem(GpuLayers, Threads, BatchSize) is { } problem) throw new EvalInputException(problem);
    }
}
