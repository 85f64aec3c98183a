using System.CommandLine;
using System.Diagnostics;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using LongRopeGguf.Bench;
using LongRopeGguf.Gguf;

var root = new RootCommand("Benchmarks for LongRopeGguf's GGUF layer (see docs/benchmarks.md).");

var genPath = new Argument<FileInfo>("PATH") { Description = "File to write (replaced if it exists)." };
var sizeGib = new Option<double>("--size-gib") { Description = "Approximate file size in GiB (the file is at least this big).", DefaultValueFactory = _ => 3.0 };
var vocab = new Option<int>("--vocab") { Description = "Vocabulary entries (tokenizer.ggml.tokens).", DefaultValueFactory = _ => 150_000 };
var layers = new Option<int>("--layers") { Description = "Transformer blocks (9 tensors each).", DefaultValueFactory = _ => 32 };
var seed = new Option<int>("--seed") { Description = "Seed of the pseudo-random data.", DefaultValueFactory = _ => 1 };
var gen = new Command("gen-gguf", "Write a synthetic llama GGUF of realistic header and about the given size.") { genPath, sizeGib, vocab, layers, seed };
gen.SetAction(r =>
{
    long bytes = (long)(r.GetValue(sizeGib) * (1L << 30));
    var shape = LlamaShape.ForSize(bytes, r.GetValue(vocab), r.GetValue(layers));
    var sw = Stopwatch.StartNew();
    var file = SyntheticLlamaGguf.Write(r.GetValue(genPath)!.FullName, shape, r.GetValue(seed));
    sw.Stop();
    Console.WriteLine($"wrote {file.Path}: {file.FileLength:N0} bytes ({file.FileLength / (double)(1L << 30):F2} GiB), " +
        $"{file.Tensors.Count} tensors, {file.Metadata.Count} keys, header {file.DataOffset:N0} bytes; " +
        $"n_embd {shape.Embedding}, n_ff {shape.FeedForward}, {shape.Layers} layers, vocab {shape.Vocab}; {sw.Elapsed.TotalSeconds:F1} s " +
        $"({file.FileLength / sw.Elapsed.TotalSeconds / (1 << 20):F0} MiB/s)");
});
root.Subcommands.Add(gen);

var readPath = new Argument<FileInfo>("PATH") { Description = "GGUF file whose header to read." };
var repeat = new Option<int>("--repeat") { Description = "Reads after the first.", DefaultValueFactory = _ => 20 };
var read = new Command("read-header", "Time GgufReader.Read in this process: the first call (with JIT) and warm calls.") { readPath, repeat };
read.SetAction(r =>
{
    string path = r.GetValue(readPath)!.FullName;
    int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
    var sw = Stopwatch.StartNew();
    var file = GgufReader.Read(path);
    double first = sw.Elapsed.TotalMilliseconds;
    string firstGcs = $"{GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}";
    var times = new List<double>();
    long allocated = 0;
    for (int i = 0; i < r.GetValue(repeat); i++)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        sw.Restart();
        GgufReader.Read(path);
        times.Add(sw.Elapsed.TotalMilliseconds);
        allocated = GC.GetAllocatedBytesForCurrentThread() - before;
    }
    times.Sort();
    Console.WriteLine($"{path}: {file.Metadata.Count} keys, {file.Tensors.Count} tensors, header {file.DataOffset:N0} bytes");
    Console.WriteLine($"first read (JIT included): {first:F1} ms, garbage collections gen0/gen1/gen2 {firstGcs}");
    if (times.Count > 0)
        Console.WriteLine($"warm reads ({times.Count}): min {times[0]:F1} ms, median {times[times.Count / 2]:F1} ms, max {times[^1]:F1} ms; {allocated / (1 << 20):F1} MiB allocated per read");
    Console.WriteLine($"process peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MiB");
});
root.Subcommands.Add(read);

var bdnPath = new Argument<FileInfo>("PATH") { Description = "Big GGUF file for the header-read benchmark." };
var bdnFilter = new Option<string>("--filter") { Description = "BenchmarkDotNet filter.", DefaultValueFactory = _ => "*" };
var bdn = new Command("bdn", "BenchmarkDotNet micro-benchmarks of GgufReader.Read (short job, in process).") { bdnPath, bdnFilter };
bdn.SetAction(r =>
{
    Environment.SetEnvironmentVariable(HeaderReadBenchmarks.FileVariable, r.GetValue(bdnPath)!.FullName);
    // In process: no separate benchmark project to generate and build (minutes on a 2-core machine).
    var config = DefaultConfig.Instance
        .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
        .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "longrope-bdn"));
    var summary = BenchmarkSwitcher.FromTypes([typeof(HeaderReadBenchmarks)]).Run(["--filter", r.GetValue(bdnFilter)!], config);
    return summary.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(x => !x.Success)) ? 1 : 0;
});
root.Subcommands.Add(bdn);

return root.Parse(args).Invoke();
