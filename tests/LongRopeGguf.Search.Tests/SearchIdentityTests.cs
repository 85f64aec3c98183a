using System.Text.Json.Nodes;
using LongRopeGguf.Search.Evolution;

namespace LongRopeGguf.Search.Tests;

/// <summary>Which header differences make a log another search: content identities decide, paths do not (where an
/// identity stands beside them).</summary>
public class SearchIdentityTests
{
    private static JsonObject Header(string model = "/a/m.gguf", string? fingerprint = "f1", string text = "/a/t.txt", string textSha = "t1",
        string haystack = "/a/h.txt", string? haystackSha = "h1", string kind = "mix", double attnMin = 1.2)
    {
        var fitness = new JsonObject { ["kind"] = kind, ["model"] = model, ["model_bytes"] = 100 };
        if (fingerprint is not null) fitness["model_fingerprint"] = fingerprint;
        fitness["text"] = new JsonObject { ["path"] = text, ["sha256"] = textSha, ["windows"] = 2 };
        fitness["passkey"] = new JsonObject { ["prompts"] = 4, ["haystack"] = haystack, ["haystack_sha256"] = haystackSha };
        return new JsonObject
        {
            ["space"] = new JsonObject { ["attn_factor"] = new JsonObject { ["min"] = attnMin } },
            ["fitness"] = fitness,
        };
    }

    private static string? Difference(JsonObject logged, JsonObject now)
    {
        var (a, b) = SearchIdentity.Comparable(logged, now);
        return a.ToJsonString() == b.ToJsonString() ? null : SearchIdentity.FirstDifference(a, b);
    }

    [Fact]
    public void Moved_inputs_with_the_same_content_are_the_same_search()
    {
        var logged = Header();
        Assert.Null(Difference(logged, Header(model: "/b/renamed.gguf", text: "/b/t2.txt", haystack: "/b/h2.txt")));
        // The comparison works on copies: the header stays as written.
        Assert.Equal("/a/m.gguf", logged["fitness"]!["model"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("model", "'fitness.model_fingerprint' was \"f1\", now \"f2\"")]
    [InlineData("text", "'fitness.text.sha256' was \"t1\", now \"t2\"")]
    [InlineData("haystack", "'fitness.passkey.haystack_sha256' was \"h1\", now \"h2\"")]
    public void Other_content_at_the_same_path_is_another_search(string which, string expected)
    {
        var now = which switch
        {
            "model" => Header(fingerprint: "f2"),
            "text" => Header(textSha: "t2"),
            _ => Header(haystackSha: "h2"),
        };
        Assert.Equal(expected, Difference(Header(), now));
    }

    [Fact]
    public void A_log_from_before_the_fingerprint_compares_the_model_by_path()
    {
        var old = Header(fingerprint: null);
        Assert.Null(Difference(old, Header()));
        Assert.Equal("'fitness.model' was \"/a/m.gguf\", now \"/b/m.gguf\"", Difference(old, Header(model: "/b/m.gguf")));
    }

    [Fact]
    public void The_filler_haystack_is_compared_by_name()
    {
        Assert.Equal("'fitness.passkey.haystack' was \"filler\", now \"/a/h.txt\"",
            Difference(Header(haystack: "filler", haystackSha: null), Header()));
    }

    [Fact]
    public void The_fitness_is_named_before_the_attention_range_that_follows_from_it()
    {
        Assert.Equal("'fitness.kind' was \"mix\", now \"ppl\"", Difference(Header(), Header(kind: "ppl", attnMin: 1.0)));
        Assert.Equal("'space.attn_factor.min' was 1.2, now 1", Difference(Header(), Header(attnMin: 1.0)));
    }
}
