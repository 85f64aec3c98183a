using LLama;
using LLama.Common;

namespace LongRopeGguf.LongRope.Tests;

/// <summary>
/// Entry point of the test assembly when it is started as a child process (`dotnet LongRopeGguf.LongRope.Tests.dll
/// decode MODEL CONTEXT`): loads the model and decodes a short prompt. Used for files that make llama.cpp abort the
/// whole process, which must never be loaded inside the test runner. Exit 0: decoded; 3: load failed; SIGABRT (134): aborted.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length != 3 || args[0] != "decode")
        {
            Console.Error.WriteLine("usage: decode MODEL CONTEXT");
            return 2;
        }
        var p = LlamaHarness.Params(args[1], uint.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
        LLamaWeights weights;
        try
        {
            weights = LLamaWeights.LoadFromFile(p);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"load failed: {e.Message}");
            return 3;
        }
        using (weights)
        {
            Console.Out.WriteLine("loaded");
            Console.Out.Flush();
            using var context = weights.CreateContext(p);
            var logits = LlamaHarness.Decode(context, LlamaHarness.ReferenceTokens[..32]);
            Console.Out.WriteLine($"decoded {logits.Length} logits");
        }
        return 0;
    }
}
