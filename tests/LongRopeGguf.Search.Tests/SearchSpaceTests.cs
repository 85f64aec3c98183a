using LongRopeGguf.Gguf;
using LongRopeGguf.Search.Evolution;

namespace LongRopeGguf.Search.Tests;

public class SearchSpaceTests
{
    [Theory]
    [InlineData(1.2, 1.205, 0.01, 0, true)]     // 1.21 was searched: the top was rounded to the nearest grid point
    [InlineData(1.001, 1.004, 0.01, 0, false)]
    [InlineData(1.35, 1.55, 0.01, 20, false)]   // 0.2 / 0.01 is 19.999999999999996 in doubles: still 20 steps
    [InlineData(1.14, 1.3, 0.01, 16, false)]
    [InlineData(1, 2, 0.01, 100, false)]
    public void The_attention_grid_never_goes_above_the_ranges_maximum(double min, double max, double step, int steps, bool moved)
    {
        var range = new AttentionRange(min, max, step);
        Assert.Equal(steps, range.MaxIndex);
        Assert.True(range.ValueOf(range.MaxIndex) <= max + 1e-6, $"{range.ValueOf(range.MaxIndex)} > {max}");
        Assert.Equal(range.MaxIndex, range.IndexOf(max + 1));
        // Where the top moved, a log of the old grid is another search (the header says max_index); elsewhere the same grid.
        Assert.Equal(moved, range.TopBelowNearest);
    }

    [Fact]
    public void A_range_whose_top_moved_down_says_so_and_its_logs_are_another_search()
    {
        // 1.2:1.207 searched up to 1.21 before the top was kept within the range: a log of it must not resume on 1.2 alone.
        var range = new AttentionRange(1.2, 1.207, 0.01);
        Assert.Equal(0, range.MaxIndex);
        Assert.True(range.TopBelowNearest);
    }

    [Theory]
    [InlineData(1.875, 0.01, 87, true)]   // 1.5x's default maximum: 1.88 was searched, half a step above (logs of it are another search)
    [InlineData(2.5, 0.01, 150, false)]
    [InlineData(40, 0.01, 3900, false)]
    [InlineData(10, 0.3, 30, false)]
    [InlineData(1.3, 0.2, 1, true)]       // --max-factor 1.3 --step 0.2 gave factors of 1.4
    [InlineData(3.75, 0.1, 27, true)]     // 3x's default maximum with --step 0.1: 3.8 before
    public void The_factor_grid_never_goes_above_the_maximum_factor(double maxFactor, double step, int steps, bool moved)
    {
        var space = new SearchSpace(4, Math.Min(maxFactor, 2), maxFactor, step, null, 1f, piecewise: false);
        Assert.Equal(steps, space.MaxIndex);
        Assert.InRange(space.FactorOf(space.MaxIndex), maxFactor - step - 1e-6, maxFactor + 1e-6);
        Assert.Equal(space.MaxIndex, space.IndexOf(maxFactor + 1));
        Assert.Equal(moved, space.TopBelowNearest);
        // Where the top moved, the log header says so: a log of the old grid is another search; elsewhere it is unchanged.
        var search = new EvolutionSearch(space, new EvolutionSettings { Population = 2, Parents = 1, Mutations = 1, Crossovers = 1, Iterations = 1 },
            [new SearchSeed("ones", [1f, 1f, 1f, 1f], 1f)], new SyntheticFitness([1f, 1f, 1f, 1f], 1f));
        Assert.Equal(moved, search.Describe()["space"]!.AsObject().ContainsKey("max_index"));
    }

    [Fact]
    public void Quantize_rounds_to_the_grid_clamps_and_makes_the_factors_non_decreasing()
    {
        var space = new SearchSpace(4, 4, 5, 0.01, new AttentionRange(1, 2, 0.01), 1f, piecewise: false);
        var g = space.Quantize([0.5f, 2.0049f, 1.5f, 7f], 1.234f);
        Assert.Equal([0, 100, 100, 400], g.Genes.ToArray());
        Assert.Equal([1f, 2f, 2f, 5f], space.FactorsOf(g));
        Assert.Equal(23, g.AttentionIndex);
        Assert.Equal(1.23f, space.AttentionFactorOf(g), 5);
        Assert.True(space.IsValid(g));
    }

    [Fact]
    public void Piecewise_quantize_finds_the_boundaries_and_fixes_the_dimensions_outside_them()
    {
        var space = new SearchSpace(8, 4, 4, 0.01, null, 1.2f, piecewise: true);
        var g = space.Quantize([1f, 1f, 1.5f, 2f, 3f, 4f, 4f, 4f], 9f);
        Assert.Equal(2, g.Low);
        Assert.Equal(5, g.High);
        Assert.Equal([1f, 1f, 1.5f, 2f, 3f, 4f, 4f, 4f], space.FactorsOf(g));
        Assert.Equal(1.2f, space.AttentionFactorOf(g));

        // Genes outside the bounds are overwritten: equal decoded factors make equal genomes (one evaluation).
        var a = space.Normalize([7, 9, 50, 100, 200, 1, 2, 3], 0, 2, 5);
        var b = space.Normalize([0, 0, 50, 100, 200, 300, 300, 300], 0, 2, 5);
        Assert.Equal(a, b);
        Assert.Equal(a.Key, b.Key);
    }

    [Theory]
    [InlineData(0, 8, 10, 0.01, "RoPE dimension pairs")]
    [InlineData(32, 8, 0.5, 0.01, "--max-factor 0.5: must be a finite number >= 1")]
    [InlineData(32, 8, 10, 0, "--step 0: must be a finite number > 0")]
    [InlineData(32, 8, 1e9, 1e-6, "ten million")]
    public void Bad_spaces_are_refused_with_a_message_naming_the_value(int dims, double scale, double max, double step, string expected)
    {
        var e = Assert.Throws<BadInputException>(() => new SearchSpace(dims, scale, max, step, null, 1f, piecewise: false));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_piecewise_space_must_top_out_at_the_scale()
    {
        var e = Assert.Throws<BadInputException>(() => new SearchSpace(32, 8, 10, 0.01, null, 1f, piecewise: true));
        Assert.Contains("must be the scale 8", e.Message);
    }

    [Fact]
    public void Quantize_refuses_a_factor_count_that_does_not_fit()
    {
        var space = new SearchSpace(32, 8, 10, 0.01, null, 1f, piecewise: false);
        var e = Assert.Throws<BadInputException>(() => space.Quantize(new float[16], 1f));
        Assert.Contains("16 factors", e.Message);
    }
}
