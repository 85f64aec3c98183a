using System.CommandLine;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.LongRope.Formats;

namespace LongRopeGguf.Cli.Commands;

/// <summary>`longrope verify MODEL [--json]`: exit 0 only when llama.cpp will load the file and apply its LongRoPE as
/// intended; 1 otherwise (2 for a file that is not GGUF at all).</summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var json = CommonOptions.Json();
        var cmd = new Command("verify", "Check a GGUF file's LongRoPE against what llama.cpp needs, without loading the model, and say which factor set llama.cpp uses for which context sizes. "
            + "Exit 0: llama.cpp will apply the file's LongRoPE as intended; 1: it will not (or the file has no LongRoPE); 2: not a readable GGUF file.")
        {
            model, json,
        };
        cmd.SetAction((result, ct) => CliErrors.Run(() =>
        {
            GgufFile file;
            try
            {
                file = InputFiles.ReadModel(result.GetValue(model)!);
            }
            catch (Exception e) when (e is BadInputException or CliException && result.GetValue(json))
            {
                // A reader of the JSON alone learns that the file is bad (it got an empty document), as from inspect.
                string path = result.GetValue(model)!.FullName;
                WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("path", path);
                    w.WriteBoolean("ok", false);
                    w.WriteString("problem", e.Message);
                    w.WriteEndObject();
                });
                throw;
            }
            var report = LongRopeVerifier.Verify(file);
            if (result.GetValue(json)) WriteJson(w => WriteJsonBody(report, w));
            else WriteText(report, Console.Out);
            return report.Ok ? ExitCodes.Success : ExitCodes.CheckFailed;
        }, ct));
        return cmd;
    }

    /// <summary>One JSON document on standard output, and a line end.</summary>
    private static void WriteJson(Action<Utf8JsonWriter> write)
    {
        var output = StandardOutput.OpenStream();
        using (var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented)) write(w);
        output.WriteByte((byte)'\n');
        output.Flush();
    }

    public static void WriteText(VerifyReport report, TextWriter o)
    {
        o.WriteLine($"file:          {report.Path}");
        o.WriteLine($"architecture:  {(report.Architecture is { } arch ? Gguf.DisplayText.Escape(arch) : "(none)")} ({SupportText(report.Support)})");
        o.WriteLine($"verdict:       {(report.Ok ? "OK" : "FAILED")}: {report.Verdict}");
        if (report.Factors is { } f)
            o.WriteLine($"factors:       {f.Count} long / {f.ShortFactors.Length} short, original {f.OriginalContextLength}, context {f.ContextLength}, attention factor {f.AttentionFactor:G6}");
        if (report.Plan is { } p)
        {
            o.WriteLine("set by context size (one sequence):");
            foreach (int n in ExampleSizes(p))
                o.WriteLine($"  {n,8} -> n_ctx {LlamaContextSize.Pad(n == 0 ? p.ContextLength : n),8}: {(p.UsesLongSet(n) ? "long" : "short")}{(n == 0 ? " (0 = the model's context length)" : "")}");
        }
        foreach (var severity in new[] { Severity.Error, Severity.Warning, Severity.Info })
            foreach (var finding in report.Findings.Where(x => x.Severity == severity))
                o.WriteLine($"{severity.ToString().ToLowerInvariant()} [{finding.Code}]: {finding.Message}");
    }

    private static IEnumerable<int> ExampleSizes(FactorSetSelection p) =>
        new[] { Math.Min(256, p.LargestShortContext), p.LargestShortContext, p.LargestShortContext + 1, p.ContextLength, 0 }
            .Where(n => n >= 0).Distinct();

    private static string SupportText(FactorTensorSupport s) => s switch
    {
        FactorTensorSupport.Always => "always reads LongRoPE factor tensors",
        FactorTensorSupport.WhenLongRope => "reads LongRoPE factor tensors when rope.scaling.type is longrope",
        FactorTensorSupport.LoadedButUnused => "loads LongRoPE factor tensors when rope.scaling.type is longrope, but uses no RoPE (never applies them)",
        _ => "does not read LongRoPE factor tensors",
    };

    public static void WriteJsonBody(VerifyReport report, Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("path", report.Path);
        if (report.Architecture is null) w.WriteNull("architecture"); else w.WriteString("architecture", report.Architecture);
        w.WriteString("architecture_support", report.Support switch
        {
            FactorTensorSupport.Always => "always",
            FactorTensorSupport.WhenLongRope => "when-longrope",
            FactorTensorSupport.LoadedButUnused => "loaded-unused",
            _ => "none",
        });
        w.WriteBoolean("ok", report.Ok);
        w.WriteBoolean("load_fails", report.LoadFails);
        w.WriteBoolean("process_aborts", report.ProcessAborts);
        w.WriteString("verdict", report.Verdict);
        if (report.Plan is { } p)
        {
            w.WriteStartObject("plan");
            w.WriteNumber("threshold", p.Threshold);
            w.WriteString("threshold_source", p.ThresholdSource);
            w.WriteNumber("context_length", p.ContextLength);
            w.WriteNumber("largest_short_context", p.LargestShortContext);
            w.WriteString("default_context_set", p.UsesLongSet(0) ? "long" : "short");
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("plan");
        }
        if (report.Factors is { } f)
        {
            w.WritePropertyName("factors");
            FactorSetJson.Write(f, w);
        }
        w.WriteStartArray("findings");
        foreach (var finding in report.Findings)
        {
            w.WriteStartObject();
            w.WriteString("severity", finding.Severity.ToString().ToLowerInvariant());
            w.WriteString("code", finding.Code);
            w.WriteString("consequence", finding.Consequence switch
            {
                Consequence.LoadFails => "load-fails",
                Consequence.ProcessAborts => "process-aborts",
                Consequence.NotAsIntended => "not-as-intended",
                _ => "none",
            });
            w.WriteString("message", finding.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
    }
}
