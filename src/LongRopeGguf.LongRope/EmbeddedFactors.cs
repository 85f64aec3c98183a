using LongRopeGguf.Gguf;

namespace LongRopeGguf.LongRope;

/// <summary>The LongRoPE state of a GGUF file as llama.cpp will see it, plus this tool's provenance keys.</summary>
public static class EmbeddedFactors
{
    /// <summary>True when the file carries provenance keys written by this tool's patcher.</summary>
    public static bool IsPatchedByThisTool(GgufFile file) => file.ContainsKey(LongRopeKeys.Version);

    /// <summary>The factor set embedded in a model (from its factor tensors and keys), or null when it has no factor
    /// tensors. Throws when the tensors cannot be read as floats.</summary>
    public static FactorSet? Read(GgufFile file)
    {
        string arch = file.Architecture ?? throw new LongRopePatchException($"{file.Path}: no '{GgufKeys.Architecture}' key");
        if (!file.TryGetTensor(LongRopeKeys.LongFactorsTensor, out var longT)) return null;
        float[] longFactors = SmallTensorReader.ReadFloats(file, longT)
            ?? throw new LongRopePatchException($"{file.Path}: tensor '{longT.Name}' is {longT.Type}, not a float type");
        float[] shortFactors = file.TryGetTensor(LongRopeKeys.ShortFactorsTensor, out var shortT)
            ? SmallTensorReader.ReadFloats(file, shortT) ?? throw new LongRopePatchException($"{file.Path}: tensor '{shortT.Name}' is {shortT.Type}, not a float type")
            : [];
        string path = file.Path ?? "model";
        int context = ModelRopeInfo.ReadLength(file, LongRopeKeys.ContextLength(arch)) ?? 0;
        int original = ModelRopeInfo.ReadLength(file, LongRopeKeys.OriginalContextLength(arch)) ?? context;
        float attention = file.TryGetValue(LongRopeKeys.AttentionFactor(arch), out var a) && a.Type == GgufValueType.Float32 ? a.AsFloat32() : 1f;
        var policy = AttentionFactorPolicy.Explicit;
        if (file.TryGetValue(LongRopeKeys.AttentionFactorPolicy, out var p) && p.Type == GgufValueType.String
            && AttentionFactors.TryParsePolicy(p.AsString(), out var parsed))
            policy = parsed;
        string source = file.TryGetValue(LongRopeKeys.Source, out var s) && s.Type == GgufValueType.String
            ? s.AsString().TrimEnd()
            : $"factor tensors of {path}";
        return new FactorSet(longFactors, shortFactors, original, context, attention, policy, source);
    }
}
