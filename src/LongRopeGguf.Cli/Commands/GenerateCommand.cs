using System.CommandLine;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.Runtime;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// `longrope generate MODEL (--prompt TEXT | --prompt-file F) [...]`: one completion, streamed, on the factor set the
/// prompt and the budget call for (like llama-cli -p / ollama run MODEL PROMPT).
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "The prompt text.", HelpName = "TEXT" };
        var promptFile = new Option<FileInfo?>("--prompt-file", "-f") { Description = "Read the prompt from a file (UTF-8).", HelpName = "FILE" };
        var json = CommonOptions.Json();
        var logitsOut = new Option<FileInfo?>("--logits-out")
        {
            Description = "Also write the prompt's token ids and the next-token logits after it to FILE (JSON), to compare a build or a device with a reference run.",
            HelpName = "FILE",
        };
        var rt = new RuntimeCommandOptions(defaultMaxTokens: 256);
        var cmd = new Command("generate", "Complete a prompt with a GGUF model through llama.cpp, on the LongRoPE factor set the work needs; the text streams to standard output.")
        {
            model, prompt, promptFile, json, logitsOut,
        };
        rt.AddGenerationOptions(cmd);
        rt.AddRuntimeOptions(cmd);
        cmd.SetAction(r => RuntimeCommandOptions.Run(interrupt =>
        {
            string text = ReadPrompt(r.GetValue(prompt), r.GetValue(promptFile));
            if (r.GetValue(promptFile) is { } input) OutputFiles.MarkInUse(input.FullName, "--prompt-file");
            // A folder that does not exist is refused before the model is loaded and the prompt prefilled.
            if (r.GetValue(logitsOut) is { } target && !Directory.Exists(Path.GetDirectoryName(target.FullName)))
                throw new RuntimeInputException($"--logits-out {target.FullName}: the folder {Path.GetDirectoryName(target.FullName)} does not exist");
            if (r.GetValue(logitsOut) is { } file)
            {
                OutputFiles.RefuseFolderOrModel(file.FullName, "--logits-out");
                OutputFiles.MarkInUse(file.FullName, "--logits-out");
            }
            var generation = rt.Generation(r);
            var choice = rt.FactorSetChoice(r);
            using var llama = rt.LoadModel(r, r.GetValue(model)!, RefuseHugePrompt(r.GetValue(model)!, text, generation.MaxTokens));
            var tokens = llama.Tokenize(text, llama.Weights.Vocab.ShouldAddBOS, special: true);
            using var conversation = new Conversation(llama, new ConversationOptions(choice, r.GetValue(rt.Context)));
            conversation.EnsureCapacity(ContextPlanner.Add(tokens.Length, generation.MaxTokens), $"prompt {tokens.Length} + {generation.MaxTokens} to generate");
            var plan = conversation.Plan!;
            rt.PrintStartup(r, llama, StartupReport.Plan(llama, plan));

            bool asJson = r.GetValue(json);
            interrupt.Idle = false; // from here a signal stops the work and the partial result is reported
            var started = System.Diagnostics.Stopwatch.StartNew();
            PrefillResult prefill;
            GenerationResult result;
            try
            {
                prefill = conversation.Append(tokens, generation.MaxTokens, interrupt.Token);
                if (r.GetValue(logitsOut) is { } logitsFile) WriteLogits(logitsFile.FullName, llama, plan, tokens, conversation.CurrentLogits(interrupt.Token));
                result = conversation.Generate(generation, asJson ? null : piece => { Console.Out.Write(piece); Console.Out.Flush(); }, interrupt.Token);
            }
            catch (OperationCanceledException) when (interrupt.Requested)
            {
                // Stopped while the prompt was read (on a big model most of the run): a result all the same, with
                // nothing generated, so that --json still gives one object (it printed nothing).
                prefill = new PrefillResult(0, started.Elapsed, null);
                result = new GenerationResult("", 0, StopReason.Cancelled, TimeSpan.Zero);
            }
            if (!asJson) Console.Out.WriteLine();
            string work = prefill.Tokens == 0 && result.StopReason == StopReason.Cancelled
                ? $"stopped while the prompt ({tokens.Length} tokens) was read, after {prefill.Elapsed.TotalMilliseconds:F0} ms; nothing generated"
                : $"prompt {prefill.Tokens} tokens in {prefill.Elapsed.TotalMilliseconds:F0} ms ({prefill.TokensPerSecond:F1} tok/s), " +
                  $"generated {result.TokenCount} tokens in {result.DecodeTime.TotalMilliseconds:F0} ms ({result.TokensPerSecond:F1} tok/s), " +
                  $"stopped: {StopName(result.StopReason)}";
            Console.Error.WriteLine($"longrope: {work}; factor set {plan.FactorSetName}, n_ctx {plan.ContextSize}; {Sampling(generation.Sampling)}");
            if (asJson) WriteJson(llama, plan, tokens.Length, prefill, result, generation.Sampling);
            if (result.StopReason == StopReason.Cancelled)
            {
                Console.Error.WriteLine(interrupt.Terminated ? "longrope: terminated" : "longrope: interrupted");
                return ExitCodes.Interrupted; // 143 after SIGTERM (RuntimeCommandOptions.Run)
            }
            return ExitCodes.Success;
        }));
        return cmd;
    }

    internal static string ReadPrompt(string? prompt, FileInfo? file)
    {
        if (prompt is not null && file is not null) throw new RuntimeInputException("give either --prompt or --prompt-file, not both");
        if (prompt is null && file is null) throw new RuntimeInputException("no prompt: give --prompt TEXT or --prompt-file FILE");
        string text;
        if (file is not null)
        {
            text = TextFiles.Read(file.FullName, "--prompt-file", TextFiles.PromptLimitBytes);
        }
        else text = prompt!;
        if (text.Length == 0) throw new RuntimeInputException(file is null ? "--prompt: the prompt is empty" : $"--prompt-file {file.FullName}: the prompt is empty");
        return text;
    }

    /// <summary>
    /// A prompt of more than <see cref="PromptSizeBound.CheckAboveBytes"/> is measured against the model's context_length by its size
    /// before the model loads and the prompt is tokenized (<see cref="PromptSizeBound"/>); returns the model's facts
    /// read for it, or null for a smaller prompt (the load reads them).
    /// </summary>
    private static ModelContextInfo? RefuseHugePrompt(FileInfo model, string text, int maxTokens)
    {
        if (text.Length * 3L <= PromptSizeBound.CheckAboveBytes) return null; // at most 3 UTF-8 bytes per UTF-16 unit
        var info = ModelContextInfo.Read(model.FullName);
        PromptSizeBound.Refuse(info, [text], maxTokens, "a prompt");
        return info;
    }

    internal static string StopName(StopReason reason) => reason switch
    {
        StopReason.EndOfGeneration => "end_of_generation",
        StopReason.MaxTokens => "max_tokens",
        StopReason.StopString => "stop_string",
        _ => "cancelled",
    };

    /// <summary>
    /// The prompt's token ids and the logits of the first token to generate, written atomically: what a reference
    /// run records (models/tiny-passkey-512.reference.json), so that another build or device can be checked against it.
    /// </summary>
    private static void WriteLogits(string path, LlamaModel llama, ContextPlan plan, LLama.Native.LLamaToken[] tokens, float[] logits)
    {
        int argmax = Evaluation.Engine.EvalContext.ArgMax(logits);
        using var file = Gguf.AtomicFile.Create(path);
        using (var w = new Utf8JsonWriter(file.Stream))
        {
            w.WriteStartObject();
            w.WriteString("model", llama.Info.Path);
            w.WriteString("factor_set", plan.FactorSetName);
            BenchCommand.WriteBackend(w, llama);
            w.WriteStartArray("token_ids");
            foreach (var t in tokens) w.WriteNumberValue((int)t);
            w.WriteEndArray();
            w.WriteNumber("argmax", argmax);
            w.WriteStartArray("last_logits");
            // A broken build's NaN or infinite logits are what this file is for: written as strings, not refused.
            foreach (float v in logits) w.WriteMeasuredValue(v);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        file.Stream.WriteByte((byte)'\n');
        file.Commit();
    }

    /// <summary>The sampling settings in the words of the options that set them (--seed repeats a sampled run).</summary>
    internal static string Sampling(SamplingOptions s) => s.IsGreedy
        ? "greedy (--temp 0)"
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"--temp {s.Temperature} --top-k {s.TopK} --top-p {s.TopP} --seed {s.Seed}");

    private static void WriteJson(LlamaModel llama, ContextPlan plan, int promptTokens, PrefillResult prefill, GenerationResult result, SamplingOptions sampling)
    {
        using var stdout = StandardOutput.OpenStream();
        using (var w = new Utf8JsonWriter(stdout, Gguf.JsonOutput.Indented))
        {
            w.WriteStartObject();
            w.WriteString("model", llama.Info.Path);
            w.WriteString("text", result.Text);
            w.WriteString("stop_reason", StopName(result.StopReason));
            w.WriteStartObject("tokens");
            w.WriteNumber("prompt", promptTokens);
            w.WriteNumber("generated", result.TokenCount);
            w.WriteEndObject();
            w.WriteStartObject("timings");
            w.WriteNumber("prefill_ms", Math.Round(prefill.Elapsed.TotalMilliseconds, 3));
            w.WriteNumber("prefill_tokens_per_s", Math.Round(prefill.TokensPerSecond, 2));
            w.WriteNumber("decode_ms", Math.Round(result.DecodeTime.TotalMilliseconds, 3));
            w.WriteNumber("decode_tokens_per_s", Math.Round(result.TokensPerSecond, 2));
            w.WriteNumber("model_load_ms", Math.Round(llama.LoadTime.TotalMilliseconds, 3));
            w.WriteEndObject();
            w.WriteStartObject("sampling");
            w.WriteNumber("temperature", sampling.Temperature);
            w.WriteNumber("top_k", sampling.TopK);
            w.WriteNumber("top_p", sampling.TopP);
            if (sampling.Seed is { } seed && !sampling.IsGreedy) w.WriteNumber("seed", seed); else w.WriteNull("seed"); // greedy: none used
            w.WriteEndObject();
            w.WriteString("factor_set", plan.FactorSetName);
            w.WriteNumber("context_size", plan.ContextSize);
            // The yarn_attn_factor this context was created with (a short context of a file this tool patched), or null.
            if (llama.ShortContextAttnParameter(plan) is { } attn) w.WriteNumber("yarn_attn_factor", attn);
            else w.WriteNull("yarn_attn_factor");
            w.WriteString("reason", plan.Reason);
            BenchCommand.WriteBackend(w, llama);
            w.WriteEndObject();
        }
        stdout.WriteByte((byte)'\n');
    }
}
