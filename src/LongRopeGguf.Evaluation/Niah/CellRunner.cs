using System.Diagnostics;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Perplexity;
using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>What one trial produced, before it is written down.</summary>
/// <param name="AnswerNll">Mean NLL (nats/token) of the expected answer's tokens, teacher-forced; null when it does not fit.</param>
public sealed record TrialOutcome(string Answer, double? AnswerNll, int PrefillTokens, int ReusedTokens, double PrefillMs, double DecodeMs);

/// <summary>
/// Runs the trials of one (mode, length) cell in one context: each prompt is prefilled by a <see cref="PromptPrefiller"/>
/// (sharing the haystack before the needle between trials, or one full prefill each), answered greedily, and its
/// expected answer scored. The context is sized to the cell's length and unified, so llama.cpp picks the same factor
/// set as for a one-trial context.
/// </summary>
public sealed class CellRunner(EvalContext context, bool share, int answerTokens)
{
    private readonly PromptPrefiller _prefiller = new(context, share);

    public TrialOutcome Run(PassKeyPrompt prompt, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var prefilled = _prefiller.Prefill(prompt, ct);
        double prefillMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        int[] answer = context.Greedy(prefilled.Sequence, prefilled.LastLogits, prompt.Tokens.Length, answerTokens, ct);
        double? answerNll = ExpectedAnswerNll(prefilled.Sequence, prefilled.LastLogits, prompt, ct);
        double decodeMs = clock.Elapsed.TotalMilliseconds;
        _prefiller.Release();
        return new TrialOutcome(context.Model.Detokenize(answer), answerNll, prefilled.DecodedTokens, prefilled.ReusedTokens, prefillMs, decodeMs);
    }

    /// <summary>
    /// The search's pass-key fitness on this prompt: mean -log p of the expected answer tokens, each given the prompt
    /// and the expected tokens before it. Greedy accuracy says right or wrong; this says by how much, so two modes can
    /// be compared on every prompt and not only on those exactly one of them answers. Costs answer-length tokens: the
    /// greedy answer is dropped and the expected one decoded in its place.
    /// </summary>
    private double? ExpectedAnswerNll(int seq, float[] lastPromptLogits, PassKeyPrompt prompt, CancellationToken ct)
    {
        int start = prompt.Tokens.Length;
        if (prompt.AnswerTokens.Length == 0 || start + prompt.AnswerTokens.Length - 1 > context.ContextPerSequence) return null;
        return TeacherForcing.ScoreContinuation(context, seq, lastPromptLogits, start, prompt.AnswerTokens, ct).MeanNll;
    }
}
