using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>One prompt of the grid (the same for every mode).</summary>
public sealed record PlannedTrial(int Length, int DepthIndex, int TrialIndex, int Key, PassKeyPrompt Prompt);

/// <summary>
/// The grid's prompts, built once with the base model's tokenizer before anything runs, so bad input (a haystack too
/// short for the longest length, a length too short for the needle) fails at once.
/// </summary>
public sealed class NiahPlan
{
    private NiahPlan(NiahOptions options, int answerTokens, IReadOnlyList<PlannedTrial> trials)
    {
        Options = options;
        AnswerTokens = answerTokens;
        Trials = trials;
    }

    public NiahOptions Options { get; }
    public int AnswerTokens { get; }
    public IReadOnlyList<PlannedTrial> Trials { get; }

    public static NiahPlan Build(NiahOptions o, ITextTokenizer tokenizer)
    {
        int answerTokens = o.AnswerTokens
            ?? (o.Needle.FixedAnswer is null ? 5 : tokenizer.Tokenize(o.Needle.FixedAnswer, addBos: false).Length + 4);
        var builder = new PassKeyPromptBuilder(tokenizer, o.Haystack, o.Needle);
        var trials = new List<PlannedTrial>();
        foreach (int length in o.Lengths.Order())
        {
            int promptTokens = length - (answerTokens - 1);
            if (promptTokens < 2)
                throw new EvalInputException($"length {length}: too short for a prompt and a {answerTokens}-token answer");
            for (int d = 0; d < o.Depths; d++)
                for (int t = 0; t < o.TrialsPerDepth; t++)
                {
                    int key = TrialKeys.Key(o.Seed, length, d, t);
                    PassKeyPrompt prompt;
                    try
                    {
                        prompt = builder.Build(promptTokens, NiahOptions.DepthAt(d, o.Depths), key);
                    }
                    catch (EvalInputException e) when (e.Message.StartsWith("a ", StringComparison.Ordinal))
                    {
                        throw new EvalInputException($"length {length}: {e.Message}");
                    }
                    trials.Add(new PlannedTrial(length, d, t, key, prompt));
                }
        }
        return new NiahPlan(o, answerTokens, trials);
    }

    /// <summary>A trial's identity in results.jsonl: everything that decides its prompt and its mode.</summary>
    public string TrialId(string mode, PlannedTrial t) =>
        $"{mode}|{Options.Haystack.Name}|{Options.Needle.Fingerprint()}|s{Options.Seed}|a{AnswerTokens}|L{t.Length}|d{t.DepthIndex}/{Options.Depths}|t{t.TrialIndex}";
}
