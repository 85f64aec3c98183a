namespace LongRopeGguf.Evaluation.Statistics;

/// <summary>
/// The exact two-sided sign test (McNemar's exact test) for two modes answering the same prompts: of the prompts where
/// exactly one of them is right, how unlikely is a split at least this uneven if either were equally likely to be the
/// one. Prompts both get right or both get wrong say nothing about which is better, so they do not count.
/// </summary>
public static class SignTest
{
    /// <summary>Two-sided p-value for <paramref name="onlyA"/> prompts only A got right and <paramref name="onlyB"/> only B got right.</summary>
    public static double TwoSidedP(int onlyA, int onlyB)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(onlyA);
        ArgumentOutOfRangeException.ThrowIfNegative(onlyB);
        int n = onlyA + onlyB, k = Math.Min(onlyA, onlyB);
        if (n == 0 || onlyA == onlyB) return 1;
        // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so that large n does not underflow 2^-n.
        double logTerm = -n * Math.Log(2), tail = 0;
        for (int i = 0; i <= k; i++)
        {
            tail += Math.Exp(logTerm);
            logTerm += Math.Log((n - i) / (double)(i + 1)); // C(n, i+1) = C(n, i) (n - i) / (i + 1)
        }
        return Math.Min(1, 2 * tail);
    }
}
