using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LongRopeGguf.Evaluation;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Perplexity;
using LongRopeGguf.Evaluation.Prompts;
using LongRopeGguf.LongRope;
using LongRopeGguf.Search.Evolution;

namespace LongRopeGguf.Search.Llama;

/// <summary>
/// Fitness measured through llama.cpp on the real model: the candidate's factors and attention factor are written into
/// the <see cref="WorkingCopy"/> in place, the model is loaded again, and a context of the target length scores the
/// text windows (perplexity) and/or the pass-key prompts (NLL or worst-token margin of the answer, teacher-forced). Texts and prompts
/// are tokenized once, up front.
/// </summary>
public sealed class LlamaFitness : IFitnessFunction
{
    private readonly WorkingCopy _copy;
    private readonly FitnessSpec _spec;
    private readonly EngineOptions _engine;
    private readonly Func<Candidate, FactorSet> _setOf;
    private readonly string _expectedSet;
    private readonly string _modelPath;
    private readonly long _modelBytes;
    private readonly string _modelFingerprint;
    private readonly int[] _textTokens;
    private readonly string? _textHash;
    /// <summary>The pass-key prompts in the order that shares the most prefill (the mean does not depend on it).</summary>
    private readonly IReadOnlyList<PassKeyPrompt> _prompts;
    private readonly IReadOnlyList<int> _passageOffsets = [0];
    private readonly string? _haystackName;
    private readonly string? _haystackHash;
    private readonly RopeMode _mode;
    /// <summary>The perplexity bound in force: the spec's number, or the seed's measurement once made.</summary>
    private double? _maxPerplexity;

    /// <param name="copy">The patched working copy (already holding some factor set of the right shape).</param>
    /// <param name="modelPath">The model the copy was made from (named in the log header).</param>
    /// <param name="setOf">The full factor set to write for a candidate.</param>
    /// <param name="set">The set the candidates fill; the context must make llama.cpp use it.</param>
    /// <param name="cancellationToken">Stops the set-up between its steps (the text's tokens, each pass-key prompt).</param>
    public LlamaFitness(WorkingCopy copy, string modelPath, FitnessSpec spec, EngineOptions engine, Func<Candidate, FactorSet> setOf, SearchSet set,
        CancellationToken cancellationToken = default)
    {
        spec.Validate();
        _copy = copy;
        _spec = spec;
        _engine = engine;
        _setOf = setOf;
        _expectedSet = set.Name();
        _modelPath = System.IO.Path.GetFullPath(modelPath);
        _modelBytes = new FileInfo(modelPath).Length;
        _modelFingerprint = ModelFingerprint.Of(modelPath);
        _mode = new RopeMode("candidate", RopeModeKind.Patched, copy.Path);
        _maxPerplexity = spec.MaxPerplexity;

        // SearchRunner has checked that a context of the target length fits (before copying the model): the prompts
        // built here are that long.
        using var model = EvalModel.Load(copy.Path, engine);
        _textTokens = [];
        Haystack? text = null;
        if (spec.UsesText)
        {
            text = Haystack.FromFile(spec.TextPath!, "--text");
            string normalized = text.Take(text.AvailableChars);
            _textHash = Hash(normalized);
            // With the model's own BOS count, as the scorer cuts the windows (a model without BOS has one more token each).
            int bos = model.Tokenize("", addBos: true).Length;
            // Only the start the windows read (a 100 MB text took minutes and gigabytes to tokenize whole).
            _textTokens = Evaluation.Perplexity.TextTokens.Start(model, normalized, (long)spec.Windows * Math.Max(1, spec.TargetLength - bos), cancellationToken).Tokens;
            cancellationToken.ThrowIfCancellationRequested();
            int available = PerplexityScorer.WindowsAvailable(_textTokens.Length, spec.TargetLength, bos);
            if (available < spec.Windows)
                throw new EvalInputException($"--text {spec.TextPath}: {_textTokens.Length} tokens give {available} window(s) of {spec.TargetLength} tokens; {spec.Windows} asked (--windows)");
        }
        _prompts = [];
        if (spec.UsesPassKey)
        {
            // The text is the default haystack: reuse it rather than read and normalize the file again.
            var haystack = spec.Haystack is { } h ? Haystack.Parse(h) : text ?? Haystack.Parse(spec.TextPath!);
            _haystackName = haystack.IsFiller ? "filler" : haystack.SourcePath;
            var promptSet = PassKeyPromptSet.Build(model, haystack, spec, cancellationToken);
            _prompts = promptSet.InSharingOrder();
            _passageOffsets = promptSet.PassageOffsets;
            _haystackHash = haystack.IsFiller ? null : Hash(haystack.Take(Math.Min(haystack.AvailableChars, promptSet.TextChars)));
        }
    }

