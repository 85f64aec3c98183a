using System.Runtime.InteropServices;
using LLama.Native;

namespace LongRopeGguf.Runtime;

/// <summary>ggml's device kinds (enum ggml_backend_dev_type).</summary>
public enum DeviceKind { Cpu = 0, Gpu = 1, IntegratedGpu = 2, Accelerator = 3, Unknown = -1 }

/// <summary>One ggml compute device, e.g. CUDA0 "NVIDIA H100 80GB HBM3".</summary>
public sealed record BackendDevice(string Name, string Description, DeviceKind Kind, long FreeBytes, long TotalBytes)
{
    public bool IsGpu => Kind is DeviceKind.Gpu or DeviceKind.IntegratedGpu;
}

/// <summary>The llama.cpp build this process runs on: its backend, its devices and whether a GPU backend fell back to CPU.</summary>
/// <param name="Backend">"CUDA", "Vulkan", ... for the first GPU device's backend; "CPU" when there is none.</param>
/// <param name="BundledBackend">The LLamaSharp backend package this build ships (the LongRopeBackend build property).</param>
/// <param name="FallbackNote">Why a GPU was expected but is not used; null when nothing fell back.</param>
public sealed record BackendInfo(
    string Backend,
    IReadOnlyList<BackendDevice> Devices,
    string? LibraryPath,
    string? NativeLibraryDirectory,
    string BundledBackend,
    string? FallbackNote)
{
    public bool HasGpu => Devices.Any(d => d.IsGpu);

    /// <summary>Which of the bundled backend's CPU builds was loaded ("avx512", "avx2", "avx", "noavx"); null for a custom build.</summary>
    public string? CpuBuild => NativeLibraryDirectory is null ? CpuBuildSelector.FolderOf(LibraryPath) : null;

    public IEnumerable<BackendDevice> GpuDevices => Devices.Where(d => d.IsGpu);

    /// <summary>"CUDA (CUDA0 NVIDIA H100 80GB HBM3, 79 GiB free)" or "CPU (Intel(R) Xeon(R) Processor)".</summary>
    public string Describe()
    {
        var shown = HasGpu ? GpuDevices.ToList() : Devices.Where(d => d.Kind == DeviceKind.Cpu).Take(1).ToList();
        string devices = string.Join("; ", shown.Select(d => d.IsGpu
            ? $"{d.Name} {d.Description}{(d.TotalBytes > 0 ? $", {d.FreeBytes / (1L << 30)}/{d.TotalBytes / (1L << 30)} GiB free" : "")}"
            : d.Description));
        return devices.Length == 0 ? Backend : $"{Backend} ({devices})";
    }

    internal static BackendInfo Probe(string? nativeLibDir, string? loadedPath)
    {
        var devices = new List<BackendDevice>();
        var extra = GgmlDeviceExtras.TryCreate();
        nuint count = NativeApi.ggml_backend_dev_count();
        for (nuint i = 0; i < count; i++)
        {
            IntPtr dev = NativeApi.ggml_backend_dev_get(i);
            string name = Marshal.PtrToStringUTF8(NativeApi.ggml_backend_dev_name(dev)) ?? $"device{i}";
            string description = extra?.Description(dev) ?? name;
            DeviceKind kind = extra?.Kind(dev) ?? (name.StartsWith("CPU", StringComparison.OrdinalIgnoreCase) ? DeviceKind.Cpu : DeviceKind.Gpu);
            (long free, long total) = extra?.Memory(dev) ?? (0, 0);
            devices.Add(new BackendDevice(name, description, kind, free, total));
        }
        var gpu = devices.FirstOrDefault(d => d.IsGpu);
        string backend = gpu is null ? "CPU" : new string(gpu.Name.TakeWhile(char.IsLetter).ToArray()) is { Length: > 0 } b ? b : "GPU";

        string? note = null;
        if (gpu is null)
        {
            if (RuntimeBuild.BundledBackend.StartsWith("Cuda", StringComparison.OrdinalIgnoreCase) && nativeLibDir is null)
                note = $"this build bundles LLamaSharp.Backend.{RuntimeBuild.BundledBackend}, but no CUDA device/driver was usable, so llama.cpp fell back to CPU";
            else if (nativeLibDir is not null && Directory.EnumerateFiles(nativeLibDir, "libggml-cuda*").Any())
                note = $"{nativeLibDir} has a CUDA backend, but it found no usable CUDA device, so llama.cpp runs on CPU";
        }
        return new BackendInfo(backend, devices, loadedPath, nativeLibDir, RuntimeBuild.BundledBackend, note);
    }

    /// <summary>
    /// ggml functions LLamaSharp 0.30.0 does not bind (device description, kind, memory), called through the already
    /// loaded ggml library. Optional: without them devices are described by name only.
    /// </summary>
    private sealed unsafe class GgmlDeviceExtras
    {
        private readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr> _description;
        private readonly delegate* unmanaged[Cdecl]<IntPtr, int> _type;
        private readonly delegate* unmanaged[Cdecl]<IntPtr, nuint*, nuint*, void> _memory;

        private GgmlDeviceExtras(IntPtr description, IntPtr type, IntPtr memory)
        {
            _description = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr>)description;
            _type = (delegate* unmanaged[Cdecl]<IntPtr, int>)type;
            _memory = (delegate* unmanaged[Cdecl]<IntPtr, nuint*, nuint*, void>)memory;
        }

        public static GgmlDeviceExtras? TryCreate()
        {
            // By bare name the dynamic loader returns the copy already loaded (matched by SONAME), not a second one.
            foreach (string lib in new[] { "libggml-base.so", "libggml.so", "libllama.so" })
            {
                if (!NativeLibrary.TryLoad(lib, out IntPtr handle)) continue;
                if (NativeLibrary.TryGetExport(handle, "ggml_backend_dev_description", out var d)
                    && NativeLibrary.TryGetExport(handle, "ggml_backend_dev_type", out var t)
                    && NativeLibrary.TryGetExport(handle, "ggml_backend_dev_memory", out var m))
                    return new GgmlDeviceExtras(d, t, m);
            }
            return null;
        }

        public string? Description(IntPtr dev) => Marshal.PtrToStringUTF8(_description(dev));

        public DeviceKind Kind(IntPtr dev) => _type(dev) is var t && Enum.IsDefined(typeof(DeviceKind), t) ? (DeviceKind)t : DeviceKind.Unknown;

        public (long Free, long Total) Memory(IntPtr dev)
        {
            nuint free = 0, total = 0;
            _memory(dev, &free, &total);
            return ((long)free, (long)total);
        }
    }
}
