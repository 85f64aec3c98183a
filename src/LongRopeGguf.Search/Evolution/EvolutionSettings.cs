using LongRopeGguf.Gguf;
using System.Globalization;

namespace LongRopeGguf.Search.Evolution;

/// <summary>
/// Sizes and rates of the evolution search. The defaults are those of microsoft/LongRoPE's dim_mono search
/// (evolution/default_hyper_params): population 64, 32 parents, 16 mutations and 16 crossovers per iteration, 40
/// iterations, each dimension mutated with probability 0.3, up to 20 tries to find a valid new crossover.
/// </summary>
public sealed record EvolutionSettings
{
    /// <summary>Size of the initial population (seeds plus their mutations).</summary>
    public int Population { get; init; } = 64;

    /// <summary>How many of the best candidates survive each iteration and breed.</summary>
    public int Parents { get; init; } = 32;

    /// <summary>New candidates by mutation per iteration.</summary>
    public int Mutations { get; init; } = 16;

    /// <summary>New candidates by crossover per iteration.</summary>
    public int Crossovers { get; init; } = 16;

    public int Iterations { get; init; } = 40;

    /// <summary>Probability that a mutation changes a given gene.</summary>
    public double MutationProbability { get; init; } = 0.3;

    /// <summary>Standard deviation of an attention-gene mutation, in attention-factor units.</summary>
    public double AttentionMutationSigma { get; init; } = 0.05;

    /// <summary>Standard deviation of a piecewise-boundary mutation, in dimensions (LongRoPE's dim_piece_mono uses 2).</summary>
    public double BoundaryMutationSigma { get; init; } = 2.0;

    /// <summary>Tries to find a crossover child that is valid and new before mutating the first parent instead.</summary>
    public int MaxCrossoverTries { get; init; } = 20;

    /// <summary>Tries to find a mutation that is new before giving up on that child.</summary>
    public int MaxMutationTries { get; init; } = 200;

    /// <summary>Seed of the random generator: the same seed, space, seeds and fitness give the same search.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Candidates a search of these settings makes at most: the initial population (all seeds, if more), then
    /// each iteration's mutants and crossovers.</summary>
    public long PlannedCandidates(int seeds) => Math.Max(Population, seeds) + (long)Iterations * ((long)Mutations + Crossovers);

    /// <summary>The most candidates one search may plan (the paper's settings make about 1,300).</summary>
    public const int MaxCandidates = 10_000_000;

    public void Validate()
    {
        if (Population < 1) throw new BadInputException($"--population {Population}: must be at least 1");
        if (Parents < 1) throw new BadInputException($"--parents {Parents}: must be at least 1");
        if (Parents > Population) throw new BadInputException($"--parents {Parents}: must not exceed the population {Population}");
        if (Mutations < 0) throw new BadInputException($"--mutations {Mutations}: must be 0 or more");
        if (Crossovers < 0) throw new BadInputException($"--crossovers {Crossovers}: must be 0 or more");
        if (Iterations < 0) throw new BadInputException($"--iterations {Iterations}: must be 0 or more");
        if (!(MutationProbability > 0 && MutationProbability <= 1))
            throw new BadInputException($"--mutation-probability {MutationProbability.ToString(CultureInfo.InvariantCulture)}: must be in (0, 1]");
        // Every candidate is kept (the log, the cache of evaluated genomes): a count past this is a typo, and past
        // int.MaxValue the planned count overflowed ("up to 1705032708 candidates" for six billion).
        long planned = Population + (long)Iterations * ((long)Mutations + Crossovers);
        if (planned > MaxCandidates)
            throw new BadInputException(string.Create(CultureInfo.InvariantCulture,
                $"--population {Population} + --iterations {Iterations} x (--mutations {Mutations} + --crossovers {Crossovers}) is {planned:N0} candidates; at most {MaxCandidates:N0}"));
        if (!(AttentionMutationSigma > 0) || !(BoundaryMutationSigma > 0)) throw new BadInputException("mutation standard deviations must be > 0");
        if (MaxCrossoverTries < 1 || MaxMutationTries < 1) throw new BadInputException("tries must be at least 1");
    }
}
