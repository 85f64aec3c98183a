using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.LongRope.Formats;

namespace LongRopeGguf.Cli.Commands;

/// <summary>`longrope factors make ...` (baseline factor sets) and `longrope factors show FILE [--model M]`.</summary>
public static class FactorsCommand
{
    public static Command Create()
    {
        var cmd = new Command("factors", "Make baseline LongRoPE factor sets and show or check factor files.");
        cmd.Subcommands.Add(CreateMake());
        cmd.Subcommands.Add(CreateShow());
        return cmd;
    }

    private static Command CreateMake()
    {
        var model = new Option<FileInfo>("--model", "-m") { HelpName = "MODEL", Description = "The GGUF model the factors are for (rope dimensions, base, context length).", Required = true };
        var method = new Option<string>("--method") { HelpName = "pi|ntk|yarn|critical|ones", Description = "pi (all s), ntk (NTK-aware), yarn (as llama.cpp's built-in YaRN), critical (s for the dimension pairs whose wavelength exceeds the original context, 1 for the rest), ones (plain RoPE).", Required = true }
            .OneOf("pi", "ntk", "yarn", "critical", "ones");
        var scale = new Option<double>("--scale", "-s") { HelpName = "S", Description = "Extension factor s > 1: the extended context is the model's original context length times s.", Required = true };
        var attn = new Option<string?>("--attn-factor") { HelpName = "su|yarn|none|VALUE", Description = "Attention factor: su (sqrt(1 + ln s / ln L)), yarn (0.1 ln s + 1), none (1) or a number (default: yarn for yarn and critical, none otherwise)." };
        var output = new Option<FileInfo?>("--output", "-o") { HelpName = "FILE", Description = "Write the factor file here (default: print it on standard output)." };
        var json = CommonOptions.Json();
        json.Description = "With -o: print a JSON summary (path, valid, errors, warnings, factors) instead of the table. Without -o the factor file itself (JSON) is printed either way.";
        var cmd = new Command("make", "Write a baseline factor set (short set all ones) for a model.") { model, method, scale, attn, output, json };
        cmd.SetAction((result, ct) => CliErrors.Run(() =>
        {
            if (result.GetValue(output) is { } target && AtomicFile.SameFile(target.FullName, result.GetValue(model)!.FullName))
                throw new CliException($"{target.FullName}: the factor file would overwrite the model; give another -o FILE");
            // Nor any other model (a factor file is written over whatever is there).
            if (result.GetValue(output) is { } outputFile) Runtime.OutputFiles.RefuseFolderOrModel(outputFile.FullName, "--output");
            var info = ModelRopeInfo.From(InputFiles.ReadModel(result.GetValue(model)!));
            if (LongRopeArchitectures.WhyNotPatchable(info.Architecture) is { } why)
                Console.Error.WriteLine($"longrope: warning: architecture '{info.Architecture}' {why}, "
                    + $"so 'longrope patch' refuses {info.FileName}; architectures that apply them: {LongRopeArchitectures.SupportedText}");
            double s = result.GetValue(scale);
            if (!double.IsFinite(s) || s <= 1)
                // As written: 1e400 became Infinity as parsed.
                throw new CliException($"--scale {result.GetResult(scale)?.Tokens.LastOrDefault()?.Value ?? s.ToString(System.Globalization.CultureInfo.InvariantCulture)}: must be a number > 1 (the extended context is the model's original length times it)");
            var m = FactorRules.ParseMethod(result.GetValue(method)!);
            (AttentionFactorPolicy, float?)? attention = result.GetValue(attn) is { } a ? AttentionFactors.ParseChoice(a) : null;
            var set = FactorRules.Make(m, info, s, attention);
            var validation = FactorValidator.Validate(set, info);
            // Never write a set the patcher would refuse (a model whose RoPE settings make the rule meaningless).
            if (!validation.IsValid)
                throw new CliException($"{info.Path}: the {result.GetValue(method)} factors for s = {s.ToString(System.Globalization.CultureInfo.InvariantCulture)} would be invalid: {validation.Errors.First().Message}");
            if (result.GetValue(output) is { } file)
            {
                FactorSetJson.Write(set, file.FullName);
                if (result.GetValue(json)) WriteShowJson(set, validation, StandardOutput.OpenStream(), file.FullName);
                else
                {
                    Console.Out.WriteLine($"wrote {file.FullName}");
                    WriteShowText(set, validation, Console.Out);
                }
            }
            else
            {
                FactorSetJson.Write(set, StandardOutput.OpenStream());
                // The file goes to stdout; its warnings (an attention factor of 100) to stderr, not nowhere.
                foreach (var w in validation.Warnings) Console.Error.WriteLine($"longrope: warning: {w.Message}");
            }
            return ExitCodes.Success;
        }, ct));
        return cmd;
    }

