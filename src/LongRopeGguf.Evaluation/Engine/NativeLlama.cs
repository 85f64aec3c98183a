using System.Runtime.InteropServices;
using LLama.Native;
using LongRopeGguf.Runtime;

namespace LongRopeGguf.Evaluation.Engine;

/// <summary>
/// llama.cpp set-up for evaluation, on top of the Runtime's <see cref="NativeRuntime"/> (which library, where its log
/// goes, what errors it logged) plus one thing evaluation grids need on shared CPUs: OpenMP threads that sleep
/// instead of spinning while they wait.
/// </summary>
public static class NativeLlama
{
    private static readonly object s_gate = new();
    private static bool? s_verbose;

    /// <summary>
    /// Configures llama.cpp once per process (native library from LONGROPE_NATIVE_LIB or the bundled backend; log to
    /// the Runtime's log file, or to standard error when <paramref name="verbose"/>). A later call only changes the
    /// log target when asked for another verbosity; a caller that configured <see cref="NativeRuntime"/> itself first
    /// keeps its choice.
    /// </summary>
    public static void EnsureConfigured(bool? verbose = null)
    {
        lock (s_gate)
        {
            PreferSleepingThreadWaits();
            if (s_verbose is not null && (verbose is null || verbose == s_verbose)) return;
            if (s_verbose is null && verbose is null && NativeRuntime.LogFilePath is not null) { s_verbose = false; return; }
            bool v = verbose ?? false;
            NativeRuntime.Configure(nativeLibDir: null, verbose: v, logFile: null);
            s_verbose = v;
        }
    }

    /// <summary>A mark in llama.cpp's log, to ask later what went wrong after it.</summary>
    public static long Mark() => NativeRuntime.Log.Position;

    /// <summary>llama.cpp's most telling error line logged after <paramref name="mark"/>, or "".</summary>
    public static string ErrorsSince(long mark) => NativeRuntime.Log.BestErrorSince(mark) ?? "";

    /// <summary>KV cells one sequence may use (n_ctx_seq): what llama.cpp compares with the original context to pick a LongRoPE set.</summary>
    public static int ContextSizePerSequence(SafeLLamaContextHandle ctx, bool unified)
    {
        try
        {
            return (int)llama_n_ctx_seq(ctx.DangerousGetHandle());
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Same rule as llama.cpp: a unified cache gives every sequence the whole context.
            return (int)(unified ? ctx.ContextSize : ctx.ContextSize / Math.Max(1u, ctx.MaxSeq));
        }
    }

    // Not bound by LLamaSharp 0.30.0. "llama" resolves to the copy LLamaSharp already loaded (the dynamic loader
    // matches the bare name against the SONAME of loaded objects).
    [DllImport("llama", EntryPoint = "llama_n_ctx_seq")]
    private static extern uint llama_n_ctx_seq(IntPtr ctx);

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
}
