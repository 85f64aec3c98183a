using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LongRopeGguf.Cli.Commands;
using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Cli.Tests;

public class InspectCommandTests
{
    [Fact]
    public void Text_shows_architecture_context_rope_settings_and_the_tensor_table()
    {
        var file = GgufReader.Read(TestPaths.TinyModel);
        var r = CliProcess.Run("inspect", TestPaths.TinyModel, "--tensors");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Empty(r.Stderr);
        var lines = r.Stdout.Split('\n').Select(l => l.TrimEnd()).ToList();

        Assert.Contains("architecture:  llama", lines);
        Assert.Contains("  llama.context_length = 512", lines);
        foreach (var e in file.Metadata.Where(e => e.Key.StartsWith("llama.rope.", StringComparison.Ordinal)))
            Assert.Contains($"  {e.Key} = {e.Value.ToDisplayString()}", lines);
        Assert.Contains("RoPE tensors:  none", lines);

        // Every tensor appears as one table row: name, type, shape, offset, bytes.
        Assert.Equal(57, file.Tensors.Count);
        foreach (var t in file.Tensors)
        {
            var row = new Regex($@"^\s+{Regex.Escape(t.Name)}\s+{t.Type}\s+{Regex.Escape(t.ShapeText)}\s+{t.Offset}\s+{t.ByteSize}$");
            Assert.Single(lines, l => row.IsMatch(l));
        }
    }

    [Fact]
    public void Text_shows_longrope_keys_and_factor_tensors_of_a_patched_file()
    {
        using var dir = new TempDir();
        string path = TestModels.LongRopePatched(dir.File("patched.gguf"));
        var o = new StringWriter();
        InspectCommand.WriteText(GgufReader.Read(path), o, listTensors: false, maxArrayItems: 8);
        var lines = o.ToString().Split(Environment.NewLine);

        Assert.Contains("  llama.context_length = 2048", lines);
        Assert.Contains("  llama.rope.scaling.type = \"longrope\"", lines);
        Assert.Contains("  llama.rope.scaling.original_context_length = 512", lines);
        Assert.Contains("  llama.rope.scaling.attn_factor = 1.1", lines);
        Assert.Contains("RoPE tensors:", lines);
        Assert.Contains("  rope_factors_long.weight F32 [32]", lines);
        Assert.Contains("  rope_factors_short.weight F32 [32]", lines);
        var file = GgufReader.Read(path);
        Assert.Contains($"tensors: 59, {file.Tensors.Sum(t => (long)t.ByteSize):N0} bytes of data (--tensors lists them)", lines);
    }

    [Fact]
    public void Json_of_the_tiny_model_matches_the_reader_in_every_key_value_and_tensor()
    {
        var r = CliProcess.Run("inspect", TestPaths.TinyModel, "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Empty(r.Stderr);
        AssertJsonDescribes(GgufReader.Read(TestPaths.TinyModel), r.Stdout);
        using (var doc = JsonDocument.Parse(r.Stdout)) Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("problem").ValueKind);
        // Token texts such as <s> as themselves, not \u003C (greppable output).
        Assert.Contains("\"<s>\"", r.Stdout);
        Assert.DoesNotContain("\\u003C", r.Stdout);
    }

