using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.LongRope.Formats;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// `longrope patch MODEL --factors FILE [-o OUT] [--original-context N] [--context N] [--attn-factor su|yarn|none|VALUE]
/// [--in-place] [--json]` and `longrope patch MODEL --remove [-o OUT] [--in-place]`.
/// </summary>
public static class PatchCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var factors = new Option<FileInfo?>("--factors", "-f")
        {
            HelpName = "FILE",
            Description = "Factor file: this tool's JSON, a Hugging Face config.json (rope_scaling / rope_parameters of type longrope), "
                + "a LongRoPE search CSV (result_final.csv), or a GGUF model to copy the factors from.",
        };
        var output = new Option<FileInfo?>("--output", "-o") { HelpName = "FILE", Description = "Output file (default: MODEL.longrope.gguf beside MODEL). MODEL itself is never modified without --in-place." };
        var original = new Option<int?>("--original-context") { HelpName = "N", Description = "Original (trained) context length: the short/long threshold; overrides the factor file's. Default: the factor file's, else the model's." };
        var context = new Option<int?>("--context") { HelpName = "N", Description = "Extended context length: overrides the factor file's. Default: the factor file's (required for a CSV)." };
        var attn = new Option<string?>("--attn-factor") { HelpName = "su|yarn|none|VALUE", Description = "Attention factor: su (sqrt(1 + ln s / ln L)), yarn (0.1 ln s + 1), none (1), or a number. Default: the factor file's." };
        var inPlace = new Option<bool>("--in-place") { Description = "Modify MODEL itself: factors and same-size values are overwritten in place when possible (milliseconds), otherwise the file is replaced atomically." };
        var remove = new Option<bool>("--remove") { Description = "Remove LongRoPE instead: restore the model as it was before it was patched (needs -o FILE or --in-place)." };
        var json = CommonOptions.Json();
        var cmd = new Command("patch", "Embed LongRoPE factors into a GGUF model so that llama.cpp applies them (or remove them with --remove). "
            + "Writes MODEL.longrope.gguf beside MODEL unless -o or --in-place is given, then verifies the result (exit 1 if it fails).")
        {
            model, factors, output, original, context, attn, inPlace, remove, json,
        };
        cmd.SetAction((result, outer) => TerminationSignals.Run(outer, ct =>
        {
            string modelPath = InputFiles.Existing(result.GetValue(model)!, "GGUF model file");
            bool isInPlace = result.GetValue(inPlace);
            string? outPath = result.GetValue(output)?.FullName;
            if (isInPlace && outPath is not null && !AtomicFile.SameFile(outPath, modelPath))
                throw new CliException("--in-place modifies MODEL itself; it cannot be combined with another --output");
            // No default name for a removal: MODEL.longrope.gguf would name a file without LongRoPE, and the name the
            // model had before it was patched may be the original file, which must not be replaced unasked.
            if (result.GetValue(remove) && !isInPlace && outPath is null)
                throw new CliException("patch --remove needs -o FILE for the restored model (or --in-place to modify MODEL itself)");
            string target = isInPlace ? modelPath : outPath ?? LongRopePatcher.DefaultOutputPath(modelPath);
            if (!isInPlace && AtomicFile.SameFile(target, modelPath))
                throw new CliException($"{target}: the output would overwrite the input model; give another -o FILE, or --in-place to modify MODEL itself");
            var rewrite = new RewriteOptions { CancellationToken = ct };
            // Said only when the file was rewritten: an update in place writes into the file all its names share.
            string? splitsLinks = isInPlace ? EditCommand.InPlaceSplitsLinks(modelPath) : null;

            PatchReport report;
            if (result.GetValue(remove))
            {
                if (result.GetValue(factors) is not null || result.GetValue(original) is not null || result.GetValue(context) is not null || result.GetValue(attn) is not null)
                    throw new CliException("--remove takes no --factors, --original-context, --context or --attn-factor");
                report = LongRopePatcher.Remove(modelPath, target, isInPlace, new PatchOptions { Rewrite = rewrite });
            }
            else
            {
                var factorFile = result.GetValue(factors) ?? throw new CliException("patch needs --factors FILE (or --remove); make one with 'longrope factors make'");
                string factorPath = InputFiles.Existing(factorFile, "factor file");
                if (AtomicFile.SameFile(target, factorPath))
                    throw new CliException($"{target}: the output would overwrite the factor file; give another -o FILE");
                var set = ReadFactorsFor(modelPath, factorPath, result.GetValue(original), result.GetValue(context), result.GetValue(attn));
                report = LongRopePatcher.Patch(modelPath, set, target, isInPlace, new PatchOptions { Rewrite = rewrite });
            }
            if (splitsLinks is not null && report.Mode == PatchMode.Rewritten) Console.Error.WriteLine($"longrope: warning: {splitsLinks}");
            var verify = LongRopeVerifier.Verify(report.TargetPath);
            if (result.GetValue(json)) WriteJson(report, verify, StandardOutput.OpenStream());
            else WriteText(report, verify, Console.Out);
            // A removal leaves a file without LongRoPE on purpose; verify's "no LongRoPE" is then the expected answer, but a
            // result llama.cpp will not load (a restore record edited by hand) is not (it exited 0).
            bool resultOk = report.Applied is null ? !(verify.LoadFails || verify.ProcessAborts) : verify.Ok;
            return resultOk ? ExitCodes.Success : ExitCodes.CheckFailed;
        }));
        return cmd;
    }

    /// <summary>Reads a factor file for a model: lengths the file lacks default to the model's; overrides applied. A set
    /// the model cannot take is refused here, naming the factor file (the patcher's own check names only the model).</summary>
    public static FactorSet ReadFactorsFor(string modelPath, string factorPath, int? original, int? context, string? attention)
    {
        // The options' own values are checked here: found inside the set, they would read as the file's.
        if (original is <= 0) throw new CliException($"--original-context {original}: must be a positive number of tokens");
        if (context is <= 0) throw new CliException($"--context {context}: must be a positive number of tokens");
        var info = ModelRopeInfo.From(GgufReader.Read(modelPath));
        var set = FactorSetReader.Read(factorPath, new FactorReadOptions
        {
            OriginalContextLength = original,
            ContextLength = context,
            DefaultOriginalContextLength = info.BaseContextLength,
            ExpectedFactorCount = info.FactorCount,
        });
        if (attention is not null)
        {
            var (policy, value) = AttentionFactors.ParseChoice(attention);
            set = set.WithAttention(policy, value);
        }
        var errors = FactorValidator.Validate(set, info).Errors.ToList();
        // A value an option set is not the file's: the source named is the file with the options that changed it.
        var overrides = new List<string>();
        if (original is { } oo) overrides.Add($"--original-context {oo}");
        if (context is { } cc) overrides.Add($"--context {cc}");
        if (attention is not null) overrides.Add($"--attn-factor {attention}");
        string source = overrides.Count == 0 ? factorPath : $"{factorPath} with {string.Join(" ", overrides)}";
        if (errors.Count > 0)
            throw new CliException($"{source}: {errors[0].Message}" + (errors.Count == 1 ? ""
                : $" (and {errors.Count - 1} more error{(errors.Count > 2 ? "s" : "")}: 'longrope factors show {factorPath} --model {modelPath}"
                    + $"{(original is { } o ? $" --original-context {o}" : "")}{(context is { } c ? $" --context {c}" : "")}' lists them)"));
        return set;
    }

    public static void WriteText(PatchReport report, VerifyReport verify, TextWriter o)
    {
        string what = report.Applied is null ? "removed LongRoPE from" : "patched";
        string how = report.Mode == PatchMode.UpdatedInPlace ? $"updated in place, {report.BytesWritten:N0} bytes written" : $"wrote {report.BytesWritten:N0} bytes";
        o.WriteLine($"{what} {report.SourcePath} -> {report.TargetPath} ({how}, {report.Elapsed.TotalMilliseconds:F1} ms)");
        if (report.Applied is { } set)
            o.WriteLine($"  factors: {set.Count} per set, original {set.OriginalContextLength} -> context {set.ContextLength} (s = {set.Scale.ToString("G6", CultureInfo.InvariantCulture)}), "
                + $"attention factor {set.AttentionFactor.ToString("G6", CultureInfo.InvariantCulture)} ({AttentionFactors.Name(set.AttentionFactorPolicy)})");
        foreach (string c in report.Changes) o.WriteLine($"  - {c}");
        foreach (string w in report.Warnings) o.WriteLine($"  warning: {w}");
        if (report.Applied is null && verify.Findings.Where(x => x.Severity == Severity.Error).All(x => x.Code == "not-longrope"))
        {
            o.WriteLine("verify: no LongRoPE left; llama.cpp runs the file as it was before it was patched");
            return;
        }
        o.WriteLine($"verify: {verify.Verdict}");
        foreach (var e in verify.Findings.Where(x => x.Severity == Severity.Error)) o.WriteLine($"  error [{e.Code}]: {e.Message}");
    }

    public static void WriteJson(PatchReport report, VerifyReport verify, Stream output)
    {
        using (var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented))
        {
            w.WriteStartObject();
            w.WriteString("action", report.Applied is null ? "remove" : "patch");
            w.WriteString("source", report.SourcePath);
            w.WriteString("target", report.TargetPath);
            w.WriteString("mode", report.Mode == PatchMode.UpdatedInPlace ? "in-place" : "rewritten");
            w.WriteNumber("bytes_written", report.BytesWritten);
            w.WriteNumber("elapsed_ms", Math.Round(report.Elapsed.TotalMilliseconds, 3));
            WriteStrings(w, "changes", report.Changes);
            WriteStrings(w, "warnings", report.Warnings);
            if (report.Applied is { } set)
            {
                w.WritePropertyName("factors");
                FactorSetJson.Write(set, w);
            }
            w.WritePropertyName("verify");
            VerifyCommand.WriteJsonBody(verify, w);
            w.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
        output.Flush();
    }

    internal static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> items)
    {
        w.WriteStartArray(name);
        foreach (string s in items) w.WriteStringValue(s);
        w.WriteEndArray();
    }
}
