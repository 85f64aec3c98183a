using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;

namespace LongRopeGguf.Runtime.Tests;

public class PromptSizeBoundTests
{
    [Fact]
    public void The_bound_from_a_texts_size_never_exceeds_the_tokens_llama_cpp_makes_of_it()
    {
        using var model = Load(TestPaths.TinyModel);
        var header = GgufReader.Read(TestPaths.TinyModel);
        string prose = File.ReadAllText(TestPaths.ProseSearch);
        // Prose, the tokens' own texts run together (the densest a text gets), whitespace, and non-ASCII text.
        string vocabulary = string.Concat(Enumerable.Range(0, model.Weights.Vocab.Count).Select(i => model.Weights.Vocab.LLamaTokenToString(i, true) ?? ""));
        foreach (string text in new[] { prose[..20000], vocabulary, new string(' ', 5000), string.Concat(Enumerable.Repeat("naïve Grüße 東京 ", 300)) })
        {
            long bytes = System.Text.Encoding.UTF8.GetByteCount(text);
            var bound = PromptSizeBound.MinimumTokens(header, bytes);
            Assert.NotNull(bound);
            int tokens = model.Tokenize(text, addBos: false, special: true).Length;
            Assert.True(bound.Value.Tokens <= tokens, $"{bound.Value.Tokens} > {tokens} tokens for {bytes} bytes");
            Assert.True(bound.Value.Tokens > 0);
        }
    }

    [Fact]
    public void Tokenizers_that_normalize_the_text_get_no_bound()
    {
        var tiny = GgufReader.Read(TestPaths.TinyModel);
        using var dir = new TempDir();
        foreach (string tokenizer in new[] { "bert", "t5", "none" })
        {
            string path = dir.File($"{tokenizer}.gguf");
            GgufRewriter.Rewrite(tiny, new GgufEdit().SetValue("tokenizer.ggml.model", GgufValue.String(tokenizer)), path);
            Assert.Null(PromptSizeBound.MinimumTokens(GgufReader.Read(path), 1_000_000));
        }
        Assert.NotNull(PromptSizeBound.MinimumTokens(tiny, 1_000_000));
    }

    [Fact]
    public void The_reply_reserved_counts_in_the_bound_from_the_size_alone()
    {
        // Left out, a prompt that fails only with its -n budget added was tokenized first (seconds, much memory).
        var info = new ModelContextInfo("m.gguf", "m", "llama", 50_000, 32, HasLongRope: false, 50_000, null, null, null) { LongestTokenBytes = 6 };
        string text = new('a', 270_000);
        var e = Assert.Throws<RuntimeInputException>(() => PromptSizeBound.Refuse(info, [text], 10_000, "a prompt"));
        Assert.StartsWith("at least 45000 tokens (a prompt of 270000 bytes", e.Message);
        PromptSizeBound.Refuse(info, [text], 5_000, "a prompt");
    }
}
