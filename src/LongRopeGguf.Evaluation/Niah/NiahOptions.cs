using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>
/// A needle-in-a-haystack grid: context lengths x needle depths x trials x modes. A trial's length is the number of
/// KV positions it occupies: prompt tokens (BOS included) + the answer tokens fed back while generating (all but the
/// last), i.e. exactly what fits in a llama.cpp context of that size; so at the original length a LongRoPE file runs
/// its short set, as llama.cpp does with -c 512.
/// </summary>
public sealed record NiahOptions
{
    public required string ModelPath { get; init; }
    public IReadOnlyList<int> Lengths { get; init; } = [512, 1024, 2048, 4096];

    /// <summary>Evenly spaced depths from 0 to 1 inclusive (one depth: 0.5).</summary>
    public int Depths { get; init; } = 10;

    public int TrialsPerDepth { get; init; } = 1;
    public IReadOnlyList<RopeMode> Modes { get; init; } = [RopeMode.None, RopeMode.Pi, RopeMode.Yarn];
    public Haystack Haystack { get; init; } = Haystack.Filler();

    /// <summary>
    /// Passages of a text haystack that a length's prompts take turns in (prompt n = depth index x trials per depth +
    /// trial uses passage n mod this), spread evenly over the text, so that one run samples the whole text and not only
    /// its start; 1 = every prompt starts at the text's beginning. The filler is its own every passage.
    /// </summary>
    public int HaystackPassages { get; init; } = 1;
    public NeedleSpec Needle { get; init; } = NeedleSpec.PassKey;
    public int Seed { get; init; } = 1;

    /// <summary>Greedy tokens generated per answer; null: 5 for pass keys (the card's), answer tokens + 4 for text needles.</summary>
    public int? AnswerTokens { get; init; }

    public required string OutputDirectory { get; init; }

    /// <summary>Share the haystack prefix between trials of a cell (false: one full prefill per trial, for comparison).</summary>
    public bool ShareWork { get; init; } = true;

    public EngineOptions Engine { get; init; } = EngineOptions.Default;

    public static double DepthAt(int index, int count) => count == 1 ? 0.5 : index / (double)(count - 1);

    /// <summary>Far more than any grid needs (100 depths x 100 trials); --depths 100000 grew memory by 20 MB/s while the
    /// prompts were built, with no progress shown and no way to stop it.</summary>
    public const int MaxPromptsPerLength = 10_000;

    /// <summary>Checks what can be checked without a model.</summary>
    public void Validate()
    {
        if (Lengths.Count == 0) throw new EvalInputException("no lengths given");
        foreach (int l in Lengths)
            if (l <= 0) throw new EvalInputException($"length {l}: must be a positive number of tokens");
        if (Lengths.Distinct().Count() != Lengths.Count) throw new EvalInputException("a length is given twice");
        if (Depths < 1) throw new EvalInputException($"--depths {Depths}: need at least one depth");
        if (TrialsPerDepth < 1) throw new EvalInputException($"--trials-per-depth {TrialsPerDepth}: need at least one trial");
        // In long: 2000000000 trials per depth wrapped the product negative (and named --haystack-passages).
        long prompts = (long)Depths * TrialsPerDepth;
        if (prompts > MaxPromptsPerLength)
            throw new EvalInputException($"--depths {Depths} x --trials-per-depth {TrialsPerDepth} = {prompts:N0} prompts per length: at most {MaxPromptsPerLength:N0} "
                + "(the prompts of a length are built before the first is run)");
        if (HaystackPassages < 1 || HaystackPassages > prompts)
            throw new EvalInputException($"--haystack-passages {HaystackPassages}: must be between 1 and the prompts per length (depths x trials per depth = {prompts})");
        if (Modes.Count == 0) throw new EvalInputException("no modes given");
        var dup = Modes.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new EvalInputException($"mode '{dup.Key}' is given twice");
        if (AnswerTokens is < 1) throw new EvalInputException($"--answer-tokens {AnswerTokens}: must be at least 1");
        Engine.Validate();
    }
}
