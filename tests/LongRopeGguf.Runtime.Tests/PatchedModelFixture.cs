using LongRopeGguf.Gguf;

namespace LongRopeGguf.Runtime.Tests;

/// <summary>
/// A LongRoPE-patched copy of the tiny model, made with the GGUF library directly (stand-in for the project's patcher
/// until it lands; everything that builds the file is in this one file so it can be swapped for LongRopePatcher).
/// Short set: all factors 1 with attn_factor 1, so a short context computes exactly what the unpatched model does.
/// Long set: a YaRN-like ramp for a 4x extension (high-frequency pairs kept, low-frequency pairs divided by 4, linear in
/// between by pair index), with which the model finds a pass key at 1500 tokens where plain RoPE does not.
/// </summary>
public static class PatchedModelFixture
{
    public const int OriginalContext = 512;
    public const int PatchedContext = 4096;
    public const int FactorCount = 32;

    private static readonly Lazy<string> s_path = new(Create);

    /// <summary>The patched model (created once per test process, deleted at exit).</summary>
    public static string PatchedModel => s_path.Value;

    /// <summary>The long factor set written to the file.</summary>
    public static float[] LongFactors { get; } = YarnLikeFactors(scale: 4);

    public static float[] ShortFactors { get; } = Enumerable.Repeat(1f, FactorCount).ToArray();

    /// <summary>Writes a patched copy of <paramref name="source"/> to <paramref name="target"/> with the given sets and keys.</summary>
    public static void Write(string source, string target, float[] shortFactors, float[] longFactors,
        int originalContext = OriginalContext, int contextLength = PatchedContext, float attnFactor = 1f)
    {
        var file = GgufReader.Read(source);
        string arch = file.Architecture!;
        var edit = new GgufEdit()
            .SetValue($"{arch}.rope.scaling.type", GgufValue.String("longrope"))
            .SetValue($"{arch}.rope.scaling.original_context_length", GgufValue.UInt32((uint)originalContext))
            .SetValue($"{arch}.rope.scaling.attn_factor", GgufValue.Float32(attnFactor))
            .SetValue($"{arch}.context_length", GgufValue.UInt32((uint)contextLength))
            .SetTensor(new OutputTensor("rope_factors_long.weight", GgmlType.F32, [(ulong)longFactors.Length], TensorData.Float32(longFactors)))
            .SetTensor(new OutputTensor("rope_factors_short.weight", GgmlType.F32, [(ulong)shortFactors.Length], TensorData.Float32(shortFactors)));
        GgufRewriter.Rewrite(file, edit, target);
    }

    /// <summary>
    /// Per-pair divisors of the rotation frequency: 1 for pairs that turn more than 32 times over the original context,
    /// <paramref name="scale"/> for pairs that turn less than once, linear in the pair index in between.
    /// </summary>
    public static float[] YarnLikeFactors(double scale, double freqBase = 10000, int ropeDims = 64, int originalContext = OriginalContext)
    {
        // Pair index at which a pair completes `turns` rotations over the original context.
        double PairFor(double turns) => ropeDims * Math.Log(originalContext / (turns * 2 * Math.PI)) / (2 * Math.Log(freqBase));
        double low = Math.Max(0, Math.Floor(PairFor(32))), high = Math.Min(ropeDims / 2 - 1, Math.Ceiling(PairFor(1)));
        var f = new float[ropeDims / 2];
        for (int i = 0; i < f.Length; i++)
        {
            double keep = 1 - Math.Clamp((i - low) / Math.Max(0.001, high - low), 0, 1); // 1: keep the original frequency
            f[i] = (float)(1 / (keep + (1 - keep) / scale));
        }
        return f;
    }

    private static string Create()
    {
        string dir = Path.Combine(Path.GetTempPath(), "longrope-runtime-tests-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, true); } catch (IOException) { } };
        string path = Path.Combine(dir, "tiny-passkey-512-longrope.gguf");
        Write(LongRopeGguf.Tests.TestPaths.TinyModel, path, ShortFactors, LongFactors);
        return path;
    }
}
