using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using LLama.Native;

namespace LongRopeGguf.Runtime;

/// <summary>What <see cref="RunnerBenchmark"/> measures.</summary>
/// <param name="Lengths">Prompt lengths in tokens; each runs in a context planned for it plus the decode tokens.</param>
/// <param name="DecodeTokens">Tokens generated after each prompt (greedy, end-of-generation ignored).</param>
/// <param name="Repeats">Timed runs per path and length, after one untimed warm-up; medians are reported.</param>
/// <param name="MoveTokens">Size of the conversation moved from the short to the long set (0: skip).</param>
public sealed record BenchOptions(IReadOnlyList<int> Lengths, int DecodeTokens = 128, int Repeats = 3, int MoveTokens = BenchOptions.DefaultMoveTokens)
{
    public const int DefaultMoveTokens = 2000;

    /// <summary>"1 run", "3 runs": how the reports say <see cref="Repeats"/>.</summary>
    public static string Runs(int repeats) => repeats == 1 ? "1 run" : $"{repeats} runs";

    public void Validate()
    {
        if (Lengths.Count == 0) throw new RuntimeInputException("--lengths: give at least one prompt length");
        if (Lengths.Any(l => l < 2)) throw new RuntimeInputException($"--lengths: every length must be at least 2 tokens (got {string.Join(",", Lengths)})");
        if (DecodeTokens < 2) throw new RuntimeInputException($"--decode-tokens {DecodeTokens}: must be at least 2");
        if (Repeats < 1) throw new RuntimeInputException($"--repeats {Repeats}: must be at least 1");
        // A move needs one token to start the conversation on the short set and one more that outgrows it.
        if (MoveTokens is < 0 or 1) throw new RuntimeInputException($"--move-tokens {MoveTokens}: must be 0 (skip) or at least 2");
    }
}

/// <summary>Speeds at one prompt length, through the runner and through a bare LLamaSharp loop with the same context parameters.</summary>
/// <param name="PrefillCostPercent">
/// How much longer the runner's prefill takes than the bare loop's, in percent (negative: shorter): the median over
/// runs of each back-to-back pair's difference, which cancels most of the drift of a shared machine.
/// </param>
/// <param name="SameTokens">Both paths produced the same greedy tokens (so they computed the same thing).</param>
public sealed record LengthBench(
    int Length, int ContextSize, string FactorSet, int BatchSize,
    double RunnerPrefillTokensPerSecond, double BarePrefillTokensPerSecond,
    double RunnerDecodeTokensPerSecond, double BareDecodeTokensPerSecond,
    double PrefillCostPercent, double DecodeCostPercent, bool SameTokens,
    IReadOnlyList<double> RunnerPrefillMs, IReadOnlyList<double> BarePrefillMs,
    IReadOnlyList<double> RunnerDecodeMs, IReadOnlyList<double> BareDecodeMs)
{
    /// <summary>
    /// The same paired comparison on the process's CPU time instead of wall time: on a shared CPU machine, where other
    /// processes take the cores, it shows whether the runner does more work; null where the clock is not available.
    /// </summary>
    public double? PrefillCpuCostPercent { get; init; }
    public double? DecodeCpuCostPercent { get; init; }
    public IReadOnlyList<double> RunnerPrefillCpuMs { get; init; } = [];
    public IReadOnlyList<double> BarePrefillCpuMs { get; init; } = [];
    public IReadOnlyList<double> RunnerDecodeCpuMs { get; init; } = [];
    public IReadOnlyList<double> BareDecodeCpuMs { get; init; } = [];
}

/// <summary>The short-to-long move of a conversation, timed, with the proof that no weights were loaded for it.</summary>
public sealed record MoveBench(
    int Tokens, int FromContext, int ToContext, string FromSet, string ToSet,
    double ContextCreateMs, double ReprefillMs, double TotalMs, IReadOnlyList<double> TotalMsRuns,
    int WeightLoadsBefore, int WeightLoadsAfter, int LlamaModelLoadsBefore, int LlamaModelLoadsAfter);

public sealed record BenchReport(
    IReadOnlyList<LengthBench> Lengths, MoveBench? Move, string? MoveSkipped, IReadOnlyList<string> Skipped, int DecodeTokens, int Repeats)
{
    /// <summary>Stopped (Ctrl-C, SIGTERM) before the end: the lengths measured so far, the rest not.</summary>
    public bool Interrupted { get; init; }
}

