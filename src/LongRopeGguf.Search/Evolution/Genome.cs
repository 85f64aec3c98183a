using System.Collections.Immutable;
using System.Text;

namespace LongRopeGguf.Search.Evolution;

/// <summary>
/// One candidate of the search as grid indices: factor gene i stands for 1 + Genes[i] x step (see
/// <see cref="SearchSpace"/>), <see cref="AttentionIndex"/> for the attention factor (0 when it is fixed), and
/// [<see cref="Low"/>, <see cref="High"/>) for the searched dimensions of the piecewise variant (all of them otherwise).
/// Made canonical by <see cref="SearchSpace.Normalize"/>; compared by value.
/// </summary>
public sealed class Genome : IEquatable<Genome>
{
    internal Genome(int[] genes, int attentionIndex, int low, int high)
    {
        Genes = ImmutableArray.Create(genes);
        AttentionIndex = attentionIndex;
        Low = low;
        High = high;
        Key = BuildKey();
    }

    public ImmutableArray<int> Genes { get; }

    public int AttentionIndex { get; }

    public int Low { get; }

    public int High { get; }

    /// <summary>A compact text form, unique per genome: the cache key in memory and in the search log.</summary>
    public string Key { get; }

    private string BuildKey()
    {
        var sb = new StringBuilder(Genes.Length * 4 + 16);
        for (int i = 0; i < Genes.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(Genes[i]);
        }
        sb.Append("|a").Append(AttentionIndex).Append("|p").Append(Low).Append(',').Append(High);
        return sb.ToString();
    }

    public bool Equals(Genome? other) => other is not null && Key == other.Key;

    public override bool Equals(object? obj) => Equals(obj as Genome);

    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Key;
}
