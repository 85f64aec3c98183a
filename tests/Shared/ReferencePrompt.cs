using System.Text.Json;

namespace LongRopeGguf.Tests;

/// <summary>
/// The tiny model's reference run (models/tiny-passkey-512.reference.json): the prompt, its token ids (BOS +
/// characters), llama.cpp's logits at the last position and their argmax, as recorded when the model was made.
/// </summary>
public sealed record ReferencePrompt(string Prompt, int[] TokenIds, float[] LastLogits, int Argmax)
{
    private static readonly Lazy<ReferencePrompt> s_tiny = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.TinyModelReference));
        var r = doc.RootElement.GetProperty("reference");
        return new ReferencePrompt(
            r.GetProperty("prompt").GetString()!,
            r.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            r.GetProperty("last_logits").EnumerateArray().Select(e => e.GetSingle()).ToArray(),
            r.GetProperty("argmax").GetInt32());
    });

    /// <summary>The reference run of <see cref="TestPaths.TinyModel"/> (read once; do not modify the arrays).</summary>
    public static ReferencePrompt Tiny => s_tiny.Value;
}

/// <summary>Comparisons of logit vectors.</summary>
public static class LogitMath
{
    /// <summary>The largest absolute difference between two logit vectors of the same length.</summary>
    public static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
