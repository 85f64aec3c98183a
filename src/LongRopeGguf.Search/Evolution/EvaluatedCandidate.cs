using System.Collections.Immutable;

namespace LongRopeGguf.Search.Evolution;

/// <summary>How a candidate came about.</summary>
public enum CandidateOrigin
{
    /// <summary>A seed (a rule's factors, or a file's).</summary>
    Seed,
    Mutation,
    Crossover,
}

/// <summary>
/// One evaluated candidate: <see cref="Serial"/> is its place in the order of creation (stable across a resume),
/// <see cref="Iteration"/> the iteration that made it (0 = the initial population), <see cref="Parents"/> the serials it
/// was bred from, <see cref="Seconds"/> the wall time its evaluation took, and <see cref="FromLog"/> whether this run
/// took its fitness from the search log instead of evaluating it again.
/// </summary>
public sealed record EvaluatedCandidate(
    int Serial,
    int Iteration,
    CandidateOrigin Origin,
    string? SeedName,
    ImmutableArray<int> Parents,
    Candidate Candidate,
    FitnessResult Fitness,
    double Seconds,
    bool FromLog)
{
    public Genome Genome => Candidate.Genome;

    /// <summary>The fitness for ranking: NaN counts as the worst.</summary>
    public double Rank => double.IsNaN(Fitness.Value) ? double.PositiveInfinity : Fitness.Value;

    public string Describe() => Origin switch
    {
        CandidateOrigin.Seed => $"seed {SeedName}",
        CandidateOrigin.Mutation => $"mutation of #{string.Join(", #", Parents)}",
        _ => $"crossover of #{string.Join(" and #", Parents)}",
    };

    /// <summary>Orders by fitness, ties by creation order, so that ranking is deterministic.</summary>
    public static int Compare(EvaluatedCandidate a, EvaluatedCandidate b)
    {
        int c = a.Rank.CompareTo(b.Rank);
        return c != 0 ? c : a.Serial.CompareTo(b.Serial);
    }
}

/// <summary>Where the search stands after an iteration (0 = after the initial population).</summary>
public sealed record IterationSummary(
    int Iteration,
    EvaluatedCandidate Best,
    int Candidates,
    int NewEvaluations,
    double EvaluationSeconds);
