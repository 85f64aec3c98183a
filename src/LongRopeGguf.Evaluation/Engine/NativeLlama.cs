using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using LLama.Native;

namespace LongRopeGguf.Evaluation.Engine;

/// <summary>
/// One-time set-up of the llama.cpp native library for evaluation: its log goes to a sink we choose (nothing by
/// default, so test and console output stay clean) and its recent errors are kept so that a failure can be reported
/// in one line. LLamaSharp only accepts the log callback before the library loads, so this must run before any other
/// native call; later calls are no-ops.
/// </summary>
/// <remarks>Stand-in until the Runtime project's native configuration can be used here.</remarks>
public static class NativeLlama
{
    private static readonly object s_gate = new();
    private static bool s_configured;
    private static volatile TextWriter? s_sink;
    private static readonly ConcurrentQueue<string> s_recentErrors = new();

    // Native code holds a pointer to this delegate for the life of the process.
    private static NativeLogConfig.LLamaLogCallback? s_callback;

    /// <summary>Where llama.cpp's log goes from now on (null: nowhere). May be changed at any time.</summary>
    public static TextWriter? LogSink { get => s_sink; set => s_sink = value; }

    /// <summary>Routes the native log through us. Safe to call many times and from several threads.</summary>
    public static void EnsureConfigured()
    {
        lock (s_gate)
        {
            if (s_configured) return;
            PreferSleepingThreadWaits();
            s_callback = OnLog;
            if (!NativeLibraryConfig.LLama.LibraryHasLoaded)
                NativeLibraryConfig.All.WithLogCallback(s_callback);
            else
                NativeLogConfig.llama_log_set(s_callback); // someone else loaded it first: replace their callback
            s_configured = true;
        }
    }

    /// <summary>The last few error/warning lines llama.cpp logged, oldest first, to explain a failure.</summary>
    public static string RecentErrors()
    {
        var lines = s_recentErrors.ToArray().Select(l => l.Trim()).Where(l => l.Length > 0).TakeLast(3);
        return string.Join(" | ", lines);
    }

    private static void OnLog(LLamaLogLevel level, string message)
    {
        if (level is LLamaLogLevel.Error or LLamaLogLevel.Warning)
        {
            s_recentErrors.Enqueue(message);
            while (s_recentErrors.Count > 8) s_recentErrors.TryDequeue(out _);
        }
        var sink = s_sink;
        if (sink is null) return;
        lock (sink) sink.Write(message);
    }

    /// <summary>
    /// llama.cpp's CPU backend parallelizes with OpenMP, whose threads spin at barriers by default. On a machine whose
    /// cores are shared with other work, a spinning thread that gets preempted stalls the others: measured here, 2
    /// threads ran a 2048-token grid 3.6x slower than 1. OMP_WAIT_POLICY=PASSIVE makes waiting threads sleep instead,
    /// which removed the penalty. libgomp reads it when it loads, so it is put into the native environment (where
    /// getenv sees it; .NET's own environment copy is not) before llama.cpp loads, unless the user chose a policy.
    /// </summary>
    private static void PreferSleepingThreadWaits()
    {
        if (NativeLibraryConfig.LLama.LibraryHasLoaded || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        try
        {
            setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Without libc's setenv the default (spinning) policy stays: slower under contention, same results.
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    // llama.cpp functions LLamaSharp 0.30.0 does not wrap. "llama" resolves to the copy LLamaSharp already loaded
    // (the dynamic loader matches the bare name against the SONAME of loaded objects).
    [DllImport("llama", EntryPoint = "llama_n_ctx_seq")]
    private static extern uint llama_n_ctx_seq(IntPtr ctx);

    /// <summary>KV cells one sequence may use: what llama.cpp compares with the original context to pick a LongRoPE set.</summary>
    public static uint ContextSizePerSequence(SafeLLamaContextHandle ctx, bool unified)
    {
        try
        {
            return llama_n_ctx_seq(ctx.DangerousGetHandle());
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Same rule as llama.cpp: a unified cache gives every sequence the whole context.
            return unified ? ctx.ContextSize : ctx.ContextSize / Math.Max(1u, ctx.MaxSeq);
        }
    }
}
