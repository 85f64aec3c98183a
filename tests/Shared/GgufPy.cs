using System.Diagnostics;
using System.Text;
using System.Text.Json;
namespace LongRopeGguf.Tests;

/// <summary>
/// llama.cpp's Python GGUF reader (gguf-py), an independent reader for cross-checks, through tools/gguf_dump.py.
/// The gguf-py folder comes from LONGROPE_GGUF_PY (tools/test.sh sets it); when that is unset or wrong, this runs
/// tools/setup-gguf-py.sh itself. When that fails too, or /usr/bin/python3 is missing, the test fails saying why: a
/// skipped cross-check would leave the run green without the one independent reader.
/// </summary>
public static class GgufPy
{
    private const string Python = "/usr/bin/python3";

    private static readonly Lazy<(string? Folder, string? Problem)> s_folder = new(Locate);

    /// <summary>The gguf-py folder; an exception saying why there is none.</summary>
    public static string Folder()
    {
        var (folder, problem) = s_folder.Value;
        return folder ?? throw new InvalidOperationException($"gguf-py cross-check cannot run: {problem}");
    }

    private static bool IsGgufPy(string? folder) => !string.IsNullOrEmpty(folder) && File.Exists(Path.Combine(folder, "gguf", "gguf_reader.py"));

    private static (string?, string?) Locate()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("LONGROPE_GGUF_PY");
        if (File.Exists(Python) && IsGgufPy(fromEnv)) return (fromEnv, null);

        string script = Path.Combine(TestPaths.RepoRoot, "tools", "setup-gguf-py.sh");
        var (code, stdout, stderr) = Run("/bin/bash", [script], TimeSpan.FromMinutes(10));
        string? folder = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (code == 0 && File.Exists(Python) && IsGgufPy(folder)) return (folder, null);
        string why = !File.Exists(Python) ? $"{Python} is missing" : $"LONGROPE_GGUF_PY is '{fromEnv}' and no gguf-py folder";
        return (null, $"{why}, and tools/setup-gguf-py.sh failed (exit {code}): {Tail(stderr)}");
    }

    /// <summary>gguf_dump.py's JSON for <paramref name="path"/>; fails the test when gguf-py cannot read the file.</summary>
    public static JsonElement Dump(string path)
    {
        string folder = Folder();
        var (code, stdout, stderr) = Run(Python, [Path.Combine(TestPaths.RepoRoot, "tools", "gguf_dump.py"), path], TimeSpan.FromMinutes(2),
            ("PYTHONPATH", folder), ("PYTHONUTF8", "1"), ("PYTHONIOENCODING", "utf-8"));
        Assert.True(code == 0, $"gguf-py could not read {path} (exit {code}): {Tail(stderr)}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    private static string Tail(string s) => s.Length > 2000 ? "..." + s[^2000..] : s.Trim();

    private static (int Code, string Stdout, string Stderr) Run(string exe, string[] args, TimeSpan timeout, params (string, string)[] env)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeout))
            {
                p.Kill(entireProcessTree: true);
                return (-1, "", $"{exe} timed out after {timeout}");
            }
            return (p.ExitCode, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", $"cannot start {exe}: {e.Message}");
        }
    }
}
