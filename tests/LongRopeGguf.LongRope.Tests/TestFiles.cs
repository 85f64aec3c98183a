using System.Diagnostics;
using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

/// <summary>Builds GGUF variants of the tiny model with <see cref="GgufEdit"/> directly (bypassing the patcher, to make
/// the bad files the patcher refuses to write), and runs the child-process decoder.</summary>
public static class TestFiles
{
    public const int FactorCount = 32;
    public const string Arch = "llama";

    public static GgufFile Tiny => GgufReader.Read(TestPaths.TinyModel);

    public static string Write(TempDir dir, string name, Action<GgufEdit> build, string? source = null)
    {
        var edit = new GgufEdit();
        build(edit);
        string target = dir.File(name);
        GgufRewriter.Rewrite(GgufReader.Read(source ?? TestPaths.TinyModel), edit, target);
        return target;
    }

    /// <summary>The tiny model as another architecture: general.architecture set and its llama.* keys renamed.</summary>
    public static string Relabelled(TempDir dir, string name, string architecture) => Write(dir, name, e =>
    {
        e.SetValue(GgufKeys.Architecture, GgufValue.String(architecture));
        foreach (var entry in Tiny.Metadata.Where(m => m.Key.StartsWith(Arch + ".", StringComparison.Ordinal)))
            e.RemoveKey(entry.Key).SetValue(architecture + entry.Key[Arch.Length..], entry.Value);
    });

    public static OutputTensor F32(string name, float[] values) =>
        new(name, GgmlType.F32, [(ulong)values.Length], TensorData.Float32(values));

    public static OutputTensor F16(string name, float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 2), (Half)values[i]);
        return new OutputTensor(name, GgmlType.F16, [(ulong)values.Length], new TensorData.FromMemory(bytes));
    }

    /// <summary>A tensor's data as stored.</summary>
    public static byte[] TensorBytes(GgufFile file, string name)
    {
        var tensor = file.GetTensor(name);
        var bytes = new byte[tensor.ByteSize];
        using var stream = File.OpenRead(file.Path!);
        stream.Position = file.AbsoluteOffset(tensor);
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>An F16 tensor of <paramref name="source"/> with every value multiplied by <paramref name="factor"/>
    /// (exact for a power of two short of overflow).</summary>
    public static OutputTensor ScaledF16(GgufFile source, string name, float factor)
    {
        var tensor = source.GetTensor(name);
        if (tensor.Type != GgmlType.F16) throw new ArgumentException($"{name} is {tensor.Type}, not F16");
        byte[] bytes = TensorBytes(source, name);
        for (int i = 0; i < bytes.Length; i += 2)
            BitConverter.TryWriteBytes(bytes.AsSpan(i), (Half)((float)BitConverter.ToHalf(bytes, i) * factor));
        return new OutputTensor(name, GgmlType.F16, tensor.Dimensions, new TensorData.FromMemory(bytes));
    }

    /// <summary>A file without LongRoPE whose rope_freqs.weight holds <paramref name="factors"/>: llama.cpp applies them at
    /// every context size, which is what a LongRoPE set should reproduce.</summary>
    public static string RopeFreqsModel(TempDir dir, string name, float[] factors) =>
        Write(dir, name, e => e.SetTensor(F32(LongRopeKeys.RopeFreqsTensor, factors)));

    public static float[] Ramp(float from, float to, int n = FactorCount) =>
        Enumerable.Range(0, n).Select(i => from + (to - from) * i / (n - 1)).ToArray();

    /// <summary>Result of running the test assembly as a child process that loads a model and decodes.</summary>
    public sealed record ChildResult(int ExitCode, string Stdout, string Stderr);

    public static ChildResult DecodeInChildProcess(string modelPath, uint contextSize = 512)
    {
        string dll = typeof(TestFiles).Assembly.Location;
        var psi = new ProcessStartInfo(TestPaths.DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { dll, "decode", modelPath, contextSize.ToString(System.Globalization.CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        // No core dump for the expected abort.
        psi.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        // ggml prints a backtrace on abort by attaching gdb when it can; not needed here.
        psi.Environment["GGML_NO_BACKTRACE"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"child decode of {modelPath} did not finish in 120 s");
        }
        return new ChildResult(process.ExitCode, stdout.Result, stderr.Result);
    }
}
