using LongRopeGguf.Evaluation.Engine;

namespace LongRopeGguf.Evaluation.Perplexity;

/// <summary>Perplexity of a text at one window length; <see cref="ByPosition"/> when asked for (else empty).</summary>
public sealed record PerplexityResult(int Windows, long ScoredTokens, double MeanNll, IReadOnlyList<PositionBucket> ByPosition)
{
    public double Perplexity => Math.Exp(MeanNll);
}

/// <summary>
/// The mean NLL of the tokens at window positions <see cref="Start"/> .. <see cref="End"/> - 1 (position p is predicted
/// from the p tokens before it, BOS included), over all windows: how well the model uses more and more context, and
/// where in a long window a factor set stops working.
/// </summary>
public sealed record PositionBucket(int Start, int End, long Tokens, double MeanNll)
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

    /// <summary>Perplexity over up to <paramref name="maxWindows"/> windows of <paramref name="windowLength"/> tokens;
    /// with <paramref name="positionBuckets"/> > 0 also the NLL of every predicted position 1 .. W-1, in that many
    /// equal ranges (the perplexity itself stays that of the second halves).</summary>
    public PerplexityResult Score(ReadOnlySpan<int> textTokens, int windowLength, int maxWindows, int positionBuckets = 0, CancellationToken ct = default)
    {
        if (positionBuckets < 0 || positionBuckets > windowLength - 1)
            throw new EvalInputException($"--by-position {positionBuckets}: expected 1 to {windowLength - 1} ranges for {windowLength}-token windows");
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
        // Bucket k holds predicted positions edges[k] .. edges[k+1]-1 (positions 1 .. W-1 split as evenly as integers allow).
        int[] edges = Enumerable.Range(0, positionBuckets + 1).Select(k => 1 + (int)((long)k * (windowLength - 1) / Math.Max(1, positionBuckets))).ToArray();
        var bucketNll = new double[positionBuckets];
        var bucketTokens = new long[positionBuckets];
        var window = new int[windowLength];
        for (int w = 0; w < windows; w++)
        {
            _bos.CopyTo(window, 0);
            textTokens.Slice(w * body, body).CopyTo(window.AsSpan(_bos.Length));
            _context.ClearAll();
            _context.Decode(0, window, 0, i => (positionBuckets > 0 || i >= first) && i < windowLength - 1, (i, logits) =>
            {
                double x = NegativeLogLikelihood(logits, window[i + 1]);
                if (positionBuckets > 0)
                {
                    int k = Array.BinarySearch(edges, i + 1);
                    k = k >= 0 ? Math.Min(k, positionBuckets - 1) : ~k - 1;
                    bucketNll[k] += x;
                    bucketTokens[k]++;
                }
                if (i < first) return;
                nll += x;
                scored++;
            }, ct);
        }
        _context.ClearAll();
        var byPosition = Enumerable.Range(0, positionBuckets)
            .Select(k => new PositionBucket(edges[k], edges[k + 1], bucketTokens[k], bucketNll[k] / bucketTokens[k])).ToList();
        return new PerplexityResult(windows, scored, nll / scored, byPosition);
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
