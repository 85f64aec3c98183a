namespace LongRopeGguf.Search.Evolution;

/// <summary>
/// Mutation and crossover on genomes of one <see cref="SearchSpace"/>. Every child they return is valid (on the grid,
/// non-decreasing, canonical) and not in the given set of genomes already seen; they return null when they find none.
/// All randomness comes from the one <see cref="Random"/> passed in, so a search is reproducible from its seed.
/// </summary>
public sealed class GeneticOperators(SearchSpace space, EvolutionSettings settings, Random random)
{
    /// <summary>
    /// Changes each searched gene with probability <see cref="EvolutionSettings.MutationProbability"/>. A factor gene
    /// takes a uniformly drawn grid value between its two neighbours (the first between 1 and its right neighbour, the
    /// last between its left neighbour and the maximum), so the genome stays non-decreasing; the attention gene moves by
    /// a rounded normal step; piecewise boundaries move by a rounded normal step too.
    /// </summary>
    public Genome? Mutate(Genome parent, IReadOnlySet<Genome> seen)
    {
        for (int attempt = 0; attempt < settings.MaxMutationTries; attempt++)
        {
            var genes = parent.Genes.ToArray();
            int low = parent.Low, high = parent.High;
            if (space.Piecewise && random.NextDouble() < settings.MutationProbability)
                (low, high) = MoveBoundary(low, high);
            int top = space.Piecewise ? space.ScaleIndex : space.MaxIndex;
            // Fix the genes outside the (possibly moved) bounds first: 0 below, top from the upper bound on. That keeps
            // the genome non-decreasing and makes them the right neighbours for the searched genes next to them.
            for (int d = 0; d < genes.Length; d++)
                if (d < low) genes[d] = 0; else if (d >= high) genes[d] = top;
            for (int d = low; d < high; d++)
            {
                if (random.NextDouble() >= settings.MutationProbability) continue;
                int lower = d == 0 ? 0 : genes[d - 1];
                int upper = d == genes.Length - 1 ? top : genes[d + 1];
                genes[d] = lower + random.Next(upper - lower + 1);
            }
            int attention = parent.AttentionIndex;
            if (space.Attention is { } range && random.NextDouble() < settings.MutationProbability)
            {
                double sigmaSteps = Math.Max(1, settings.AttentionMutationSigma / range.Step);
                int delta = (int)Math.Round(NextGaussian() * sigmaSteps);
                if (delta == 0) delta = random.Next(2) == 0 ? -1 : 1;
                attention += delta;
            }
            var child = space.Normalize(genes, attention, low, high);
            if (space.IsValid(child) && !child.Equals(parent) && !seen.Contains(child)) return child;
        }
        return null;
    }

    /// <summary>
    /// A child of two parents: either uniform (each factor gene from either parent) or one-point (the first parent's
    /// genes below a cut, the second's from it on); the attention gene and (as a pair) the piecewise boundaries come
    /// from either parent. Children that break monotonicity, equal a parent or were seen are rejected; after
    /// <see cref="EvolutionSettings.MaxCrossoverTries"/> tries it returns null (LongRoPE then mutates the first parent).
    /// </summary>
    public Genome? Crossover(Genome first, Genome second, IReadOnlySet<Genome> seen)
    {
        if (first.Equals(second)) return null;
        int n = space.Dimensions;
        for (int attempt = 0; attempt < settings.MaxCrossoverTries; attempt++)
        {
            var genes = new int[n];
            if (n > 1 && random.Next(2) == 0)
            {
                int cut = 1 + random.Next(n - 1);
                for (int i = 0; i < n; i++) genes[i] = i < cut ? first.Genes[i] : second.Genes[i];
            }
            else
            {
                for (int i = 0; i < n; i++) genes[i] = random.Next(2) == 0 ? first.Genes[i] : second.Genes[i];
            }
            var bounds = random.Next(2) == 0 ? first : second;
            int attention = random.Next(2) == 0 ? first.AttentionIndex : second.AttentionIndex;
            var child = space.Normalize(genes, attention, bounds.Low, bounds.High);
            if (!space.IsValid(child)) continue;
            if (child.Equals(first) || child.Equals(second) || seen.Contains(child)) continue;
            return child;
        }
        return null;
    }

    private (int Low, int High) MoveBoundary(int low, int high)
    {
        int n = space.Dimensions;
        for (int tries = 0; tries < 20; tries++)
        {
            int delta = (int)Math.Round(NextGaussian() * settings.BoundaryMutationSigma);
            if (delta == 0) delta = random.Next(2) == 0 ? -1 : 1;
            int newLow = low, newHigh = high;
            if (random.Next(2) == 0) newLow += delta; else newHigh += delta;
            if (newLow >= 0 && newLow <= newHigh && newHigh <= n) return (newLow, newHigh);
        }
        return (low, high);
    }

    /// <summary>A standard normal draw (Box-Muller) from the search's generator.</summary>
    private double NextGaussian()
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
