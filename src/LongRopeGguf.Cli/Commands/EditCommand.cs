using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;

namespace LongRopeGguf.Cli.Commands;

/// <summary>What `longrope edit` was asked to do, parsed and checked for consistency but not yet run.</summary>
/// <param name="OutputPath">Where to write; null with <paramref name="InPlace"/> means the model itself.</param>
public sealed record EditRequest(string ModelPath, string? OutputPath, IReadOnlyList<MetadataAssignment> Set, IReadOnlyList<string> Remove, bool InPlace);

/// <summary>What an edit wrote.</summary>
public sealed record EditOutcome(EditRequest Request, string TargetPath, GgufFile Written, TimeSpan Elapsed, IReadOnlyList<string> Warnings);

/// <summary>
/// `longrope edit MODEL -o OUT [--set KEY=TYPE:VALUE ...] [--remove KEY ...] [--in-place] [--json]`: metadata edits
/// written through <see cref="GgufRewriter"/>: a new header, tensor data streamed in the kernel, the result renamed
/// into place only when complete, so an error, Ctrl-C or SIGTERM leaves the target as it was.
/// </summary>
public static class EditCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var output = new Option<FileInfo>("--output", "-o") { HelpName = "FILE", Description = "Where to write the edited model (required unless --in-place). An existing file there is replaced." };
        var set = new Option<string[]>("--set")
        {
            HelpName = "KEY=TYPE:VALUE",
            Description = "Set a metadata key: KEY=TYPE:VALUE with TYPE one of " + string.Join(", ", MetadataAssignment.TypeNames)
                + " (e.g. general.name=string:foo, llama.context_length=uint32:4096). Repeatable.",
        };
        var remove = new Option<string[]>("--remove") { HelpName = "KEY", Description = "Remove a metadata key (it must exist). Repeatable." };
        var inPlace = new Option<bool>("--in-place") { Description = "Rewrite MODEL itself (through a temporary file renamed over it)." };
        var json = CommonOptions.Json();
        var cmd = new Command("edit", "Set or remove metadata keys, writing a new GGUF file atomically (tensor data is copied unchanged).")
        {
            model, output, set, remove, inPlace, json,
        };
        // Runs synchronously on purpose: see TerminationSignals for why the signals are handled there.
        cmd.SetAction((result, ct) => TerminationSignals.Run(ct, token =>
        {
            var request = ParseRequest(InputFiles.Existing(result.GetValue(model)!, "GGUF model file"), result.GetValue(output)?.FullName,
                result.GetValue(set) ?? [], result.GetValue(remove) ?? [], result.GetValue(inPlace));
            var outcome = Execute(request, Console.Error, CopyProgress.Wanted, token);
            if (result.GetValue(json)) WriteJson(outcome, Console.Out);
            else WriteText(outcome, Console.Out);
            return ExitCodes.Success;
        }));
        return cmd;
    }

    /// <summary>Parses the option values; every problem is a one-line <see cref="CliException"/> naming the option.</summary>
    public static EditRequest ParseRequest(string modelPath, string? outputPath, IReadOnlyList<string> set, IReadOnlyList<string> remove, bool inPlace)
    {
        if (!inPlace && outputPath is null) throw new CliException("edit needs -o OUT (or --in-place to rewrite MODEL itself)");
        if (inPlace && outputPath is not null && !AtomicFile.SameFile(outputPath, modelPath))
            throw new CliException($"-o {outputPath}: --in-place rewrites MODEL ({modelPath}) itself; give either -o or --in-place");
        if (!inPlace && AtomicFile.SameFile(outputPath!, modelPath))
            throw new CliException($"-o {outputPath}: that is the input file; refusing to overwrite it (add --in-place to rewrite MODEL itself)");

        var assignments = set.Select(s => MetadataAssignment.Parse(s, "--set")).ToList();
        var setKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in assignments)
            if (!setKeys.Add(a.Key)) throw new CliException($"--set {a.Key}: the key is set more than once");
        var removed = new HashSet<string>(StringComparer.Ordinal);
        foreach (string key in remove)
        {
            if (key.Length == 0) throw new CliException("--remove '': the key is empty");
            if (setKeys.Contains(key)) throw new CliException($"--remove {key}: the same key is also given to --set");
            if (!removed.Add(key)) throw new CliException($"--remove {key}: the key is removed more than once");
        }
        return new EditRequest(modelPath, outputPath, assignments, remove.ToList(), inPlace);
    }

    /// <summary>What a rewrite in place does to a file with more than one name: the new file takes this name only (a
    /// rename cannot take the others along); null for a file with one name.</summary>
    public static string? InPlaceSplitsLinks(string modelPath) =>
        FileStatus.Of(modelPath) is { Links: > 1 } s
            ? $"{modelPath} has {s.Links} names (hard links); rewritten in place it becomes a new file under this name, and the other {(s.Links == 2 ? "name keeps" : $"{s.Links - 1} names keep")} the old one"
            : null;

    /// <summary>Reads the model, applies the request and writes the result.</summary>
    /// <param name="warnings">Where notes that do not stop the edit go (a key whose type changes).</param>
    /// <param name="showProgress">Given the bytes to copy, whether to draw a progress bar.</param>
    public static EditOutcome Execute(EditRequest request, TextWriter warnings, Func<long, bool> showProgress, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var notes = new List<string>();
        void Warn(string message)
        {
            notes.Add(message);
            warnings.WriteLine($"longrope: warning: {message}");
        }
        var source = GgufReader.Read(request.ModelPath);
        var edit = new GgufEdit();
        foreach (string key in request.Remove)
        {
            if (!source.ContainsKey(key)) throw new CliException($"--remove {key}: {request.ModelPath} has no such key");
            edit.RemoveKey(key);
        }
        foreach (var a in request.Set)
        {
            if (source.TryGetValue(a.Key, out var old) && old.Type != a.Value.Type)
                Warn($"{a.Key} was {old.DescribeType()} and becomes {a.Value.DescribeType()}; llama.cpp reads keys with exact types");
            // llama.cpp takes it; the runner's LLamaSharp does not (LlamaModel.WhyNotToLoad refuses such a model).
            if (Runtime.LlamaModel.UnreadableByLLamaSharp(a.Value))
                Warn($"{a.Key} is an empty string: longrope's runner (LLamaSharp 0.30.0: generate, chat, bench, eval, search) cannot load a model with one");
            edit.SetValue(a.Key, a.Value);
        }

        string target = TargetPath(request);
        if (request.InPlace && InPlaceSplitsLinks(request.ModelPath) is { } split) Warn(split);
        var options = new RewriteOptions { AllowOverwriteSource = request.InPlace, CancellationToken = cancellationToken };
        long bytes = source.FileLength - source.DataOffset;
        GgufFile written = showProgress(bytes)
            ? CopyProgress.Run($"writing {Path.GetFileName(target)}", progress => GgufRewriter.Rewrite(source, edit, target, options with { Progress = progress }))
            : GgufRewriter.Rewrite(source, edit, target, options);
        // edit writes what it is told (it is the tool for making test files too), but says when llama.cpp will not take
        // the result: a removed general.architecture, a key of the wrong type, a repeated token.
        // Not for the GGUF files llama.cpp does not load as models (a LoRA adapter, a projector: general.type says so).
        bool isModel = !written.TryGetValue("general.type", out var type) || type.Type != GgufValueType.String || type.AsString() == "model";
        foreach (var finding in isModel ? LongRopeVerifier.Verify(written).Findings : [])
            if (finding.Severity == Severity.Error && finding.Consequence is Consequence.LoadFails or Consequence.ProcessAborts)
                Warn($"llama.cpp {(finding.Consequence == Consequence.ProcessAborts ? "aborts the process on" : "will not load")} {Path.GetFileName(target)}: {finding.Message}");
            else if (finding.Severity == Severity.Error && LongRopeVerifier.MeaninglessOutputCodes.Contains(finding.Code))
                Warn($"llama.cpp runs {Path.GetFileName(target)} but every output is meaningless: {finding.Message}");
        return new EditOutcome(request, target, written, stopwatch.Elapsed, notes);
    }

    /// <summary>The file to write. In place through a symbolic link, the file the link points to is rewritten and the
    /// link is kept.</summary>
    private static string TargetPath(EditRequest request)
    {
        if (!request.InPlace) return request.OutputPath!;
        var info = new FileInfo(request.ModelPath);
        return info.LinkTarget is not null ? info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName : info.FullName;
    }

    public static void WriteText(EditOutcome outcome, TextWriter o)
    {
        var r = outcome.Request;
        var changes = r.Set.Select(a => $"set {a.Key} ({a.Value.DescribeType()}) = {a.Value.ToDisplayString()}")
            .Concat(r.Remove.Select(k => $"removed {k}")).ToList();
        var f = outcome.Written;
        o.WriteLine($"wrote {outcome.TargetPath}{(r.InPlace ? " (in place)" : "")}: {f.Metadata.Count} keys, {f.Tensors.Count} tensors, {f.FileLength:N0} bytes in {outcome.Elapsed.TotalSeconds:F2} s");
        foreach (string c in changes) o.WriteLine($"  {c}");
        if (changes.Count == 0) o.WriteLine("  no changes (a plain rewrite)");
    }

    public static void WriteJson(EditOutcome outcome, TextWriter o)
    {
        var r = outcome.Request;
        var f = outcome.Written;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Gguf.JsonOutput.Indented))
        {
            w.WriteStartObject();
            // action, source, target and elapsed_ms as patch --json writes them, so one script can read both.
            w.WriteString("action", "edit");
            w.WriteString("source", r.ModelPath);
            w.WriteString("target", outcome.TargetPath);
            w.WriteBoolean("in_place", r.InPlace);
            w.WriteStartArray("set");
            foreach (var a in r.Set)
            {
                w.WriteStartObject();
                w.WriteString("key", a.Key);
                w.WriteString("type", a.Value.Type.ToGgufName());
                w.WritePropertyName("value");
                InspectCommand.WriteJsonValue(w, a.Value);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("removed");
            foreach (string k in r.Remove) w.WriteStringValue(k);
            w.WriteEndArray();
            w.WriteNumber("metadata_count", f.Metadata.Count);
            w.WriteNumber("tensor_count", f.Tensors.Count);
            w.WriteNumber("file_length", f.FileLength);
            w.WriteNumber("elapsed_ms", Math.Round(outcome.Elapsed.TotalMilliseconds, 3));
            w.WriteStartArray("warnings");
            foreach (string warning in outcome.Warnings) w.WriteStringValue(warning);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        o.Flush();
    }
}
