using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope.Formats;
using LongRopeGguf.Tests;

namespace LongRopeGguf.LongRope.Tests;

/// <summary>The factor files that docs/search.md reports on (docs/search-results/) are what `longrope search` writes
/// and what `longrope patch` takes: each reads, keeps the search's constraints, and patches the tiny model into a file
/// the verifier passes, with the scale and attention factor that the docs quote.</summary>
public class SearchedFactorFilesTests
{
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "docs", "search-results"), "*.factors.json").Order())
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void A_shipped_searched_factor_file_patches_the_tiny_model_into_a_verified_file(string name)
    {
        string path = Path.Combine(TestPaths.RepoRoot, "docs", "search-results", name);
        var set = FactorSetReader.Read(path);
        int length = int.Parse(name.Split('-')[2].Split('.')[0]);

        Assert.Equal(512, set.OriginalContextLength);
        Assert.Equal(length, set.ContextLength);
        Assert.Equal(32, set.LongFactors.Length);
        double scale = length / 512.0;
        for (int i = 0; i < set.LongFactors.Length; i++)
        {
            // The search's space: on the 0.01 grid, in [1, 1.25 x scale], non-decreasing.
            Assert.InRange(set.LongFactors[i], 1f, (float)(1.25 * scale) + 1e-4f);
            Assert.Equal(Math.Round(set.LongFactors[i], 2), set.LongFactors[i], 1e-4);
            if (i > 0) Assert.True(set.LongFactors[i] >= set.LongFactors[i - 1], $"{name}: factor {i} decreases");
        }
        Assert.All(set.ShortFactors, f => Assert.Equal(1f, f));
        Assert.InRange(set.AttentionFactor, 1f, 2f);

        using var dir = new TempDir();
        string patched = dir.File("patched.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, set, patched);
        var report = LongRopeVerifier.Verify(patched);
        Assert.True(report.Ok, string.Join("; ", report.Findings.Select(f => f.ToString())));
        var file = GgufReader.Read(patched);
        Assert.Equal(set.AttentionFactor, file.GetFloat32("llama.rope.scaling.attn_factor"));
    }

    [Fact]
    public void The_quickstart_factor_file_is_the_8x_pass_key_search_the_docs_report_on()
    {
        // models/tiny-passkey-512.longrope-4096.json is what tools/quickstart.sh patches with; the model card and
        // docs/search.md quote held-out results of tiny-long-4096-pk2, so the two must be the same file.
        byte[] quickstart = File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "models", "tiny-passkey-512.longrope-4096.json"));
        byte[] searched = File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "docs", "search-results", "tiny-long-4096-pk2.factors.json"));
        Assert.Equal(searched, quickstart);
        Assert.StartsWith("search long passkey at 4096 tokens", FactorSetReader.Read(Path.Combine(TestPaths.RepoRoot, "models", "tiny-passkey-512.longrope-4096.json")).Source);
    }
}
