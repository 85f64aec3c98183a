using System.Collections.Immutable;
using System.Text.Json.Nodes;

namespace LongRopeGguf.Search.Evolution;

/// <summary>A candidate as the fitness sees it: its genome and the factor values and attention factor it stands for.</summary>
public sealed record Candidate(Genome Genome, ImmutableArray<float> Factors, float AttentionFactor);

/// <summary>
/// A candidate's fitness: <see cref="Value"/> is a loss (lower is better; +infinity for a candidate that cannot be
/// scored), <see cref="Components"/> the measurements it was made of (e.g. ppl, passkey_nll), kept in the log.
/// </summary>
public sealed record FitnessResult(double Value, ImmutableSortedDictionary<string, double> Components)
{
    public static FitnessResult Of(double value) => new(value, ImmutableSortedDictionary<string, double>.Empty);

    public static FitnessResult Of(double value, params (string Name, double Value)[] components) =>
        new(value, components.ToImmutableSortedDictionary(c => c.Name, c => c.Value, StringComparer.Ordinal));
}

/// <summary>What the search minimises. Implementations must be deterministic: the same candidate, the same value.</summary>
public interface IFitnessFunction
{
    /// <summary>
    /// Everything that decides the values (model, lengths, texts, weights...), as JSON. It goes into the search log's
    /// header, and a search only resumes from a log whose description is the same.
    /// </summary>
    JsonObject Describe();

    FitnessResult Evaluate(Candidate candidate, CancellationToken cancellationToken);
}

/// <summary>A starting point of the search: a named factor set (a rule's or a file's) and its attention factor.</summary>
public sealed record SearchSeed(string Name, ImmutableArray<float> Factors, float AttentionFactor)
{
    public SearchSeed(string name, IEnumerable<float> factors, float attentionFactor) : this(name, [.. factors], attentionFactor) { }
}
