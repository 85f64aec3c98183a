namespace LongRopeGguf.Runtime;

/// <summary>Which LongRoPE factor set a llama.cpp context runs on.</summary>
public enum FactorSetKind
{
    /// <summary>The model has no LongRoPE sets (plain RoPE, or llama.cpp's built-in linear/YaRN scaling).</summary>
    None,
    /// <summary>Per-sequence context at most the original context length.</summary>
    Short,
    /// <summary>Per-sequence context above the original context length.</summary>
    Long,
}

/// <summary>What the user asked for with <c>--factor-set</c>.</summary>
public enum FactorSetChoice { Auto, Short, Long }

/// <summary>The work a context must hold, and the user's overrides.</summary>
/// <param name="RequiredTokens">Tokens that must fit: prompt or history, new input and the generation budget.</param>
/// <param name="Detail">How <paramref name="RequiredTokens"/> adds up, for the reason text (e.g. "prompt 300 + 32 to generate").</param>
/// <param name="PreferredTokens">Room a growing conversation would like, so it does not move again at once; never beyond the model.</param>
/// <param name="ContextSize">A context size fixed by the user (<c>--context</c>).</param>
public sealed record ContextRequest(
    int RequiredTokens,
    string? Detail = null,
    int? PreferredTokens = null,
    FactorSetChoice FactorSet = FactorSetChoice.Auto,
    int? ContextSize = null);

/// <summary>A context to create: its size (already a multiple of <see cref="ContextPlanner.Granularity"/>), its set and why.</summary>
public sealed record ContextPlan(int ContextSize, FactorSetKind FactorSet, string Reason)
{
    public string FactorSetName => FactorSet.Name();
}

public static class FactorSetKinds
{
    /// <summary>"short", "long" or "none", as the command line and the evaluation records say it.</summary>
    public static string Name(this FactorSetKind kind) => kind switch
    {
        FactorSetKind.Short => "short",
        FactorSetKind.Long => "long",
        _ => "none",
    };
}

/// <summary>
/// Chooses the context size and therefore the factor set. llama.cpp decides the set once per context, from its size
/// alone: <c>n_ctx_seq &gt; original_context_length</c> selects long (facts doc). Contexts are unified-KV single-sequence,
/// so <c>n_ctx_seq = n_ctx</c>, and llama.cpp rounds <c>n_ctx</c> up to a multiple of 256: the largest short context is
/// the largest multiple of 256 not above the original length, the smallest long one the next multiple of 256 above it.
/// </summary>
public static class ContextPlanner
{
    /// <summary>llama.cpp rounds every context size up to a multiple of this.</summary>
    public const int Granularity = LongRope.LlamaContextSize.Granularity;

    /// <summary>A token count plus a budget, held at int.MaxValue rather than wrapping to a negative need (-n 2147483647):
    /// the plan then says what does not fit.</summary>
    public static int Add(int tokens, int more) => (int)Math.Min(int.MaxValue, (long)tokens + more);

    public static int RoundUp(long tokens) => (int)Math.Min(int.MaxValue / Granularity * Granularity, LongRope.LlamaContextSize.Pad(tokens));

    /// <summary>The largest context that still runs on the short set and that the model's context_length allows, or 0
    /// when that is below 256. (A file whose original length is above its context_length is malformed, and verify says
    /// so; its short set still gets no larger context than the model has.)</summary>
    public static int ShortContextSize(ModelContextInfo model) => Math.Min(model.OriginalContextLength, model.ContextLength) / Granularity * Granularity;

    /// <summary>The smallest context that runs on the long set.</summary>
    public static int MinLongContextSize(ModelContextInfo model) => RoundUp((long)model.OriginalContextLength + 1);

    /// <summary>The set llama.cpp will select for a context of <paramref name="contextSize"/> tokens.</summary>
    public static FactorSetKind SetFor(ModelContextInfo model, int contextSize) =>
        !model.HasLongRope ? FactorSetKind.None : RoundUp(contextSize) > model.OriginalContextLength ? FactorSetKind.Long : FactorSetKind.Short;

