namespace LongRopeGguf.Runtime;

/// <summary>The one line a command prints on standard error when it starts: where it runs, what it runs, on which set and why.</summary>
public static class StartupReport
{
    /// <summary>Backend and devices, offloaded layers, and any fallback to CPU (never silent).</summary>
    public static string Backend(LlamaModel model, int? requestedGpuLayers)
    {
        var b = model.Backend;
        string offload;
        if (!b.HasGpu)
            offload = requestedGpuLayers is > 0 ? $"no GPU offload (--gpu-layers {requestedGpuLayers} ignored: no GPU backend)" : "no GPU offload";
        else if (model.Offload is { } o)
            offload = $"offloaded {o.Offloaded}/{o.Total} layers to GPU";
        else
            offload = $"n_gpu_layers {model.GpuLayers}";
        string fallback = b.FallbackNote is null ? "" : $" [CPU fallback: {b.FallbackNote}]";
        string library = b.NativeLibraryDirectory is not null ? $", llama.cpp from {b.NativeLibraryDirectory}"
            : b.CpuBuild is not null ? $", llama.cpp {b.CpuBuild} build" : "";
        return $"{b.Describe()}, {offload}{library}{fallback}";
    }

    /// <summary>"tiny (llama, 6 layers, context_length 4096; LongRoPE: short set up to 512 tokens, long set above)".</summary>
    public static string Model(ModelContextInfo info)
    {
        int shortSize = ContextPlanner.ShortContextSize(info);
        string rope = !info.HasLongRope ? (info.HasBuiltInScaling ? $"built-in {info.ScalingType} scaling" : "no LongRoPE sets")
            : shortSize == info.OriginalContextLength ? $"LongRoPE: short set up to {shortSize} tokens, long set above"
            : shortSize == 0 ? $"LongRoPE: long set at every size (the original context {info.OriginalContextLength} is below llama.cpp's smallest context, {ContextPlanner.Granularity})"
            : $"LongRoPE: short set up to {shortSize} tokens (original context {info.OriginalContextLength}; contexts are multiples of {ContextPlanner.Granularity}), long set above";
        string warning = info.Warning is null ? "" : $"; warning: {info.Warning}";
        return $"{info.Name} ({info.Architecture}, {info.LayerCount} layers, context_length {info.ContextLength}; {rope}{warning})";
    }

    private static string Plan(ContextPlan plan) =>
        $"factor set {plan.FactorSetName}, n_ctx {plan.ContextSize}: {plan.Reason}";

    /// <summary>The plan, and the attention magnitude of a short context when the runner changes llama.cpp's.</summary>
    public static string Plan(LlamaModel model, ContextPlan plan) =>
        Plan(plan) + (plan.FactorSet == FactorSetKind.Short && OwnMagnitudeReason(model) is { } why
            ? $" (at the model's own attention magnitude: {why})"
            : "");

    /// <summary>For a line about several contexts (bench): that the short ones run at the model's own magnitude, or "".</summary>
    public static string ShortContexts(LlamaModel model) =>
        OwnMagnitudeReason(model) is { } why ? $"; short contexts at the model's own attention magnitude ({why})" : "";

    /// <summary>Why the runner gives this model's short contexts another magnitude than llama.cpp would, or null.</summary>
    private static string? OwnMagnitudeReason(LlamaModel model) =>
        model.RunsShortContextsAtOwnMagnitude && model.Info.AttnFactor is { } a
            ? $"the file's attn_factor {a.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} serves the long set"
            : null;

    public static string Line(LlamaModel model, int? requestedGpuLayers, string planText, string? logFile) =>
        $"longrope: {Backend(model, requestedGpuLayers)} | {Model(model.Info)} | {planText}" +
        (logFile is null ? "" : $" | llama.cpp log: {logFile}");
}
