using System.Runtime.InteropServices;
using LongRopeGguf.Evaluation.Engine;

namespace LongRopeGguf.Evaluation.Prompts;

/// <summary>A prompt decoded into a context: its last logits and the sequence that holds it.</summary>
/// <param name="DecodedTokens">Tokens this prefill decoded (the rest came from the shared prefix already cached).</param>
public sealed record PrefilledPrompt(int Sequence, float[] LastLogits, int DecodedTokens, int ReusedTokens);

/// <summary>
/// Decodes pass-key prompts one after another into one context. With sharing, sequence 0 holds the haystack before the
/// needle and only grows as prompts walk to deeper needles; each prompt copies it into sequence 1 (cells are shared, not
/// duplicated, in a unified cache) and decodes its needle + rest + question there; <see cref="Release"/> drops
/// sequence 1. Prompts of the same haystack cut in order of <see cref="PassKeyPrompt.SharedPrefixTokens"/> reuse the
/// most; a prompt that does not extend the cached prefix cuts it back to what they have in common. The context needs
/// two sequences in a unified cache of the prompts' length. Without sharing every prompt is one full prefill into an
/// emptied cache. Both eval niah's trials and the search's pass-key fitness prefill this way.
/// </summary>
public sealed class PromptPrefiller(EvalContext context, bool share)
{
    private const int Prefix = 0, Prompt = 1;
    private readonly List<int> _prefix = new();

    public EvalContext Context => context;

    /// <summary>Decodes <paramref name="prompt"/>; the returned sequence holds exactly its tokens.</summary>
    public PrefilledPrompt Prefill(PassKeyPrompt prompt, CancellationToken ct)
    {
        int[] tokens = prompt.Tokens;
        if (!share)
        {
            context.ClearAll();
            return new PrefilledPrompt(Prefix, context.DecodeLast(Prefix, tokens, 0, ct), tokens.Length, 0);
        }
        int target = Math.Min(prompt.SharedPrefixTokens, tokens.Length - 1);
        int keep = PassKeyPromptBuilder.CommonPrefix(CollectionsMarshal.AsSpan(_prefix), tokens.AsSpan(0, target));
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
        context.TrimSequence(Prompt, 0);
        if (target > 0) context.CopySequence(Prefix, Prompt, target);
        float[] logits = context.DecodeLast(Prompt, tokens.AsSpan(target), target, ct);
        int decoded = Math.Max(0, extension) + tokens.Length - target;
        return new PrefilledPrompt(Prompt, logits, decoded, tokens.Length - decoded);
    }

    /// <summary>Drops the last prompt's own cells (with sharing; the shared prefix stays).</summary>
    public void Release()
    {
        if (share) context.TrimSequence(Prompt, 0);
    }
}
