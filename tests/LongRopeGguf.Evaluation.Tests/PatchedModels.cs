using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>LongRoPE-patched copies of the tiny model, made with the project's own patcher.</summary>
public static class PatchedModels
{
    /// <summary>The tiny model with YaRN-rule factors for <paramref name="scale"/> x its context (short set: ones).</summary>
    public static string YarnRule(string directory, double scale)
    {
        var info = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));
        var set = FactorRules.Make(FactorMethod.Yarn, info, scale);
        string path = Path.Combine(directory, $"tiny-yarn-rule-s{scale}.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, set, path);
        return path;
    }
}
