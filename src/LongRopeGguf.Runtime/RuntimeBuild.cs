namespace LongRopeGguf.Runtime;

/// <summary>How this assembly was built (the LongRopeBackend property in Directory.Build.props).</summary>
public static class RuntimeBuild
{
#if LONGROPE_BACKEND_CUDA12
    public const string BundledBackend = "Cuda12";
#else
    public const string BundledBackend = "Cpu";
#endif
}
