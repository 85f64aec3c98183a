using System.Globalization;
using System.Text.RegularExpressions;
using LongRopeGguf.Gguf;

namespace LongRopeGguf.LongRope;

public enum Severity
{
    Info,
    Warning,
    Error,
}

/// <summary>What llama.cpp does because of a finding.</summary>
public enum Consequence
{
    None,

    /// <summary>llama_model_load fails (an exception through LLamaSharp).</summary>
    LoadFails,

    /// <summary>The model loads, then the whole process aborts (GGML_ASSERT), at load time or at the first decode.</summary>
    ProcessAborts,

    /// <summary>The model loads and runs, but not with the LongRoPE the file is meant to carry.</summary>
    NotAsIntended,
}

/// <summary>One result of <see cref="LongRopeVerifier"/>. <see cref="Code"/> is stable (docs/factor-format.md).</summary>
public sealed record VerifyFinding(Severity Severity, string Code, string Message, Consequence Consequence = Consequence.None);

/// <summary>
/// Which factor set llama.cpp picks for a context: once per context, long when n_ctx_seq &gt; threshold, else short.
/// n_ctx is the requested size rounded up to a multiple of 256; n_ctx_seq is n_ctx with a unified KV cache (LLamaSharp's
/// default), else n_ctx / n_seq_max rounded up to 256. Requested size 0 means the model's context length.
/// </summary>
public sealed record FactorSetSelection(int Threshold, string ThresholdSource, int ContextLength)
{
    /// <summary>n_ctx_seq for a requested context size, as llama.cpp computes it.</summary>
    public long SequenceContext(int requestedContext, int seqMax = 1, bool kvUnified = true)
    {
        long nCtx = LlamaContextSize.Pad(requestedContext == 0 ? ContextLength : requestedContext);
        return kvUnified || seqMax <= 1 ? nCtx : LlamaContextSize.Pad(nCtx / seqMax);
    }

    public bool UsesLongSet(int requestedContext, int seqMax = 1, bool kvUnified = true) =>
        SequenceContext(requestedContext, seqMax, kvUnified) > Threshold;

    /// <summary>The largest requested context size (one sequence) that still runs on the short set.</summary>
    public int LargestShortContext => Threshold / LlamaContextSize.Granularity * LlamaContextSize.Granularity;
}

/// <summary>The outcome of verifying one file.</summary>
public sealed record VerifyReport(
    string Path,
    string? Architecture,
    FactorTensorSupport Support,
    IReadOnlyList<VerifyFinding> Findings,
    FactorSetSelection? Plan,
    FactorSet? Factors)
{
    /// <summary>llama.cpp will load the file and apply its LongRoPE factors as the file intends.</summary>
    public bool Ok => Findings.All(f => f.Severity != Severity.Error);

    public bool LoadFails => Findings.Any(f => f.Consequence == Consequence.LoadFails);
    public bool ProcessAborts => Findings.Any(f => f.Consequence == Consequence.ProcessAborts);

    /// <summary>One sentence: what llama.cpp will do with the file.</summary>
    public string Verdict =>
        LoadFails ? "llama.cpp will refuse to load this file"
        : ProcessAborts ? "llama.cpp will abort the whole process on this file (while loading it or at the first decode)"
        // A plain model is not a broken LongRoPE file: say so rather than "not with the LongRoPE it is meant to carry".
        : Findings.Where(f => f.Severity == Severity.Error).All(f => f.Code == "not-longrope") && Findings.Any(f => f.Code == "not-longrope")
            ? "this file has no LongRoPE: llama.cpp will load and run it without LongRoPE"
        : !Ok ? "llama.cpp will load and run this file, but not with the LongRoPE it is meant to carry"
        : Plan is { LargestShortContext: 0 } ? "llama.cpp will load this file and apply LongRoPE: the long set for every context size (the short set is never used)"
        : Plan is { } p ? $"llama.cpp will load this file and apply LongRoPE: the short set for context sizes up to {p.LargestShortContext}, the long set above"
        : "llama.cpp will load this file";
}

/// <summary>
/// Checks a GGUF file, from its header and its factor tensors only (the model is not loaded), against everything
/// known about how llama.cpp handles LongRoPE (docs/llama-cpp-longrope.md, docs/factor-format.md), and
/// says what llama.cpp will do with it: fail to load, abort, run without the intended factors, or which set it uses for
/// which context sizes.
/// </summary>
public static partial class LongRopeVerifier
{
    /// <summary>Findings of a file llama.cpp loads and runs but whose every output is NaN or noise (a NaN attention factor,
    /// RoPE base or factor): the run commands refuse such a file, and edit warns when it writes one.</summary>
    public static IReadOnlySet<string> MeaninglessOutputCodes { get; } = new HashSet<string>(StringComparer.Ordinal) { "attn-factor-invalid", "freq-base-invalid", "factor-values" };

    private delegate void FindingSink(Severity severity, string code, string message, Consequence consequence = Consequence.None);

    private const string TokenListKey = "tokenizer.ggml.tokens";

    public static VerifyReport Verify(string path) => Verify(GgufReader.Read(path));

