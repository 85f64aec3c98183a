using LongRopeGguf.Gguf;
using LongRopeGguf.Search.Llama;

namespace LongRopeGguf.Search.Tests;

public class SearchRequestTests
{
    [Theory]
    [InlineData(4.0, 1.14)]   // 0.1 ln 4 + 1 = 1.1386
    [InlineData(8.0, 1.21)]   // 1.2079
    [InlineData(16.0, 1.28)]  // 1.2773
    [InlineData(32.0, 1.35)]  // 1.3466
    public void The_default_attention_range_with_pass_keys_runs_from_yarns_value_on_the_grid_to_0_2_above(double scale, double min)
    {
        foreach (var kind in new[] { FitnessKind.PassKey, FitnessKind.Mix })
        {
            var (lo, hi) = SearchRequest.DefaultAttentionRange(kind, scale, 512, 0.01);
            Assert.Equal(min, lo, 1e-9);
            Assert.Equal(min + SearchRequest.DefaultAttentionSpan, hi, 1e-9);
        }
    }

    [Fact]
    public void Perplexity_alone_keeps_the_wide_default_range()
    {
        Assert.Equal((1.0, 2.0), SearchRequest.DefaultAttentionRange(FitnessKind.Perplexity, 16, 512, 0.01));
    }

    [Theory]
    [InlineData(0.0, 0.6931471805599453)]          // ln 2: the border between a right and a wrong key
    [InlineData(2.0, 2.1269280110429727)]          // ln(1 + e^2)
    [InlineData(-2.0, 0.12692801104297263)]
    [InlineData(40.0, 40.0)]                       // large: x itself, no overflow
    [InlineData(-40.0, 4.248354255291589E-18)]     // very negative: e^x, not 0
    [InlineData(double.PositiveInfinity, double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity, 0.0)]
    public void Softplus_is_accurate_at_both_ends(double x, double expected) =>
        Assert.Equal(expected, FitnessSpec.Softplus(x), 1e-12 * Math.Max(1, Math.Abs(expected)));

    [Fact]
    public void The_margin_loss_of_an_answer_is_softplus_of_minus_its_worst_margin_and_the_nll_loss_its_mean_nll()
    {
        var answer = new Evaluation.Perplexity.AnswerLikelihood(5, 2.5, GreedyMatches: false, MinMargin: -1.5);
        Assert.Equal(FitnessSpec.Softplus(1.5), new FitnessSpec { PassKeyLoss = PassKeyLoss.Margin }.LossOf(answer), 12);
        Assert.Equal(0.5, new FitnessSpec().LossOf(answer), 12);
        // A right answer costs less than ln 2, a wrong one more; an empty answer (margin +infinity) nothing; NaN stays NaN.
        var margin = new FitnessSpec { PassKeyLoss = PassKeyLoss.Margin };
        Assert.True(margin.LossOf(answer with { MinMargin = 0.1 }) < Math.Log(2));
        Assert.True(margin.LossOf(answer with { MinMargin = -0.1 }) > Math.Log(2));
        Assert.Equal(0.0, margin.LossOf(new Evaluation.Perplexity.AnswerLikelihood(0, 0, true)));
        Assert.True(double.IsNaN(margin.LossOf(answer with { MinMargin = double.NaN })));
    }

    [Theory]
    [InlineData(PassKeyDepths.Centered, 4, new[] { 0.125, 0.375, 0.625, 0.875 })]
    [InlineData(PassKeyDepths.Ends, 4, new[] { 0.0, 1.0 / 3, 2.0 / 3, 1.0 })]
    [InlineData(PassKeyDepths.Ends, 1, new[] { 0.5 })]   // one prompt: the middle, as eval niah's one-depth grid
    public void Needle_depths_are_centered_or_run_from_end_to_end(PassKeyDepths depths, int prompts, double[] expected)
    {
        var spec = new FitnessSpec { PassKeyDepths = depths, PassKeyPrompts = prompts };
        Assert.Equal(expected, Enumerable.Range(0, prompts).Select(spec.DepthOf), new ToleranceComparer(1e-12));
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double x) => 0;
    }

    [Theory]
    [InlineData("3.8", 3.8, null)]
    [InlineData(" 12 ", 12.0, null)]
    [InlineData("Critical", null, "critical")]
    [InlineData("init", null, "init")]
    public void The_perplexity_bound_is_a_number_or_a_seeds_name(string text, double? value, string? seed) =>
        Assert.Equal((value, seed), FitnessSpec.ParseMaxPerplexity(text));

    [Theory]
    [InlineData("")]
    [InlineData("3,8")]
    [InlineData("yarn x2")]
    public void Anything_else_as_a_perplexity_bound_is_refused_naming_the_option(string text) =>
        Assert.StartsWith($"--max-ppl '{text}': expected a perplexity", Assert.Throws<BadInputException>(() => FitnessSpec.ParseMaxPerplexity(text)).Message);

    [Fact]
    public void Within_the_bound_the_loss_decides_outside_it_the_distance_and_every_candidate_within_ranks_first()
    {
        const double bound = 4.0;
        Assert.Equal(0.37, FitnessSpec.BoundedValue(0.37, 3.99, bound));
        Assert.Equal(0.37, FitnessSpec.BoundedValue(0.37, bound, bound)); // the bound itself is within
        double justOutside = FitnessSpec.BoundedValue(0.01, 4.001, bound);
        double farOutside = FitnessSpec.BoundedValue(0.01, 8.0, bound);
        Assert.Equal(FitnessSpec.OutsideBoundBase + Math.Log(4.001 / 4), justOutside, 12);
        Assert.Equal(FitnessSpec.OutsideBoundBase + Math.Log(2), farOutside, 12);
        // A candidate within the bound with a terrible loss still ranks before one just outside with a perfect loss.
        Assert.True(FitnessSpec.BoundedValue(50, 3.0, bound) < justOutside);
        Assert.True(justOutside < farOutside);
        Assert.True(double.IsNaN(FitnessSpec.BoundedValue(0.1, double.NaN, bound))); // the fitness makes it +infinity
    }

    [Fact]
    public void A_bound_needs_a_text_and_a_pass_key_part_and_is_a_number_or_a_seed_not_both()
    {
        var spec = new FitnessSpec { Kind = FitnessKind.PassKey, TargetLength = 1024, Haystack = "filler", MaxPerplexitySeed = "critical" };
        Assert.True(spec.UsesText);
        Assert.Equal("--max-ppl bounds the perplexity of a text: give it with --text FILE", Assert.Throws<BadInputException>(spec.Validate).Message);
        var withText = spec with { TextPath = "t.txt" };
        withText.Validate();
        Assert.Contains("--max-ppl with fitness ppl", Assert.Throws<BadInputException>((withText with { Kind = FitnessKind.Perplexity }).Validate).Message);
        Assert.Contains("not both", Assert.Throws<BadInputException>((withText with { MaxPerplexity = 4 }).Validate).Message);
        Assert.Contains("at least 1", Assert.Throws<BadInputException>((withText with { MaxPerplexitySeed = null, MaxPerplexity = double.PositiveInfinity }).Validate).Message);
        Assert.False((withText with { MaxPerplexitySeed = null }).UsesText);
    }
}
