using System.Collections.Immutable;
using System.Globalization;

namespace LongRopeGguf.LongRope;

/// <summary>A problem found in a factor set: errors make it unusable, warnings are worth a look.</summary>
public sealed record FactorIssue(bool IsError, string Message)
{
    public override string ToString() => (IsError ? "error: " : "warning: ") + Message;
}

/// <summary>The outcome of validating a factor set.</summary>
public sealed record FactorValidation(IReadOnlyList<FactorIssue> Issues)
{
    public IEnumerable<FactorIssue> Errors => Issues.Where(i => i.IsError);
    public IEnumerable<FactorIssue> Warnings => Issues.Where(i => !i.IsError);
    public bool IsValid => !Errors.Any();

    /// <summary>Throws <see cref="FactorSetException"/> with the first error (and a count of the others).</summary>
    public void ThrowIfInvalid(string what)
    {
        var errors = Errors.ToList();
        if (errors.Count == 0) return;
        string more = errors.Count > 1 ? $" (and {errors.Count - 1} more: {string.Join("; ", errors.Skip(1).Select(e => e.Message))})" : "";
        throw new FactorSetException($"{what}: {errors[0].Message}{more}");
    }
}

/// <summary>
/// Checks a factor set on its own (finite, positive, lengths sensible) and against a model (the factor count llama.cpp
/// will create the tensors with). Errors: a wrong count, NaN/Inf, factors &lt;= 0, unequal set lengths, original &gt;=
/// extended length, a bad attention factor. Warnings: factors below 1 (frequencies raised, i.e. extrapolation) and
/// factors that decrease with the dimension index (LongRoPE's search keeps them non-decreasing).
/// </summary>
public static class FactorValidator
{
    public static FactorValidation Validate(FactorSet set, ModelRopeInfo? model = null)
    {
        var issues = new List<FactorIssue>();
        void Error(string m) => issues.Add(new FactorIssue(true, m));
        void Warn(string m) => issues.Add(new FactorIssue(false, m));

        if (set.LongFactors.Length == 0) Error("no long factors");
        if (set.ShortFactors.Length == 0) Error("no short factors");
        if (set.LongFactors.Length != set.ShortFactors.Length && set.ShortFactors.Length > 0 && set.LongFactors.Length > 0)
            Error($"{set.LongFactors.Length} long factors but {set.ShortFactors.Length} short factors; both sets need the same count");
        if (model is not null)
        {
            foreach (var (name, factors) in new[] { ("long", set.LongFactors), ("short", set.ShortFactors) })
                if (factors.Length > 0 && factors.Length != model.FactorCount)
                    Error($"{factors.Length} {name} factors, but {model.FileName} needs {model.FactorCount}: {model.FactorCountReason}");
        }
        CheckValues("long", set.LongFactors, Error, Warn);
        CheckValues("short", set.ShortFactors, Error, Warn);

        if (set.OriginalContextLength <= 0) Error($"original context length {set.OriginalContextLength} must be > 0");
        if (set.ContextLength <= 0) Error($"context length {set.ContextLength} must be > 0");
        else if (set.OriginalContextLength > 0 && set.OriginalContextLength >= set.ContextLength)
            Error($"original context length {set.OriginalContextLength} must be below the extended context length {set.ContextLength} "
                + "(llama.cpp uses the long set only for contexts longer than the original length)");
        // Legal (a user may move the switch point on purpose), but usually a factor file made for another model.
        if (model is not null && set.OriginalContextLength > 0 && set.OriginalContextLength != model.BaseContextLength)
            Warn($"original context length {set.OriginalContextLength} differs from {model.FileName}'s {model.BaseContextLength}: llama.cpp will run the "
                + $"short set up to {set.OriginalContextLength} tokens and the long set beyond (were these factors made for another model?)");
        if (set.OriginalContextLength is > 0 and < 256)
            Warn($"original context length {set.OriginalContextLength} is below 256: llama.cpp rounds every context up to a multiple of 256, "
                + "so it never runs the short set");

        if (AttentionFactors.WhyUnusable(set.AttentionFactor) is { } unusable)
            Error($"attention factor {F(set.AttentionFactor)}: {unusable}");
        else if (set.AttentionFactor < 1 || set.AttentionFactor > 2)
            Warn($"attention factor {F(set.AttentionFactor)} is outside [1, 2]; it scales attention logits by its square ({F(set.AttentionFactor * set.AttentionFactor)})");
        return new FactorValidation(issues);
    }

    /// <summary>Value checks of one factor array (finite, &gt; 0; warnings for &lt; 1 and decreasing).</summary>
    public static IReadOnlyList<FactorIssue> CheckValues(string name, ReadOnlySpan<float> factors)
    {
        var issues = new List<FactorIssue>();
        CheckValues(name, ImmutableArray.Create(factors), m => issues.Add(new FactorIssue(true, m)), m => issues.Add(new FactorIssue(false, m)));
        return issues;
    }

    /// <summary>
    /// The smallest factor whose rotation angle stays a finite float at every position llama.cpp can give (below 2^31):
    /// position / factor overflows below it, and a subnormal factor such as 1e-40 gave NaN outputs while verify said OK.
    /// </summary>
    public const float MinimumFactor = 2147483648f / float.MaxValue;

    private static void CheckValues(string name, ImmutableArray<float> factors, Action<string> error, Action<string> warn)
    {
        var bad = new List<string>();
        var tiny = new List<string>();
        var below = new List<int>();
        var decreasing = new List<int>();
        for (int i = 0; i < factors.Length; i++)
        {
            float f = factors[i];
            if (!float.IsFinite(f)) bad.Add($"[{i}] = {F(f)}");
            else if (f <= 0) bad.Add($"[{i}] = {F(f)}");
            else if (f < MinimumFactor) tiny.Add($"[{i}] = {F(f)}");
            else
            {
                if (f < 1) below.Add(i);
                if (i > 0 && float.IsFinite(factors[i - 1]) && f < factors[i - 1]) decreasing.Add(i);
            }
        }
        if (bad.Count > 0)
            error($"{name} factors must be finite and > 0: {string.Join(", ", bad.Take(5))}{(bad.Count > 5 ? $" ({bad.Count} bad values)" : "")}");
        if (tiny.Count > 0)
            error($"{name} factors below {F(MinimumFactor)}: {string.Join(", ", tiny.Take(5))}{(tiny.Count > 5 ? $" ({tiny.Count} such values)" : "")}: "
                + "llama.cpp's rotation angle (position / factor) overflows a 32-bit float, and the model's outputs are NaN");
        if (below.Count > 0)
            warn($"{below.Count} {name} factor(s) below 1 (these dimensions rotate faster than in training), first [{below[0]}] = {F(factors[below[0]])}");
        if (decreasing.Count > 0)
            warn($"{name} factors decrease at {decreasing.Count} place(s), first [{decreasing[0] - 1}] = {F(factors[decreasing[0] - 1])} > [{decreasing[0]}] = {F(factors[decreasing[0]])} (LongRoPE keeps them non-decreasing)");
    }

    internal static string F(float f) => f.ToString("G6", CultureInfo.InvariantCulture);
}
