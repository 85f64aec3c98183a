using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.LongRope;
using LongRopeGguf.Search.Evolution;
using LongRopeGguf.Search.Llama;

namespace LongRopeGguf.Search;

/// <summary>Everything a `longrope search` run needs.</summary>
public sealed record SearchRequest
{
    public required string ModelPath { get; init; }

    public SearchSet Set { get; init; } = SearchSet.Long;

    /// <summary>The measurement; its <see cref="FitnessSpec.TargetLength"/> is the length searched for.</summary>
    public required FitnessSpec Fitness { get; init; }

    public EvolutionSettings Evolution { get; init; } = new();

    /// <summary>Grid step of the factors.</summary>
    public double Step { get; init; } = 0.01;

    /// <summary>Largest factor; null = 1.25 x the scale (the LongRoPE paper's search space), or the scale when piecewise.</summary>
    public double? MaxFactor { get; init; }

    public bool Piecewise { get; init; }

    /// <summary>A fixed attention factor (a policy for the target scale, or a value); null = search it as a gene
    /// (long set only: the short set shares the long set's factor).</summary>
    public (AttentionFactorPolicy Policy, float? Value)? FixedAttention { get; init; }

    /// <summary>Range of the attention gene.</summary>
    public double AttentionMin { get; init; } = 1.0;

    public double AttentionMax { get; init; } = 2.0;

    public double AttentionStep { get; init; } = 0.01;

    /// <summary>A factor file (any format the patcher reads) whose factors join the seeds; required for the short set,
    /// whose output keeps its long set.</summary>
    public string? InitPath { get; init; }

    /// <summary>Folder for factors.json, search.jsonl (the resumable log) and best-fitness.png.</summary>
    public required string OutputDirectory { get; init; }

    public EngineOptions Engine { get; init; } = new() { GpuLayers = 999 };
}