    public static ContextPlan Plan(ModelContextInfo model, ContextRequest request)
    {
        if (request.RequiredTokens <= 0) throw new ArgumentOutOfRangeException(nameof(request), "required tokens must be positive");
        int need = request.RequiredTokens;
        // Add saturates: a sum past int.MaxValue is not said as if it were that number.
        string count = need == int.MaxValue ? $"over {int.MaxValue - 1}" : $"{need}";
        string needText = request.Detail is null ? $"{count} tokens" : $"{count} tokens ({request.Detail})";
        int trained = model.ContextLength;

        if (request.ContextSize is { } fixedSize)
            return PlanFixed(model, request, fixedSize, need, needText);

        if (!model.HasLongRope)
        {
            if (request.FactorSet != FactorSetChoice.Auto)
                throw new RuntimeInputException($"--factor-set {request.FactorSet.ToString().ToLowerInvariant()}: {model.Path} has no LongRoPE factor sets ({DescribeScaling(model)})");
            if (need > trained)
                throw new RuntimeInputException($"{needText} do not fit: the model's context_length is {trained}");
            int size = RoundUp(Math.Clamp(request.PreferredTokens ?? need, need, trained));
            return new ContextPlan(size, FactorSetKind.None, $"{DescribeScaling(model)}, no factor sets to switch: a context sized for {needText}");
        }

        int shortSize = ShortContextSize(model);
        int minLong = MinLongContextSize(model);
        int original = model.OriginalContextLength;
        switch (request.FactorSet)
        {
            case FactorSetChoice.Short:
                if (shortSize == 0)
                    throw new RuntimeInputException($"--factor-set short: the original context {original} is below llama.cpp's smallest context ({Granularity}), so the short set is never used");
                if (need > shortSize)
                    throw new RuntimeInputException($"--factor-set short: {needText} do not fit the short set, which holds at most {shortSize} tokens (original context {original})");
                return new ContextPlan(shortSize, FactorSetKind.Short, $"forced by --factor-set short ({needText})");
            case FactorSetChoice.Long:
                return new ContextPlan(LongSize(model, request, need, needText, minLong), FactorSetKind.Long, $"forced by --factor-set long ({needText})");
            default:
                if (shortSize > 0 && need <= shortSize)
                    return new ContextPlan(shortSize, FactorSetKind.Short, $"{needText} fit the original context {original}");
                // Why the long set, when the work alone would fit the original length: llama.cpp's contexts come in
                // multiples of 256, and the largest one within the original is smaller (or there is none).
                string why = need > original ? $"exceed the original context {original}"
                    : shortSize == 0 ? $"run on the long set: the original context {original} is below llama.cpp's smallest context ({Granularity})"
                    : $"exceed {shortSize}, the largest context on the short set (contexts are multiples of {Granularity}; original context {original})";
                return new ContextPlan(LongSize(model, request, need, needText, minLong), FactorSetKind.Long, $"{needText} {why}");
        }
    }

    private static int LongSize(ModelContextInfo model, ContextRequest request, int need, string needText, int minLong)
    {
        int trained = model.ContextLength;
        if (need > trained)
            throw new RuntimeInputException($"{needText} do not fit: the model's context_length is {trained}");
        if (minLong > RoundUp(trained))
            throw new RuntimeInputException($"the long set needs a context above the original {model.OriginalContextLength} tokens, but the model's context_length is {trained}");
        return Math.Max(RoundUp(Math.Clamp(request.PreferredTokens ?? need, need, trained)), minLong);
    }

    private static ContextPlan PlanFixed(ModelContextInfo model, ContextRequest request, int fixedSize, int need, string needText)
    {
        if (fixedSize <= 0) throw new RuntimeInputException($"--context {fixedSize}: must be a positive number of tokens");
        if (fixedSize > model.ContextLength)
            throw new RuntimeInputException($"--context {fixedSize} is beyond the model's context_length {model.ContextLength}");
        int size = RoundUp(fixedSize);
        if (need > size)
            throw new RuntimeInputException($"{needText} do not fit --context {fixedSize}");
        var set = SetFor(model, size);
        if (!model.HasLongRope)
        {
            if (request.FactorSet != FactorSetChoice.Auto)
                throw new RuntimeInputException($"--factor-set {request.FactorSet.ToString().ToLowerInvariant()}: {model.Path} has no LongRoPE factor sets ({DescribeScaling(model)})");
            return new ContextPlan(size, set, $"fixed by --context {fixedSize}{(size == fixedSize ? "" : $" (rounded to {size})")}; {DescribeScaling(model)}");
        }
        if (request.FactorSet == FactorSetChoice.Short && set == FactorSetKind.Long)
            throw new RuntimeInputException($"--context {fixedSize} with --factor-set short: llama.cpp runs a {size}-token context on the long set; the short set allows at most {ShortContextSize(model)}");
        if (request.FactorSet == FactorSetChoice.Long && set == FactorSetKind.Short)
            throw new RuntimeInputException($"--context {fixedSize} with --factor-set long: a {size}-token context runs on the short set; the long set needs more than {model.OriginalContextLength}");
        string relation = set == FactorSetKind.Long ? ">" : "<=";
        string rounded = size == fixedSize ? "" : $" (rounded to {size})";
        return new ContextPlan(size, set, $"fixed by --context {fixedSize}{rounded}: {size} {relation} original context {model.OriginalContextLength}");
    }

    private static string DescribeScaling(ModelContextInfo model) =>
        model.HasBuiltInScaling ? $"built-in {model.ScalingType} scaling" : "plain RoPE";
}
