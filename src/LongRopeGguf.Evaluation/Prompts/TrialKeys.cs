namespace LongRopeGguf.Evaluation.Prompts;

/// <summary>
/// Deterministic 5-digit keys: a function of the seed and the trial's place in the grid (length, depth, repeat),
/// the same for every mode so that modes answer identical prompts. SplitMix64, so keys do not depend on
/// System.Random's implementation.
/// </summary>
public static class TrialKeys
{
    public static int Key(int seed, int length, int depthIndex, int trialIndex)
    {
        ulong x = Mix((ulong)(uint)seed);
        x = Mix(x ^ (ulong)(uint)length);
        x = Mix(x ^ ((ulong)(uint)depthIndex << 20));
        x = Mix(x ^ ((ulong)(uint)trialIndex << 40));
        return 10000 + (int)(x % 90000);
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
