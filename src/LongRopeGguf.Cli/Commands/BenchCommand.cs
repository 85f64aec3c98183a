using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LongRopeGguf.Runtime;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// `longrope bench MODEL [--lengths 512,2048,4096] [--decode-tokens 128] [--json]`: prefill and decode speed through
/// the runner and through a bare LLamaSharp loop with the same settings, in one run, and the short-to-long move time.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var lengths = new Option<string?>("--lengths")
        {
            Description = "Prompt lengths in tokens, comma-separated (default 512,2048,4096; a default that does not fit the model with the decode tokens is measured at the longest prompt that does).",
            HelpName = "N,N,...",
        };
        var decode = new Option<int>("--decode-tokens") { Description = "Tokens generated after each prompt.", DefaultValueFactory = _ => 128 };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per path and length (after one warm-up); medians are reported.", DefaultValueFactory = _ => 3 };
        var move = new Option<int?>("--move-tokens") { Description = $"Size of the conversation moved from the short to the long set (0: skip; default {BenchOptions.DefaultMoveTokens}, skipped when the model cannot hold it)." };
        var json = CommonOptions.Json();
        var rt = new RuntimeCommandOptions(defaultMaxTokens: 128);
        var cmd = new Command("bench", "Measure prefill and decode tokens/s through the runner and a bare LLamaSharp loop (same settings, same run), and the short-to-long move.")
        {
            model, lengths, decode, repeats, move, json,
        };
        rt.AddRuntimeOptions(cmd);
        cmd.SetAction(r => RuntimeCommandOptions.Run(interrupt =>
        {
            var requested = r.GetValue(lengths) is { } lengthList ? TokenCountList.Parse(lengthList, minimum: 2) : null;
            var info = ModelContextInfo.Read(r.GetValue(model)!.FullName);
            var (run, skipped) = RunnerBenchmark.ChooseLengths(info, requested, r.GetValue(decode));
            // Like --lengths: a default that the model cannot hold is skipped, an explicit size is an error.
            if (r.GetValue(move) is int given && given > info.ContextLength)
                throw new RuntimeInputException($"--move-tokens {given}: exceeds the model's context_length {info.ContextLength}");
            var options = new BenchOptions(run, r.GetValue(decode), r.GetValue(repeats), r.GetValue(move) ?? BenchOptions.DefaultMoveTokens);
            options.Validate();
            using var llama = rt.LoadModel(r, r.GetValue(model)!, info);
            rt.PrintStartup(r, llama, $"threads {(r.GetValue(rt.Threads)?.ToString(CultureInfo.InvariantCulture) ?? "default")}, batch {llama.Options.BatchSize}, lengths {string.Join(",", run)}, {options.DecodeTokens} decode tokens, {BenchOptions.Runs(options.Repeats)}{StartupReport.ShortContexts(llama)}");
            foreach (var s in skipped) Console.Error.WriteLine($"longrope: skipped: {s}");
            interrupt.Idle = false;
            var report = RunnerBenchmark.Run(llama, options, skipped, msg => Console.Error.WriteLine($"longrope: bench: {msg}"), interrupt.Token);
            if (r.GetValue(json)) WriteJson(llama, report, options);
            else WriteText(llama, report);
            if (!report.Interrupted) return ExitCodes.Success;
            Console.Error.WriteLine(interrupt.Terminated ? "longrope: terminated" : "longrope: interrupted");
            return ExitCodes.Interrupted; // 143 after SIGTERM (RuntimeCommandOptions.Run)
        }));
        return cmd;
    }

    private static string F(double v, int digits = 1) => v.ToString("F" + digits, CultureInfo.InvariantCulture);

    private static string Pct(double? v) => v is { } x ? F(x) + "%" : "n/a";

    private static void WriteText(LlamaModel llama, BenchReport report)
    {
        var o = Console.Out;
        o.WriteLine($"model {llama.Info.Name}: {StartupReport.Backend(llama, null)}; {BenchOptions.Runs(report.Repeats)} per path (medians), {report.DecodeTokens} decode tokens");
        o.WriteLine($"{"length",7} {"n_ctx",6} {"set",5} | {"prefill tok/s runner",20} {"bare",9} {"cost",7} {"cpu cost",8} | {"decode tok/s runner",19} {"bare",8} {"cost",7} {"cpu cost",8} | same tokens");
        foreach (var l in report.Lengths)
            o.WriteLine($"{l.Length,7} {l.ContextSize,6} {l.FactorSet,5} | {F(l.RunnerPrefillTokensPerSecond),20} {F(l.BarePrefillTokensPerSecond),9} {F(l.PrefillCostPercent) + "%",7} {Pct(l.PrefillCpuCostPercent),8} | " +
                        $"{F(l.RunnerDecodeTokensPerSecond),19} {F(l.BareDecodeTokensPerSecond),8} {F(l.DecodeCostPercent) + "%",7} {Pct(l.DecodeCpuCostPercent),8} | {(l.SameTokens ? "yes" : "NO")}");
        o.WriteLine("cost: how much longer the runner took than the bare loop (wall time; cpu cost: process CPU time), median over back-to-back pairs of runs");
        if (report.Move is { } m)
            o.WriteLine($"short-to-long move of a {m.Tokens}-token conversation: {F(m.TotalMs)} ms (new {m.ToContext}-token context {F(m.ContextCreateMs)} ms + re-prefill {F(m.ReprefillMs)} ms; " +
                        $"runs {string.Join(", ", m.TotalMsRuns.Select(x => F(x)))} ms); weights loaded during the moves: {m.WeightLoadsAfter - m.WeightLoadsBefore} (llama.cpp model loads {m.LlamaModelLoadsAfter - m.LlamaModelLoadsBefore})");
        else o.WriteLine($"short-to-long move: skipped ({report.MoveSkipped})");
    }

    private static void WriteJson(LlamaModel llama, BenchReport report, BenchOptions options)
    {
        using var stdout = StandardOutput.OpenStream();
        using (var w = new Utf8JsonWriter(stdout, Gguf.JsonOutput.Indented))
        {
            w.WriteStartObject();
            w.WriteString("model", llama.Info.Path);
            WriteBackend(w, llama);
            w.WriteNumber("batch_size", llama.Options.BatchSize);
            if (llama.Options.Threads is { } t) w.WriteNumber("threads", t); else w.WriteNull("threads");
            w.WriteNumber("decode_tokens", options.DecodeTokens);
            w.WriteNumber("repeats", options.Repeats);
            w.WriteBoolean("interrupted", report.Interrupted); // true: the lengths below are those measured before the stop
            w.WriteStartArray("lengths");
            foreach (var l in report.Lengths)
            {
                w.WriteStartObject();
                w.WriteNumber("length", l.Length);
                w.WriteNumber("context_size", l.ContextSize);
                w.WriteString("factor_set", l.FactorSet);
                w.WriteNumber("batch_size", l.BatchSize);
                w.WriteNumber("runner_prefill_tokens_per_s", Math.Round(l.RunnerPrefillTokensPerSecond, 2));
                w.WriteNumber("bare_prefill_tokens_per_s", Math.Round(l.BarePrefillTokensPerSecond, 2));
                w.WriteNumber("prefill_cost_percent", Math.Round(l.PrefillCostPercent, 2));
                w.WriteNumber("runner_decode_tokens_per_s", Math.Round(l.RunnerDecodeTokensPerSecond, 2));
                w.WriteNumber("bare_decode_tokens_per_s", Math.Round(l.BareDecodeTokensPerSecond, 2));
                w.WriteNumber("decode_cost_percent", Math.Round(l.DecodeCostPercent, 2));
                Nullable(w, "prefill_cpu_cost_percent", l.PrefillCpuCostPercent);
                Nullable(w, "decode_cpu_cost_percent", l.DecodeCpuCostPercent);
                w.WriteBoolean("same_tokens", l.SameTokens);
                Series(w, "runner_prefill_ms", l.RunnerPrefillMs);
                Series(w, "bare_prefill_ms", l.BarePrefillMs);
                Series(w, "runner_decode_ms", l.RunnerDecodeMs);
                Series(w, "bare_decode_ms", l.BareDecodeMs);
                Series(w, "runner_prefill_cpu_ms", l.RunnerPrefillCpuMs);
                Series(w, "bare_prefill_cpu_ms", l.BarePrefillCpuMs);
                Series(w, "runner_decode_cpu_ms", l.RunnerDecodeCpuMs);
                Series(w, "bare_decode_cpu_ms", l.BareDecodeCpuMs);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (report.Move is { } m)
            {
                w.WriteStartObject("move");
                w.WriteNumber("tokens", m.Tokens);
                w.WriteString("from_set", m.FromSet);
                w.WriteNumber("from_context", m.FromContext);
                w.WriteString("to_set", m.ToSet);
                w.WriteNumber("to_context", m.ToContext);
                w.WriteNumber("context_create_ms", Math.Round(m.ContextCreateMs, 3));
                w.WriteNumber("reprefill_ms", Math.Round(m.ReprefillMs, 3));
                w.WriteNumber("total_ms", Math.Round(m.TotalMs, 3));
                Series(w, "total_ms_runs", m.TotalMsRuns);
                w.WriteNumber("weight_loads_during_moves", m.WeightLoadsAfter - m.WeightLoadsBefore);
                w.WriteNumber("llama_model_loads_during_moves", m.LlamaModelLoadsAfter - m.LlamaModelLoadsBefore);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("move");
                w.WriteString("move_skipped", report.MoveSkipped);
            }
            w.WriteStartArray("skipped");
            foreach (var s in report.Skipped) w.WriteStringValue(s);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        stdout.WriteByte((byte)'\n');
    }

    private static void Nullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v) w.WriteNumber(name, Math.Round(v, 2)); else w.WriteNull(name);
    }

    private static void Series(Utf8JsonWriter w, string name, IEnumerable<double> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteNumberValue(Math.Round(v, 3));
        w.WriteEndArray();
    }

    /// <summary>Backend, devices and offload, the same in every command's JSON.</summary>
    internal static void WriteBackend(Utf8JsonWriter w, LlamaModel llama)
    {
        var b = llama.Backend;
        w.WriteString("backend", b.Backend);
        if (b.CpuBuild is not null) w.WriteString("cpu_build", b.CpuBuild);
        w.WriteStartArray("devices");
        foreach (var d in b.Devices)
        {
            w.WriteStartObject();
            w.WriteString("name", d.Name);
            w.WriteString("description", d.Description);
            w.WriteString("kind", d.Kind.ToString());
            w.WriteNumber("free_bytes", d.FreeBytes);
            w.WriteNumber("total_bytes", d.TotalBytes);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("gpu_layers", llama.GpuLayers);
        if (llama.Offload is { } o)
        {
            w.WriteNumber("offloaded_layers", o.Offloaded);
            w.WriteNumber("total_layers", o.Total);
        }
        if (b.FallbackNote is null) w.WriteNull("cpu_fallback"); else w.WriteString("cpu_fallback", b.FallbackNote);
        if (b.NativeLibraryDirectory is null) w.WriteNull("native_lib"); else w.WriteString("native_lib", b.NativeLibraryDirectory);
        w.WriteString("bundled_backend", b.BundledBackend);
    }
}
