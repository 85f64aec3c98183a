using LongRopeGguf.Evaluation.Engine;

namespace LongRopeGguf.Evaluation.Perplexity;

/// <summary>
/// Scores an expected continuation of a sequence whose prompt is already in the cache: the first expected token
/// against the prompt's last logits, every later one against the logits after the expected tokens before it. Both the
/// search's pass-key fitness (<see cref="PerplexityScorer.AnswerNll"/>) and the evaluation's per-trial answer NLL use
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
        context.TrimSequence(seq, position);
        if (expected.Length > 1)
        {
            context.Decode(seq, expected.AsSpan(0, expected.Length - 1), position, static _ => true, (i, logits) =>
            {
                total += PerplexityScorer.NegativeLogLikelihood(logits, expected[i + 1]);
                if (EvalContext.ArgMax(logits) != expected[i + 1]) greedy = false;
            }, ct);
        }
        return new AnswerLikelihood(expected.Length, total, greedy);
    }
}
