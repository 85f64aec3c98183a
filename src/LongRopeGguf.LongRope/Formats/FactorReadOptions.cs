namespace LongRopeGguf.LongRope.Formats;

/// <summary>What a reader needs beyond the file: lengths a format does not carry, and the model's factor count.</summary>
public sealed record FactorReadOptions
{
    /// <summary>Original (trained) context length; overrides the file's, required for formats without one.</summary>
    public int? OriginalContextLength { get; init; }

    /// <summary>Extended context length; overrides the file's, required for formats without one.</summary>
    public int? ContextLength { get; init; }

    /// <summary>Original length to use when neither the file nor <see cref="OriginalContextLength"/> gives one
    /// (the model's own context length).</summary>
    public int? DefaultOriginalContextLength { get; init; }

    /// <summary>Extended length to use when neither the file nor <see cref="ContextLength"/> gives one (a search's
    /// target length for its --init CSV).</summary>
    public int? DefaultContextLength { get; init; }

    /// <summary>Factors per set the target model needs: lets the CSV reader recognise per-layer rows written one value
    /// per line.</summary>
    public int? ExpectedFactorCount { get; init; }

    public static FactorReadOptions None { get; } = new();
}
