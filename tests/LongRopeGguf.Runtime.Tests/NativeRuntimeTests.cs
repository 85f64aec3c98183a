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
