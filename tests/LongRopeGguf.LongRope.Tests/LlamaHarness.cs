using System.Collections.Concurrent;
using System.Text.Json;
using LLama;
using LLama.Common;
using LLama.Native;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

/// <summary>
/// Runs real llama.cpp (LLamaSharp 0.30.0, CPU backend) on GGUF files: load, batch-decode a prompt, return the
/// last position's logits. llama.cpp's own log goes to a file in the temp folder, never to the test output.
/// </summary>
public static class LlamaHarness
{
    private static readonly object s_lock = new();
    private static bool s_initialised;
    private static NativeLogConfig.LLamaLogCallback? s_callback; // kept alive: native code holds a pointer to it
    private static StreamWriter? s_log;

    /// <summary>Where llama.cpp's log of this test run goes (read it when a load fails unexpectedly).</summary>
    public static string LogPath { get; } = Path.Combine(Path.GetTempPath(), $"longrope-tests-llama-{Environment.ProcessId}.log");

    /// <summary>Threads for decoding: fixed, so that results do not depend on the machine.</summary>
    public const int Threads = 2;

    public static void EnsureInitialised()
    {
        lock (s_lock)
        {
            if (s_initialised) return;
            s_log = new StreamWriter(LogPath, append: false) { AutoFlush = true };
            s_callback = (level, message) =>
            {
                lock (s_log) s_log.Write($"[{level}] {message}");
            };
            NativeLibraryConfig.All.WithLogCallback(s_callback);
            s_initialised = true;
        }
    }

    /// <summary>The reference prompt's token ids (295 tokens: BOS + characters), from the model's reference file.</summary>
    public static int[] ReferenceTokens { get; } = LoadReferenceTokens();

    private static int[] LoadReferenceTokens()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.TinyModelReference));
        return doc.RootElement.GetProperty("reference").GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    /// <summary>Loads <paramref name="modelPath"/>, creates a context of <paramref name="contextSize"/> and returns the
    /// logits after the prompt (default: the reference prompt).</summary>
    public static float[] Logits(string modelPath, uint contextSize, int[]? tokens = null, Action<ModelParams>? configure = null)
    {
        EnsureInitialised();
        tokens ??= ReferenceTokens;
        var p = Params(modelPath, contextSize);
        configure?.Invoke(p);
        using var weights = LLamaWeights.LoadFromFile(p);
        using var context = weights.CreateContext(p);
        return Decode(context, tokens);
    }

    public static ModelParams Params(string modelPath, uint contextSize) => new(modelPath)
    {
        ContextSize = contextSize,
        BatchSize = 512,
        UBatchSize = 512,
        GpuLayerCount = 0,
        Threads = Threads,
        BatchThreads = Threads,
    };

    /// <summary>Decodes the prompt in batches of at most the context's batch size (llama.cpp clamps it to n_ctx).</summary>
    public static float[] Decode(LLamaContext context, int[] tokens)
    {
        var batch = new LLamaBatch();
        for (int start = 0; start < tokens.Length; start += (int)context.BatchSize)
        {
            batch.Clear();
            int end = Math.Min(tokens.Length, start + (int)context.BatchSize);
            for (int i = start; i < end; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, i == tokens.Length - 1);
            var result = context.Decode(batch);
            if (result != DecodeResult.Ok) throw new InvalidOperationException($"decode failed: {result}");
        }
        return context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
    }

    /// <summary>Tries to load the model; returns the exception llama.cpp's failure became, or null when it loaded.</summary>
    public static Exception? TryLoad(string modelPath)
    {
        EnsureInitialised();
        try
        {
            using var weights = LLamaWeights.LoadFromFile(Params(modelPath, 512));
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>The last lines llama.cpp logged (for assertion messages).</summary>
    public static string LogTail(int lines = 8)
    {
        try
        {
            using var s = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var r = new StreamReader(s);
            var all = r.ReadToEnd().Split('\n');
            return string.Join("\n", all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public static float MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