    /// <summary>Pass-key prompts each candidate answers (0 for fitness ppl).</summary>
    public int PromptCount => _prompts.Count;

    /// <summary>Tokens of the --text file (0 without one).</summary>
    public int TextTokens => _textTokens.Length;

    public JsonObject Describe()
    {
        var o = new JsonObject
        {
            ["kind"] = _spec.Name,
            ["model"] = _modelPath,
            ["model_bytes"] = _modelBytes,
            // What identifies the model: a moved or renamed copy resumes the log (SearchIdentity).
            ["model_fingerprint"] = _modelFingerprint,
            ["set"] = _expectedSet,
            ["target_length"] = _spec.TargetLength,
            ["batch_size"] = _engine.BatchSize,
        };
        if (_spec.Kind == FitnessKind.Mix) o["mix_weight"] = _spec.MixWeight;
        // Only when not the NLL, so that the logs of earlier searches keep their header and still resume.
        if (_spec.PassKeyLoss != PassKeyLoss.Nll) o["passkey_loss"] = _spec.PassKeyLoss.Name();
        // Short contexts run at the model's own attention magnitude since session 17: a short-set log from before
        // measured at the file's, so it must not resume into this one.
        if (_expectedSet == "short") o["short_attention"] = "model";
        if (_spec.BoundsPerplexity)
        {
            // Only when bounded, so that the logs of earlier searches keep their header and still resume.
            o["max_ppl"] = _maxPerplexity ?? throw new InvalidOperationException($"the {_spec.MaxPerplexitySeed} seed's perplexity bound is not measured yet");
            if (_spec.MaxPerplexitySeed is { } seed) o["max_ppl_of"] = seed;
        }
        if (_spec.UsesText)
            o["text"] = new JsonObject { ["path"] = System.IO.Path.GetFullPath(_spec.TextPath!), ["sha256"] = _textHash, ["windows"] = _spec.Windows };
        if (_spec.UsesPassKey)
        {
            var passkey = new JsonObject
            {
                ["prompts"] = _spec.PassKeyPrompts,
                ["seed"] = _spec.PassKeySeed,
                ["haystack"] = _haystackName,
                ["haystack_sha256"] = _haystackHash,
            };
            // Only when used, so that the logs of one-passage searches keep their header and still resume.
            if (_passageOffsets.Count > 1) passkey["passage_offsets"] = new JsonArray([.. _passageOffsets.Select(x => (JsonNode)x)]);
            if (_spec.PassKeyDepths != PassKeyDepths.Centered) passkey["depths"] = _spec.PassKeyDepths.Name();
            o["passkey"] = passkey;
        }
        return o;
    }

    /// <summary>The perplexity bound in force (null: none, or a seed's not measured yet).</summary>
    public double? MaxPerplexity => _maxPerplexity;

    /// <summary>
    /// Measures <paramref name="seed"/>'s text perplexity and makes it, rounded up to 4 decimals, the bound (so the seed
    /// itself is within it).
    /// </summary>
    public double BoundPerplexityBy(Candidate seed, CancellationToken cancellationToken)
    {
        if (_spec.MaxPerplexitySeed is null) throw new InvalidOperationException("the fitness has no seed-measured perplexity bound");
        double perplexity = Measure(seed, textOnly: true, cancellationToken).Perplexity;
        if (!double.IsFinite(perplexity))
            throw new EvalInputException($"--max-ppl {_spec.MaxPerplexitySeed}: the seed's perplexity on --text {_spec.TextPath} is {perplexity.ToString(System.Globalization.CultureInfo.InvariantCulture)}; give the bound as a number");
        double bound = Math.Ceiling(perplexity * 1e4) / 1e4;
        // The division can land one ulp below a perplexity just above a multiple of 1e-4.
        if (bound < perplexity) bound = (Math.Ceiling(perplexity * 1e4) + 1) / 1e4;
        _maxPerplexity = bound;
        return bound;
    }

