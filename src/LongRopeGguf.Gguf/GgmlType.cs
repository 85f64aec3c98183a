namespace LongRopeGguf.Gguf;

/// <summary>
/// ggml tensor types by their on-disk id (enum ggml_type), as the llama.cpp of LLamaSharp 0.30.0 knows them
/// (its libggml-base has GGML_TYPE_COUNT = 43; a test checks this table against that library's own).
/// Ids 4, 5, 31-33 and 36-38 belonged to removed types; llama.cpp refuses them, and so do we.
/// </summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
}

/// <summary>Block layout of a ggml type: <see cref="BlockSize"/> elements are stored in <see cref="BytesPerBlock"/> bytes.</summary>
public readonly record struct GgmlTypeTraits(GgmlType Type, int BlockSize, int BytesPerBlock)
{
    private static readonly GgmlTypeTraits[] s_known =
    [
        new(GgmlType.F32, 1, 4),
        new(GgmlType.F16, 1, 2),
        new(GgmlType.Q4_0, 32, 18),
        new(GgmlType.Q4_1, 32, 20),
        new(GgmlType.Q5_0, 32, 22),
        new(GgmlType.Q5_1, 32, 24),
        new(GgmlType.Q8_0, 32, 34),
        new(GgmlType.Q8_1, 32, 36),
        new(GgmlType.Q2_K, 256, 84),
        new(GgmlType.Q3_K, 256, 110),
        new(GgmlType.Q4_K, 256, 144),
        new(GgmlType.Q5_K, 256, 176),
        new(GgmlType.Q6_K, 256, 210),
        new(GgmlType.Q8_K, 256, 292),
        new(GgmlType.IQ2_XXS, 256, 66),
        new(GgmlType.IQ2_XS, 256, 74),
        new(GgmlType.IQ3_XXS, 256, 98),
        new(GgmlType.IQ1_S, 256, 50),
        new(GgmlType.IQ4_NL, 32, 18),
        new(GgmlType.IQ3_S, 256, 110),
        new(GgmlType.IQ2_S, 256, 82),
        new(GgmlType.IQ4_XS, 256, 136),
        new(GgmlType.I8, 1, 1),
        new(GgmlType.I16, 1, 2),
        new(GgmlType.I32, 1, 4),
        new(GgmlType.I64, 1, 8),
        new(GgmlType.F64, 1, 8),
        new(GgmlType.IQ1_M, 256, 56),
        new(GgmlType.BF16, 1, 2),
        new(GgmlType.TQ1_0, 256, 54),
        new(GgmlType.TQ2_0, 256, 66),
        new(GgmlType.MXFP4, 32, 17),
        new(GgmlType.NVFP4, 64, 36),
        new(GgmlType.Q1_0, 128, 18),
        new(GgmlType.Q2_0, 64, 18),
    ];

    // Indexed by type id; ids are small and dense, and removed ids (4, 5, 31-33, 36-38) hold default (BlockSize 0).
    // An array rather than a dictionary keeps the first header read free of generic-dictionary JIT work (`inspect`
    // is a start-up-bound command).
    private static readonly GgmlTypeTraits[] s_byId = BuildIndex();

    private static GgmlTypeTraits[] BuildIndex()
    {
        int maxId = 0;
        foreach (var t in s_known) maxId = Math.Max(maxId, (int)t.Type);
        var byId = new GgmlTypeTraits[maxId + 1];
        foreach (var t in s_known) byId[(int)t.Type] = t;
        return byId;
    }

    public static IReadOnlyCollection<GgmlTypeTraits> All => s_known;

    public static bool TryGet(GgmlType type, out GgmlTypeTraits traits)
    {
        traits = (uint)type < (uint)s_byId.Length ? s_byId[(int)type] : default;
        return traits.BlockSize != 0;
    }

    public static GgmlTypeTraits Get(GgmlType type) =>
        TryGet(type, out var t) ? t : throw new ArgumentOutOfRangeException(nameof(type), $"unknown ggml type {(uint)type}");

    /// <summary>Bytes needed by a tensor of these dimensions, or null when the first dimension is not a whole
    /// number of blocks or the size overflows.</summary>
    public ulong? ByteSize(IReadOnlyList<ulong> dimensions)
    {
        if (dimensions.Count == 0) return BlockSize == 1 ? (ulong)BytesPerBlock : null; // zero dimensions: one element
        if (dimensions[0] % (ulong)BlockSize != 0) return null;
        try
        {
            checked
            {
                ulong bytes = dimensions[0] / (ulong)BlockSize * (ulong)BytesPerBlock;
                for (int i = 1; i < dimensions.Count; i++) bytes *= dimensions[i];
                return bytes;
            }
        }
        catch (OverflowException)
        {
            return null;
        }
    }
}
