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
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { File.Delete(path); } catch (IOException) { } };
        return path;
    });

    public static string LogFile => s_log.Value;

    /// <summary>Loads a model on CPU through the runner.</summary>
    public static LlamaModel Load(string path, RunnerOptions? options = null)
    {
        _ = LogFile;
        return LlamaModel.Load(path, options);
    }

    public static ReferencePrompt Reference => ReferencePrompt.Tiny;

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
}
