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

    public static OutputTensor F32(string name, float[] values) =>
        new(name, GgmlType.F32, [(ulong)values.Length], TensorData.Float32(values));

    public static OutputTensor F16(string name, float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 2), (Half)values[i]);
        return new OutputTensor(name, GgmlType.F16, [(ulong)values.Length], new TensorData.FromMemory(bytes));
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
