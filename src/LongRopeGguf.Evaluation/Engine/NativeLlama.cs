using LLama.Native;
using LongRopeGguf.Runtime;

namespace LongRopeGguf.Evaluation.Engine;

/// <summary>
/// llama.cpp set-up for evaluation, on top of the Runtime's <see cref="NativeRuntime"/> (which library, where its log
/// goes, what errors it logged, OpenMP threads that sleep instead of spinning while they wait).
/// </summary>
public static class NativeLlama
{
    private static readonly object s_gate = new();
    private static bool? s_verbose;

    /// <summary>
    /// Configures llama.cpp once per process: the native library from <paramref name="nativeLibDir"/>, else
    /// LONGROPE_NATIVE_LIB, else the bundled backend; the log to <paramref name="logFile"/>, else the Runtime's default
    /// log file, or to standard error when <paramref name="verbose"/>. A later call changes only the log target, and only
    /// when asked for another verbosity or file; a caller that configured <see cref="NativeRuntime"/> itself first keeps
    /// its choice. A bad library folder or an unwritable log file is a <see cref="RuntimeInputException"/>.
    /// </summary>
    public static void EnsureConfigured(bool? verbose = null, string? nativeLibDir = null, string? logFile = null)
    {
        lock (s_gate)
        {
            // OMP_WAIT_POLICY=PASSIVE (sleeping OpenMP waits) comes with NativeRuntime.Configure; a caller that
            // configured it first already has it.
            bool explicitChoice = nativeLibDir is not null || logFile is not null;
            bool keep = !explicitChoice
                && ((s_verbose is not null && (verbose is null || verbose == s_verbose))
                    || (s_verbose is null && verbose is null && NativeRuntime.IsConfigured));
            if (keep)
            {
                s_verbose ??= false;
            }
            else
            {
                bool v = verbose ?? false;
                NativeRuntime.Configure(nativeLibDir, v, logFile);
                s_verbose = v;
            }
        }
        LoadLibrary(); // once per process in effect: the Runtime caches what it loaded
    }

    /// <summary>
    /// Loads llama.cpp now, the Runtime's way (a custom build's ggml libraries first, then libllama), so that a library
    /// that does not load is one <see cref="LlamaFailureException"/> naming the folder, not a type-initializer exception
    /// at the first model load.
    /// </summary>
    private static void LoadLibrary() => NativeRuntime.Backend();

    /// <summary>A mark in llama.cpp's log, to ask later what went wrong after it.</summary>
    public static long Mark() => NativeRuntime.Log.Position;

    /// <summary>llama.cpp's most telling error line logged after <paramref name="mark"/>, or "".</summary>
    public static string ErrorsSince(long mark) => NativeRuntime.Log.BestErrorSince(mark) ?? "";

    /// <summary>KV cells one sequence may use (n_ctx_seq): what llama.cpp compares with the original context to pick a LongRoPE set.</summary>
    /// <remarks>Evaluation contexts use a unified KV cache, which gives every sequence the whole context (llama.cpp's rule).</remarks>
    public static int ContextSizePerSequence(SafeLLamaContextHandle ctx) =>
        NativeContextQueries.SequenceContextSize(ctx) ?? (int)ctx.ContextSize;
}
