using System.Collections.Concurrent;
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

    // llama.cpp logs on the thread that called it, so a load's messages can be captured per thread even while other
    // tests run in parallel.
    [ThreadStatic] private static System.Text.StringBuilder? t_capture;

    /// <summary>Where llama.cpp's log of this test run goes (read it when a load fails unexpectedly).</summary>
    public static string LogPath { get; } = Path.Combine(Path.GetTempPath(), $"longrope-tests-llama-{Environment.ProcessId}.log");

    /// <summary>Threads for decoding: fixed, so that results do not depend on the machine.</summary>
    public const int Threads = 2;

    public static void EnsureInitialised()
    {
        lock (s_lock)
        {
            if (s_initialised) return;
            LongRopeGguf.Runtime.NativeRuntime.PreferSleepingThreadWaits(); // OpenMP waits sleep on shared cores, as in the CLI
            s_log = new StreamWriter(LogPath, append: false) { AutoFlush = true };
            AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { File.Delete(LogPath); } catch (IOException) { } };
            s_callback = (level, message) =>
            {
                lock (s_log) s_log.Write($"[{level}] {message}");
                t_capture?.Append(message);
            };
            NativeLibraryConfig.All.WithLogCallback(s_callback);
            s_initialised = true;
        }
    }

    /// <summary>The reference prompt's token ids (295 tokens: BOS + characters), from the model's reference file.</summary>
    public static int[] ReferenceTokens => ReferencePrompt.Tiny.TokenIds;

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

    /// <summary>What happened when llama.cpp was asked to load a file: the exception (null when it loaded) and what
    /// llama.cpp logged meanwhile.</summary>
    public sealed record LoadOutcome(Exception? Error, string Log)
    {
        public bool Loaded => Error is null;
    }

    public static LoadOutcome TryLoad(string modelPath)
    {
        EnsureInitialised();
        t_capture = new System.Text.StringBuilder();
        try
        {
            using var weights = LLamaWeights.LoadFromFile(Params(modelPath, 512));
            return new LoadOutcome(null, t_capture.ToString());
        }
        catch (Exception e)
        {
            return new LoadOutcome(e, t_capture.ToString());
        }
        finally
        {
            t_capture = null;
        }
    }
}
