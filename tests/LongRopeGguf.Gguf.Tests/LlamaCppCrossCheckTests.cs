using System.Text.Json;
using LLama;
using LLama.Common;
using LLama.Native;
using LongRopeGguf.Gguf.Tests.Support;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>llama.cpp, through LLamaSharp, loads the tiny model rewritten by us and computes exactly the same logits for
/// the reference prompt as from the original file.</summary>
[Collection(NativeCollection.Name)]
public class LlamaCppCrossCheckTests
{
    [Fact]
    public void A_rewritten_tiny_model_gives_bit_identical_logits()
    {
        NativeLlama.EnsureLoaded();
        var reference = ReferencePrompt.Tiny;
        using var dir = new TempDir();
        var source = GgufReader.Read(TestPaths.TinyModel);
        string renamed = GgufRewriter.Rewrite(source, new GgufEdit()
            .SetValue("general.name", GgufValue.String("rewritten by the GGUF tests"))
            .SetValue("longrope.test.unknown_key", GgufValue.Array(new[] { "llama.cpp", "ignores", "this" }))
            .RemoveKey("general.description"), dir.File("renamed.gguf")).Path!;
        // The data section moved: a different alignment, so every tensor is at a new absolute offset.
        string realigned = GgufRewriter.Rewrite(source, new GgufEdit().SetValue(GgufKeys.Alignment, GgufValue.UInt32(256)),
            dir.File("realigned.gguf")).Path!;
        Assert.NotEqual(source.DataOffset, GgufReader.Read(realigned).DataOffset);

        var (original, originalIds, _) = LastLogits(TestPaths.TinyModel, reference.Prompt);
        var (fromRenamed, renamedIds, renamedMetadata) = LastLogits(renamed, reference.Prompt);
        var (fromRealigned, realignedIds, _) = LastLogits(realigned, reference.Prompt);

        // The original runs as the reference says (within float tolerance: the reference came from another runtime).
        Assert.Equal(reference.TokenIds, originalIds);
        Assert.Equal(reference.Argmax, ArgMax(original));
        Assert.Equal(reference.LastLogits.Length, original.Length);
        float maxDiff = original.Zip(reference.LastLogits).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(maxDiff < 0.02f, $"max |logit - reference| = {maxDiff}");

        // llama.cpp really read the rewritten file...
        Assert.Equal("rewritten by the GGUF tests", renamedMetadata["general.name"]);
        Assert.False(renamedMetadata.ContainsKey("general.description"));
        // LLamaWeights.Metadata holds every scalar as text and leaves array values out (docs/llama-cpp-longrope.md): the
        // factor arrays and the vocabulary are not reachable through it.
        Assert.Equal("512", renamedMetadata["llama.context_length"]);
        Assert.False(renamedMetadata.ContainsKey("longrope.test.unknown_key"));
        Assert.False(renamedMetadata.ContainsKey("tokenizer.ggml.tokens"));
        // ...and computes bit for bit the same.
        Assert.Equal(originalIds, renamedIds);
        Assert.Equal(originalIds, realignedIds);
        Assert.Equal(Bits(original), Bits(fromRenamed));
        Assert.Equal(Bits(original), Bits(fromRealigned));
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());

    /// <summary>Prefills the prompt in one batch (fixed thread count, so the arithmetic is the same every run) and
    /// returns the logits at the last position, the token ids and llama.cpp's view of the metadata.</summary>
    private static (float[] Logits, int[] TokenIds, IReadOnlyDictionary<string, string> Metadata) LastLogits(string modelPath, string prompt)
    {
        var parameters = new ModelParams(modelPath)
        {
            ContextSize = 512,
            BatchSize = 512,
            UBatchSize = 512,
            GpuLayerCount = 0,
            Threads = 2,
            BatchThreads = 2,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var tokens = context.Tokenize(prompt, addBos: true, special: false);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, logits: i == tokens.Length - 1);
        Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        var logits = context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
        return (logits, tokens.Select(t => (int)t).ToArray(), weights.Metadata.ToDictionary());
    }
}

/// <summary>Tests that load llama.cpp's native libraries run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class NativeCollection
{
    public const string Name = "llama.cpp native libraries";
}
