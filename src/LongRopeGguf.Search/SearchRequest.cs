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

    /// <summary>Range of the attention gene; null = <see cref="DefaultAttentionRange"/> for the fitness and scale.</summary>
    public double? AttentionMin { get; init; }

    public double? AttentionMax { get; init; }

    public double AttentionStep { get; init; } = 0.01;

    /// <summary>The rules whose sets for the target scale seed a long search; null = <see cref="DefaultSeedRules"/>.</summary>
    public IReadOnlyList<FactorMethod>? SeedRules { get; init; }

    /// <summary>PI, NTK and YaRN as in the LongRoPE paper, and the critical-dimension cut, which on the tiny model
    /// beats YaRN's perplexity at 8x with as many pass keys (docs/search.md). Logs written before the cut joined (session
    /// 21) resume with <c>--seed-rules pi,ntk,yarn</c>.</summary>
    public static readonly IReadOnlyList<FactorMethod> DefaultSeedRules = [FactorMethod.Pi, FactorMethod.Ntk, FactorMethod.Yarn, FactorMethod.Critical];

    /// <summary>A factor file (any format the patcher reads) whose factors join the seeds; required for the short set,
    /// whose output keeps its long set.</summary>
    public string? InitPath { get; init; }

    /// <summary>Folder for factors.json, search.jsonl (the resumable log) and best-fitness.png.</summary>
    public required string OutputDirectory { get; init; }

    public EngineOptions Engine { get; init; } = new() { GpuLayers = 999 };

    /// <summary>Wall time after which no new candidate is started (the seeds are always evaluated); the best so far is
    /// written as usual and the log stays resumable. Null: run every iteration.</summary>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>How far above YaRN's attention factor the default range reaches.</summary>
    public const double DefaultAttentionSpan = 0.2;

    /// <summary>
    /// The attention gene's default range. A fitness with pass keys (passkey, mix) searches from YaRN's value for the
    /// scale (0.1 ln s + 1, on the grid) up to <see cref="DefaultAttentionSpan"/> above it: on the tiny model every
    /// search free to go lower chose a factor below YaRN's, which lowers perplexity and costs keys (4x: 96 against
    /// YaRN's 99 of 100 with 1.08; a second search held from 1.14 up, with more prompts: 100 of 100 on fresh keys; docs/search.md). Perplexity alone keeps
    /// the wide range 1..2, where that trade is what it asks for.
    /// </summary>
    public static (double Min, double Max) DefaultAttentionRange(FitnessKind kind, double scale, int originalContextLength, double step)
    {
        if (kind == FitnessKind.Perplexity) return (1.0, 2.0);
        double yarn = AttentionFactors.Compute(AttentionFactorPolicy.Yarn, scale, originalContextLength);
        double min = Math.Round(Math.Round(yarn / step) * step, 6);
        return (min, Math.Round(min + DefaultAttentionSpan, 6));
    }
}
