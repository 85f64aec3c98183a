namespace LongRopeGguf.Gguf;

/// <summary>Format constants and the limits that llama.cpp's own reader (ggml/src/gguf.cpp) enforces.</summary>
public static class GgufConstants
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;
    public const uint MinSupportedVersion = 2;
    public const uint MaxSupportedVersion = 3;
    public const uint DefaultAlignment = 32;

    /// <summary>GGML_MAX_DIMS.</summary>
    public const int MaxDimensions = 4;

    /// <summary>GGML_MAX_NAME: llama.cpp rejects tensor names of this length or longer.</summary>
    public const int MaxTensorNameLength = 64;

    /// <summary>Nested arrays deeper than this are refused (no real file nests at all; this bounds recursion).</summary>
    public const int MaxArrayNesting = 16;
}

/// <summary>Well-known metadata keys.</summary>
public static class GgufKeys
{
    public const string Alignment = "general.alignment";
    public const string Architecture = "general.architecture";
    public const string Name = "general.name";

    /// <summary>Number of files a split model spans (llama-gguf-split); 1 or absent for a whole model.</summary>
    public const string SplitCount = "split.count";

    /// <summary>Zero-based number of this file among the files of a split model.</summary>
    public const string SplitNumber = "split.no";

    /// <summary>Keys under the architecture prefix, e.g. <c>llama.context_length</c>.</summary>
    public static string ForArchitecture(string architecture, string suffix) => $"{architecture}.{suffix}";
}
