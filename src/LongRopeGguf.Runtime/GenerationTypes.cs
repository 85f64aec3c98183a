namespace LongRopeGguf.Runtime;

/// <summary>What to generate and when to stop.</summary>
/// <param name="MaxTokens">Upper bound on generated tokens; also the room reserved in the context.</param>
/// <param name="StopAtEndOfGeneration">Stop at the model's end-of-generation tokens (off for benchmarks, which need an exact count).</param>
public sealed record GenerationOptions(int MaxTokens, SamplingOptions Sampling, IReadOnlyList<string>? StopStrings = null, bool StopAtEndOfGeneration = true)
{
    public void Validate()
    {
        if (MaxTokens <= 0) throw new RuntimeInputException($"--max-tokens {MaxTokens}: must be at least 1");
        Sampling.Validate();
        if (StopStrings is { } s && s.Any(x => x.Length == 0)) throw new RuntimeInputException("--stop: a stop string must not be empty");
    }
}

public enum StopReason { EndOfGeneration, MaxTokens, StopString, Cancelled }

/// <summary>One generation: the text shown (stop string excluded), the tokens sampled and the decode time.</summary>
/// <param name="DecodeTime">From the first sample to the last (every decode step and sample in between).</param>
public sealed record GenerationResult(string Text, int TokenCount, StopReason StopReason, TimeSpan DecodeTime)
{
    public double TokensPerSecond => DecodeTime > TimeSpan.Zero ? TokenCount / DecodeTime.TotalSeconds : 0;
}

/// <summary>A prompt evaluation: how many tokens went through the model and how long it took (including any move).</summary>
public sealed record PrefillResult(int Tokens, TimeSpan Elapsed, ContextMove? Move)
{
    public double TokensPerSecond => Elapsed > TimeSpan.Zero ? Tokens / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// A conversation moved to another context (the long set, or a larger context of the same set). Its whole history was
/// evaluated again there: KV computed with one factor set is wrong under the other (facts doc). Weights stay loaded.
/// </summary>
public sealed record ContextMove(ContextPlan From, ContextPlan To, int TokensReprefilled, TimeSpan ContextCreateTime, TimeSpan ReprefillTime)
{
    public TimeSpan Total => ContextCreateTime + ReprefillTime;

    public bool ChangedSet => From.FactorSet != To.FactorSet;

    public string Describe() => ChangedSet
        ? $"moved to the {To.FactorSetName} factor set (n_ctx {To.ContextSize}): {TokensReprefilled} tokens re-prefilled in {Total.TotalMilliseconds:F0} ms"
        : $"moved to a larger context (n_ctx {From.ContextSize} -> {To.ContextSize}, {To.FactorSetName} set): {TokensReprefilled} tokens re-prefilled in {Total.TotalMilliseconds:F0} ms";
}
