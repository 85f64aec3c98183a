using LLama.Native;
using LLama.Sampling;

namespace LongRopeGguf.Runtime;

/// <summary>How the next token is chosen. Temperature 0 is greedy (argmax), exactly reproducible.</summary>
public sealed record SamplingOptions(float Temperature = 0.8f, int TopK = 40, float TopP = 0.95f, uint? Seed = null)
{
    public static SamplingOptions Greedy { get; } = new(Temperature: 0f);

    public bool IsGreedy => Temperature == 0f;

    public void Validate()
    {
        if (!float.IsFinite(Temperature) || Temperature < 0f) throw new RuntimeInputException($"--temp {Temperature}: must be 0 (greedy) or more");
        if (TopK < 0) throw new RuntimeInputException($"--top-k {TopK}: must be 0 (off) or more");
        if (!float.IsFinite(TopP) || TopP <= 0f || TopP > 1f) throw new RuntimeInputException($"--top-p {TopP}: must be in (0, 1]");
    }

    public override string ToString() => IsGreedy ? "greedy" : $"temp {Temperature}, top-k {TopK}, top-p {TopP}{(Seed is { } s ? $", seed {s}" : "")}";
}

/// <summary>Picks tokens from a context's logits.</summary>
internal abstract class TokenSampler : IDisposable
{
    public abstract LLamaToken Sample(ModelContext context);

    public virtual void Dispose() { }

    public static TokenSampler Create(SamplingOptions options) => options.IsGreedy ? new Argmax() : new Pipeline(options);

    /// <summary>Greedy: the highest logit (first on ties), read straight from the logits, no native sampler chain.</summary>
    private sealed class Argmax : TokenSampler
    {
        public override LLamaToken Sample(ModelContext context) => ArgMax(context.Logits);
    }

    /// <summary>LLamaSharp's sampling pipeline (llama.cpp's sampler chain): top-k, top-p, temperature, seeded draw.</summary>
    private sealed class Pipeline(SamplingOptions o) : TokenSampler
    {
        private readonly DefaultSamplingPipeline _pipeline = new()
        {
            Temperature = o.Temperature,
            TopK = o.TopK,
            TopP = o.TopP,
            MinP = 0f,
            TypicalP = 1f,
            RepeatPenalty = 1f,
            FrequencyPenalty = 0f,
            PresencePenalty = 0f,
            Seed = o.Seed ?? (uint)Random.Shared.Next(),
        };

        public override LLamaToken Sample(ModelContext context) => _pipeline.Sample(context.Handle, context.LogitsIndex);

        public override void Dispose() => _pipeline.Dispose();
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
}
