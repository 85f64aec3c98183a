using System.Collections.Immutable;

namespace LongRopeGguf.LongRope;

/// <summary>
/// One LongRoPE configuration: the long and short per-dimension rescale factors (each rope_dimension_count / 2 values;
/// llama.cpp divides the rotation frequency of pair i by factor i), the original and the extended context length, and
/// the attention factor that multiplies cos and sin for both sets. Immutable; <see cref="FactorValidator"/> says
/// whether it is valid and whether it fits a given model (a set read from a file may be invalid).
/// </summary>
public sealed record FactorSet
{
    public FactorSet(IEnumerable<float> longFactors, IEnumerable<float> shortFactors, int originalContextLength, int contextLength,
        float attentionFactor, AttentionFactorPolicy attentionFactorPolicy, string source)
    {
        LongFactors = [.. longFactors];
        ShortFactors = [.. shortFactors];
        OriginalContextLength = originalContextLength;
        ContextLength = contextLength;
        AttentionFactor = attentionFactor;
        AttentionFactorPolicy = attentionFactorPolicy;
        Source = source ?? "";
    }

    /// <summary>Factors used when the context is longer than <see cref="OriginalContextLength"/>.</summary>
    public ImmutableArray<float> LongFactors { get; init; }

    /// <summary>Factors used for contexts up to <see cref="OriginalContextLength"/>.</summary>
    public ImmutableArray<float> ShortFactors { get; init; }

    /// <summary>The length the model was trained on: llama.cpp's threshold between the short and the long set.</summary>
    public int OriginalContextLength { get; init; }

    /// <summary>The extended length (written to {arch}.context_length).</summary>
    public int ContextLength { get; init; }

    public float AttentionFactor { get; init; }

    public AttentionFactorPolicy AttentionFactorPolicy { get; init; }

    /// <summary>Where the factors came from (a file, a rule, a search step): kept in the patched file as provenance.</summary>
    public string Source { get; init; }

    /// <summary>s = extended / original length.</summary>
    public double Scale => (double)ContextLength / OriginalContextLength;

    /// <summary>Number of factors in each set (rope_dimension_count / 2 when it fits the model).</summary>
    public int Count => LongFactors.Length;

    /// <summary>A set whose attention factor follows <paramref name="policy"/> (or is <paramref name="explicitValue"/>).</summary>
    public static FactorSet Create(IEnumerable<float> longFactors, IEnumerable<float> shortFactors, int originalContextLength,
        int contextLength, AttentionFactorPolicy policy, float? explicitValue, string source)
    {
        var set = new FactorSet(longFactors, shortFactors, originalContextLength, contextLength, 1f, AttentionFactorPolicy.None, source);
        return set.WithAttention(policy, explicitValue);
    }

    /// <summary>The same factors for other lengths; the attention factor is recomputed unless it was explicit.</summary>
    public FactorSet WithContextLengths(int originalContextLength, int contextLength)
    {
        var set = this with { OriginalContextLength = originalContextLength, ContextLength = contextLength };
        return AttentionFactorPolicy == AttentionFactorPolicy.Explicit ? set : set.WithAttention(AttentionFactorPolicy, null);
    }

    /// <summary>The same set with another attention factor: a policy's value for this set's scale, or an explicit one.</summary>
    public FactorSet WithAttention(AttentionFactorPolicy policy, float? explicitValue = null)
    {
        if (policy == AttentionFactorPolicy.Explicit)
            return this with { AttentionFactorPolicy = policy, AttentionFactor = explicitValue ?? throw new ArgumentException("an explicit attention factor needs a value") };
        if (explicitValue is not null) throw new ArgumentException($"attention policy {AttentionFactors.Name(policy)} takes no value");
        if (OriginalContextLength <= 0) throw new FactorSetException($"original context length {OriginalContextLength} must be > 0");
        return this with { AttentionFactorPolicy = policy, AttentionFactor = AttentionFactors.Compute(policy, Scale, OriginalContextLength) };
    }

    public bool Equals(FactorSet? other) =>
        other is not null
        && SameBits(LongFactors, other.LongFactors)
        && SameBits(ShortFactors, other.ShortFactors)
        && OriginalContextLength == other.OriginalContextLength
        && ContextLength == other.ContextLength
        && BitConverter.SingleToInt32Bits(AttentionFactor) == BitConverter.SingleToInt32Bits(other.AttentionFactor)
        && AttentionFactorPolicy == other.AttentionFactorPolicy
        && Source == other.Source;

    // Bitwise, so that a set holding NaN (read from a bad file) still equals itself.
    private static bool SameBits(ImmutableArray<float> a, ImmutableArray<float> b) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b.AsSpan()));

    public override int GetHashCode() => HashCode.Combine(Count, OriginalContextLength, ContextLength, AttentionFactor, AttentionFactorPolicy, Source);

    /// <summary>n ones: the factor array that leaves RoPE unchanged.</summary>
    public static float[] Ones(int count)
    {
        var a = new float[count];
        Array.Fill(a, 1f);
        return a;
    }
}
