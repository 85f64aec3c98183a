using System.Text.Json.Nodes;
using LongRopeGguf.Search.Evolution;

namespace LongRopeGguf.Search.Tests;

/// <summary>
/// A fitness with a known optimum, for testing the search itself: mean squared distance of the factors to a target
/// curve plus a weighted squared distance of the attention factor to a target value. Counts how often each genome is
/// evaluated, and can cancel the search at the n-th evaluation (an interruption).
/// </summary>
internal sealed class SyntheticFitness(float[] target, float targetAttention, double attentionWeight = 10) : IFitnessFunction
{
    public Dictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

    public int TotalCalls => Calls.Values.Sum();

    /// <summary>Cancels this source when the evaluation with this 1-based number starts.</summary>
    public (int At, CancellationTokenSource Source)? CancelAt { get; set; }

    public JsonObject Describe() => new()
    {
        ["kind"] = "synthetic",
        ["target"] = new JsonArray(target.Select(t => (JsonNode)JsonValue.Create(t)).ToArray()),
        ["attn"] = targetAttention,
    };

    public FitnessResult Evaluate(Candidate candidate, CancellationToken cancellationToken)
    {
        if (CancelAt is { } c && TotalCalls + 1 == c.At) c.Source.Cancel();
        cancellationToken.ThrowIfCancellationRequested();
        Calls[candidate.Genome.Key] = Calls.GetValueOrDefault(candidate.Genome.Key) + 1;
        return FitnessResult.Of(Loss(candidate.Factors.ToArray(), candidate.AttentionFactor));
    }

    public double Loss(float[] factors, float attention)
    {
        double sum = 0;
        for (int i = 0; i < factors.Length; i++) sum += (factors[i] - target[i]) * (double)(factors[i] - target[i]);
        double a = attention - targetAttention;
        return sum / factors.Length + attentionWeight * a * a;
    }

    /// <summary>A smooth non-decreasing curve from 1 to <paramref name="top"/> over <paramref name="n"/> dimensions.</summary>
    public static float[] Curve(int n, double top) =>
        Enumerable.Range(0, n).Select(i => (float)(1 + (top - 1) * Math.Pow((double)i / (n - 1), 2))).ToArray();
}
