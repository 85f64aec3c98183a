namespace LongRopeGguf.Runtime;

/// <summary>
/// Refuses a context whose KV cache clearly cannot fit, before llama.cpp tries: on Linux a huge allocation can succeed
/// on paper and then the page faults of clearing the cache bring the OOM killer, which no error message survives.
/// Only the plain f16 KV estimate is checked, against what the system (or the GPU) reports free, so it refuses what
/// cannot work and lets llama.cpp decide everything close.
/// </summary>
public static class MemoryCheck
{
    public static void EnsureContextFits(LlamaModel model, int contextSize)
    {
        // A sliding-window model's caches are smaller than the estimate: left to llama.cpp rather than refused wrongly.
        if (model.Info.KvEstimateIsUpperBound || model.Info.KvCacheBytes(contextSize) is not { } need) return;
        bool onGpu = model.Backend.HasGpu && model.GpuLayers > model.Info.LayerCount;
        long? available = onGpu ? model.Backend.GpuDevices.Sum(d => d.FreeBytes) is > 0 and var f ? f : null : AvailableHostMemory();
        if (available is not { } free || need <= free) return;
        // The user's request is too big for this machine (exit 2, as eval and search refuse theirs); a chat says so and
        // stays open.
        throw new RuntimeInputException(
            $"a {contextSize}-token context needs about {Gib(need)} GiB of KV cache, but only {Gib(free)} GiB of {(onGpu ? "GPU" : "host")} memory is free");
    }

    public static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>MemAvailable from /proc/meminfo; null where there is none.</summary>
    public static long? AvailableHostMemory()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