/// <summary>
/// Measures the runner against a bare LLamaSharp decode loop (same weights, same context parameters, same greedy
/// choice), interleaving the two so that machine noise hits both alike, and times the short-to-long move.
/// </summary>
public static class RunnerBenchmark
{
    public static readonly int[] DefaultLengths = [512, 2048, 4096];

    /// <summary>The requested lengths that fit the model; when the defaults are used, ones that do not fit are skipped, not an error.</summary>
    public static (List<int> Run, List<string> Skipped) ChooseLengths(ModelContextInfo info, IReadOnlyList<int>? requested, int decodeTokens)
    {
        var run = new List<int>();
        var skipped = new List<string>();
        // Decode tokens alone past the context: no prompt length can help, so the option to change is this one.
        if ((long)decodeTokens + 2 > info.ContextLength)
            throw new RuntimeInputException($"--decode-tokens {decodeTokens}: leaves no room for a prompt in context_length {info.ContextLength}");
        int largest = info.ContextLength - decodeTokens; // the longest prompt the model holds with the decode tokens
        foreach (int length in requested ?? DefaultLengths)
        {
            if (requested is not null && run.Contains(length))
                throw new RuntimeInputException($"--lengths: {length} is given twice");
            // In long: a length near int.MaxValue plus the decode tokens wrapped to a negative sum that "fit".
            if ((long)length + decodeTokens <= info.ContextLength) { run.Add(length); continue; }
            string why = $"length {length} + {decodeTokens} decode tokens exceed the model's context_length {info.ContextLength}";
            if (requested is not null) throw new RuntimeInputException($"--lengths: {why}");
            // A default past the model is measured at the longest prompt it holds (4096 on a 4096-token model was
            // skipped, and the model's own length went unmeasured), once.
            if (run.Contains(largest)) { skipped.Add(why); continue; }
            run.Add(largest);
            skipped.Add($"{why}; measuring {largest} instead");
        }
        return (run, skipped);
    }