    public static VerifyReport Verify(GgufFile file)
    {
        var f = new List<VerifyFinding>();
        // Messages quote keys and strings from the file: escaped, so that control characters cannot reach the terminal.
        FindingSink Add = (s, code, message, c) => f.Add(new VerifyFinding(s, code, DisplayText.Escape(message), c));
        string path = file.Path ?? "model";
        string? arch = file.Architecture;
        // llama-gguf-split writes general.* into the first file only: a later file is judged as what it is.
        if (file.SplitShard is ({ } shardNumber, { } shardCount) && shardNumber > 1)
        {
            Add(Severity.Error, "split-file", $"file {shardNumber} of {shardCount} of a split GGUF (llama-gguf-split): llama.cpp loads a split model from its first file "
                + "(the one named -00001-of-...), which names the architecture; this one alone is not a model", Consequence.LoadFails);
            return new VerifyReport(path, arch, FactorTensorSupport.None, f, null, null);
        }
        if (arch is null)
        {
            Add(Severity.Error, "no-architecture", $"no '{GgufKeys.Architecture}' string key: llama.cpp cannot load this file", Consequence.LoadFails);
            return new VerifyReport(path, null, FactorTensorSupport.None, f, null, null);
        }
        var support = LongRopeArchitectures.SupportOf(arch);

        CheckLayout(file, Add);

        // llama.cpp maps each token's text to its id and asserts that the map is as long as the list: one repeated token
        // (a corrupted byte is enough) aborts the process while the vocabulary loads.
        if (file.TryGetValue(TokenListKey, out var tokens) && tokens.Type == GgufValueType.Array && tokens.ElementType == GgufValueType.String
            && tokens.FindRepeatedString() is var (first, repeat))
            Add(Severity.Error, "duplicate-token", $"{TokenListKey}[{repeat}] repeats [{first}] ('{tokens.AsStringArray()[repeat]}'): llama.cpp aborts the process "
                + "while loading the vocabulary (GGML_ASSERT id_to_token.size() == token_to_id.size())", Consequence.ProcessAborts);

        // ---- keys llama.cpp reads with fixed types ----
        bool typesOk = CheckKeyTypes(file, "key-type", "", Add,
        [
            (LongRopeKeys.ContextLength(arch), GgufValueType.UInt32), (LongRopeKeys.OriginalContextLength(arch), GgufValueType.UInt32),
            (LongRopeKeys.AttentionFactor(arch), GgufValueType.Float32), (LongRopeKeys.ScalingType(arch), GgufValueType.String),
            (LongRopeKeys.ScalingFactor(arch), GgufValueType.Float32), (LongRopeKeys.ScaleLinear(arch), GgufValueType.Float32),
            (LongRopeKeys.DimensionCount(arch), GgufValueType.UInt32), (LongRopeKeys.FreqBase(arch), GgufValueType.Float32),
            (LongRopeKeys.KeyLength(arch), GgufValueType.UInt32), (LongRopeKeys.EmbeddingLength(arch), GgufValueType.UInt32),
        ]);
        CheckModelKeys(file, arch, Add);
        if (file.TryGetValue(LongRopeKeys.FreqBase(arch), out var fb) && fb.Type == GgufValueType.Float32 && !(float.IsFinite(fb.AsFloat32()) && fb.AsFloat32() > 0))
            Add(Severity.Error, "freq-base-invalid", $"{LongRopeKeys.FreqBase(arch)} = {F(fb.AsFloat32())}: every RoPE frequency is a power of it, so "
                + "llama.cpp loads the file but positions (and the output) are meaningless", Consequence.NotAsIntended);
        if (file.TryGetValue(LongRopeKeys.HeadCount(arch), out var hc) && hc.Type == GgufValueType.UInt32 && hc.AsUInt32() == 0)
            Add(Severity.Error, "head-count-invalid", $"{LongRopeKeys.HeadCount(arch)} = 0: llama.cpp sizes the attention tensors by it and fails to load "
                + "('wrong shape')", Consequence.LoadFails);
        int? blocks = CheckBlockCount(file, arch, Add);
        CheckPerLayerKeys(file, arch, blocks, Add);
        int? experts = CheckExpertCounts(file, arch, Add);
        if (!file.ContainsKey(LongRopeKeys.ContextLength(arch)))
            Add(Severity.Error, "context-missing", $"no '{LongRopeKeys.ContextLength(arch)}': llama.cpp requires it and fails to load", Consequence.LoadFails);

        string? scalingType = file.TryGetValue(LongRopeKeys.ScalingType(arch), out var st) && st.Type == GgufValueType.String ? st.AsString() : null;
        if (scalingType is not null && !LongRopeKeys.KnownScalingTypes.Contains(scalingType))
            Add(Severity.Error, "scaling-type-unknown", $"{LongRopeKeys.ScalingType(arch)} = '{scalingType}' is not one of {string.Join(", ", LongRopeKeys.KnownScalingTypes)}: "
                + "llama.cpp aborts the process while loading (GGML_ASSERT on the scaling type)", Consequence.ProcessAborts);
        bool isLongRope = scalingType == LongRopeKeys.LongRopeScalingType;

        ModelRopeInfo? model = null;
        if (typesOk && file.ContainsKey(LongRopeKeys.ContextLength(arch)))
        {
            try
            {
                model = ModelRopeInfo.From(file);
            }
            catch (ModelRopeException e)
            {
                Add(Severity.Error, e.Code, e.Detail, e.Consequence);
            }
            catch (LongRopePatchException e)
            {
                string prefix = file.Path is { } p ? p + ": " : "";
                Add(Severity.Error, "rope-dimensions", e.Message.StartsWith(prefix, StringComparison.Ordinal) ? e.Message[prefix.Length..] : e.Message, Consequence.LoadFails);
            }
        }
        if (model is not null && arch is "llama" or "deci")
            CheckRopeDimensions(file, arch, model, Add);

        // ---- which RoPE tensors exist, and whether the loader will create them ----
        bool hasLong = file.TryGetTensor(LongRopeKeys.LongFactorsTensor, out var longT);
        bool hasShort = file.TryGetTensor(LongRopeKeys.ShortFactorsTensor, out var shortT);
        bool hasFreqs = file.TryGetTensor(LongRopeKeys.RopeFreqsTensor, out _);
        bool readsFactors = LongRopeArchitectures.ReadsFactorTensors(arch, scalingType);
        foreach (var t in file.Tensors)
            if (PerLayerRopeTensor().IsMatch(t.Name))
                Add(Severity.Error, "per-layer-rope-tensor", $"tensor '{t.Name}': llama.cpp's RoPE factor tensors are global (no blk.N. prefix); "
                    + "no loader creates this one, so the load fails with 'wrong number of tensors'", Consequence.LoadFails);

        if ((hasLong || hasShort) && !readsFactors)
        {
            if (support == FactorTensorSupport.None)
                Add(Severity.Error, "unsupported-architecture", $"architecture '{arch}' does not create the LongRoPE factor tensors, so the load fails with "
                    + $"'wrong number of tensors'; architectures that read them: {LongRopeArchitectures.SupportedText}", Consequence.LoadFails);
            else
                Add(Severity.Error, "factors-without-longrope-type", $"factor tensors present but {LongRopeKeys.ScalingType(arch)} is "
                    + $"{(scalingType is null ? "absent" : $"'{scalingType}'")}: the {arch} loader creates them only when it is 'longrope', "
                    + "so the load fails with 'wrong number of tensors'", Consequence.LoadFails);
        }
        if ((hasLong || hasShort) && readsFactors && support == FactorTensorSupport.LoadedButUnused)
            Add(Severity.Error, "no-rope-architecture", $"architecture '{arch}' uses no RoPE (ALiBi positions): llama.cpp loads the factor tensors "
                + "and never applies them, so every context runs as the unpatched model", Consequence.NotAsIntended);
        if (hasFreqs && readsFactors)
            Add(Severity.Error, "rope-freqs-conflict", $"'{LongRopeKeys.RopeFreqsTensor}' together with LongRoPE: the {arch} loader does not create it "
                + "when it reads the factor tensors, so the load fails with 'wrong number of tensors' (patch removes it)", Consequence.LoadFails);
        if (file.SplitShard is var (number, count))
            // The other files hold the rest of the tensors: judging this one's set alone would call a sound model broken.
            Add(Severity.Warning, "split-file", $"file {number} of {count} of a split GGUF (llama-gguf-split): llama.cpp loads the model from the first "
                + "file and the rest beside it; tensors were not checked against the loader here (merge the files with llama-gguf-split --merge to check "
                + "the whole model)", Consequence.None);
        // Tensors are judged against the layers and experts llama.cpp would create: not when it would stop before that.
        else if (arch == "llama" && blocks is int blockCount && experts is int expertCount)
        {
            var weights = file.Tensors.Select(t => t.Name)
                .Where(n => !PerLayerRopeTensor().IsMatch(n) && n is not (LongRopeKeys.LongFactorsTensor or LongRopeKeys.ShortFactorsTensor or LongRopeKeys.RopeFreqsTensor))
                .ToList();
            foreach (var (name, why) in LlamaTensorNames.NotCreated(weights, blockCount, expertCount))
                Add(Severity.Error, "unknown-tensor", $"tensor '{name}' {why}: the load fails with 'wrong number of tensors'", Consequence.LoadFails);
            var missing = LlamaTensorNames.MissingRequired(file.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal), blockCount, expertCount);
            if (missing.Count > 0)
                Add(Severity.Error, "missing-tensor", $"tensor '{missing[0]}' is missing{(missing.Count > 1 ? $" (and {missing.Count - 1:N0} more)" : "")}: "
                    + "the llama loader requires it, so the load fails with 'missing tensor'", Consequence.LoadFails);
            var shapes = LlamaTensorShapes.Mismatches(file, arch, blockCount, expertCount);
            if (shapes.Count > 0)
                Add(Severity.Error, "tensor-shape", $"tensor '{shapes[0].Tensor.Name}' has shape {shapes[0].Tensor.ShapeText}; the llama loader expects {shapes[0].ExpectedText} "
                    + $"({shapes[0].Basis}){(shapes.Count > 1 ? $" (and {shapes.Count - 1:N0} more tensors)" : "")}, so the load fails with 'check_tensor_dims: wrong shape'",
                    Consequence.LoadFails);
        }

