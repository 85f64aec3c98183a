using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Evaluation.Perplexity;

/// <summary>How well a model predicts a pass-key answer after its prompt (teacher forcing).</summary>
/// <param name="MinMargin">The smallest <see cref="TeacherForcing.Margin"/> over the answer tokens (+infinity for an
/// empty answer): greedy decoding gives the whole answer exactly when it is above 0 (ties aside), however low the NLL
/// of the tokens after the first wrong one is under teacher forcing.</param>
public sealed record AnswerLikelihood(int AnswerTokens, double TotalNll, bool GreedyMatches, double MinMargin = double.PositiveInfinity)
{
    public double MeanNll => AnswerTokens == 0 ? 0 : TotalNll / AnswerTokens;
}

/// <summary>
/// Scores an expected continuation of a sequence whose prompt is already in the cache: the first expected token
/// against the prompt's last logits, every later one against the logits after the expected tokens before it. Both the
/// search's pass-key fitness (<see cref="ScoreAnswer"/>) and the evaluation's per-trial answer NLL use
/// it, so the two measure the same thing.
/// </summary>
public static class TeacherForcing
{
    /// <summary>
    /// Scores <paramref name="expected"/> as the continuation of sequence <paramref name="seq"/> at
    /// <paramref name="position"/> (the prompt's length): the sequence is cut back to the prompt first (dropping, say,
    /// a greedy answer decoded after it) and left holding prompt + all but the last expected token.
    /// </summary>
    public static AnswerLikelihood ScoreContinuation(EvalContext context, int seq, ReadOnlySpan<float> promptLastLogits, int position,
        int[] expected, CancellationToken ct = default)
    {
        if (expected.Length == 0) return new AnswerLikelihood(0, 0, true);
        if (position + expected.Length - 1 > context.ContextPerSequence)
            throw new ArgumentException($"prompt + answer ({position + expected.Length - 1} tokens) do not fit the {context.ContextPerSequence}-token context");
        double total = PerplexityScorer.NegativeLogLikelihood(promptLastLogits, expected[0]);
        bool greedy = EvalContext.ArgMax(promptLastLogits) == expected[0];
        double minMargin = Margin(promptLastLogits, expected[0]);
        context.TrimSequence(seq, position);
        if (expected.Length > 1)
        {
            context.Decode(seq, expected.AsSpan(0, expected.Length - 1), position, static _ => true, (i, logits) =>
            {
                total += PerplexityScorer.NegativeLogLikelihood(logits, expected[i + 1]);
                if (EvalContext.ArgMax(logits) != expected[i + 1]) greedy = false;
                minMargin = Math.Min(minMargin, Margin(logits, expected[i + 1]));
            }, ct);
        }
        return new AnswerLikelihood(expected.Length, total, greedy, minMargin);
    }

    /// <summary>
    /// How far the expected token's logit is above the best other token's (negative: greedy decoding picks another
    /// token here). Logits, not probabilities: the gap that decides the greedy choice. NaN when any logit is NaN (a
    /// broken candidate), so that it is never mistaken for a sure answer.
    /// </summary>
    public static double Margin(ReadOnlySpan<float> logits, int expected)
    {
        if ((uint)expected >= (uint)logits.Length)
            throw new ArgumentOutOfRangeException(nameof(expected), $"token {expected} is outside the {logits.Length} logits");
        float other = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNaN(logits[i])) return double.NaN;
            if (i != expected && logits[i] > other) other = logits[i];
        }
        return (double)logits[expected] - other;
    }

    /// <summary>
    /// Negative log-likelihood of <paramref name="prompt"/>'s expected answer tokens after the prompt: the prompt is
    /// prefilled by <paramref name="prefiller"/> (sharing what it can with the prompts before it), the answer scored,
    /// and the prompt's own cells released.
    /// </summary>
    public static AnswerLikelihood ScoreAnswer(PromptPrefiller prefiller, PassKeyPrompt prompt, CancellationToken ct = default)
    {
        int[] answer = prompt.AnswerTokens;
        if (answer.Length == 0) return new AnswerLikelihood(0, 0, true);
        int n = prompt.Tokens.Length + answer.Length - 1;
        // ScoreContinuation checks this too, but only after the prompt's prefill: refuse before it.
        if (n > prefiller.Context.ContextPerSequence)
            throw new ArgumentException($"prompt + answer ({n} tokens) do not fit the {prefiller.Context.ContextPerSequence}-token context");
        var prefilled = prefiller.Prefill(prompt, ct);
        try
        {
            return ScoreContinuation(prefiller.Context, prefilled.Sequence, prefilled.LastLogits, prompt.Tokens.Length, answer, ct);
        }
        finally
        {
            prefiller.Release();
        }
    }
}
