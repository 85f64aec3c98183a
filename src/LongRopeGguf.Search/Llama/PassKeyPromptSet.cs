using LongRopeGguf.Evaluation;
using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Search.Llama;

/// <summary>
/// The pass-key prompts a search scores every candidate on: <see cref="FitnessSpec.PassKeyPrompts"/> prompts of the
/// target length, needles at evenly spaced depths (<see cref="FitnessSpec.DepthOf"/>), keys from <see cref="FitnessSpec.PassKeySeed"/>, taking turns in
/// <see cref="FitnessSpec.PassKeyPassages"/> passages spread evenly over the haystack text.
/// </summary>
/// <param name="PassageOffsets">Where each passage starts in the text (characters, at sentence starts; [0] is 0).</param>
/// <param name="TextChars">How much of the text the prompts use, from its start (what the log's hash covers).</param>
public sealed record PassKeyPromptSet(IReadOnlyList<PassKeyPrompt> Prompts, IReadOnlyList<int> PassageOffsets, int TextChars)
{
    /// <summary>Tokens left in the target-length context for the answer (5 digits) and a little slack.</summary>
    public const int AnswerRoom = 8;

    public static PassKeyPromptSet Build(ITextTokenizer tokenizer, Haystack haystack, FitnessSpec spec, CancellationToken cancellationToken = default)
    {
        int promptTokens = spec.TargetLength - AnswerRoom;
        // Said in the option's terms: the builder's "a -6-token prompt leaves no room" named no option.
        int fixedTokens = tokenizer.Tokenize(NeedleSpec.PassKey.NeedleText(NeedleSpec.PassKey.ExpectedFor(TrialKeys.Key(spec.PassKeySeed, spec.TargetLength, 0, 0)))
            + NeedleSpec.PassKey.Question, addBos: true).Length;
        if (promptTokens <= fixedTokens)
            throw new EvalInputException($"--target-length {spec.TargetLength}: too short for pass-key prompts (BOS, needle and question take {fixedTokens} tokens, the answer {AnswerRoom} more; give at least {fixedTokens + AnswerRoom + 1}, or --fitness ppl)");
        int passages = spec.PassKeyPassages;
        int[] offsets = [0];
        if (passages > 1)
        {
            // How much text one prompt takes, measured on the text's start.
            int chars = new PassKeyPromptBuilder(tokenizer, haystack, NeedleSpec.PassKey)
                .Build(promptTokens, 0.5, TrialKeys.Key(spec.PassKeySeed, spec.TargetLength, 0, 0)).HaystackChars;
            offsets = haystack.SpreadPassages(passages, chars, "--passkey-passages", promptTokens);
        }
        var builders = offsets.Select(o => new PassKeyPromptBuilder(tokenizer, haystack.From(o), NeedleSpec.PassKey)).ToArray();
        var prompts = new List<PassKeyPrompt>();
        int used = 0;
        for (int i = 0; i < spec.PassKeyPrompts; i++)
        {
            cancellationToken.ThrowIfCancellationRequested(); // thousands of long prompts take a while: Ctrl-C waited out the grace
            int p = i % passages;
            double depth = spec.DepthOf(i);
            var prompt = builders[p].Build(promptTokens, depth, TrialKeys.Key(spec.PassKeySeed, spec.TargetLength, i, 0));
            prompts.Add(prompt);
            used = Math.Max(used, offsets[p] + prompt.HaystackChars);
        }
        return new PassKeyPromptSet(prompts, offsets, used);
    }

    /// <summary>
    /// The prompts grouped by passage (prompt i is in passage i mod k), each passage's in order of how much haystack
    /// precedes the needle: a <see cref="PromptPrefiller"/> then only extends its cached prefix within a passage.
    /// </summary>
    public IReadOnlyList<PassKeyPrompt> InSharingOrder() =>
        [.. Prompts.Select((prompt, i) => (prompt, i))
            .OrderBy(x => x.i % PassageOffsets.Count).ThenBy(x => x.prompt.SharedPrefixTokens).ThenBy(x => x.i)
            .Select(x => x.prompt)];
}
