using LongRopeGguf.Gguf;
using System.Globalization;

namespace LongRopeGguf.Search.Evolution;

/// <summary>
/// The range of the attention-factor gene (the cos/sin magnitude llama.cpp reads from rope.scaling.attn_factor), on a
/// grid of <see cref="Step"/> from <see cref="Min"/> to <see cref="Max"/>.
/// </summary>
public sealed record AttentionRange(double Min, double Max, double Step)
{
    /// <summary>Number of grid steps above <see cref="Min"/>: the last one at or below <see cref="Max"/> (rounded to the
    /// nearest, --attn-range 1.2:1.205 evaluated candidates at 1.21).</summary>
    public int MaxIndex => SearchSpace.StepsWithin(Max - Min, Step);

    /// <summary>Whether <see cref="MaxIndex"/> is below the nearest grid point to <see cref="Max"/>, which searches
    /// logged before it was fixed used: such a log is another search (its header says so).</summary>
    public bool TopBelowNearest => MaxIndex != (int)Math.Round((Max - Min) / Step);

    public float ValueOf(int index) => (float)(Min + index * Step);

    public int IndexOf(double value) => Math.Clamp((int)Math.Round((value - Min) / Step), 0, MaxIndex);

    public void Validate()
    {
        if (!(Step > 0) || !double.IsFinite(Step)) throw new BadInputException($"attention factor step {Step.ToString(CultureInfo.InvariantCulture)}: must be > 0");
        string range = $"--attn-range {Min.ToString(CultureInfo.InvariantCulture)}:{Max.ToString(CultureInfo.InvariantCulture)}";
        if (!(Min > 0) || !double.IsFinite(Min)) throw new BadInputException($"{range}: the minimum must be a finite number > 0");
        if (!double.IsFinite(Max)) throw new BadInputException($"{range}: the maximum must be a finite number");
        if (!(Max >= Min)) throw new BadInputException($"{range}: the maximum must be at least the minimum");
        if (MaxIndex > 1_000_000) throw new BadInputException($"{range} in steps of {Step.ToString(CultureInfo.InvariantCulture)}: more than a million grid points");
    }
}

/// <summary>
/// What the search may choose: one rescale factor per RoPE dimension pair in [1, <see cref="MaxFactor"/>] on a grid of
/// <see cref="Step"/>, non-decreasing across dimensions (low dimensions rotate fast and need the least interpolation);
/// the attention factor, searched in <see cref="Attention"/> or fixed at <see cref="FixedAttentionFactor"/>; and in the
/// piecewise variant two boundaries: dimensions below the first stay at 1, from the second on they sit at
/// <see cref="Scale"/>, only those between are searched.
/// Genes are grid indices (integers), so equal genomes are exactly equal and the cache of evaluated genomes needs no
/// floating-point tolerance.
/// </summary>
public sealed record SearchSpace
{
    public SearchSpace(int dimensions, double scale, double maxFactor, double step, AttentionRange? attention, float fixedAttentionFactor, bool piecewise)
    {
        Dimensions = dimensions;
        Scale = scale;
        MaxFactor = maxFactor;
        Step = step;
        Attention = attention;
        FixedAttentionFactor = fixedAttentionFactor;
        Piecewise = piecewise;
        Validate();
    }

    /// <summary>The most factor grid points a space may have (genes are int indices, and a finer grid searches nothing better).</summary>
    public const int MaxGridPoints = 10_000_000;

    /// <summary>Number of factors: rope_dimension_count / 2.</summary>
    public int Dimensions { get; }

    /// <summary>s = target length / original length (the piecewise variant's value above the second boundary).</summary>
    public double Scale { get; }

    /// <summary>Largest factor a gene may take.</summary>
    public double MaxFactor { get; }

    /// <summary>Grid step of the factors.</summary>
    public double Step { get; }

    /// <summary>The attention gene's range; null when the attention factor is fixed.</summary>
    public AttentionRange? Attention { get; }

    /// <summary>The attention factor every candidate uses when <see cref="Attention"/> is null.</summary>
    public float FixedAttentionFactor { get; }

    public bool Piecewise { get; }

    public bool SearchesAttention => Attention is not null;

    /// <summary>Index of the largest factor on the grid (index 0 is factor 1): the last grid point at or below
    /// <see cref="MaxFactor"/>. It was the nearest, up to half a step above (--max-factor 1.3 --step 0.2 gave factors of
    /// 1.4); <see cref="TopBelowNearest"/> tells the spaces where that differs.</summary>
    public int MaxIndex => StepsWithin(MaxFactor - 1, Step);

    /// <summary>Whether <see cref="MaxIndex"/> is below the grid point nearest <see cref="MaxFactor"/>, which searches
    /// logged before it was fixed used: such a log is another search (its header says so).</summary>
    public bool TopBelowNearest => MaxIndex != (int)Math.Round((MaxFactor - 1) / Step);

    /// <summary>Whole steps that fit in <paramref name="span"/>; a span a rounding error short of a whole number of steps
    /// (0.2 / 0.01 = 19.999999999999996) holds that number.</summary>
    internal static int StepsWithin(double span, double step) => (int)Math.Floor(span / step * (1 + 1e-12) + 1e-9);

    /// <summary>Index of <see cref="Scale"/> on the factor grid, clamped to the grid: the piecewise upper value.</summary>
    public int ScaleIndex => Math.Clamp((int)Math.Round((Scale - 1) / Step), 0, MaxIndex);

    public float FactorOf(int index) => (float)(1 + index * Step);

