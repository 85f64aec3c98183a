using LLama.Common;
using LLama.Native;

namespace LongRopeGguf.Evaluation.Engine;

/// <summary>How a mode stretches RoPE past the trained context.</summary>
public enum RopeModeKind
{
    /// <summary>The unpatched file as it is: no rescaling.</summary>
    None,

    /// <summary>llama.cpp's built-in linear scaling (position interpolation) on the unpatched file.</summary>
    Linear,

    /// <summary>llama.cpp's built-in YaRN on the unpatched file.</summary>
    Yarn,

    /// <summary>A LongRoPE-patched file, run as llama.cpp runs it: its own factor sets, nothing set at run time.</summary>
    Patched,
}

/// <summary>
/// A named way to run a model: which file, and which of llama.cpp's run-time RoPE options. Modes are compared side by
/// side on the same prompts.
/// </summary>
public sealed record RopeMode(string Name, RopeModeKind Kind, string? PatchedPath = null)
{
    /// <summary>For a mode given a factor file (eval patches the model with it into <see cref="PatchedPath"/> for the
    /// run): that file's name and content hash, which the trials record; null otherwise.</summary>
    public string? FactorFile { get; init; }

    public static readonly RopeMode None = new("none", RopeModeKind.None);
    public static readonly RopeMode Pi = new("pi", RopeModeKind.Linear);
    public static readonly RopeMode Yarn = new("yarn", RopeModeKind.Yarn);

    /// <summary>The built-in modes by name: none, pi (alias linear), yarn.</summary>
    public static RopeMode ParseBuiltIn(string name) => name.Trim().ToLowerInvariant() switch
    {
        "none" => None,
        "pi" or "linear" => Pi,
        "yarn" => Yarn,
        _ => throw new EvalInputException($"unknown mode '{name}': expected none, pi (linear) or yarn; a patched file is a mode through --patched NAME=FILE"),
    };

    /// <summary>A patched-file mode from "NAME=FILE".</summary>
    public static RopeMode ParsePatched(string spec)
    {
        int eq = spec.IndexOf('=');
        if (eq <= 0 || eq == spec.Length - 1)
            throw new EvalInputException($"--patched '{spec}': expected NAME=FILE (e.g. yarn-rule=model.longrope.gguf)");
        string name = spec[..eq].Trim();
        string path = spec[(eq + 1)..].Trim();
        if (IsBuiltInName(name))
            throw new EvalInputException($"--patched '{spec}': the name '{name}' is taken by a built-in mode; choose another");
        if (name.IndexOfAny(ForbiddenInName) >= 0)
            throw new EvalInputException($"--patched '{spec}': a mode name may not contain commas, quotes, '|' or line breaks");
        return Patched(name, path, $"--patched '{spec}'");
    }

    /// <summary>
    /// A model file given after MODEL (eval ppl M1 M2 ...): a patched mode named after the file. The name is the
    /// file's, made usable (a built-in mode's name keeps its extension, forbidden characters become '_'), and errors
    /// name the file as given: "yarn.gguf" was refused as "--patched 'yarn=...': the name is taken", an option never typed.
    /// </summary>
    public static RopeMode FromModelFile(string path)
    {
        string name = Path.GetFileNameWithoutExtension(path);
        if (name.Length == 0 || IsBuiltInName(name)) name = Path.GetFileName(path);
        foreach (char c in ForbiddenInName) name = name.Replace(c, '_');
        return Patched(name, path, null);
    }

    private static bool IsBuiltInName(string name) => name is "none" or "pi" or "linear" or "yarn";

    /// <summary>'|' separates the fields of a trial's id and the columns of summary.md.</summary>
    private static readonly char[] ForbiddenInName = [',', '"', '|', '\n', '\r'];

    /// <param name="option">The --patched option as given, or null for a model file given as an argument.</param>
    private static RopeMode Patched(string name, string path, string? option)
    {
        string given = option is null ? path : $"{option}: {path}";
        if (Directory.Exists(path))
            throw new EvalInputException($"{given}: is a folder, not a model file");
        if (!File.Exists(path))
            throw new EvalInputException(option is null ? $"{path}: no such model file" : $"{option}: file not found: {path}");
        return new RopeMode(name, RopeModeKind.Patched, Path.GetFullPath(path));
    }

