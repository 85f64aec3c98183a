using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>One trial of a needle-in-a-haystack grid, as written (one JSON line) to results.jsonl.</summary>
public sealed record TrialRecord
{
    /// <summary>Identity in the grid: mode, haystack, needle, seed, length, depth and repeat. Resuming skips ids already written.</summary>
    public required string Id { get; init; }
    public required string Mode { get; init; }
    public required string ModeKind { get; init; }
    /// <summary>The model file's name (the base model for built-in modes, the patched file otherwise).</summary>
    public required string Model { get; init; }

    /// <summary>
    /// <see cref="Engine.ModelFingerprint"/> of that file, so that a resumed run or a pooled comparison never mixes two
    /// files under one mode name; null in lines written before it was recorded (then the file name is compared).
    /// </summary>
    public string? ModelId { get; init; }

    /// <summary>For a mode given a factor file: that file's name and content hash (16 hex digits of SHA-256), since
    /// <see cref="Model"/> then names the run's temporary patched copy; null otherwise and in older lines.</summary>
    public string? Factors { get; init; }
    public required string Haystack { get; init; }

    /// <summary><see cref="Prompts.Haystack.ContentHash"/> of the haystack's text; null for the filler and in older lines.</summary>
    public string? HaystackSha256 { get; init; }

    /// <summary>Which text the trial read, as far as the line says: its hash, <see cref="Prompts.Haystack.FillerIdentity"/>
    /// for the built-in filler (named "filler" with no hash: a file named filler always has one), null for an older line
    /// of a file, which does not say.</summary>
    public string? HaystackIdentity => HaystackSha256 ?? (Haystack == Prompts.Haystack.FillerName ? Prompts.Haystack.FillerIdentity : null);

    /// <summary>Where the trial's haystack starts in the text (characters; 0 for the filler, and in lines written before passages existed).</summary>
    public int HaystackOffset { get; init; }
    public required string Needle { get; init; }
    public required int Seed { get; init; }

    /// <summary>KV positions the trial occupies: prompt + answer tokens fed back.</summary>
    public required int Length { get; init; }
    public required int PromptTokens { get; init; }
    public required double Depth { get; init; }
    public required double DepthActual { get; init; }
    public required int DepthIndex { get; init; }
    public required int Trial { get; init; }
    public required string Expected { get; init; }

    /// <summary>The raw generated text.</summary>
    public required string Answer { get; init; }
    public required bool Correct { get; init; }

    /// <summary>
    /// Mean NLL (nats/token) of <see cref="Expected"/>'s tokens after the prompt, teacher-forced (the search's pass-key
    /// fitness); null in lines written before it was recorded, or when the answer does not fit the context.
    /// </summary>
    public double? AnswerNll { get; init; }
    /// <summary>How <see cref="Answer"/> was scored: <see cref="PassKeyScoring"/> or "contains" (<see cref="ScoringName"/>).</summary>
    public required string Scoring { get; init; }

    /// <summary>The scoring of random pass keys: the answer's first number must equal the key.</summary>
    public const string PassKeyScoring = "first-number";

    public static string ScoringName(Prompts.AnswerScoring scoring) => scoring == Prompts.AnswerScoring.FirstNumber ? PassKeyScoring : "contains";

    /// <summary>LongRoPE factor set llama.cpp used: long, short, or none (no factors in the file).</summary>
    public required string FactorSet { get; init; }
    public required string Rope { get; init; }
    public required int NCtx { get; init; }
    public required int NCtxSeq { get; init; }

    /// <summary>Tokens this trial decoded before answering (its share of the haystack prefix + its own rest).</summary>
    public required int PrefillTokens { get; init; }

    /// <summary>Prompt tokens it took from the shared prefix instead of decoding them.</summary>
    public required int ReusedTokens { get; init; }
    public required double PrefillMs { get; init; }
    public required double DecodeMs { get; init; }

    /// <summary>Wall time since the previous trial of the run ended (context creation included for a cell's first trial).</summary>
    public required double WallMs { get; init; }

    /// <summary>Whether this trial ran on the file named <paramref name="model"/> with fingerprint <paramref name="modelId"/>
    /// (by name alone for lines without a fingerprint).</summary>
    public bool IsFrom(string model, string? modelId) =>
        ModelId is not null && modelId is not null ? ModelId == modelId : Model == model;

    /// <summary>The file, for messages: its name and fingerprint.</summary>
    public string Describe() => ModelId is null ? Model : Factors is null ? $"{Model} ({ModelId})" : $"{Model} ({ModelId}, made from {Factors})";

    // Source-generated metadata (TrialRecordJsonContext), so that the Native AOT build of the CLI serializes without
    // reflection; the options that the generator cannot take (the relaxed encoder) are set here.
    private static readonly JsonSerializerOptions JsonOptions = new(TrialRecordJsonContext.Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonTypeInfo<TrialRecord> s_typeInfo = (JsonTypeInfo<TrialRecord>)JsonOptions.GetTypeInfo(typeof(TrialRecord));

    public string ToJsonLine() => JsonSerializer.Serialize(this, s_typeInfo);

    /// <summary>A line read back, its values checked as a run writes them: a hand-edited length of -5 or an empty mode
    /// name made table rows and warnings of their own.</summary>
    public static TrialRecord FromJsonLine(string line)
    {
        var r = JsonSerializer.Deserialize(line, s_typeInfo) ?? throw new JsonException("empty trial line");
        // "required" asks only that a field be there: "id": null passed it and failed as a NullReferenceException.
        string? problem =
            string.IsNullOrEmpty(r.Id) ? "'id' is empty"
            : string.IsNullOrEmpty(r.Mode) ? "'mode' is empty"
            : string.IsNullOrEmpty(r.Haystack) ? "'haystack' is empty"
            : r.Model is null ? "'model' is null"
            : r.ModeKind is null ? "'mode_kind' is null"
            : r.Needle is null ? "'needle' is null"
            : r.Answer is null ? "'answer' is null"
            : r.Scoring is null ? "'scoring' is null"
            : r.FactorSet is null ? "'factor_set' is null"
            : r.Rope is null ? "'rope' is null"
            : r.Length <= 0 ? $"'length' {r.Length} is not a positive number of tokens"
            : r.PromptTokens < 0 || r.PromptTokens > r.Length ? $"'prompt_tokens' {r.PromptTokens} is not within the length {r.Length}"
            : !(r.Depth >= 0 && r.Depth <= 1) ? $"'depth' {r.Depth} is not within 0..1"
            : r.Trial < 0 ? $"'trial' {r.Trial} is negative"
            : r.NCtx <= 0 ? $"'n_ctx' {r.NCtx} is not a positive number of tokens"
            : string.IsNullOrEmpty(r.Expected) ? "'expected' is empty"
            : null;
        return problem is null ? r : throw new JsonException(problem);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(TrialRecord))]
internal sealed partial class TrialRecordJsonContext : JsonSerializerContext;
