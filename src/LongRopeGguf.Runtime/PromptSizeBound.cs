using LongRopeGguf.Gguf;

namespace LongRopeGguf.Runtime;

/// <summary>
/// The fewest tokens a text can become, from its size alone: no token of the vocabulary stands for more bytes of text
/// than its own entry in tokenizer.ggml.tokens holds (SentencePiece writes a space as the 3-byte "▁", GPT-2's byte
/// level encoding a byte as one or two), so a text of B bytes is at least B / (longest entry) tokens. A prompt of
/// megabytes can then be refused before it is tokenized (an 11 MB one took 9 s and 580 MB only to hear "does not fit").
/// Only for the SentencePiece (llama) and byte-level BPE (gpt2) tokenizers: others normalize the text (BERT's WordPiece
/// drops whitespace, T5's Unigram collapses it) and can make fewer tokens than that.
/// </summary>
public static class PromptSizeBound
{
    /// <summary>At least how many tokens <paramref name="utf8Bytes"/> bytes of text become, and the longest token's
    /// bytes; null when the vocabulary gives no bound (another tokenizer, no token list).</summary>
    public static (long Tokens, int LongestTokenBytes)? MinimumTokens(GgufFile file, long utf8Bytes) =>
        LongestTokenBytes(file) is { } longest ? (MinimumTokens(utf8Bytes, longest), longest) : null;

    private static long MinimumTokens(long utf8Bytes, int longestTokenBytes) => utf8Bytes / longestTokenBytes;

    /// <summary>The most bytes of text one token of the vocabulary stands for, where that bounds a text's token count
    /// from below; null where it does not (another tokenizer, no token list, only empty tokens).</summary>
    public static int? LongestTokenBytes(GgufFile file)
    {
        if (!file.TryGetValue("tokenizer.ggml.model", out var model) || model.Type != GgufValueType.String || model.AsString() is not ("llama" or "gpt2"))
            return null;
        if (!file.TryGetValue("tokenizer.ggml.tokens", out var tokens) || tokens.Type != GgufValueType.Array || tokens.ElementType != GgufValueType.String)
            return null;
        int longest = tokens.LongestStringBytes();
        return longest == 0 ? null : longest;
    }

    /// <summary>Texts above this size are measured by <see cref="Refuse"/> before they are tokenized; below it,
    /// tokenizing is cheap and gives the exact count.</summary>
    public const long CheckAboveBytes = 256 << 10;

    /// <summary>
    /// Refuses <paramref name="text"/> (with <paramref name="reserve"/> tokens to generate after it) when its size alone
    /// shows that it cannot fit the model's context_length; texts of <see cref="CheckAboveBytes"/> or less are left to
    /// the tokenizer. <paramref name="what"/> names the text ("a prompt", "a conversation").
    /// </summary>
    public static void Refuse(ModelContextInfo model, IEnumerable<string> text, int reserve, string what)
    {
        if (model.LongestTokenBytes is not { } longest) return;
        long bytes = 0;
        foreach (string part in text) bytes += System.Text.Encoding.UTF8.GetByteCount(part);
        if (bytes <= CheckAboveBytes) return;
        long tokens = MinimumTokens(bytes, longest);
        if (tokens + reserve > model.ContextLength)
            throw new RuntimeInputException($"at least {tokens} tokens ({what} of {bytes} bytes, and no token of the model stands for more than "
                + $"{longest} bytes of it) + {reserve} to generate do not fit: the model's context_length is {model.ContextLength}");
    }
}
