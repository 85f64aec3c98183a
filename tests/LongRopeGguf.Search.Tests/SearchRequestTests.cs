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
}