    private static Command CreateShow()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "Factor file (JSON, config.json, LongRoPE CSV) or a GGUF model with embedded factors." };
        var model = new Option<FileInfo?>("--model", "-m") { HelpName = "MODEL", Description = "Check the factors against this GGUF model (factor count, default lengths)." };
        var original = new Option<int?>("--original-context") { HelpName = "N", Description = "Original context length: overrides the file's; for files that carry none the default is, with --model, the model's." }.PositiveTokens();
        var context = new Option<int?>("--context") { HelpName = "N", Description = "Extended context length: overrides the file's; required for files that carry none (a LongRoPE CSV)." }.PositiveTokens();
        var json = CommonOptions.Json();
        var cmd = new Command("show", "Print a factor file and check it (against a model when given); exit 2 when it is invalid.") { file, model, original, context, json };
        cmd.SetAction((result, ct) => CliErrors.Run(() =>
        {
            string path = InputFiles.Existing(result.GetValue(file)!, "factor file");
            ModelRopeInfo? info = result.GetValue(model) is { } m ? ModelRopeInfo.From(InputFiles.ReadModel(m)) : null;
            var set = FactorSetReader.Read(path, new FactorReadOptions
            {
                OriginalContextLength = result.GetValue(original),
                ContextLength = result.GetValue(context),
                DefaultOriginalContextLength = info?.BaseContextLength,
                ExpectedFactorCount = info?.FactorCount,
            });
            var validation = FactorValidator.Validate(set, info);
            if (result.GetValue(json)) WriteShowJson(set, validation, StandardOutput.OpenStream(), path);
            else WriteShowText(set, validation, Console.Out);
            if (validation.IsValid) return ExitCodes.Success;
            // The report above lists every problem; standard error gets the one line every bad input gets.
            var errors = validation.Issues.Where(i => i.IsError).ToList();
            Console.Error.WriteLine($"longrope: error: {path}: invalid factor set: {errors[0].Message}{(errors.Count > 1 ? $" (and {errors.Count - 1} more in the report)" : "")}");
            return ExitCodes.BadInput;
        }, ct));
        return cmd;
    }

    public static void WriteShowText(FactorSet set, FactorValidation validation, TextWriter o)
    {
        static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        o.WriteLine($"source:            {DisplayText.Escape(set.Source)}");
        o.WriteLine($"context:           {set.OriginalContextLength} -> {set.ContextLength} (s = {F(set.Scale)})");
        o.WriteLine($"attention factor:  {F(set.AttentionFactor)} ({AttentionFactors.Name(set.AttentionFactorPolicy)})");
        o.WriteLine($"factors:           {set.LongFactors.Length} long, {set.ShortFactors.Length} short");
        o.WriteLine($"  {"i",4}  {"long",12}  {"short",12}");
        for (int i = 0; i < Math.Max(set.LongFactors.Length, set.ShortFactors.Length); i++)
            o.WriteLine($"  {i,4}  {(i < set.LongFactors.Length ? F(set.LongFactors[i]) : ""),12}  {(i < set.ShortFactors.Length ? F(set.ShortFactors[i]) : ""),12}");
        foreach (var issue in validation.Issues) o.WriteLine(issue.ToString());
        o.WriteLine(validation.IsValid ? "valid" : "INVALID");
    }

    public static void WriteShowJson(FactorSet set, FactorValidation validation, Stream output, string path)
    {
        using (var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented))
        {
            w.WriteStartObject();
            w.WriteString("path", path);
            w.WriteBoolean("valid", validation.IsValid);
            PatchCommand.WriteStrings(w, "errors", validation.Errors.Select(e => e.Message));
            PatchCommand.WriteStrings(w, "warnings", validation.Warnings.Select(e => e.Message));
            w.WritePropertyName("factors");
            FactorSetJson.Write(set, w);
            w.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
        output.Flush();
    }
}
