namespace LongRopeGguf.Tests;

/// <summary>Where the test data lives, and scratch folders that clean up after themselves.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LongRopeGguf.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (LongRopeGguf.sln) above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => s_root.Value;

    /// <summary>The dotnet host that runs this test process (dotnet test sets DOTNET_HOST_PATH for its children), for
    /// starting the CLI or the test assembly itself as a child process.</summary>
    public static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p
        : "dotnet";

    /// <summary>The prose the searches run on (public-domain text; see the folder's README).</summary>
    public static string ProseSearch => Path.Combine(RepoRoot, "tests", "LongRopeGguf.Search.Tests", "Data", "prose-search.txt");

    /// <summary>Prose no search has seen, for held-out evaluation.</summary>
    public static string ProseHeldout => Path.Combine(RepoRoot, "tests", "LongRopeGguf.Search.Tests", "Data", "prose-heldout.txt");

    /// <summary>The bundled trained test model (llama, 512-token context, character tokenizer).</summary>
    public static string TinyModel => Path.Combine(RepoRoot, "models", "tiny-passkey-512.gguf");

    public static string TinyModelReference => Path.Combine(RepoRoot, "models", "tiny-passkey-512.reference.json");
}

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "longrope-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
