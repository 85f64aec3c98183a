namespace LongRopeGguf.LongRope;

/// <summary>
/// llama.cpp's rule for the size of a context it creates: n_ctx is the requested size rounded up to a multiple of 256
/// (llama_context's constructor), and which LongRoPE set it applies is decided once from that rounded size. The verifier
/// (what a file will do) and the runner's planner (what context to ask for) both follow it from here.
/// </summary>
public static class LlamaContextSize
{
    /// <summary>The multiple llama.cpp rounds a requested context size up to.</summary>
    public const int Granularity = 256;

    /// <summary>n rounded up to a multiple of <see cref="Granularity"/> (long: a size near int.MaxValue rounds past it).</summary>
    public static long Pad(long n) => (n + Granularity - 1) / Granularity * Granularity;
}
