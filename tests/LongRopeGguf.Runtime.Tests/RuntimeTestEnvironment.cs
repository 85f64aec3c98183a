using System.Text;
using System.Text.Json;
using LongRopeGguf.Tests;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace LongRopeGguf.Runtime.Tests;

/// <summary>
/// Process-wide setup for tests that run llama.cpp: the native log goes to a file (never into test output), once.
/// Tests run one at a time: llama.cpp gets the machine's cores, and process-wide counters (weight loads) are exact.
/// </summary>
public static class RuntimeTestEnvironment
{
    private static readonly Lazy<string> s_log = new(() =>
    {
        string path = Path.Combine(Path.GetTempPath(), $"longrope-runtime-tests-{Environment.ProcessId}.llama.log");
        NativeRuntime.Configure(nativeLibDir: null, verbose: false, logFile: path);
        return path;
    });

    public static string LogFile => s_log.Value;

    /// <summary>Loads a model on CPU through the runner.</summary>
    public static LlamaModel Load(string path, RunnerOptions? options = null)
    {
        _ = LogFile;
        return LlamaModel.Load(path, options);
    }

    public static ReferencePrompt Reference => s_reference.Value;

    private static readonly Lazy<ReferencePrompt> s_reference = new(() =>
    {
        var r = JsonDocument.Parse(File.ReadAllText(TestPaths.TinyModelReference)).RootElement.GetProperty("reference");
        return new ReferencePrompt(
            r.GetProperty("prompt").GetString()!,
            r.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            r.GetProperty("last_logits").EnumerateArray().Select(e => e.GetSingle()).ToArray());
    });

    /// <summary>A pass-key prompt in the model's training format, about <paramref name="chars"/> characters (= tokens - 1).</summary>
    public static string PassKeyPrompt(int chars, double depth, int key)
    {
        const string filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";
        string needle = $"The pass key is {key}. Remember it. {key} is the pass key. ";
        const string question = "What is the pass key? The pass key is ";
        int hay = chars - needle.Length - question.Length;
        var sb = new StringBuilder();
        while (sb.Length < hay) sb.Append(filler);
        string h = sb.ToString(0, hay);
        int at = (int)(depth * hay);
        return h[..at] + needle + h[at..] + question;
    }

    public static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}

public sealed record ReferencePrompt(string Prompt, int[] TokenIds, float[] LastLogits);
