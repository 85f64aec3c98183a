using LongRopeGguf.Search.Evolution;

namespace LongRopeGguf.Search.Tests;

public class GeneticOperatorTests
{
    private static SearchSpace Space(bool piecewise = false, bool attention = true) => new(
        dimensions: 32, scale: 8, maxFactor: piecewise ? 8 : 10, step: 0.01,
        attention: attention ? new AttentionRange(1.0, 2.0, 0.01) : null, fixedAttentionFactor: 1.1f, piecewise: piecewise);

    private static Genome RandomGenome(SearchSpace space, Random r)
    {
        var f = Enumerable.Range(0, space.Dimensions).Select(_ => (float)(1 + r.NextDouble() * (space.MaxFactor - 1))).Order().ToArray();
        if (space.Piecewise)
        {
            int low = r.Next(space.Dimensions / 2), high = low + r.Next(space.Dimensions - low + 1);
            for (int i = 0; i < f.Length; i++) f[i] = i < low ? 1f : i >= high ? (float)space.Scale : Math.Min(f[i], (float)space.Scale - 0.01f);
        }
        return space.Quantize(f, (float)(1 + r.NextDouble()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Mutations_are_valid_non_decreasing_new_and_change_something(bool piecewise)
    {
        var space = Space(piecewise);
        var r = new Random(7);
        var ops = new GeneticOperators(space, new EvolutionSettings(), r);
        var seen = new HashSet<Genome>();
        int changedAttention = 0, movedBounds = 0;
        for (int k = 0; k < 500; k++)
        {
            var parent = RandomGenome(space, r);
            Assert.True(space.IsValid(parent), parent.Key);
            seen.Add(parent);
            var child = ops.Mutate(parent, seen);
            Assert.NotNull(child);
            Assert.True(space.IsValid(child), $"invalid child {child.Key} of {parent.Key}");
            for (int i = 1; i < child.Genes.Length; i++) Assert.True(child.Genes[i] >= child.Genes[i - 1]);
            Assert.DoesNotContain(child, seen);
            Assert.NotEqual(parent, child);
            if (child.AttentionIndex != parent.AttentionIndex) changedAttention++;
            if (child.Low != parent.Low || child.High != parent.High) movedBounds++;
            seen.Add(child);
        }
        // Each gene changes with probability 0.3: the attention gene (and the boundaries) must actually move sometimes.
        Assert.InRange(changedAttention, 100, 250);
        if (piecewise) Assert.InRange(movedBounds, 80, 250); else Assert.Equal(0, movedBounds);
    }

    [Fact]
    public void Mutation_keeps_the_attention_gene_fixed_when_it_is_not_searched()
    {
        var space = Space(attention: false);
        var ops = new GeneticOperators(space, new EvolutionSettings(), new Random(3));
        var parent = space.Quantize(SyntheticFitness.Curve(32, 6), 1.5f);
        Assert.Equal(1.1f, space.AttentionFactorOf(parent));
        var seen = new HashSet<Genome> { parent };
        for (int k = 0; k < 100; k++)
        {
            var child = ops.Mutate(parent, seen)!;
            Assert.Equal(0, child.AttentionIndex);
            Assert.Equal(1.1f, space.AttentionFactorOf(child));
            seen.Add(child);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Crossovers_are_valid_new_and_take_genes_only_from_the_parents(bool piecewise)
    {
        var space = Space(piecewise);
        var r = new Random(11);
        var ops = new GeneticOperators(space, new EvolutionSettings(), r);
        var seen = new HashSet<Genome>();
        int made = 0;
        for (int k = 0; k < 300; k++)
        {
            var a = RandomGenome(space, r);
            // The second parent: a few mutations away, as parents of one population mostly are.
            var b = a;
            for (int m = 0; m < 3; m++) b = ops.Mutate(b, seen) ?? b;
            seen.Add(a);
            seen.Add(b);
            var child = ops.Crossover(a, b, seen);
            if (child is null) continue;
            made++;
            Assert.True(space.IsValid(child), child.Key);
            Assert.DoesNotContain(child, seen);
            Assert.True(child.AttentionIndex == a.AttentionIndex || child.AttentionIndex == b.AttentionIndex);
            for (int i = 0; i < child.Genes.Length; i++)
            {
                bool fixedOutside = piecewise && (i < child.Low || i >= child.High);
                Assert.True(fixedOutside || child.Genes[i] == a.Genes[i] || child.Genes[i] == b.Genes[i], $"gene {i} from neither parent");
            }
            seen.Add(child);
        }
        Assert.True(made > 200, $"only {made} of 300 crossovers succeeded");
    }

    [Fact]
    public void A_crossover_never_gives_a_genome_already_seen()
    {
        // Two dimensions, factors 1 to 2 in steps of 0.5: parents [1, 2] and [1.5, 1.5] have two children of their genes
        // that are neither parent, [1, 1.5] and [1.5, 2]. With the first seen, only the second may come; with both
        // seen, none. (Among 32 random dimensions a child almost never met a seen genome, so a crossover that
        // returned one passed every other test.)
        var space = new SearchSpace(2, 2, 2, 0.5, null, 1f, piecewise: false);
        var a = space.Quantize([1f, 2f], 1f);
        var b = space.Quantize([1.5f, 1.5f], 1f);
        var seenChild = space.Quantize([1f, 1.5f], 1f);
        var newChild = space.Quantize([1.5f, 2f], 1f);
        for (int s = 0; s < 50; s++)
        {
            var child = new GeneticOperators(space, new EvolutionSettings(), new Random(s)).Crossover(a, b, new HashSet<Genome> { a, b, seenChild });
            Assert.True(child is null || child.Equals(newChild), $"seed {s}: {child?.Key}");
            Assert.Null(new GeneticOperators(space, new EvolutionSettings(), new Random(s)).Crossover(a, b, new HashSet<Genome> { a, b, seenChild, newChild }));
        }
    }

    [Fact]
    public void Crossover_of_a_genome_with_itself_gives_nothing()
    {
        var space = Space();
        var g = space.Quantize(SyntheticFitness.Curve(32, 5), 1.2f);
        Assert.Null(new GeneticOperators(space, new EvolutionSettings(), new Random(1)).Crossover(g, g, new HashSet<Genome>()));
    }

    [Fact]
    public void Mutation_gives_up_when_every_neighbour_was_seen()
    {
        // Two dimensions, factors 1 or 1.5, no attention gene: 3 non-decreasing genomes in all.
        var space = new SearchSpace(2, 1.5, 1.5, 0.5, null, 1f, piecewise: false);
        var ops = new GeneticOperators(space, new EvolutionSettings(), new Random(5));
        var all = new HashSet<Genome> { space.Quantize([1f, 1f], 1f), space.Quantize([1f, 1.5f], 1f), space.Quantize([1.5f, 1.5f], 1f) };
        Assert.Null(ops.Mutate(space.Quantize([1f, 1f], 1f), all));
    }
}
