using System.CommandLine;
using System.Text.Json;
using LongRopeGguf.Gguf;

namespace LongRopeGguf.Cli.Commands;

/// <summary>`longrope inspect MODEL [--json] [--tensors] [--full]`: reads only the header.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var json = CommonOptions.Json();
        var tensors = new Option<bool>("--tensors") { Description = "List every tensor (name, type, shape, offset, bytes)." };
        var full = new Option<bool>("--full") { Description = "Print long arrays in full instead of abbreviated." };
        var cmd = new Command("inspect", "Show a GGUF file's architecture, context and RoPE settings, LongRoPE keys and tensors, metadata and tensor table.")
        {
            model, json, tensors, full,
        };
        cmd.SetAction((result, ct) => CliErrors.Run(() =>
        {
            // A file whose tensor data does not fit (an incomplete download) is still shown: its header says what it
            // was meant to be; the problem follows as the one error line, and the exit code says the file is bad.
            var file = GgufReader.ReadHeader(InputFiles.Existing(result.GetValue(model)!, "GGUF model file"), out var dataLayoutProblem);
            if (result.GetValue(json)) WriteJson(file, StandardOutput.OpenStream(), dataLayoutProblem?.Message);
            else WriteText(file, Console.Out, result.GetValue(tensors), result.GetValue(full) ? int.MaxValue : 8);
            if (dataLayoutProblem is not null) throw dataLayoutProblem;
            return ExitCodes.Success;
        }, ct));
        return cmd;
    }

    public static void WriteText(GgufFile file, TextWriter o, bool listTensors, int maxArrayItems)
    {
        // Keys, names and strings come from the file: escaped, so that control characters cannot reach the terminal.
        string arch = file.Architecture is { } name ? DisplayText.Escape(name) : "(none)";
        o.WriteLine($"file:          {file.Path}");
        o.WriteLine($"GGUF version:  {file.Version}, {file.Metadata.Count} keys, {file.Tensors.Count} tensors, alignment {file.Alignment}, data at {file.DataOffset}, {file.FileLength:N0} bytes");
        o.WriteLine($"architecture:  {arch}");
        if (file.Architecture is { } a)
        {
            foreach (var e in file.Metadata.Where(e => e.Key == $"{a}.context_length" || e.Key.StartsWith($"{a}.rope.", StringComparison.Ordinal)))
                o.WriteLine($"  {DisplayText.Escape(e.Key)} = {e.Value.ToDisplayString(maxArrayItems)}");
        }
        var ropeTensors = file.Tensors.Where(t => t.Name.StartsWith("rope_", StringComparison.Ordinal)).ToList();
        o.WriteLine(ropeTensors.Count == 0 ? "RoPE tensors:  none" : "RoPE tensors:");
        foreach (var t in ropeTensors) o.WriteLine($"  {DisplayText.Escape(t.Name)} {t.Type} {t.ShapeText}");
        o.WriteLine();
        o.WriteLine("metadata:");
        foreach (var e in file.Metadata)
            o.WriteLine($"  {DisplayText.Escape(e.Key)} ({e.Value.DescribeType()}) = {e.Value.ToDisplayString(maxArrayItems)}");
        o.WriteLine();
        // In 128 bits: a header that does not fit its file (shown all the same) may add up to more than 2^64 bytes.
        UInt128 totalBytes = 0;
        foreach (var t in file.Tensors) totalBytes += t.ByteSize;
        o.WriteLine($"tensors: {file.Tensors.Count}, {totalBytes:N0} bytes of data{(listTensors ? "" : " (--tensors lists them)")}");
        if (!listTensors) return;
        int nameWidth = Math.Max(4, file.Tensors.Count == 0 ? 4 : file.Tensors.Max(t => DisplayText.Escape(t.Name).Length));
        o.WriteLine($"  {"name".PadRight(nameWidth)}  {"type",-7} {"shape",-22} {"offset",14} {"bytes",14}");
        foreach (var t in file.Tensors)
            o.WriteLine($"  {DisplayText.Escape(t.Name).PadRight(nameWidth)}  {t.Type,-7} {t.ShapeText,-22} {t.Offset,14} {t.ByteSize,14}");
    }

    /// <param name="problem">What is wrong with the file's data layout (a truncated file), as the "problem" field:
    /// null for a sound file. A reader of the JSON alone then knows the file is bad, not only the exit code.</param>
    public static void WriteJson(GgufFile file, Stream output, string? problem = null)
    {
        using var w = new Utf8JsonWriter(output, Gguf.JsonOutput.Indented);
        w.WriteStartObject();
        w.WriteString("path", file.Path);
        if (problem is null) w.WriteNull("problem"); else w.WriteString("problem", problem);
        w.WriteNumber("version", file.Version);
        w.WriteNumber("alignment", file.Alignment);
        w.WriteNumber("data_offset", file.DataOffset);
        w.WriteNumber("file_length", file.FileLength);
        if (file.Architecture is null) w.WriteNull("architecture"); else w.WriteString("architecture", file.Architecture);
        w.WriteStartArray("metadata");
        foreach (var e in file.Metadata)
        {
            w.WriteStartObject();
            w.WriteString("key", e.Key);
            w.WriteString("type", e.Value.Type.ToGgufName());
            if (e.Value.Type == GgufValueType.Array) w.WriteString("element_type", e.Value.ElementType.ToGgufName());
            w.WritePropertyName("value");
            WriteJsonValue(w, e.Value);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("tensors");
        foreach (var t in file.Tensors)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("type", t.Type.ToString());
            w.WriteNumber("type_id", (uint)t.Type);
            w.WriteStartArray("shape");
            foreach (ulong d in t.Dimensions) w.WriteNumberValue(d);
            w.WriteEndArray();
            w.WriteNumber("offset", t.Offset);
            w.WriteNumber("bytes", t.ByteSize);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
        output.WriteByte((byte)'\n');
        output.Flush();
    }

    /// <summary>A value as JSON: scalars as numbers, booleans or strings (non-finite floats as the strings "NaN",
    /// "Infinity", "-Infinity"), arrays as JSON arrays. The elements of an array of arrays are objects
    /// <c>{"element_type": ..., "value": [...]}</c> so that the inner element types are not lost.</summary>
    internal static void WriteJsonValue(Utf8JsonWriter w, GgufValue value)
    {
        if (value.Type != GgufValueType.Array)
        {
            WriteJsonScalar(w, value.Payload);
            return;
        }
        w.WriteStartArray();
        if (value.ElementType == GgufValueType.Array)
        {
            foreach (var inner in (GgufValue[])value.Payload)
            {
                w.WriteStartObject();
                w.WriteString("element_type", inner.ElementType.ToGgufName());
                w.WritePropertyName("value");
                WriteJsonValue(w, inner);
                w.WriteEndObject();
            }
        }
        else
        {
            foreach (object? item in (Array)value.Payload) WriteJsonScalar(w, item!);
        }
        w.WriteEndArray();
    }

    private static void WriteJsonScalar(Utf8JsonWriter w, object payload)
    {
        switch (payload)
        {
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case float f when float.IsFinite(f): w.WriteNumberValue(f); break;
            case double d when double.IsFinite(d): w.WriteNumberValue(d); break;
            case float or double: w.WriteStringValue(Convert.ToString(payload, System.Globalization.CultureInfo.InvariantCulture)); break;
            case byte or sbyte or ushort or short or uint or int or long: w.WriteNumberValue(Convert.ToInt64(payload)); break;
            case ulong u: w.WriteNumberValue(u); break;
            default: throw new ArgumentException($"unexpected metadata payload {payload.GetType()}");
        }
    }
}