    [Fact]
    public void Json_of_a_model_cut_short_in_its_data_shows_the_header_and_exits_2_with_the_truncation_line()
    {
        using var dir = new TempDir();
        string path = dir.File("partial.gguf");
        byte[] tiny = File.ReadAllBytes(TestPaths.TinyModel);
        File.WriteAllBytes(path, tiny[..(tiny.Length / 2)]);
        var r = CliProcess.Run("inspect", path, "--json");
        Assert.Equal(2, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(tiny.Length / 2, doc.RootElement.GetProperty("file_length").GetInt64());
        Assert.Equal(57, doc.RootElement.GetProperty("tensors").GetArrayLength());
        string line = Assert.Single(r.StderrLines);
        Assert.StartsWith($"longrope: error: {path}: tensor[", line);
        Assert.EndsWith("is it truncated (an incomplete download or copy)?", line);
        // The JSON says so too: a reader of stdout alone must not take the file for sound.
        Assert.Equal(line["longrope: error: ".Length..], doc.RootElement.GetProperty("problem").GetString());

        // A header cut short is still refused outright: there is nothing whole to show.
        File.WriteAllBytes(path, tiny[..5000]);
        var cut = CliProcess.Run("inspect", path, "--json");
        Assert.Equal(2, cut.ExitCode);
        Assert.Empty(cut.Stdout);
    }

    [Fact]
    public void The_data_total_of_tensors_too_big_for_any_file_is_not_wrapped_around()
    {
        // Four F32 tensors of 2^60 elements (2^62 bytes each): the total, summed in 64 bits, was "0 bytes of data".
        using var dir = new TempDir();
        string path = dir.File("huge.gguf");
        using (var w = new BinaryWriter(File.Create(path)))
        {
            w.Write("GGUF"u8);
            w.Write(3u);
            w.Write(4UL);
            w.Write(0UL);
            for (int i = 0; i < 4; i++)
            {
                byte[] name = System.Text.Encoding.UTF8.GetBytes($"t{i}");
                w.Write((ulong)name.Length);
                w.Write(name);
                w.Write(1u);
                w.Write(1UL << 60);
                w.Write(0u); // F32
                w.Write((ulong)i << 62);
            }
            while (w.BaseStream.Position % 32 != 0) w.Write((byte)0);
        }
        var r = CliProcess.Run("inspect", path);
        Assert.Equal(2, r.ExitCode); // the data is not there
        Assert.Contains("tensors: 4, 18,446,744,073,709,551,616 bytes of data", r.Stdout);
    }

    [Fact]
    public void Json_covers_every_value_type_including_non_finite_floats_and_nested_arrays()
    {
        using var dir = new TempDir();
        string path = TestModels.AllValueTypes(dir.File("all types.gguf"));
        var r = CliProcess.Run("inspect", path, "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var file = GgufReader.Read(path);
        AssertJsonDescribes(file, r.Stdout);

        // Spot checks that do not go through the comparer above.
        using var doc = JsonDocument.Parse(r.Stdout);
        var byKey = doc.RootElement.GetProperty("metadata").EnumerateArray().ToDictionary(e => e.GetProperty("key").GetString()!);
        Assert.Equal("18446744073709551615", byKey["test.uint64"].GetProperty("value").GetRawText());
        Assert.Equal("NaN", byKey["llama.rope.scaling.factor"].GetProperty("value").GetString());
        Assert.Equal("all \"value\" types\n\t\\ é 漢字 🙂", byKey["general.name"].GetProperty("value").GetString());
        // Written as themselves, so the output can be grepped; quotes and control characters still escaped (valid JSON).
        // (Characters outside the BMP, like the emoji, stay escaped as surrogate pairs by .NET's relaxed encoder.)
        Assert.Contains("\"value\": \"all \\\"value\\\" types\\n\\t\\\\ é 漢字 ", r.Stdout);
        var nested = byKey["test.array.nested"].GetProperty("value");
        Assert.Equal("INT32", nested[0].GetProperty("element_type").GetString());
        Assert.Equal("[1,2]", nested[0].GetProperty("value").GetRawText().Replace(" ", "").Replace("\n", ""));
    }

    /// <summary>Parses the JSON and compares it field by field with the reader's view of the same file.</summary>
    internal static void AssertJsonDescribes(GgufFile file, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(file.Path, root.GetProperty("path").GetString());
        Assert.Equal(file.Version, root.GetProperty("version").GetUInt32());
        Assert.Equal(file.Alignment, root.GetProperty("alignment").GetUInt32());
        Assert.Equal(file.DataOffset, root.GetProperty("data_offset").GetInt64());
        Assert.Equal(file.FileLength, root.GetProperty("file_length").GetInt64());
        Assert.Equal(file.Architecture, root.GetProperty("architecture").GetString());

        var metadata = root.GetProperty("metadata").EnumerateArray().ToList();
        Assert.Equal(file.Metadata.Count, metadata.Count);
        for (int i = 0; i < metadata.Count; i++)
        {
            var (e, j) = (file.Metadata[i], metadata[i]);
            Assert.Equal(e.Key, j.GetProperty("key").GetString());
            Assert.Equal(e.Value.Type.ToGgufName(), j.GetProperty("type").GetString());
            if (e.Value.Type == GgufValueType.Array) Assert.Equal(e.Value.ElementType.ToGgufName(), j.GetProperty("element_type").GetString());
            else Assert.False(j.TryGetProperty("element_type", out _), e.Key);
            AssertValue(e.Key, e.Value, j.GetProperty("value"));
        }

        var tensors = root.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(file.Tensors.Count, tensors.Count);
        for (int i = 0; i < tensors.Count; i++)
        {
            var (t, j) = (file.Tensors[i], tensors[i]);
            Assert.Equal(t.Name, j.GetProperty("name").GetString());
            Assert.Equal(t.Type.ToString(), j.GetProperty("type").GetString());
            Assert.Equal((uint)t.Type, j.GetProperty("type_id").GetUInt32());
            Assert.Equal(t.Dimensions, j.GetProperty("shape").EnumerateArray().Select(d => d.GetUInt64()).ToArray());
            Assert.Equal(t.Offset, j.GetProperty("offset").GetUInt64());
            Assert.Equal(t.ByteSize, j.GetProperty("bytes").GetUInt64());
        }
    }

    private static void AssertValue(string key, GgufValue value, JsonElement j)
    {
        if (value.Type == GgufValueType.Array)
        {
            Assert.Equal(JsonValueKind.Array, j.ValueKind);
            var items = j.EnumerateArray().ToList();
            var array = value.AsUntypedArray();
            Assert.Equal(array.Length, items.Count);
            for (int i = 0; i < items.Count; i++)
            {
                if (array.GetValue(i) is GgufValue inner)
                {
                    Assert.Equal(inner.ElementType.ToGgufName(), items[i].GetProperty("element_type").GetString());
                    AssertValue($"{key}[{i}]", inner, items[i].GetProperty("value"));
                }
                else
                {
                    AssertScalar($"{key}[{i}]", array.GetValue(i)!, items[i]);
                }
            }
            return;
        }
        AssertScalar(key, value.Payload, j);
    }

    private static void AssertScalar(string key, object expected, JsonElement j)
    {
        switch (expected)
        {
            case string s: Assert.Equal(s, j.GetString()); break;
            case bool b: Assert.Equal(b ? JsonValueKind.True : JsonValueKind.False, j.ValueKind); break;
            case float f:
                float actualF = j.ValueKind == JsonValueKind.String ? float.Parse(j.GetString()!, CultureInfo.InvariantCulture) : j.GetSingle();
                Assert.True(BitConverter.SingleToInt32Bits(f) == BitConverter.SingleToInt32Bits(actualF) || (float.IsNaN(f) && float.IsNaN(actualF)), $"{key}: {f:R} vs {j}");
                if (float.IsFinite(f)) Assert.Equal(JsonValueKind.Number, j.ValueKind);
                break;
            case double d:
                double actualD = j.ValueKind == JsonValueKind.String ? double.Parse(j.GetString()!, CultureInfo.InvariantCulture) : j.GetDouble();
                Assert.True(BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits(actualD) || (double.IsNaN(d) && double.IsNaN(actualD)), $"{key}: {d:R} vs {j}");
                if (double.IsFinite(d)) Assert.Equal(JsonValueKind.Number, j.ValueKind);
                break;
            case ulong u: Assert.Equal(u, j.GetUInt64()); break;
            default: Assert.Equal(Convert.ToInt64(expected, CultureInfo.InvariantCulture), j.GetInt64()); break;
        }
    }
}
