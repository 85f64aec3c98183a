using LongRopeGguf.Evaluation.Engine;

namespace LongRopeGguf.Evaluation.Perplexity;

/// <summary>Perplexity of a text at one window length.</summary>
public sealed record PerplexityResult(int WindowLength, int Windows, long ScoredTokens, double MeanNll)
{
    public double Perplexity => Math.Exp(MeanNll);
}

/// <summary>
/// Scores text with an already created context. Perplexity method (like llama-perplexity, but without losing a text
/// token to BOS): the text's tokens are cut into consecutive, non-overlapping windows of W-1 tokens, each run as
/// BOS + window in a fresh KV cache (W tokens, the context length being measured); the tokens predicted in the second
/// half of the window (positions W/2+1 .. W-1, each predicted from everything before it in the window) are scored, so
/// every scored token has at least W/2 tokens of context. Perplexity = exp(mean negative log-likelihood).
/// </summary>
public sealed class PerplexityScorer
{
    private readonly EvalContext _context;
    private readonly int[] _bos;

    public PerplexityScorer(EvalContext context)
    {
        _context = context;
        _bos = context.Model.Tokenize("", addBos: true);
    }

    /// <summary>How many windows of <paramref name="windowLength"/> tokens a text of <paramref name="textTokens"/> tokens gives.</summary>
    public static int WindowsAvailable(int textTokens, int windowLength, int bosTokens = 1) =>
        windowLength - bosTokens <= 0 ? 0 : textTokens / (windowLength - bosTokens);

    /// <summary>Perplexity over up to <paramref name="maxWindows"/> windows of <paramref name="windowLength"/> tokens.</summary>
    public PerplexityResult Score(ReadOnlySpan<int> textTokens, int windowLength, int maxWindows, CancellationToken ct = default)
    {
        int body = windowLength - _bos.Length;
        if (body < 2) throw new EvalInputException($"window of {windowLength} tokens is too short to score");
        if (windowLength > _context.ContextSize)
            throw new ArgumentException($"window of {windowLength} tokens does not fit the {_context.ContextSize}-token context");
        int windows = Math.Min(maxWindows, textTokens.Length / body);
        if (windows < 1)
            throw new EvalInputException($"text has {textTokens.Length} tokens, fewer than one {windowLength}-token window needs ({body} + BOS)");

        int first = windowLength / 2; // logits at positions first .. W-2 predict tokens first+1 .. W-1
        double nll = 0;
        long scored = 0;
        var window = new int[windowLength];
        for (int w = 0; w < windows; w++)
        {
            _bos.CopyTo(window, 0);
            textTokens.Slice(w * body, body).CopyTo(window.AsSpan(_bos.Length));
            _context.ClearAll();
            _context.Decode(0, window, 0, i => i >= first && i < windowLength - 1, (i, logits) =>
            {
                nll += NegativeLogLikelihood(logits, window[i + 1]);
                scored++;
            }, ct);
        }
        _context.ClearAll();
        return new PerplexityResult(windowLength, windows, scored, nll / scored);
    }

    /// <summary>-log softmax(logits)[target], computed stably in double precision.</summary>
    public static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        float max = float.NegativeInfinity;
        foreach (float x in logits) if (x > max) max = x;
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);
        return Math.Log(sum) + max - logits[target];
    }
}
