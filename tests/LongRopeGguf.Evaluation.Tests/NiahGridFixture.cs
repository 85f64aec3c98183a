using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Niah;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>
/// One reduced grid, run once for the tests that read its results: lengths 512 / 1024 / 2048, 3 depths, modes none,
/// yarn (llama.cpp built-in) and a file patched with YaRN-rule factors for 2x (1024).
/// </summary>
public sealed class NiahGridFixture : IDisposable
{
    public static readonly int[] Lengths = [512, 1024, 2048];
    public const int Depths = 3;
    public const string PatchedMode = "yarn-rule-2x";

    private readonly TempDir _dir = new();

    public NiahGridFixture()
    {
        PatchedPath = PatchedModels.YarnRule(_dir.Path, 2);
        Options = new NiahOptions
        {
            ModelPath = TestPaths.TinyModel,
            Lengths = Lengths,
            Depths = Depths,
            Modes = [RopeMode.None, RopeMode.Yarn, RopeMode.ParsePatched($"{PatchedMode}={PatchedPath}")],
            Seed = 7,
            OutputDirectory = Path.Combine(_dir.Path, "grid"),
            Engine = new EngineOptions { Threads = 2 },
        };
        Result = NiahRunner.Run(Options);
    }

    public string PatchedPath { get; }
    public NiahOptions Options { get; }
    public NiahRunResult Result { get; }
    public string Scratch => _dir.Path;

    public IReadOnlyDictionary<string, TrialRecord> Records => TrialLog.ReadAll(Path.Combine(Options.OutputDirectory, NiahRunner.ResultsFile));

    public void Dispose() => _dir.Dispose();
}
