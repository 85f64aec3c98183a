using BenchmarkDotNet.Attributes;
using LongRopeGguf.Gguf;

namespace LongRopeGguf.Bench;

/// <summary>
/// GgufReader.Read on a big model's header: the whole cost of `longrope inspect` apart from process start-up, and the
/// first step of every rewrite. The file comes from the LONGROPE_BENCH_GGUF environment variable (the `bdn` command
/// sets it); the bundled tiny model is measured beside it for scale.
/// </summary>
[MemoryDiagnoser]
public class HeaderReadBenchmarks
{
    public const string FileVariable = "LONGROPE_BENCH_GGUF";

    private string _big = "";
    private string _tiny = "";

    [GlobalSetup]
    public void Setup()
    {
        _big = Environment.GetEnvironmentVariable(FileVariable) ?? throw new InvalidOperationException($"set {FileVariable} to a GGUF file");
        _tiny = Path.Combine(RepoRoot(), "models", "tiny-passkey-512.gguf");
    }

    [Benchmark(Description = "Read header: generated big model")]
    public int ReadBig() => GgufReader.Read(_big).Metadata.Count;

    [Benchmark(Baseline = true, Description = "Read header: tiny-passkey-512")]
    public int ReadTiny() => GgufReader.Read(_tiny).Metadata.Count;

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LongRopeGguf.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root above " + AppContext.BaseDirectory);
    }
}
