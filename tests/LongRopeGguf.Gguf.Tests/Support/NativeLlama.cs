using System.Collections.Concurrent;
using LLama.Native;

namespace LongRopeGguf.Gguf.Tests.Support;

/// <summary>Loads llama.cpp (LLamaSharp's CPU backend) once per test process, with its log routed into memory instead
/// of the test output.</summary>
internal static class NativeLlama
{
    private static readonly Lock s_lock = new();
    private static readonly ConcurrentQueue<string> s_log = new();

    // Kept in a static field: native code holds a pointer to this delegate for the life of the process.
    private static NativeLogConfig.LLamaLogCallback? s_callback;
    private static bool s_loaded;

    /// <summary>What llama.cpp and ggml logged (the first 10,000 messages).</summary>
    public static IReadOnlyCollection<string> Log => s_log;

    public static void EnsureLoaded()
    {
        lock (s_lock)
        {
            if (s_loaded) return;
            LongRopeGguf.Runtime.NativeRuntime.PreferSleepingThreadWaits(); // OpenMP waits sleep on shared cores, as in the CLI
            s_callback = (level, message) =>
            {
                if (s_log.Count < 10_000) s_log.Enqueue($"[{level}] {message}");
            };
            NativeLibraryConfig.All.WithLogCallback(s_callback); // before the first native call, which loads the library
            NativeApi.llama_max_devices();
            s_loaded = true;
        }
    }

    /// <summary>Full path of a shared library of this name that the process has mapped (Linux), e.g. the
    /// libggml-base.so that LLamaSharp chose for this CPU.</summary>
    public static string? MappedLibrary(string fileName) =>
        File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 6 && f[5].EndsWith("/" + fileName, StringComparison.Ordinal))
            .Select(f => f[5])
            .FirstOrDefault();

    /// <summary>Where a mapped shared library is loaded: the start of its mapping at file offset 0.</summary>
    public static ulong LoadBase(string path) =>
        File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 6 && f[5] == path && Convert.ToUInt64(f[2], 16) == 0)
            .Select(f => Convert.ToUInt64(f[0].Split('-')[0], 16))
            .Min();

    /// <summary>The readable address ranges of a mapped file.</summary>
    public static List<(ulong Start, ulong End)> ReadableRanges(string path) =>
        File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 6 && f[5] == path && f[1].StartsWith('r'))
            .Select(f => f[0].Split('-'))
            .Select(r => (Convert.ToUInt64(r[0], 16), Convert.ToUInt64(r[1], 16)))
            .ToList();
}