    public static BenchReport Run(LlamaModel model, BenchOptions options, IReadOnlyList<string> skipped, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var prompt = PromptTokens(model, options.Lengths.Append(options.MoveTokens).Max());
        var results = new List<LengthBench>();
        try
        {
            foreach (int length in options.Lengths)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Invoke($"length {length}: runner vs bare loop, {BenchOptions.Runs(options.Repeats)} each");
                results.Add(MeasureLength(model, prompt.AsSpan(0, length).ToArray(), options, cancellationToken));
            }
            MoveBench? move = null;
            string? moveSkipped = null;
            if (options.MoveTokens == 0) moveSkipped = "--move-tokens 0";
            else if (!model.Info.HasLongRope) moveSkipped = "the model has no LongRoPE factor sets";
            else if (ContextPlanner.ShortContextSize(model.Info) < 2) moveSkipped = "the short set is never used (original context below 256)";
            else if (options.MoveTokens > model.Info.ContextLength) moveSkipped = $"{options.MoveTokens} tokens exceed the model's context_length {model.Info.ContextLength}";
            else
            {
                progress?.Invoke($"short-to-long move of a {options.MoveTokens}-token conversation, {BenchOptions.Runs(options.Repeats)}");
                move = MeasureMove(model, prompt.AsSpan(0, options.MoveTokens).ToArray(), options.Repeats, cancellationToken);
            }
            return new BenchReport(results, move, moveSkipped, skipped, options.DecodeTokens, options.Repeats);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The lengths already measured are a result (a long run lost them all to one Ctrl-C).
            return new BenchReport(results, null, "interrupted", skipped, options.DecodeTokens, options.Repeats) { Interrupted = true };
        }
    }

    private static LengthBench MeasureLength(LlamaModel model, LLamaToken[] prompt, BenchOptions options, CancellationToken ct)
    {
        int decode = options.DecodeTokens;
        var generation = new GenerationOptions(decode, SamplingOptions.Greedy, StopAtEndOfGeneration: false);
        using var conversation = new Conversation(model);
        // The bare loop gets its own context with exactly the runner's parameters for this work.
        var plan = ContextPlanner.Plan(model.Info, new ContextRequest(ContextPlanner.Add(prompt.Length, decode)));
        using var bare = new BareLoop(ModelContext.Create(model, model.ContextParams(plan), NativeRuntime.Log.Position));

        var runner = new Samples(); var bareRuns = new Samples();
        List<LLamaToken>? runnerTokens = null, bareTokens = null;
        for (int run = 0; run <= options.Repeats; run++) // run 0 warms both paths up and is not counted
        {
            for (int turn = 0; turn < 2; turn++)
            {
                ct.ThrowIfCancellationRequested();
                bool runnerNow = (turn == 0) == (run % 2 == 0); // alternate which path goes first
                if (runnerNow)
                {
                    conversation.Reset();
                    conversation.EnsureCapacity(ContextPlanner.Add(prompt.Length, decode)); // takes the kept context and clears it, untimed
                    var cpu0 = CpuTime.Process();
                    var pre = conversation.Append(prompt, decode, ct);
                    var cpu1 = CpuTime.Process();
                    var gen = conversation.Generate(generation, null, ct);
                    var cpu2 = CpuTime.Process();
                    if (run > 0) runner.Add(pre.Elapsed, gen.DecodeTime, cpu1 - cpu0, cpu2 - cpu1);
                    runnerTokens = conversation.Tokens.Skip(prompt.Length).ToList();
                }
                else
                {
                    var r = bare.Run(prompt, decode);
                    if (run > 0) bareRuns.Add(r.Prefill, r.Decode, r.PrefillCpu, r.DecodeCpu);
                    bareTokens = r.Tokens;
                }
            }
        }
        var ctx = conversation.Context!;
        double rp = prompt.Length / (Median(runner.PrefillMs) / 1000), bp = prompt.Length / (Median(bareRuns.PrefillMs) / 1000);
        double rd = decode / (Median(runner.DecodeMs) / 1000), bd = decode / (Median(bareRuns.DecodeMs) / 1000);
        return new LengthBench(prompt.Length, ctx.Size, ctx.Plan.FactorSetName, ctx.BatchSize, rp, bp, rd, bd,
            PairedCostPercent(runner.PrefillMs, bareRuns.PrefillMs), PairedCostPercent(runner.DecodeMs, bareRuns.DecodeMs), runnerTokens!.SequenceEqual(bareTokens!),
            runner.PrefillMs, bareRuns.PrefillMs, runner.DecodeMs, bareRuns.DecodeMs)
        {
            PrefillCpuCostPercent = CpuTime.Available ? PairedCostPercent(runner.PrefillCpuMs, bareRuns.PrefillCpuMs) : null,
            DecodeCpuCostPercent = CpuTime.Available ? PairedCostPercent(runner.DecodeCpuMs, bareRuns.DecodeCpuMs) : null,
            RunnerPrefillCpuMs = runner.PrefillCpuMs, BarePrefillCpuMs = bareRuns.PrefillCpuMs,
            RunnerDecodeCpuMs = runner.DecodeCpuMs, BareDecodeCpuMs = bareRuns.DecodeCpuMs,
        };
    }

    /// <summary>Per-run wall and CPU times of one path.</summary>
    private sealed class Samples
    {
        public List<double> PrefillMs { get; } = new();
        public List<double> DecodeMs { get; } = new();
        public List<double> PrefillCpuMs { get; } = new();
        public List<double> DecodeCpuMs { get; } = new();

        public void Add(TimeSpan prefill, TimeSpan decode, TimeSpan prefillCpu, TimeSpan decodeCpu)
        {
            PrefillMs.Add(prefill.TotalMilliseconds);
            DecodeMs.Add(decode.TotalMilliseconds);
            PrefillCpuMs.Add(prefillCpu.TotalMilliseconds);
            DecodeCpuMs.Add(decodeCpu.TotalMilliseconds);
        }
    }

    private static MoveBench MeasureMove(LlamaModel model, LLamaToken[] history, int repeats, CancellationToken ct)
    {
        int shortSize = ContextPlanner.ShortContextSize(model.Info);
        int weightsBefore = LlamaModel.WeightLoads, loadsBefore = NativeRuntime.Log.ModelLoads;
        var moves = new List<ContextMove>();
        for (int run = 0; run <= repeats; run++)
        {
            ct.ThrowIfCancellationRequested();
            model.TrimIdleContexts(); // each move pays for creating its long context, as a real one does
            using var conversation = new Conversation(model);
            // Fill the short context as far as the conversation or the context allows, then let the next turn overflow it.
            int first = Math.Min(history.Length - 1, shortSize - 1);
            conversation.Append(history[..first], 0, ct);
            if (conversation.Plan!.FactorSet != FactorSetKind.Short) throw new InvalidOperationException("the benchmark conversation did not start on the short set");
            var result = conversation.Append(history[first..], Math.Max(0, shortSize + 1 - history.Length), ct);
            var move = result.Move ?? throw new InvalidOperationException("the benchmark conversation did not move");
            if (run > 0) moves.Add(move);
        }
        model.TrimIdleContexts();
        var mid = moves.OrderBy(m => m.Total).ElementAt(moves.Count / 2);
        return new MoveBench(mid.TokensReprefilled, mid.From.ContextSize, mid.To.ContextSize, mid.From.FactorSetName, mid.To.FactorSetName,
            mid.ContextCreateTime.TotalMilliseconds, mid.ReprefillTime.TotalMilliseconds, mid.Total.TotalMilliseconds,
            moves.Select(m => m.Total.TotalMilliseconds).ToList(),
            weightsBefore, LlamaModel.WeightLoads, loadsBefore, NativeRuntime.Log.ModelLoads);
    }

    /// <summary>A prompt of at least <paramref name="count"/> tokens: BOS, then ordinary prose repeated.</summary>
    internal static LLamaToken[] PromptTokens(LlamaModel model, int count)
    {
        const string text = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. " +
                            "A river runs through the valley, past the mill and the old stone bridge, down to the sea. ";
        var sb = new StringBuilder(text);
        LLamaToken[] tokens;
        while ((tokens = model.Tokenize(sb.ToString(), addBos: true)).Length < count) sb.Append(sb.ToString());
        return tokens[..count];
    }

    /// <summary>Median over runs of (runner - bare) / bare, in percent; runs are paired by index (they ran back to back).</summary>
    private static double PairedCostPercent(IReadOnlyList<double> runnerMs, IReadOnlyList<double> bareMs) =>
        Median(runnerMs.Zip(bareMs, (r, b) => (r - b) / b * 100).ToList());

    private static double Median(IReadOnlyList<double> xs)
    {
        var s = xs.OrderBy(x => x).ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary>
    /// The reference: LLamaSharp's batch/decode API used directly on a context handle. Prefill in n_batch chunks with
    /// logits for the last token; then sample by argmax and decode one token at a time: the same work the runner does.
    /// </summary>
    private sealed class BareLoop(SafeLLamaContextHandle context) : IDisposable
    {
        private readonly LLamaBatch _batch = new();

        public (TimeSpan Prefill, TimeSpan Decode, TimeSpan PrefillCpu, TimeSpan DecodeCpu, List<LLamaToken> Tokens) Run(LLamaToken[] prompt, int decode)
        {
            context.MemoryClear();
            int n = (int)context.BatchSize;
            var cpu0 = CpuTime.Process();
            var sw = Stopwatch.StartNew();
            for (int done = 0; done < prompt.Length; done += n)
            {
                _batch.Clear();
                int len = Math.Min(n, prompt.Length - done);
                for (int i = 0; i < len; i++) _batch.Add(prompt[done + i], done + i, LLamaSeqId.Zero, done + i == prompt.Length - 1);
                Check(context.Decode(_batch));
            }
            int row = _batch.TokenCount - 1;
            context.Synchronize(); // a GPU decode returns before it is done; the runner waits here too
            var prefill = sw.Elapsed;
            var cpu1 = CpuTime.Process();
            sw.Restart();
            var tokens = new List<LLamaToken>(decode);
            int pos = prompt.Length;
            for (int step = 0; ; step++)
            {
                LLamaToken next = TokenSampler.ArgMax(context.GetLogitsIth(row));
                tokens.Add(next);
                if (step == decode - 1) break;
                _batch.Clear();
                _batch.Add(next, pos++, LLamaSeqId.Zero, true);
                Check(context.Decode(_batch));
                row = 0;
            }
            var decodeTime = sw.Elapsed;
            return (prefill, decodeTime, cpu1 - cpu0, CpuTime.Process() - cpu1, tokens);
        }

        private static void Check(DecodeResult r)
        {
            if (r != DecodeResult.Ok) throw new LlamaFailureException($"bare loop decode failed: {r}");
        }

        public void Dispose() => context.Dispose();
    }
}

/// <summary>CPU time used by this process so far (all threads), from clock_gettime; zero where unavailable.</summary>
internal static partial class CpuTime
{
    private const int ClockProcessCpuTimeId = 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    public static bool Available { get; } = OperatingSystem.IsLinux() && Probe();

    private static bool Probe()
    {
        try { return ClockGetTime(ClockProcessCpuTimeId, out _) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    public static TimeSpan Process()
    {
        if (!Available || ClockGetTime(ClockProcessCpuTimeId, out var t) != 0) return TimeSpan.Zero;
        return TimeSpan.FromTicks(t.Seconds * TimeSpan.TicksPerSecond + t.Nanoseconds / 100);
    }
}
