using System.Runtime.InteropServices;
using LLama.Native;

namespace LongRopeGguf.Runtime;

/// <summary>
/// Which of LLamaSharp's CPU builds of llama.cpp (noavx, avx, avx2, avx512) this machine can run. LLamaSharp decides
/// from <c>Avx2.IsSupported</c> and friends, which Native AOT answers when it compiles (false beyond its x86-64-v2
/// baseline), so the AOT CLI loaded the noavx build: 15-17x slower prefill on this AVX-512 machine (docs/benchmarks.md).
/// The CPU's own flags, read at run time, give the same answer under JIT and AOT.
/// </summary>
public static class CpuBuildSelector
{
    private const string CpuInfoPath = "/proc/cpuinfo";

    /// <summary>The best build for this CPU, or null where it cannot be told (not Linux on x64): LLamaSharp decides then.</summary>
    public static AvxLevel? Detect()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        try
        {
            // The kernel lists a feature only when it also saves its registers (XSAVE), so a listed flag is usable.
            foreach (string line in File.ReadLines(CpuInfoPath))
                if (line.StartsWith("flags", StringComparison.Ordinal) && line.IndexOf(':') is int colon and >= 0)
                    return FromFlags(line[(colon + 1)..]);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>The build for a /proc/cpuinfo "flags" list (space-separated, as the kernel spells them).</summary>
    public static AvxLevel FromFlags(string flags)
    {
        var set = new HashSet<string>(flags.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
        // LLamaSharp's avx512 build needs AVX-512F; its avx2 build also uses FMA and F16C, which every AVX2 CPU has.
        if (set.Contains("avx512f")) return AvxLevel.Avx512;
        if (set.Contains("avx2")) return AvxLevel.Avx2;
        if (set.Contains("avx")) return AvxLevel.Avx;
        return AvxLevel.None;
    }

    /// <summary>The folder LLamaSharp keeps a build in (runtimes/RID/native/FOLDER): "noavx", "avx", "avx2", "avx512".</summary>
    public static string FolderName(AvxLevel level) => level switch
    {
        AvxLevel.Avx => "avx",
        AvxLevel.Avx2 => "avx2",
        AvxLevel.Avx512 => "avx512",
        _ => "noavx",
    };

    /// <summary>The CPU build a loaded library came from ("avx512"), or null for a library outside those folders.</summary>
    public static string? FolderOf(string? libraryPath)
    {
        string? folder = libraryPath is null ? null : Path.GetFileName(Path.GetDirectoryName(libraryPath));
        return folder is "noavx" or "avx" or "avx2" or "avx512" ? folder : null;
    }
}
