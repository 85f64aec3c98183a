using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;

namespace LongRopeGguf.Runtime.Tests;

public class NativeRuntimeTests
{
    [Fact]
    public void The_cpu_backend_is_described_and_the_startup_line_says_so()
    {
        using var model = Load(TestPaths.TinyModel, new RunnerOptions { GpuLayers = 8 });
        var b = model.Backend;
        Assert.Equal("CPU", b.Backend);
        Assert.False(b.HasGpu);
        var cpu = Assert.Single(b.Devices, d => d.Kind == DeviceKind.Cpu);
        Assert.False(string.IsNullOrWhiteSpace(cpu.Description));
        Assert.Null(model.Offload); // a CPU-only llama.cpp logs no offload line
        string line = StartupReport.Line(model, 8, "factor set none", LogFile);
        Assert.StartsWith($"longrope: CPU ({cpu.Description}), no GPU offload (--gpu-layers 8 ignored: no GPU backend)", line);
        Assert.Contains("tiny-passkey-512 (llama, 6 layers, context_length 512; no LongRoPE sets)", line);
        Assert.Null(b.FallbackNote); // this build bundles the CPU backend: nothing fell back
    }

    [Fact]
    public void The_cpu_build_loaded_is_the_best_this_cpu_runs()
    {
        using var model = Load(TestPaths.TinyModel);
        var level = CpuBuildSelector.Detect();
        Assert.NotNull(level); // Linux on x64, /proc/cpuinfo readable
        Assert.Equal(CpuBuildSelector.FolderName(level.Value), model.Backend.CpuBuild);
        Assert.EndsWith(Path.Combine(CpuBuildSelector.FolderName(level.Value), "libllama.so"), model.Backend.LibraryPath);
    }

    [Theory]
    [InlineData("fpu vme sse sse2 ssse3 sse4_1 sse4_2 popcnt", LLama.Native.AvxLevel.None)]
    [InlineData(" sse4_2 avx f16c ", LLama.Native.AvxLevel.Avx)]
    [InlineData("sse4_2 avx f16c fma avx2 bmi2", LLama.Native.AvxLevel.Avx2)]
    [InlineData("avx avx2 avx512f avx512dq avx512bw avx512vl", LLama.Native.AvxLevel.Avx512)]
    [InlineData("avx avx2 avx512_vnni", LLama.Native.AvxLevel.Avx2)] // an AVX-512 extension without the foundation is not enough
    [InlineData("avx2x avxx", LLama.Native.AvxLevel.None)] // whole words only
    public void The_cpu_build_follows_the_kernels_flags(string flags, LLama.Native.AvxLevel expected) =>
        Assert.Equal(expected, CpuBuildSelector.FromFlags(flags));

    [Theory]
    [InlineData("/app/runtimes/linux-x64/native/avx512/libllama.so", "avx512")]
    [InlineData("/app/runtimes/linux-x64/native/noavx/libllama.so", "noavx")]
    [InlineData("/opt/llama-cuda/libllama.so", null)]
    [InlineData(null, null)]
    public void The_cpu_build_is_read_from_the_loaded_librarys_folder(string? path, string? expected) =>
        Assert.Equal(expected, CpuBuildSelector.FolderOf(path));

    [Fact]
    public void Llama_cpps_log_goes_to_the_log_file()
    {
        using var model = Load(PatchedModelFixture.PatchedModel);
        Assert.Equal(Path.GetFullPath(LogFile), NativeRuntime.LogFilePath);
        string log = File.ReadAllText(LogFile);
        Assert.Contains("llama_model_loader: loaded meta data", log);
        Assert.Contains("tiny-passkey-512-longrope.gguf", log);
        Assert.True(NativeRuntime.Log.ModelLoads >= 1);
    }

    [Fact]
    public void A_native_library_folder_without_libllama_is_refused()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<RuntimeInputException>(() => NativeRuntime.Configure(dir.Path, false, null));
        Assert.Equal($"--native-lib {Path.GetFullPath(dir.Path)}: no libllama.so in it", e.Message);
    }
}
