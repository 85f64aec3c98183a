using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>One prompt of the grid (the same for every mode).</summary>
/// <param name="Passage">Which passage of the haystack the prompt's text starts at (0 with one passage).</param>
public sealed record PlannedTrial(int Length, int DepthIndex, int TrialIndex, int Key, PassKeyPrompt Prompt, int Passage = 0);

/// <summary>
/// The grid's prompts, built once with the base model's tokenizer before anything runs, so bad input (a haystack too
/// short for the longest length, a length too short for the needle) fails at once.
/// </summary>
public sealed class NiahPlan
{
    private NiahPlan(NiahOptions options, int answerTokens, IReadOnlyList<int> passageOffsets, IReadOnlyList<PlannedTrial> trials)
    {
        Options = options;
        AnswerTokens = answerTokens;
        PassageOffsets = passageOffsets;
        Trials = trials;
    }

    public NiahOptions Options { get; }
    public int AnswerTokens { get; }

    /// <summary>Where each haystack passage starts in the text (characters, at sentence starts; [0] is 0).</summary>
    public IReadOnlyList<int> PassageOffsets { get; }

    public IReadOnlyList<PlannedTrial> Trials { get; }

    /// <param name="cancellationToken">Checked before each prompt: up to 10,000 per length take a while to build.</param>
    public static NiahPlan Build(NiahOptions o, ITextTokenizer tokenizer, CancellationToken cancellationToken = default)
    {
        int answerTokens = o.AnswerTokens
            ?? (o.Needle.FixedAnswer is null ? 5 : tokenizer.Tokenize(o.Needle.FixedAnswer, addBos: false).Length + 4);
        int PromptTokens(int length)
        {
            int tokens = length - (answerTokens - 1);
            if (tokens < 2) throw new EvalInputException($"length {length}: too short for a prompt and a {answerTokens}-token answer");
            return tokens;
        }
        PassKeyPrompt Build(PassKeyPromptBuilder builder, int length, double depth, int key)
        {
            try
            {
                return builder.Build(PromptTokens(length), depth, key);
            }
            catch (EvalInputException e) when (e.Message.StartsWith("a ", StringComparison.Ordinal))
            {
                throw new EvalInputException($"length {length}: {e.Message}");
            }
        }

        int[] offsets = [0];
        int passages = o.HaystackPassages;
        if (passages > 1)
        {
            // Room is kept for the longest prompt, measured on the text's start (which also checks that one fits).
            int longest = o.Lengths.Max();
            int chars = Build(new PassKeyPromptBuilder(tokenizer, o.Haystack, o.Needle), longest, 0.5, TrialKeys.Key(o.Seed, longest, 0, 0)).HaystackChars;
            offsets = o.Haystack.SpreadPassages(passages, chars, "--haystack-passages", longest);
        }
        var builders = offsets.Select(offset => new PassKeyPromptBuilder(tokenizer, o.Haystack.From(offset), o.Needle)).ToArray();

        var trials = new List<PlannedTrial>();
        foreach (int length in o.Lengths.Order())
            for (int d = 0; d < o.Depths; d++)
                for (int t = 0; t < o.TrialsPerDepth; t++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int key = TrialKeys.Key(o.Seed, length, d, t);
                    int passage = (d * o.TrialsPerDepth + t) % offsets.Length;
                    trials.Add(new PlannedTrial(length, d, t, key, Build(builders[passage], length, NiahOptions.DepthAt(d, o.Depths), key), passage));
                }
        return new NiahPlan(o, answerTokens, offsets, trials);
    }

    /// <summary>Where a trial's haystack starts in the text (characters).</summary>
    public int HaystackOffset(PlannedTrial t) => PassageOffsets[t.Passage];

    /// <summary>
    /// A trial's identity in results.jsonl: everything that decides its prompt and its mode. A passage other than the
    /// text's start adds its offset (so that one-passage ids, and the results of earlier runs, stay as they were).
    /// </summary>
    public string TrialId(string mode, PlannedTrial t)
    {
        int offset = HaystackOffset(t);
        string haystack = offset == 0 ? Options.Haystack.Name : $"{Options.Haystack.Name}@{offset}";
        return $"{mode}|{haystack}|{Options.Needle.Fingerprint()}|s{Options.Seed}|a{AnswerTokens}|L{t.Length}|d{t.DepthIndex}/{Options.Depths}|t{t.TrialIndex}";
    }
}
