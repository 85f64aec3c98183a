using System.Diagnostics;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Perplexity;
using LongRopeGguf.Evaluation.Prompts;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>What one trial produced, before it is written down.</summary>
/// <param name="AnswerNll">Mean NLL (nats/token) of the expected answer's tokens, teacher-forced; null when it does not fit.</param>
public sealed record TrialOutcome(string Answer, double? AnswerNll, int PrefillTokens, int ReusedTokens, double PrefillMs, double DecodeMs);

/// <summary>
/// Runs the trials of one (mode, length) cell in one context. With sharing, sequence 0 holds the haystack before the
/// needle and only grows as trials walk to deeper needles; each trial copies it into sequence 1 (cells are shared, not
/// duplicated, in a unified cache), decodes its needle + rest + question there, answers, and drops sequence 1. The
/// context is sized to the cell's length and unified, so llama.cpp picks the same factor set as for a one-trial
/// context. Without sharing every trial is one full prefill into an emptied cache.
/// </summary>
public sealed class CellRunner(EvalContext context, bool share, int answerTokens)
{
    private const int Prefix = 0, Trial = 1;
    private readonly List<int> _prefix = new();

    /// <summary>Tokens decoded into the shared prefix so far.</summary>
    public int PrefixTokens => _prefix.Count;

    public TrialOutcome Run(PassKeyPrompt prompt, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        int[] tokens = prompt.Tokens;
        int decoded, reused, seq;
        float[] logits;
        if (!share)
        {
            context.ClearAll();
            logits = context.DecodeLast(Prefix, tokens, 0, ct);
            decoded = tokens.Length;
            reused = 0;
            seq = Prefix;
        }
        else
        {
            int target = Math.Min(prompt.SharedPrefixTokens, tokens.Length - 1);
            int keep = PassKeyPromptBuilder.CommonPrefix(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_prefix), tokens.AsSpan(0, target));
            if (keep < _prefix.Count)
            {
                // A prompt that does not extend the cached prefix (another haystack cut, or a shallower needle).
                context.TrimSequence(Prefix, keep);
                _prefix.RemoveRange(keep, _prefix.Count - keep);
            }
            int extension = target - _prefix.Count;
            if (extension > 0)
            {
                context.DecodeSilently(Prefix, tokens.AsSpan(_prefix.Count, extension), _prefix.Count, ct);
                _prefix.AddRange(tokens.AsSpan(_prefix.Count, extension));
            }
            context.TrimSequence(Trial, 0);
            if (target > 0) context.CopySequence(Prefix, Trial, target);
            logits = context.DecodeLast(Trial, tokens.AsSpan(target), target, ct);
            decoded = Math.Max(0, extension) + tokens.Length - target;
            reused = tokens.Length - decoded;
            seq = Trial;
        }
        double prefillMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        int[] answer = context.Greedy(seq, logits, tokens.Length, answerTokens, ct);
        double? answerNll = ExpectedAnswerNll(seq, logits, prompt, ct);
        double decodeMs = clock.Elapsed.TotalMilliseconds;
        if (share) context.TrimSequence(Trial, 0);
        return new TrialOutcome(context.Model.Detokenize(answer), answerNll, decoded, reused, prefillMs, decodeMs);
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
