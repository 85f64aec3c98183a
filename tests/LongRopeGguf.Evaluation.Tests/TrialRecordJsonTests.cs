using System.Text.Json;
using LongRopeGguf.Evaluation.Niah;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>
/// The results.jsonl line format that resumed runs and the summaries read back: snake_case names, text unescaped,
/// NaN timings allowed. Pinned because the (de)serializer is source-generated (for the Native AOT build).
/// </summary>
public class TrialRecordJsonTests
{
    private static TrialRecord Sample(double prefillMs) => new()
    {
        Id = "yarn|filler|key|1|1024|0.5|0", Mode = "yarn", ModeKind = "builtin", Model = "tiny-passkey-512.gguf",
        Haystack = "filler", Needle = "The pass key is {key}. Remember it. {key} is the pass key.", Seed = 1,
        Length = 1024, PromptTokens = 1019, Depth = 0.5, DepthActual = 0.4987, DepthIndex = 5, Trial = 0,
        Expected = "12345", Answer = " 12345 — é", Correct = true, Scoring = "first-number", FactorSet = "none",
        Rope = "yarn", NCtx = 1024, NCtxSeq = 1024, PrefillTokens = 600, ReusedTokens = 419,
        PrefillMs = prefillMs, DecodeMs = 12.5, WallMs = 140.25,
    };

    [Fact]
    public void A_line_has_snake_case_names_and_reads_back_equal()
    {
        var record = Sample(101.5);
        string line = record.ToJsonLine();

        Assert.DoesNotContain('\n', line);
        using var doc = JsonDocument.Parse(line);
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("n_ctx_seq", names);
        Assert.Contains("prefill_tokens", names);
        Assert.Contains("depth_actual", names);
        Assert.All(names, n => Assert.Equal(n.ToLowerInvariant(), n));
        Assert.Equal(1024, doc.RootElement.GetProperty("n_ctx_seq").GetInt32());
        Assert.Contains("\" 12345 — é\"", line); // readable text, not \u escapes
        Assert.Equal(record, TrialRecord.FromJsonLine(line));
    }

    [Fact]
    public void NaN_timings_round_trip()
    {
        string line = Sample(double.NaN).ToJsonLine();
        Assert.Contains("\"prefill_ms\":\"NaN\"", line);
        Assert.True(double.IsNaN(TrialRecord.FromJsonLine(line).PrefillMs));
    }

    [Fact]
    public void A_line_without_a_required_field_is_refused()
    {
        string line = Sample(1).ToJsonLine().Replace("\"answer\":", "\"other\":");
        Assert.Throws<JsonException>(() => TrialRecord.FromJsonLine(line));
    }
}