    /// <summary>
    /// Takes the bound a resumed search's log holds (measured when the log was started) instead of measuring the seed
    /// again: a remeasurement on another build or device could differ in the last digits and round to another bound,
    /// and the log would refuse to resume under it.
    /// </summary>
    public void UseLoggedBound(double bound)
    {
        if (_spec.MaxPerplexitySeed is null) throw new InvalidOperationException("the fitness has no seed-measured perplexity bound");
        _maxPerplexity = bound;
    }

    public FitnessResult Evaluate(Candidate candidate, CancellationToken cancellationToken)
    {
        if (_spec.BoundsPerplexity && _maxPerplexity is null)
            throw new InvalidOperationException($"the {_spec.MaxPerplexitySeed} seed's perplexity bound is not measured yet (BoundPerplexityBy)");
        var m = Measure(candidate, textOnly: false, cancellationToken);
        double value = _spec.Kind switch
        {
            FitnessKind.Perplexity => m.Perplexity,
            FitnessKind.PassKey => m.PassKeyLoss,
            _ => _spec.MixWeight * m.TextNll + (1 - _spec.MixWeight) * m.PassKeyLoss,
        };
        if (_maxPerplexity is { } bound) value = FitnessSpec.BoundedValue(value, m.Perplexity, bound);
        // A candidate that breaks the model (NaN logits) is the worst, not an error: the search moves on.
        if (double.IsNaN(value)) value = double.PositiveInfinity;
        return FitnessResult.Of(value, [.. m.Components]);
    }

    private sealed record Measurement(double TextNll, double PassKeyLoss, List<(string, double)> Components)
    {
        public double Perplexity => Math.Exp(TextNll);
    }

    private Measurement Measure(Candidate candidate, bool textOnly, CancellationToken cancellationToken)
    {
        _copy.Apply(_setOf(candidate));
        using var model = EvalModel.Load(_copy.Path, _engine);
        // Two sequences in one unified cache of the target length: the pass-key prompts share their haystack prefix
        // (PromptPrefiller); llama.cpp still sizes the context, and picks the factor set, by the target length.
        bool passKeys = _spec.UsesPassKey && !textOnly;
        // The context's shape is the one the search evaluates in, also when only the text is measured (the bound):
        // the seed's perplexity is then the same number in both.
        using var context = model.CreateContext(_mode, _spec.TargetLength, _spec.TargetLength, sequences: _spec.UsesPassKey ? 2 : 1);
        if (context.FactorSet != _expectedSet)
            throw new EvalInputException($"a {context.ContextSize}-token context runs {_copy.Path} on its {context.FactorSet} factor set, not the {_expectedSet} set being searched (llama.cpp rounds contexts up to a multiple of 256; original length {model.Info.OriginalContextLength})");
        var scorer = new PerplexityScorer(context);
        var components = new List<(string, double)>();
        double textNll = double.NaN, passKeyLoss = double.NaN;
        if (_spec.UsesText)
        {
            var r = scorer.Score(_textTokens, _spec.TargetLength, _spec.Windows, ct: cancellationToken);
            textNll = r.MeanNll;
            components.Add(("ppl", r.Perplexity));
            components.Add(("text_nll", r.MeanNll));
        }
        if (passKeys)
        {
            double nll = 0, loss = 0;
            int right = 0;
            var prefiller = new PromptPrefiller(context, share: true);
            foreach (var prompt in _prompts)
            {
                var a = TeacherForcing.ScoreAnswer(prefiller, prompt, cancellationToken);
                nll += a.MeanNll;
                loss += _spec.LossOf(a);
                if (a.GreedyMatches) right++;
            }
            passKeyLoss = loss / _prompts.Count;
            components.Add(("passkey_nll", nll / _prompts.Count));
            if (_spec.PassKeyLoss != PassKeyLoss.Nll) components.Add(($"passkey_{_spec.PassKeyLoss.Name()}_loss", passKeyLoss));
            components.Add(("passkey_greedy", (double)right / _prompts.Count));
        }
        return new Measurement(textNll, passKeyLoss, components);
    }

    private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
}
