using System.Globalization;
using System.Text.Json;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope.Formats;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

public class FactorReaderTests
{
    private static ModelRopeInfo Tiny => ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));

    private static FactorReadOptions ForTiny => new() { DefaultOriginalContextLength = Tiny.BaseContextLength, ExpectedFactorCount = Tiny.FactorCount };

    private static string Floats(IEnumerable<float> f) => "[" + string.Join(", ", f.Select(x => x.ToString("R", CultureInfo.InvariantCulture))) + "]";

    /// <summary>The shape of microsoft/Phi-3-mini-128k-instruct's config.json (head dim 3072/32 = 96: 48 factors).</summary>
    private static string Phi3Config(int longCount = 48, int shortCount = 48, string type = "longrope") => $$"""
        {
          "architectures": ["Phi3ForCausalLM"],
          "hidden_size": 3072, "num_attention_heads": 32, "num_hidden_layers": 32,
          "max_position_embeddings": 131072, "original_max_position_embeddings": 4096,
          "rope_theta": 10000.0,
          "rope_scaling": {
            "type": "{{type}}",
            "long_factor": {{Floats(TestFiles.Ramp(1f, 60f, longCount))}},
            "short_factor": {{Floats(TestFiles.Ramp(1f, 1.2f, shortCount))}}
          }
        }
        """;

    private static string WriteText(TempDir dir, string name, string text)
    {
        string p = dir.File(name);
        File.WriteAllText(p, text);
        return p;
    }

    [Fact]
    public void Phi3_config_is_read_with_the_su_attention_factor_of_its_converter()
    {
        using var dir = new TempDir();
        var set = FactorSetReader.Read(WriteText(dir, "config.json", Phi3Config()));
        Assert.Equal(48, set.LongFactors.Length);
        Assert.Equal(TestFiles.Ramp(1f, 60f, 48), set.LongFactors.ToArray());
        Assert.Equal(4096, set.OriginalContextLength);
        Assert.Equal(131072, set.ContextLength);
        Assert.Equal(AttentionFactorPolicy.Su, set.AttentionFactorPolicy);
        // Phi-3-mini-128k: s = 32, sqrt(1 + ln 32 / ln 4096) = sqrt(1 + 5/12) = 1.19024
        Assert.Equal(Math.Sqrt(1 + 5.0 / 12), set.AttentionFactor, 6);
        Assert.Contains("rope_scaling", set.Source);
    }

    [Fact]
    public void A_phi3_config_whose_factor_count_does_not_fit_the_model_is_refused_saying_so()
    {
        using var dir = new TempDir();
        string config = WriteText(dir, "config.json", Phi3Config());
        var set = FactorSetReader.Read(config, ForTiny);
        var validation = FactorValidator.Validate(set, Tiny);
        Assert.False(validation.IsValid);
        string target = dir.File("out.gguf");
        var ex = Assert.Throws<FactorSetException>(() => LongRopePatcher.Patch(TestPaths.TinyModel, set, target));
        Assert.Contains("48 long factors, but tiny-passkey-512.gguf needs 32: rope dimension count 64 (from llama.rope.dimension_count) / 2", ex.Message);
        Assert.Contains("48 short factors", ex.Message);
        Assert.False(File.Exists(target));

        // A config that contradicts its own model is refused while reading.
        var ex2 = Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "bad.json", Phi3Config(longCount: 40))));
        Assert.Contains("long_factor has 40 values, but the config's own model needs 48 (head dim 96 = 96 rotated dimensions / 2)", ex2.Message);
    }

    [Fact]
    public void Rope_parameters_layout_with_partial_rotary_factor_and_explicit_attention_factor()
    {
        using var dir = new TempDir();
        // transformers v5 layout, Phi-4-mini-like: head dim 3072/24 = 128, partial_rotary_factor 0.75 -> 96 -> 48 factors.
        string text = $$"""
            {
              "hidden_size": 3072, "num_attention_heads": 24, "max_position_embeddings": 131072,
              "rope_parameters": {
                "full_attention": {
                  "rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.75,
                  "original_max_position_embeddings": 4096, "attention_factor": 1.25,
                  "long_factor": {{Floats(TestFiles.Ramp(1f, 40f, 48))}},
                  "short_factor": {{Floats(FactorSet.Ones(48))}}
                }
              }
            }
            """;
        var set = FactorSetReader.Read(WriteText(dir, "config.json", text));
        Assert.Equal(48, set.Count);
        Assert.Equal(AttentionFactorPolicy.Explicit, set.AttentionFactorPolicy);
        Assert.Equal(1.25f, set.AttentionFactor);
        Assert.Equal(4096, set.OriginalContextLength);
        Assert.Contains("rope_parameters.full_attention", set.Source);
    }

    [Theory]
    [InlineData("su", null)]
    [InlineData("yarn", "type is 'yarn', not LongRoPE")]
    public void Config_types(string type, string? error)
    {
        using var dir = new TempDir();
        string path = WriteText(dir, "config.json", Phi3Config(type: type));
        if (error is null) Assert.Equal(48, FactorSetReader.Read(path).Count);
        else Assert.Contains(error, Assert.Throws<FactorSetException>(() => FactorSetReader.Read(path)).Message);
    }

    [Fact]
    public void Config_without_short_factor_or_lengths_is_refused_by_name()
    {
        using var dir = new TempDir();
        var e1 = Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "a.json",
            """{"max_position_embeddings": 1024, "original_max_position_embeddings": 512, "rope_scaling": {"type": "longrope", "long_factor": [1, 2]}}""")));
        Assert.Contains("has no 'short_factor'", e1.Message);
        var e2 = Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "b.json",
            """{"max_position_embeddings": 1024, "rope_scaling": {"type": "longrope", "long_factor": [1, 2], "short_factor": [1, 1]}}""")));
        Assert.Contains("original_max_position_embeddings", e2.Message);
        // With the model known (patch; factors show --model), its original length, as --original-context's help says.
        var withModel = FactorSetReader.Read(WriteText(dir, "b2.json",
            """{"max_position_embeddings": 1024, "rope_scaling": {"type": "longrope", "long_factor": [1, 2], "short_factor": [1, 1]}}"""), new FactorReadOptions { DefaultOriginalContextLength = 512 });
        Assert.Equal((512, 1024), (withModel.OriginalContextLength, withModel.ContextLength));
        var e3 = Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "c.json", """{"rope_scaling": {"type": "longrope", "long_factor": [1, "x"]""")));
        Assert.Contains("c.json: invalid JSON at line 1", e3.Message);
        var e4 = Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "d.json",
            """{"max_position_embeddings": 1024, "original_max_position_embeddings": 512, "rope_scaling": {"type": "longrope", "long_factor": [1, "x"], "short_factor": [1, 1]}}""")));
        Assert.Contains("'rope_scaling.long_factor'[1] is the string \"x\", not a number", e4.Message);
    }

    [Fact]
    public void LongRoPE_search_csv_one_factor_per_line()
    {
        using var dir = new TempDir();
        // numpy.savetxt(..., delimiter="\n") writes "%.18e".
        float[] factors = FactorRules.Yarn(64, 4, 10000, 512);
        string csv = string.Join("\n", factors.Select(f => ((double)f).ToString("0.000000000000000000e+00", CultureInfo.InvariantCulture))) + "\n";
        var set = FactorSetReader.Read(WriteText(dir, "result_final.csv", csv), ForTiny with { ContextLength = 2048 });
        Assert.Equal(factors, set.LongFactors.ToArray());
        Assert.Equal(FactorSet.Ones(32), set.ShortFactors.ToArray());
        Assert.Equal(512, set.OriginalContextLength);
        Assert.Equal(2048, set.ContextLength);
        Assert.Equal(AttentionFactorPolicy.Su, set.AttentionFactorPolicy);

        var noContext = Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "r.csv", csv), ForTiny));
        Assert.Contains("--context", noContext.Message);
        var notNumber = Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "h.csv", "factor\n1.0\n"), ForTiny with { ContextLength = 2048 }));
        Assert.Contains("h.csv: line 1: 'factor' is not a number", notNumber.Message);
    }

    [Fact]
    public void Per_layer_factors_are_accepted_only_when_all_layers_are_equal()
    {
        using var dir = new TempDir();
        float[] f = FactorRules.Pi(32, 2);
        string row = string.Join(",", f.Select(x => x.ToString("R", CultureInfo.InvariantCulture)));
        var options = ForTiny with { ContextLength = 1024 };

        // Rows (one per layer), as the repository's longrope_scale/*.csv files.
        Assert.Equal(f, FactorSetReader.Read(WriteText(dir, "rows.csv", string.Join("\n", Enumerable.Repeat(row, 6))), options).LongFactors.ToArray());
        string differing = string.Join("\n", Enumerable.Repeat(row, 5)) + "\n" + row.Replace("2,2,2", "2,2.5,2");
        var ex = Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "rows-differ.csv", differing), options));
        Assert.Contains("per-layer factors differ (line 6 [1] = 2.5, line 1 [1] = 2)", ex.Message);
        Assert.Contains("llama.cpp applies one factor array to all layers", ex.Message);

        // A 2-D array saved one value per line: 6 x 32 values for a model that needs 32.
        string flat = string.Join("\n", Enumerable.Repeat(f, 6).SelectMany(x => x).Select(x => x.ToString("R", CultureInfo.InvariantCulture)));
        Assert.Equal(f, FactorSetReader.Read(WriteText(dir, "flat.csv", flat), options).LongFactors.ToArray());
        var lines = flat.Split('\n');
        lines[32 * 3 + 7] = "3";
        var ex2 = Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "flat-differ.csv", string.Join("\n", lines)), options));
        Assert.Contains("per-layer factors differ (layer 4 [7] = 3, layer 1 [7] = 2)", ex2.Message);
    }

    [Fact]
    public void Own_json_round_trips_bit_for_bit()
    {
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Yarn(64, 3.7, 10000, 512), TestFiles.Ramp(1f, 1.1f), 512, 1894,
            AttentionFactorPolicy.Su, null, "rule yarn, unicode: ü");
        string path = dir.File("f.json");
        FactorSetJson.Write(set, path);
        Assert.Equal(FactorFileFormat.LongRopeJson, FactorSetReader.Detect(File.ReadAllText(path)));
        Assert.Equal(set, FactorSetReader.Read(path));

        var explicitSet = set.WithAttention(AttentionFactorPolicy.Explicit, 1.0123457f);
        FactorSetJson.Write(explicitSet, path);
        Assert.Equal(explicitSet, FactorSetReader.Read(path));

        // Overridden lengths recompute a policy's attention factor.
        var longer = FactorSetReader.Read(WriteJson(dir, set), new FactorReadOptions { ContextLength = 4096 });
        Assert.Equal(AttentionFactors.Compute(AttentionFactorPolicy.Su, 8, 512), longer.AttentionFactor);
    }

    private static string WriteJson(TempDir dir, FactorSet set)
    {
        string p = dir.File("g.json");
        FactorSetJson.Write(set, p);
        return p;
    }

    [Fact]
    public void Own_json_refuses_other_versions_and_inconsistent_attention_values()
    {
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Yarn, null, "x");
        string json = FactorSetJson.ToJson(set);
        var doc = JsonDocument.Parse(json);
        string v2 = json.Replace("\"version\": 1", "\"version\": 2");
        Assert.Contains("version 2 is not supported", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "v2.json", v2))).Message);
        string value = doc.RootElement.GetProperty("attention_factor").GetProperty("value").GetRawText();
        string wrong = json.Replace($"\"value\": {value}", "\"value\": 1.5");
        Assert.Contains("does not match policy yarn", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "w.json", wrong))).Message);
        // Not a number at all matches no policy either (NaN compared unequal to nothing and passed).
        foreach (string stored in (string[])["\"NaN\"", "1e400"])
            Assert.Contains("does not match policy yarn", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(WriteText(dir, "n.json", json.Replace($"\"value\": {value}", $"\"value\": {stored}")))).Message);
    }

    [Fact]
    public void Own_json_without_its_format_line_or_with_another_is_named_as_such_not_as_a_config_json()
    {
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Yarn, null, "x");
        string json = FactorSetJson.ToJson(set);
        string missing = WriteText(dir, "no-format.json", json.Replace("\"format\": \"longrope-factors\",", ""));
        Assert.Equal($"{missing}: 'format' is missing, expected 'longrope-factors'",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(missing)).Message);
        string other = WriteText(dir, "other-format.json", json.Replace("\"longrope-factors\"", "\"longrope\""));
        Assert.Equal($"{other}: 'format' is 'longrope', expected 'longrope-factors'",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(other)).Message);
    }

    [Fact]
    public void A_file_that_is_neither_gguf_nor_text_is_named_as_such_not_parsed_as_csv()
    {
        using var dir = new TempDir();
        string fakeModel = WriteText(dir, "model.gguf", "hello");
        Assert.Equal($"{fakeModel}: not a GGUF file (it does not start with 'GGUF'), so no factors to take from it",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(fakeModel)).Message);
        string binary = dir.File("factors.bin");
        File.WriteAllBytes(binary, [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0]);
        Assert.Equal($"{binary}: a binary file, not a factor file (JSON, config.json or CSV)",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(binary)).Message);
        // A CSV is still a CSV.
        Assert.Equal(32, FactorSetReader.Read(WriteText(dir, "f.csv", string.Join("\n", Enumerable.Repeat("1.0", 32))),
            ForTiny with { ContextLength = 1024 }).LongFactors.Length);
    }

    [Fact]
    public void A_key_given_twice_is_refused_naming_it_at_any_depth()
    {
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Yarn, null, "x");
        string json = FactorSetJson.ToJson(set);
        string twice = WriteText(dir, "twice.json", json.Replace("\"long_factors\":", "\"long_factors\": [1], \"long_factors\":"));
        Assert.Equal($"{twice}: the key 'long_factors' is given twice; keep one", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(twice)).Message);
        string config = WriteText(dir, "config.json", Phi3Config().Replace("\"short_factor\":", "\"long_factor\": [2], \"short_factor\":"));
        Assert.Equal($"{config}: the key 'rope_scaling.long_factor' is given twice; keep one", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(config)).Message);
        // The same name in two objects is no repeat.
        Assert.Equal(48, FactorSetReader.Read(WriteText(dir, "ok.json", Phi3Config().Replace("\"architectures\"", "\"type\": \"x\", \"architectures\""))).LongFactors.Length);
        // A repeat in an object no reader reads (as Python and transformers do, the last wins there): not ours to refuse.
        string labels = WriteText(dir, "labels.json", Phi3Config().Replace("\"architectures\"", "\"id2label\": {\"0\": \"a\", \"0\": \"b\"}, \"architectures\""));
        Assert.Equal(48, FactorSetReader.Read(labels).LongFactors.Length);
    }

    [Theory]
    [InlineData("UTF-16LE")]
    [InlineData("UTF-16BE")]
    [InlineData("UTF-32LE")]
    public void A_factor_file_in_utf16_or_utf32_with_its_byte_order_mark_is_read(string encodingName)
    {
        // Windows PowerShell 5 writes UTF-16 with a byte order mark by default; the strict UTF-8 reading had refused it.
        using var dir = new TempDir();
        var encoding = encodingName switch
        {
            "UTF-16LE" => (System.Text.Encoding)new System.Text.UnicodeEncoding(false, true),
            "UTF-16BE" => new System.Text.UnicodeEncoding(true, true),
            _ => new System.Text.UTF32Encoding(false, true),
        };
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Yarn, null, "x");
        string path = dir.File("factors.json");
        File.WriteAllBytes(path, [.. encoding.GetPreamble(), .. encoding.GetBytes(FactorSetJson.ToJson(set))]);
        Assert.Equal(set.LongFactors.ToArray(), FactorSetReader.Read(path).LongFactors.ToArray());
        // Its byte order mark and then bytes that are not of that encoding: named so.
        File.WriteAllBytes(path, [0xFF, 0xFE, 0x7B, 0x00, 0x00, 0xD8, 0x41, 0x00]);
        // At the lone high surrogate (offset 4), not at the unit after it, where the decoder noticed it.
        Assert.Equal($"{path}: not UTF-16 text, though it starts with UTF-16's byte order mark (invalid at offset 4)", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(path)).Message);
        File.WriteAllBytes(path, [0xFE, 0xFF, 0x00, 0x7B, 0xDC, 0x00, 0x00, 0x41]);
        Assert.Equal($"{path}: not UTF-16 text, though it starts with UTF-16's byte order mark (invalid at offset 4)", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(path)).Message);
    }

    [Theory]
    [InlineData("1099511627776", "'context_length' is 1099511627776, more than 2147483647 (the most tokens llama.cpp can address)")]
    [InlineData("-4294967296", "'context_length' is -4294967296, not a token count")]
    [InlineData("1.5", "'context_length' must be a whole number, found the number 1.5")]
    public void A_length_that_is_no_token_count_is_named_for_what_it_is(string written, string expected)
    {
        // 2^40 was "must be a whole number, found the number 1099511627776".
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Yarn, null, "x");
        string json = WriteText(dir, "f.json", System.Text.RegularExpressions.Regex.Replace(FactorSetJson.ToJson(set), @"(""context_length"":\s*)1024", m => m.Groups[1].Value + written));
        Assert.Equal($"{json}: {expected}", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(json)).Message);
    }

    [Fact]
    public void A_huge_version_is_not_called_a_token_count()
    {
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Yarn, null, "x");
        string json = WriteText(dir, "f.json", System.Text.RegularExpressions.Regex.Replace(FactorSetJson.ToJson(set), @"(""version"":\s*)\d+", m => m.Groups[1].Value + "1e30"));
        Assert.Equal($"{json}: 'version' is 1e30, outside -2147483648..2147483647", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(json)).Message);
    }

    [Fact]
    public void A_quoted_attention_factor_is_read_as_the_factor_arrays_are_and_judged_by_its_value()
    {
        // "NaN" in a factor array was read (and then refused as NaN), but as the attention factor it was "a string".
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Explicit, 1.1f, "x");
        string json = FactorSetJson.ToJson(set);
        string quoted = WriteText(dir, "q.json", System.Text.RegularExpressions.Regex.Replace(json, @"(""value"":\s*)[0-9.]+", m => m.Groups[1].Value + "\"1.25\""));
        Assert.Equal(1.25f, FactorSetReader.Read(quoted).AttentionFactor);
        string nan = WriteText(dir, "nan.json", System.Text.RegularExpressions.Regex.Replace(json, @"(""value"":\s*)[0-9.]+", m => m.Groups[1].Value + "\"NaN\""));
        var read = FactorSetReader.Read(nan);
        Assert.True(float.IsNaN(read.AttentionFactor));
        Assert.Contains(FactorValidator.Validate(read).Errors, e => e.Message.StartsWith("attention factor NaN: must be a finite number > 0", StringComparison.Ordinal));
        string word = WriteText(dir, "word.json", System.Text.RegularExpressions.Regex.Replace(json, @"(""value"":\s*)[0-9.]+", m => m.Groups[1].Value + "\"big\""));
        Assert.EndsWith("must be a number, found the string \"big\"", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(word)).Message);
    }

    [Theory]
    [InlineData("{\"a\": 1}", "an object")]
    [InlineData("null", "null")]
    [InlineData("\"1, 2\"", "the string \"1, 2\"")]
    public void A_factor_array_of_another_kind_is_named_in_words(string value, string named)
    {
        // The reader said "found Object" / "found Null": the serializer's enum names, not what the file holds.
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Yarn, null, "x");
        string json = WriteText(dir, "f.json", System.Text.RegularExpressions.Regex.Replace(FactorSetJson.ToJson(set), @"(""long_factors"":\s*)\[[^\]]*\]", m => m.Groups[1].Value + value));
        Assert.Equal($"{json}: 'long_factors' must be an array of numbers, found {named}", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(json)).Message);
    }

    [Fact]
    public void A_json_array_is_named_as_one_not_parsed_as_csv()
    {
        using var dir = new TempDir();
        string array = WriteText(dir, "factors.json", " [1.0, 1.5, 2.0]\n");
        Assert.Equal($"{array}: a JSON array, not a factor file: expected a JSON object (this tool's factor file or a config.json) or a CSV of factors",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(array)).Message);
    }

    [Theory]
    [InlineData("\"num_attention_heads\": 32", "\"num_attention_heads\": 0", "'num_attention_heads' is 0; a model's num_attention_heads is at least 1")]
    [InlineData("\"hidden_size\": 3072", "\"hidden_size\": -1", "'hidden_size' is -1; a model's hidden_size is at least 1")]
    // A model size past int is not "more than the most tokens llama.cpp can address": it is no token count.
    [InlineData("\"hidden_size\": 3072", "\"hidden_size\": 1e20", "'hidden_size' is 1e20, outside -2147483648..2147483647")]
    [InlineData("\"rope_theta\": 10000.0", "\"rope_theta\": 10000.0, \"head_dim\": 0", "'head_dim' is 0; a model's head_dim is at least 1")]
    [InlineData("\"rope_theta\": 10000.0", "\"rope_theta\": 10000.0, \"partial_rotary_factor\": 1.5", "'partial_rotary_factor' is 1.5; the rotated share of a head is more than 0 and at most 1")]
    [InlineData("\"type\": \"longrope\"", "\"type\": \"longrope\", \"partial_rotary_factor\": 0", "'rope_scaling.partial_rotary_factor' is 0; the rotated share of a head is more than 0 and at most 1")]
    public void A_config_whose_own_model_shape_is_impossible_is_refused_naming_the_key(string from, string to, string expected)
    {
        using var dir = new TempDir();
        string config = WriteText(dir, "config.json", Phi3Config().Replace(from, to));
        Assert.Equal($"{config}: {expected}", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(config)).Message);
    }

    [Theory]
    [InlineData("1e39")]
    [InlineData("-4e38")]
    [InlineData("1e-50")]
    [InlineData("1e400")] // beyond double too: it was "the number 1e400, not a number" in JSON and Infinity in a CSV
    public void A_number_beyond_single_precision_is_named_as_written_not_as_infinity_or_zero(string written)
    {
        using var dir = new TempDir();
        string csv = WriteText(dir, "f.csv", string.Join("\n", [.. Enumerable.Repeat("1.0", 31), written]));
        Assert.Equal($"{csv}: line 32: {written} outside the range of a 32-bit float, as llama.cpp stores factors (about 1e-45 to 3.4e38)",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(csv, ForTiny with { ContextLength = 1024 })).Message);
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Yarn, null, "x");
        string json = WriteText(dir, "f.json", System.Text.RegularExpressions.Regex.Replace(FactorSetJson.ToJson(set),
            @"(""short_factors"":\s*\[\s*)[0-9.]+", m => m.Groups[1].Value + written));
        Assert.Equal($"{json}: 'short_factors'[0] is {written}, outside the range of a 32-bit float, as llama.cpp stores factors (about 1e-45 to 3.4e38)",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(json)).Message);
        // Quoted (as the reader takes NaN and Infinity from Python's json), the same.
        string quoted = WriteText(dir, "q.json", System.Text.RegularExpressions.Regex.Replace(FactorSetJson.ToJson(set),
            @"(""short_factors"":\s*\[\s*)[0-9.]+", m => m.Groups[1].Value + "\"" + written + "\""));
        Assert.Equal($"{quoted}: 'short_factors'[0] is {written}, outside the range of a 32-bit float, as llama.cpp stores factors (about 1e-45 to 3.4e38)",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(quoted)).Message);
        // An explicit attention factor too (it became Infinity or 0 and was judged as that).
        var explicitSet = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Explicit, 1.25f, "x");
        string attention = WriteText(dir, "a.json", FactorSetJson.ToJson(explicitSet).Replace("\"value\": 1.25", $"\"value\": {written}"));
        Assert.Equal($"{attention}: 'attention_factor.value' is {written}, outside the range of a 32-bit float, as llama.cpp stores factors (about 1e-45 to 3.4e38)",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(attention)).Message);
        // The smallest float still is one.
        Assert.Equal(float.Epsilon, FactorSetReader.Read(WriteText(dir, "tiny.csv", string.Join("\n", [.. Enumerable.Repeat("1.0", 31), "1.401298464324817E-45"])),
            ForTiny with { ContextLength = 1024 }).LongFactors[31]);
    }

    [Fact]
    public void Millions_of_numbers_are_refused_without_reading_them_all()
    {
        using var dir = new TempDir();
        string csv = WriteText(dir, "huge.csv", string.Concat(Enumerable.Repeat("4\n", 1_000_000)));
        Assert.Equal($"{csv}: line 65537: more than 65,536 numbers, which is no factor file (one factor per rotary dimension pair, a row per layer at most)",
            Assert.Throws<FactorSetException>(() => FactorSetReader.Read(csv)).Message);
        string json = WriteText(dir, "huge.json", "{\"format\": \"longrope-factors\", \"version\": 1, \"long_factors\": [" + string.Join(",", Enumerable.Repeat("1", 70000)) + "]}");
        Assert.Contains("'long_factors' has 70,000 values, more than 65,536", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(json)).Message);
    }

    [Fact]
    public void A_file_that_is_not_utf8_is_named_with_the_offset_of_its_first_bad_byte()
    {
        using var dir = new TempDir();
        string csv = dir.File("latin1.csv");
        File.WriteAllBytes(csv, [.. "1.0\n1.5\n"u8, 0xE9, .. "\n"u8]);
        Assert.Equal($"{csv}: not UTF-8 text (invalid byte 0xE9 at offset 8)", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(csv)).Message);
        // A byte order mark is UTF-8 and dropped, in JSON as in CSV.
        var set = FactorSet.Create(FactorRules.Pi(32, 2), FactorSet.Ones(32), 512, 1024, AttentionFactorPolicy.Yarn, null, "x");
        string bom = dir.File("bom.json");
        File.WriteAllBytes(bom, [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(FactorSetJson.ToJson(set))]);
        Assert.Equal(set.LongFactors.ToArray(), FactorSetReader.Read(bom).LongFactors.ToArray());
    }

    [Fact]
    public void A_gguf_model_is_a_factor_source_too()
    {
        using var dir = new TempDir();
        var set = FactorSet.Create(FactorRules.Ntk(64, 4), FactorSet.Ones(32), 512, 2048, AttentionFactorPolicy.Su, null, "ntk for copying");
        string patched = dir.File("p.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, set, patched);
        Assert.Equal(set, FactorSetReader.Read(patched));
        Assert.Contains("has no 'rope_factors_long.weight'", Assert.Throws<FactorSetException>(() => FactorSetReader.Read(TestPaths.TinyModel)).Message);
    }
}