        FactorSet? factors = null;
        FactorSetSelection? plan = null;
        if (readsFactors && model is not null)
        {
            int n = model.FactorCount;
            float[]? longValues = hasLong ? CheckFactorTensor(file, longT, n, model, Add) : null;
            float[]? shortValues = hasShort ? CheckFactorTensor(file, shortT, n, model, Add) : null;
            if (!hasLong && !hasShort)
            {
                if (isLongRope)
                    Add(Severity.Error, "longrope-without-factors", $"{LongRopeKeys.ScalingType(arch)} is longrope but there are no factor tensors: "
                        + "llama.cpp loads the file and runs plain RoPE at every context size", Consequence.NotAsIntended);
                else
                    Add(Severity.Error, "not-longrope", $"no LongRoPE factor tensors: llama.cpp runs this {arch} model with plain RoPE", Consequence.NotAsIntended);
            }
            else if (!hasShort)
                Add(Severity.Error, "factor-missing-short", $"only {LongRopeKeys.LongFactorsTensor}: contexts up to the threshold run with no factors at all "
                    + "(plain RoPE) instead of a short set", Consequence.NotAsIntended);
            else if (!hasLong)
                Add(Severity.Error, "factor-missing-long", $"only {LongRopeKeys.ShortFactorsTensor}: contexts above the threshold run with no factors at all "
                    + "(plain RoPE) instead of a long set", Consequence.NotAsIntended);

            if (hasLong || hasShort)
            {
                plan = CheckLengths(file, arch, model, Add);
                CheckAttentionFactor(file, arch, plan, Add);
                CheckScalingFactor(file, arch, Add);
                var embedded = EmbeddedFactorsOrNull(file, longValues, shortValues);
                factors = embedded;
                if (embedded is not null) CheckProvenance(file, embedded, Add);
                if (plan is not null) DescribePlan(plan, Add);
            }
        }
        else if (!hasLong && !hasShort && !f.Any(x => x.Severity == Severity.Error))
        {
            Add(Severity.Error, "not-longrope", LongRopeArchitectures.WhyNotPatchable(arch) is { } why
                ? $"no LongRoPE: architecture '{arch}' {why} (architectures that apply them: {LongRopeArchitectures.SupportedText})"
                : $"no LongRoPE factor tensors: llama.cpp runs this {arch} model with {(scalingType is null or "none" ? "plain RoPE" : $"its own '{scalingType}' scaling")}",
                Consequence.NotAsIntended);
        }
        return new VerifyReport(path, arch, support, f, plan, factors);
    }

    [GeneratedRegex(@"^blk\.\d+\.(rope_factors_long|rope_factors_short|rope_freqs)\.weight$")]
    private static partial Regex PerLayerRopeTensor();

    /// <summary>gguf_init refuses a data section whose tensors are not in order, each at the next aligned offset.</summary>
    private static void CheckLayout(GgufFile file, FindingSink add)
    {
        ulong expected = 0;
        foreach (var t in file.Tensors)
        {
            if (t.Offset != expected)
            {
                add(Severity.Error, "data-layout", $"tensor '{t.Name}' data is at offset {t.Offset} of the data section, llama.cpp expects {expected} "
                    + "(tensors in order, each at the next multiple of the alignment): gguf_init fails", Consequence.LoadFails);
                return;
            }
            expected += (ulong)GgufReader.AlignUp((long)t.ByteSize, file.Alignment);
        }
    }

    /// <summary>llama and deci refuse a rope dimension count other than the head size ("invalid n_rot").</summary>
    private static void CheckRopeDimensions(GgufFile file, string arch, ModelRopeInfo model, FindingSink add)
    {
        int? head = ModelRopeInfo.ReadUInt32(file, LongRopeKeys.KeyLength(arch), model.Path);
        if (head is null && ModelRopeInfo.ReadUInt32(file, LongRopeKeys.EmbeddingLength(arch), model.Path) is int embd
            && file.TryGetValue(LongRopeKeys.HeadCount(arch), out var hc) && hc.Type == GgufValueType.UInt32 && hc.AsUInt32() > 0)
            head = (int)((uint)embd / hc.AsUInt32()); // unsigned, as llama.cpp divides: a count above 2^31 made it negative
        if (head is int h && h != model.RopeDimensions)
            add(Severity.Error, "rope-dimensions", $"rope dimension count {model.RopeDimensions} differs from the head size {h}: llama.cpp refuses to load {arch} models "
                + "with 'invalid n_rot'", Consequence.LoadFails);
    }

    private static float[]? CheckFactorTensor(GgufFile file, GgufTensorInfo t, int n, ModelRopeInfo model, FindingSink add)
    {
        bool shapeOk = t.ElementCount == (ulong)n && t.Dimensions.Count >= 1 && t.Dimensions[0] == (ulong)n;
        if (!shapeOk)
        {
            add(Severity.Error, "factor-shape", $"tensor '{t.Name}' has shape {t.ShapeText}; llama.cpp expects [{n}] ({model.FactorCountReason}) and fails to load "
                + "('check_tensor_dims: wrong shape')", Consequence.LoadFails);
        }
        if (t.Type != GgmlType.F32)
        {
            add(Severity.Error, "factor-type", $"tensor '{t.Name}' is {t.Type}: llama.cpp aborts the whole process (GGML_ASSERT(c->type == GGML_TYPE_F32) "
                + "in ggml_rope_ext; with LLamaSharp 0.30.0 already while loading the model); patch rewrites the factors as F32", Consequence.ProcessAborts);
        }
        if (!shapeOk) return null;
        float[]? values = SmallTensorReader.ReadFloats(file, t);
        if (values is null) return null;
        string name = t.Name == LongRopeKeys.LongFactorsTensor ? "long" : "short";
        foreach (var issue in FactorValidator.CheckValues(name, values))
            add(issue.IsError ? Severity.Error : Severity.Warning, issue.IsError ? "factor-values" : "factor-values-unusual", $"tensor '{t.Name}': {issue.Message}",
                issue.IsError ? Consequence.NotAsIntended : Consequence.None);
        return values;
    }

    /// <summary>
    /// Keys of the model itself (not its RoPE) that llama.cpp reads with fixed types or requires, and values it asserts
    /// on. A patch leaves them as they are, so it refuses a model with one of these (<see cref="LongRopePatcher"/>'s
    /// source defects); the runner refuses the aborts before llama.cpp loads the file. Each was measured with LLamaSharp
    /// 0.30.0's llama.cpp (FailureTableTests); verify said "OK" for all of them.
    /// </summary>
    private static void CheckModelKeys(GgufFile file, string arch, FindingSink add)
    {
        CheckKeyTypes(file, "model-key-type", "; patch does not change this key", add, ModelKeyTypes(arch));
        string? tokenizer = file.TryGetValue(TokenizerModelKey, out var tm) && tm.Type == GgufValueType.String ? tm.AsString() : null;
        foreach (string key in RequiredModelKeys(arch, tokenizer))
            if (!file.ContainsKey(key))
                add(Severity.Error, "model-key-missing", $"no '{key}': llama.cpp requires it and fails to load", Consequence.LoadFails);
        if (file.TryGetValue(TokenListKey, out var tokens) && (tokens.Type != GgufValueType.Array || tokens.ElementType != GgufValueType.String))
            add(Severity.Error, "token-list-type", $"'{TokenListKey}' is {tokens.DescribeType()}, not ARRAY[STRING]: llama.cpp aborts the process while loading "
                + "the vocabulary (GGML_ASSERT in gguf_get_arr_str)", Consequence.ProcessAborts);
        string epsKey = $"{arch}.attention.layer_norm_rms_epsilon";
        if (file.TryGetValue(epsKey, out var eps) && eps.Type == GgufValueType.Float32 && !(eps.AsFloat32() >= 0))
            add(Severity.Error, "norm-epsilon-invalid", $"{epsKey} = {F(eps.AsFloat32())}: llama.cpp loads the model and aborts the process at the first "
                + "decode (GGML_ASSERT(eps >= 0.0f) in rms_norm)", Consequence.ProcessAborts);
        CheckVocabulary(file, tokenizer, add);
        foreach (var entry in file.Metadata)
            if (entry.Value.Type == GgufValueType.Array && entry.Value.ElementType == GgufValueType.Array)
                add(Severity.Error, "nested-array", $"'{entry.Key}' is an array of arrays: llama.cpp's GGUF reader refuses the file ('invalid GGUF type')",
                    Consequence.LoadFails);
    }

    /// <summary>Tokenizer names llama.cpp's vocabulary loader knows (llama-vocab.cpp; each other name measured as
    /// "unknown tokenizer"), and those of them that also need tokenizer.ggml.merges (measured: "cannot find tokenizer
    /// merges in model file").</summary>
    private static readonly string[] KnownTokenizers = ["no_vocab", "none", "llama", "bert", "gpt2", "hybriddna", "whitespace", "t5", "rwkv", "plamo2", "gemma4"];
    private static readonly string[] MergesTokenizers = ["gpt2", "hybriddna", "whitespace", "gemma4"];

    /// <summary>
    /// The vocabulary as llama.cpp's loader takes it (all measured with LLamaSharp 0.30.0, FailureTableTests): a known
    /// tokenizer name, merges for the BPE tokenizers, and per-token scores and types at least as long as the token list
    /// (a scalar counts as one); an array of strings there passes the length check and then aborts the process
    /// (GGML_ASSERT in gguf_get_arr_data).
    /// </summary>
    private static void CheckVocabulary(GgufFile file, string? tokenizer, FindingSink add)
    {
        if (tokenizer is null || tokenizer is "none" or "no_vocab") return;
        if (!KnownTokenizers.Contains(tokenizer))
        {
            add(Severity.Error, "tokenizer-unknown", $"{TokenizerModelKey} = '{tokenizer}' is not one of {string.Join(", ", KnownTokenizers)}: llama.cpp fails to load "
                + "('unknown tokenizer')", Consequence.LoadFails);
            return;
        }
        if (MergesTokenizers.Contains(tokenizer) && !file.ContainsKey("tokenizer.ggml.merges"))
            add(Severity.Error, "model-key-missing", $"no 'tokenizer.ggml.merges': {TokenizerModelKey} '{tokenizer}' requires it and llama.cpp fails to load", Consequence.LoadFails);
        if (!file.TryGetValue(TokenListKey, out var tokens) || tokens.Type != GgufValueType.Array || tokens.ElementType != GgufValueType.String) return;
        foreach (string key in (string[])["tokenizer.ggml.scores", "tokenizer.ggml.token_type"])
        {
            if (!file.TryGetValue(key, out var v)) continue;
            ulong count = v.Type == GgufValueType.Array ? (ulong)v.Count : 1;
            if (count < (ulong)tokens.Count)
                add(Severity.Error, "vocab-array-short", $"'{key}' holds {count} value{(count == 1 ? "" : "s")} for {tokens.Count} tokens: llama.cpp fails to load "
                    + "('Index out of array bounds')", Consequence.LoadFails);
            else if (v.Type == GgufValueType.Array && v.ElementType == GgufValueType.String)
                add(Severity.Error, "vocab-array-type", $"'{key}' is {v.DescribeType()}: llama.cpp aborts the process while loading the vocabulary "
                    + "(GGML_ASSERT in gguf_get_arr_data)", Consequence.ProcessAborts);
        }
    }

    /// <summary>
    /// head_count, head_count_kv and feed_forward_length, which llama.cpp reads as one UINT32 or one value per layer
    /// (get_key_or_arr; all measured): an array must have block_count items (else "wrong array length") of UINT32 or
    /// INT32; FLOAT32 and STRING items abort the process (GGML_ASSERT in get_arr), other item types fail the load.
    /// </summary>
    private static void CheckPerLayerKeys(GgufFile file, string arch, int? blocks, FindingSink add)
    {
        foreach (string key in (string[])[LongRopeKeys.HeadCount(arch), $"{arch}.attention.head_count_kv", $"{arch}.feed_forward_length"])
        {
            if (!file.TryGetValue(key, out var v) || v.Type == GgufValueType.UInt32) continue;
            if (v.Type != GgufValueType.Array)
                add(Severity.Error, "model-key-type", $"'{key}' is {v.DescribeType()}; llama.cpp reads it as UINT32 (or one per layer) and fails to load "
                    + $"('key {key} has wrong type'); patch does not change this key", Consequence.LoadFails);
            else if (blocks is int n && v.Count != n)
                add(Severity.Error, "per-layer-key", $"'{key}' holds {v.Count} values for {n} layers: llama.cpp fails to load ('wrong array length')", Consequence.LoadFails);
            else if (v.ElementType is GgufValueType.Float32 or GgufValueType.String)
                add(Severity.Error, "per-layer-key", $"'{key}' is {v.DescribeType()}, not UINT32 per layer: llama.cpp aborts the process while loading "
                    + "(GGML_ASSERT in get_arr)", Consequence.ProcessAborts);
            else if (v.ElementType is not (GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Bool))
                add(Severity.Error, "per-layer-key", $"'{key}' is {v.DescribeType()}, not UINT32 per layer: llama.cpp fails to load "
                    + "('not a string/float32/uint32/int32 array')", Consequence.LoadFails);
        }
    }

    /// <summary>One <paramref name="code"/> finding per key of <paramref name="keys"/> the file holds with another type
    /// (llama.cpp's get_key refuses it and the load fails); true when there is none.</summary>
    private static bool CheckKeyTypes(GgufFile file, string code, string note, FindingSink add, (string Key, GgufValueType Type)[] keys)
    {
        bool ok = true;
        foreach (var (key, type) in keys)
        {
            if (!file.TryGetValue(key, out var v) || v.Type == type) continue;
            ok = false;
            add(Severity.Error, code, $"'{key}' is {v.DescribeType()}; llama.cpp reads it as {type.ToGgufName()} and fails to load ('key {key} has wrong type'){note}",
                Consequence.LoadFails);
        }
        return ok;
    }

    private const string TokenizerModelKey = "tokenizer.ggml.model";

    /// <summary>Keys every loader reads, with the type llama.cpp's get_key checks (llama-model.cpp load_hparams,
    /// llama-model-loader.cpp, llama-vocab.cpp).</summary>
    private static (string Key, GgufValueType Type)[] ModelKeyTypes(string arch) =>
    [
        (GgufKeys.Name, GgufValueType.String), ("general.file_type", GgufValueType.UInt32),
        ($"{arch}.vocab_size", GgufValueType.UInt32), ($"{arch}.attention.value_length", GgufValueType.UInt32),
        ($"{arch}.attention.layer_norm_rms_epsilon", GgufValueType.Float32), ($"{arch}.rope.scaling.finetuned", GgufValueType.Bool),
        (TokenizerModelKey, GgufValueType.String), ("tokenizer.ggml.pre", GgufValueType.String),
        ("tokenizer.ggml.bos_token_id", GgufValueType.UInt32), ("tokenizer.ggml.eos_token_id", GgufValueType.UInt32),
        ("tokenizer.ggml.unknown_token_id", GgufValueType.UInt32), ("tokenizer.ggml.padding_token_id", GgufValueType.UInt32),
        ("tokenizer.ggml.add_bos_token", GgufValueType.Bool), ("tokenizer.ggml.add_eos_token", GgufValueType.Bool),
    ];

    /// <summary>Keys llama.cpp requires of every model (the vocabulary unless the tokenizer is 'none'), and the RMS-norm
    /// epsilon of the llama loader.</summary>
    private static IEnumerable<string> RequiredModelKeys(string arch, string? tokenizer)
    {
        yield return $"{arch}.embedding_length";
        yield return TokenizerModelKey;
        if (tokenizer is not ("none" or "no_vocab")) yield return TokenListKey;
        if (arch != "llama") yield break;
        // Without them the llama loader sizes the attention and FFN tensors 0 wide ("wrong shape", measured).
        yield return $"{arch}.attention.layer_norm_rms_epsilon";
        yield return LongRopeKeys.HeadCount(arch);
        yield return $"{arch}.feed_forward_length";
    }

    private static FactorSetSelection? CheckLengths(GgufFile file, string arch, ModelRopeInfo model, FindingSink add)
    {
        int context = model.ContextLength;
        bool hasOriginal = file.TryGetValue(LongRopeKeys.OriginalContextLength(arch), out var o) && o.Type == GgufValueType.UInt32;
        // llama.cpp keeps it as uint32: above int.MaxValue it is a length no context reaches (every one runs short), not
        // the negative number a cast to int made of it.
        long threshold = hasOriginal ? o!.AsUInt32() : context;
        string source = hasOriginal ? LongRopeKeys.OriginalContextLength(arch) : LongRopeKeys.ContextLength(arch);
        if (!hasOriginal)
            add(Severity.Error, "original-missing", $"no '{LongRopeKeys.OriginalContextLength(arch)}': llama.cpp takes {LongRopeKeys.ContextLength(arch)} = {context} "
                + $"as the threshold, so the long set is used only for contexts above {context}, beyond the model's own length", Consequence.NotAsIntended);
        else if (context <= threshold)
            add(Severity.Error, "context-not-extended", $"{LongRopeKeys.ContextLength(arch)} = {context} is not above the original length {threshold}: "
                + $"the long set is used only for contexts above {threshold}, beyond the model's own length", Consequence.NotAsIntended);
        if (threshold <= 0)
        {
            add(Severity.Error, "original-invalid", $"original context length {threshold}: every context runs on the long set", Consequence.NotAsIntended);
            return null;
        }
        if (threshold > int.MaxValue) return null; // context-not-extended said it: every context runs on the short set
        return new FactorSetSelection((int)threshold, source, context);
    }

    /// <summary>
    /// The layer count, read before anything else of the model: without it the load fails, and outside 1..512
    /// (LLAMA_MAX_LAYERS) llama.cpp aborts the whole process (measured with 0, 513 and 2^32-1). Null unless it is one
    /// llama.cpp accepts, so that the tensor checks never walk billions of layers.
    /// </summary>
    private static int? CheckBlockCount(GgufFile file, string arch, FindingSink add)
    {
        string key = LongRopeKeys.BlockCount(arch);
        if (!file.TryGetValue(key, out var value))
        {
            add(Severity.Error, "block-count-missing", $"no '{key}': llama.cpp requires the layer count and fails to load", Consequence.LoadFails);
            return null;
        }
        if (value.Type != GgufValueType.UInt32)
        {
            add(Severity.Error, "block-count-invalid", $"'{key}' is {value.DescribeType()}; llama.cpp reads it as UINT32 and fails to load ('key {key} has wrong type')", Consequence.LoadFails);
            return null;
        }
        uint count = value.AsUInt32();
        if (count is >= 1 and <= LongRopeKeys.MaxLayers) return (int)count;
        add(Severity.Error, "block-count-invalid", $"{key} = {count}: llama.cpp takes 1 to {LongRopeKeys.MaxLayers} layers and aborts the process while "
            + "loading (GGML_ASSERT n_layer_all > 0 && n_layer_all <= LLAMA_MAX_LAYERS)", Consequence.ProcessAborts);
        return null;
    }

    /// <summary>
    /// The expert counts, which llama.cpp asserts on while reading the hyperparameters (measured: each case below aborts
    /// the process): at most 512 experts, no more used than there are, and some used when there are any. Null unless
    /// the counts are ones llama.cpp accepts.
    /// </summary>
    private static int? CheckExpertCounts(GgufFile file, string arch, FindingSink add)
    {
        string countKey = LongRopeKeys.ExpertCount(arch), usedKey = LongRopeKeys.ExpertUsedCount(arch);
        foreach (string key in (string[])[countKey, usedKey])
        {
            if (file.TryGetValue(key, out var v) && v.Type != GgufValueType.UInt32)
            {
                add(Severity.Error, "expert-count-invalid", $"'{key}' is {v.DescribeType()}; llama.cpp reads it as UINT32 and fails to load ('key {key} has wrong type')", Consequence.LoadFails);
                return null;
            }
        }
        uint? Read(string key) => file.TryGetValue(key, out var v) ? v.AsUInt32() : null;
        uint count = Read(countKey) ?? 0, used = Read(usedKey) ?? 0; // llama.cpp's defaults
        string? why = count > LongRopeKeys.MaxExperts ? $"{countKey} = {count}: llama.cpp takes at most {LongRopeKeys.MaxExperts} experts"
            : used > count ? $"{usedKey} = {used} with {(file.ContainsKey(countKey) ? $"{countKey} = {count}" : $"no {countKey}")}: more experts used than there are"
            : count > 0 && used == 0 ? $"{countKey} = {count} with {(file.ContainsKey(usedKey) ? $"{usedKey} = 0" : $"no {usedKey}")}: a model with experts must use some"
            : null;
        if (why is null) return (int)count;
        add(Severity.Error, "expert-count-invalid", $"{why}, and llama.cpp aborts the process while loading (GGML_ASSERT on the expert counts)", Consequence.ProcessAborts);
        return null;
    }

    private static void CheckAttentionFactor(GgufFile file, string arch, FactorSetSelection? plan, FindingSink add)
    {
        string key = LongRopeKeys.AttentionFactor(arch);
        if (!file.TryGetValue(key, out var v))
        {
            // A file this tool patched says which magnitude its factors were made for: a formula that gives another
            // value than the 1 llama.cpp then uses is not the LongRoPE the file is meant to carry.
            if (IntendedAttentionFactor(file, plan) is { } intended && intended.Value != 1f)
                add(Severity.Error, "attn-factor-missing", $"no '{key}': llama.cpp uses 1 (no attention magnitude scaling) for both sets, but the factors "
                    + $"were made for {F(intended.Value)} ({LongRopeKeys.AttentionFactorPolicy} {intended.Policy})", Consequence.NotAsIntended);
            else
                add(Severity.Warning, "attn-factor-missing", $"no '{key}': llama.cpp uses 1 (no attention magnitude scaling) for both sets");
            return;
        }
        if (v.Type != GgufValueType.Float32) return; // reported as key-type
        float a = v.AsFloat32();
        if (AttentionFactors.WhyUnusable(a) is { } unusable)
        {
            add(Severity.Error, "attn-factor-invalid", $"{key} = {F(a)}: cos and sin are multiplied by it, so attention breaks ({unusable})", Consequence.NotAsIntended);
            return;
        }
        if (a < 1 || a > 2)
            add(Severity.Warning, "attn-factor-unusual", $"{key} = {F(a)} is outside [1, 2]; attention logits are scaled by its square ({F(a * a)}) at every context size");
        if (plan is { } p && p.ContextLength > p.Threshold)
        {
            double s = (double)p.ContextLength / p.Threshold;
            float su = AttentionFactors.Compute(AttentionFactorPolicy.Su, s, p.Threshold);
            float yarn = AttentionFactors.Compute(AttentionFactorPolicy.Yarn, s, p.Threshold);
            string shortContexts = ShortContextAttention.ContextParameter(file) is { } f
                ? $"; longrope's generate/chat/bench/eval/search run short contexts at the model's own magnitude (yarn_attn_factor {F(f)})"
                : "";
            add(Severity.Info, "attn-factor", $"{key} = {F(a)} applies to both sets in llama.cpp (for s = {F((float)s)}: su would be {F(su)}, yarn {F(yarn)}){shortContexts}");
        }
    }

    /// <summary>The attention factor the file's provenance policy gives for its extension (su, yarn, none); null
    /// without a policy key, for an explicit value (not recorded apart from the key itself) or without a usable plan.</summary>
    private static (string Policy, float Value)? IntendedAttentionFactor(GgufFile file, FactorSetSelection? plan)
    {
        if (plan is not { } p || !file.TryGetValue(LongRopeKeys.AttentionFactorPolicy, out var v) || v.Type != GgufValueType.String) return null;
        string name = v.AsString().Trim();
        if (!AttentionFactors.TryParsePolicy(name, out var policy) || policy == AttentionFactorPolicy.Explicit) return null;
        return (name, AttentionFactors.Compute(policy, (double)p.ContextLength / p.Threshold, p.Threshold));
    }

    private static void CheckScalingFactor(GgufFile file, string arch, FindingSink add)
    {
        foreach (string key in new[] { LongRopeKeys.ScalingFactor(arch), LongRopeKeys.ScaleLinear(arch) })
        {
            if (!file.TryGetValue(key, out var v) || v.Type != GgufValueType.Float32) continue;
            float x = v.AsFloat32();
            if (x != 0 && x != 1)
                add(Severity.Error, "scaling-factor-conflict", $"{key} = {F(x)}: llama.cpp divides every frequency by it on top of the LongRoPE factors "
                    + "(patch removes it)", Consequence.NotAsIntended);
        }
    }

    private static FactorSet? EmbeddedFactorsOrNull(GgufFile file, float[]? longValues, float[]? shortValues)
    {
        if (longValues is null && shortValues is null) return null;
        try
        {
            return EmbeddedFactors.Read(file);
        }
        catch (LongRopePatchException)
        {
            return null;
        }
    }

    /// <summary>The longrope.* copy of the factors should match the tensors; a mismatch means the file was edited by
    /// another tool after patching (llama.cpp uses the tensors).</summary>
    private static void CheckProvenance(GgufFile file, FactorSet embedded, FindingSink add)
    {
        if (!EmbeddedFactors.IsPatchedByThisTool(file)) return;
        foreach (var (key, values) in new[] { (LongRopeKeys.ProvenanceLong, embedded.LongFactors), (LongRopeKeys.ProvenanceShort, embedded.ShortFactors) })
        {
            if (!file.TryGetValue(key, out var v) || v.Type != GgufValueType.Array || v.ElementType != GgufValueType.Float32
                || !v.AsFloat32Array().AsSpan().SequenceEqual(values.AsSpan()))
                add(Severity.Warning, "provenance-mismatch", $"'{key}' does not hold the values of the factor tensor (llama.cpp uses the tensor)");
        }
        add(Severity.Info, "provenance", $"factors from: {embedded.Source}; attention factor policy {AttentionFactors.Name(embedded.AttentionFactorPolicy)}");
    }

    private static void DescribePlan(FactorSetSelection p, FindingSink add)
    {
        if (p.LargestShortContext == 0)
            add(Severity.Warning, "short-set-unused", $"{p.ThresholdSource} {p.Threshold} is below 256: llama.cpp rounds every context up to a multiple "
                + "of 256, so it never runs the short set");
        string sets = p.LargestShortContext == 0 ? "every context size runs on the long set" : $"context sizes 1..{p.LargestShortContext} run on the short set, larger ones on the long set";
        add(Severity.Info, "plan", $"{sets} "
            + $"(llama.cpp rounds n_ctx up to a multiple of 256 and uses the long set when it exceeds {p.Threshold}, from {p.ThresholdSource}); "
            + $"context size 0 means {p.ContextLength}, which uses the {(p.UsesLongSet(0) ? "long" : "short")} set");
        add(Severity.Info, "plan-sequences", "with several sequences and a non-unified KV cache (ModelParams.KVUnified = false), "
            + "n_ctx / SeqMax rounded up to 256 is compared instead");
        add(Severity.Info, "issue-24823", "the set is chosen once per context, not per prompt: a short prompt in a context above the threshold runs on "
            + "the long set (llama.cpp issue #24823); `longrope generate` and `longrope chat` avoid it by sizing each context for the work");
    }

    private static string F(float f) => f.ToString("G6", CultureInfo.InvariantCulture);
}