    /// <summary>
    /// Refuses built-in modes (none, pi, yarn) on a MODEL that carries LongRoPE factors: llama.cpp would apply the
    /// file's factors under each of them (pi and yarn on top), while their results say "no rescaling", "linear" or
    /// "yarn". Such a file is measured as a --patched mode beside the unpatched model.
    /// </summary>
    public static void RefuseBuiltInModesOnPatchedModel(string modelPath, IEnumerable<RopeMode> modes)
    {
        if (!File.Exists(modelPath) || modes.FirstOrDefault(m => m.Kind != RopeModeKind.Patched) is not { } builtIn) return;
        var info = Runtime.ModelContextInfo.Read(modelPath);
        if (info.ReadsFactorTensors && (info.HasLongFactors || info.HasShortFactors))
            throw new EvalInputException($"{modelPath}: MODEL carries LongRoPE factors, which llama.cpp would apply under mode '{builtIn.Name}' too; "
                + $"give the unpatched model as MODEL and this file as --patched NAME={modelPath} (or keep it as MODEL with --modes '' --patched NAME={modelPath})");
    }

    /// <summary>
    /// A warning for each patched-file mode whose file llama.cpp runs with no rescaling at all (no LongRoPE factors its
    /// architecture reads, no built-in scaling type): it measures the plain model under another name, which a table
    /// reads as a factor set that did nothing (an unpatched copy given by mistake was run without a word).
    /// </summary>
    public static IEnumerable<string> PatchedModesWithoutRescaling(IEnumerable<RopeMode> modes)
    {
        foreach (var mode in modes.Where(m => m.Kind == RopeModeKind.Patched && m.PatchedPath is not null && m.FactorFile is null))
        {
            var info = Runtime.ModelContextInfo.Read(mode.PatchedPath!);
            if (!(info.ReadsFactorTensors && (info.HasLongFactors || info.HasShortFactors)) && !info.HasBuiltInScaling)
                yield return $"mode '{mode.Name}' ({mode.PatchedPath}): the file has no LongRoPE factors (nor built-in scaling) that llama.cpp applies; it runs as a plain model";
        }
    }

    /// <summary>Frequency scale the built-in modes use for a context of <paramref name="length"/> tokens: original / length, never above 1.</summary>
    public static float FrequencyScale(int length, int originalContext) =>
        length <= originalContext ? 1f : (float)originalContext / length;

    /// <summary>The file's own RoPE runs (no built-in scaling on top): its LongRoPE sets, if it has any. Only these
    /// modes get a patched file's short contexts at the model's own attention magnitude (EvalModel.CreateContext).</summary>
    public bool RunsFileRope => Kind is RopeModeKind.Patched or RopeModeKind.None;

    /// <summary>Sets llama.cpp's run-time RoPE parameters for this mode at <paramref name="length"/> tokens.</summary>
    public void Apply(ModelParams p, int length, int originalContext)
    {
        switch (Kind)
        {
            case RopeModeKind.Linear:
                p.YarnScalingType = RopeScalingType.Linear;
                p.RopeFrequencyScale = FrequencyScale(length, originalContext);
                break;
            case RopeModeKind.Yarn:
                // llama.cpp's YaRN needs: the scaling type, the frequency scale (original / target), and the context the
                // model was trained on. Extrapolation factor (-1 = "1 for YaRN"), attention factor (its 0.1 ln s + 1
                // magnitude correction is applied inside the rope op), beta fast 32 / slow 1 stay at llama.cpp's defaults.
                p.YarnScalingType = RopeScalingType.Yarn;
                p.RopeFrequencyScale = FrequencyScale(length, originalContext);
                p.YarnOriginalContext = (uint)originalContext;
                break;
            case RopeModeKind.None:
            case RopeModeKind.Patched:
                break; // whatever the file says (short contexts of a file this tool patched: see EvalModel.CreateContext)
        }
    }

    /// <summary>Short description of the RoPE settings at a length, for the trial log.</summary>
    public string Describe(int length, int originalContext) => Kind switch
    {
        RopeModeKind.Linear => $"linear freq_scale={FrequencyScale(length, originalContext):G6}",
        RopeModeKind.Yarn => $"yarn freq_scale={FrequencyScale(length, originalContext):G6} orig_ctx={originalContext}",
        RopeModeKind.Patched => "file (longrope factors)",
        _ => "file (no rescaling)",
    };
}