    /// <summary>The nearest grid index of a factor value, clamped to [1, MaxFactor].</summary>
    public int IndexOf(double factor) => double.IsNaN(factor) ? 0 : Math.Clamp((int)Math.Round((factor - 1) / Step), 0, MaxIndex);

    private void Validate()
    {
        var c = CultureInfo.InvariantCulture;
        if (Dimensions < 1 || Dimensions > 4096) throw new BadInputException($"{Dimensions} RoPE dimension pairs: expected 1..4096");
        if (!(Scale > 0) || !double.IsFinite(Scale)) throw new BadInputException($"scale {Scale.ToString(c)}: must be a finite number > 0");
        if (!(Step > 0) || !double.IsFinite(Step)) throw new BadInputException($"--step {Step.ToString(c)}: must be a finite number > 0");
        if (!(MaxFactor >= 1) || !double.IsFinite(MaxFactor)) throw new BadInputException($"--max-factor {MaxFactor.ToString(c)}: must be a finite number >= 1");
        if ((MaxFactor - 1) / Step > MaxGridPoints) throw new BadInputException($"--max-factor {MaxFactor.ToString(c)} in steps of --step {Step.ToString(c)}: more than ten million grid points; use a larger --step");
        if (Piecewise && Math.Abs(MaxFactor - Math.Max(1, Scale)) > Step / 2)
            throw new BadInputException($"piecewise search: the maximum factor must be the scale {Scale.ToString(c)} (dimensions above the second boundary sit at it), not {MaxFactor.ToString(c)}");
        Attention?.Validate();
        if (Attention is null && (!(FixedAttentionFactor > 0) || !float.IsFinite(FixedAttentionFactor)))
            throw new BadInputException($"attention factor {FixedAttentionFactor.ToString(c)}: must be a finite number > 0");
    }

    /// <summary>The genome nearest to the given factors and attention factor: rounded to the grid, clamped to the range,
    /// made non-decreasing (a running maximum), and in the piecewise variant given the boundaries that describe it.</summary>
    public Genome Quantize(IReadOnlyList<float> factors, float attentionFactor)
    {
        if (factors.Count != Dimensions)
            throw new BadInputException($"{factors.Count} factors given; the search space has {Dimensions} (rope_dimension_count / 2)");
        var genes = new int[Dimensions];
        int running = 0;
        for (int i = 0; i < Dimensions; i++)
        {
            running = Math.Max(running, IndexOf(factors[i]));
            genes[i] = running;
        }
        int attention = Attention?.IndexOf(attentionFactor) ?? 0;
        if (!Piecewise) return Normalize(genes, attention, 0, Dimensions);
        if (ScaleIndex < MaxIndex) for (int i = 0; i < Dimensions; i++) genes[i] = Math.Min(genes[i], ScaleIndex);
        int low = 0;
        while (low < Dimensions && genes[low] == 0) low++;
        int high = Dimensions;
        while (high > low && genes[high - 1] == ScaleIndex) high--;
        return Normalize(genes, attention, low, high);
    }

    /// <summary>
    /// The canonical genome for these genes: in the piecewise variant the dimensions outside [low, high) are set to their
    /// fixed values, so that two genomes that decode to the same factors are equal (and are evaluated once).
    /// </summary>
    public Genome Normalize(int[] genes, int attentionIndex, int low, int high)
    {
        if (genes.Length != Dimensions) throw new ArgumentException($"{genes.Length} genes; expected {Dimensions}");
        if (!Piecewise) { low = 0; high = Dimensions; }
        low = Math.Clamp(low, 0, Dimensions);
        high = Math.Clamp(high, low, Dimensions);
        int top = Piecewise ? ScaleIndex : MaxIndex;
        for (int i = 0; i < Dimensions; i++)
        {
            if (i < low) genes[i] = 0;
            else if (i >= high) genes[i] = top;
            else genes[i] = Math.Clamp(genes[i], 0, top);
        }
        if (!SearchesAttention) attentionIndex = 0;
        else attentionIndex = Math.Clamp(attentionIndex, 0, Attention!.MaxIndex);
        return new Genome(genes, attentionIndex, low, high);
    }

    /// <summary>Whether a genome is valid here: genes on the grid, non-decreasing, fixed outside the piecewise bounds.</summary>
    public bool IsValid(Genome g)
    {
        if (g.Genes.Length != Dimensions) return false;
        int top = Piecewise ? ScaleIndex : MaxIndex;
        for (int i = 0; i < Dimensions; i++)
        {
            int v = g.Genes[i];
            if (v < 0 || v > top) return false;
            if (i > 0 && v < g.Genes[i - 1]) return false;
            if (Piecewise && i < g.Low && v != 0) return false;
            if (Piecewise && i >= g.High && v != top) return false;
        }
        if (SearchesAttention ? g.AttentionIndex < 0 || g.AttentionIndex > Attention!.MaxIndex : g.AttentionIndex != 0) return false;
        return Piecewise ? g.Low >= 0 && g.Low <= g.High && g.High <= Dimensions : g.Low == 0 && g.High == Dimensions;
    }

    /// <summary>The factor values a genome stands for.</summary>
    public float[] FactorsOf(Genome g)
    {
        var f = new float[Dimensions];
        for (int i = 0; i < Dimensions; i++) f[i] = FactorOf(g.Genes[i]);
        return f;
    }

    public float AttentionFactorOf(Genome g) => Attention?.ValueOf(g.AttentionIndex) ?? FixedAttentionFactor;
}
