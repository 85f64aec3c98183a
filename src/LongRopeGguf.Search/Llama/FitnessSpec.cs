using LongRopeGguf.Gguf;
using System.Globalization;

namespace LongRopeGguf.Search.Llama;

/// <summary>Which LongRoPE set a search fills: long (contexts beyond the original length) or short (up to it).</summary>
public enum SearchSet
{
    Long,
    Short,
}

/// <summary>How the CLI, the log header and `--json` spell the search's choices.</summary>
public static class SearchNames
{
    /// <summary>The set's name as llama.cpp's log, the factor files and the CLI spell it: "long" or "short".</summary>
    public static string Name(this SearchSet set) => set == SearchSet.Long ? "long" : "short";

    /// <summary>The loss's name as the CLI, the log header and `--json` spell it: "nll" or "margin".</summary>
    public static string Name(this PassKeyLoss loss) => loss == PassKeyLoss.Margin ? "margin" : "nll";

    /// <summary>The depths' name as the CLI, the log header and `--json` spell it: "centered" or "ends".</summary>
    public static string Name(this PassKeyDepths depths) => depths == PassKeyDepths.Ends ? "ends" : "centered";
}

/// <summary>What the fitness measures.</summary>
public enum FitnessKind
{
    /// <summary>Perplexity of text windows at the target length (lower is better).</summary>
    Perplexity,

    /// <summary>Mean negative log-likelihood (nats per token) of pass-key answers after prompts of the target length.</summary>
    PassKey,

    /// <summary>A weighted sum of the text's mean NLL (ln perplexity) and the pass-key answer NLL.</summary>
    Mix,
}

/// <summary>How a pass-key prompt's answer is scored (teacher-forced) in the pass-key part of the fitness.</summary>
public enum PassKeyLoss
{
    /// <summary>Mean NLL of the answer tokens (nats per token).</summary>
    Nll,

    /// <summary>
    /// softplus(-m) = ln(1 + e^-m), m the smallest margin over the answer tokens (the expected token's logit minus the
    /// best other one, <see cref="Evaluation.Perplexity.TeacherForcing.Margin"/>): at least ln 2 for a prompt whose
    /// greedy answer is wrong, below it for one answered right. The mean NLL can fall while no more keys come out
    /// right (teacher forcing makes the digits after a wrong one cheap); this loss tracks the keys greedy decoding gets
    /// more closely (still a surrogate: narrow misses cost ~ln 2 each, and right keys keep gaining with their margin).
    /// </summary>
    Margin,
}

/// <summary>Where the pass-key prompts put their needles.</summary>
public enum PassKeyDepths
{
    /// <summary>(i + 0.5) / n: evenly spaced, never at the very start or end of the haystack.</summary>
    Centered,

    /// <summary>
    /// i / (n - 1): evenly spaced from the start to the end, as `eval niah`'s depth grid (one prompt: 0.5, as there). On the tiny model at 32x the
    /// start is where prose keys are found at all, and a centered search gave some of them up (docs/search.md).
    /// </summary>
    Ends,
}

/// <summary>
/// How candidates are scored through llama.cpp. Everything here goes into the search log header, so that a search
/// only resumes with the same measurement.
/// </summary>
public sealed record FitnessSpec
{
    public FitnessKind Kind { get; init; } = FitnessKind.Mix;

    /// <summary>Weight of the text NLL in <see cref="FitnessKind.Mix"/>; the pass-key NLL gets 1 - this.</summary>
    public double MixWeight { get; init; } = 0.5;

    /// <summary>Context length the candidates are measured at (the context llama.cpp is given).</summary>
    public int TargetLength { get; init; }

    /// <summary>Text for perplexity windows and the pass-key haystack (UTF-8; whitespace runs collapse to a space).</summary>
    public string? TextPath { get; init; }

    /// <summary>Perplexity windows of <see cref="TargetLength"/> tokens, taken from the start of the text.</summary>
    public int Windows { get; init; } = 2;

    /// <summary>Pass-key prompts, their needles at evenly spaced depths (<see cref="PassKeyDepths"/>).</summary>
    public int PassKeyPrompts { get; init; } = 3;

    /// <summary>
    /// Passages of the haystack text the prompts take turns in (prompt i uses passage i mod n), spread evenly over the
    /// text; 1 = every prompt starts at the text's beginning. More passages keep the search from fitting one stretch of text.
    /// </summary>
    public int PassKeyPassages { get; init; } = 1;

    /// <summary>Haystack of the pass-key prompts: "filler" or a file; null = the text.</summary>
    public string? Haystack { get; init; }

    /// <summary>Seed of the pass-key keys (evaluations on held-out prompts should use another).</summary>
    public int PassKeySeed { get; init; } = 7001;

    /// <summary>Where prompt i of n puts its needle.</summary>
    public PassKeyDepths PassKeyDepths { get; init; } = PassKeyDepths.Centered;

    /// <summary>The needle depth of prompt <paramref name="index"/>.</summary>
    public double DepthOf(int index) => PassKeyDepths == PassKeyDepths.Ends
        ? Evaluation.Niah.NiahOptions.DepthAt(index, PassKeyPrompts)
        : (index + 0.5) / PassKeyPrompts;

    /// <summary>How each prompt's answer is scored; the pass-key part of the fitness is its mean over the prompts.</summary>
    public PassKeyLoss PassKeyLoss { get; init; } = PassKeyLoss.Nll;

    /// <summary>The loss of one answer under <see cref="PassKeyLoss"/>.</summary>
    public double LossOf(Evaluation.Perplexity.AnswerLikelihood answer) => PassKeyLoss == PassKeyLoss.Margin
        ? Softplus(-answer.MinMargin)
        : answer.MeanNll;

    /// <summary>ln(1 + e^x), accurate at both ends (x for large x, e^x for very negative x; NaN stays NaN).</summary>
    public static double Softplus(double x) => x > 30 ? x : x < -30 ? Math.Exp(x) : Math.Log(1 + Math.Exp(x));

    /// <summary>
    /// An upper bound on the text perplexity: candidates above it score after every candidate within it
    /// (<see cref="BoundedValue"/>), so the pass-key or mix loss is minimised subject to perplexity at most this. Null:
    /// no bound, or one measured on a seed (<see cref="MaxPerplexitySeed"/>).
    /// </summary>
    public double? MaxPerplexity { get; init; }

    /// <summary>
    /// The seed (a rule's name such as critical, or init) whose text perplexity, measured before the search and rounded
    /// up to 4 decimals, is the bound: "at most that rule's perplexity, and as many keys as possible".
    /// </summary>
    public string? MaxPerplexitySeed { get; init; }

    public bool BoundsPerplexity => MaxPerplexity is not null || MaxPerplexitySeed is not null;

    /// <summary>
    /// What a candidate above the perplexity bound scores, plus ln(ppl / bound): more than any pass-key loss a model
    /// gives (a per-token NLL or a logit margin in the hundreds is not seen), so every candidate within the bound ranks
    /// first, and among those outside it the closer one does.
    /// </summary>
    public const double OutsideBoundBase = 1000;

    /// <summary>The fitness of a candidate whose loss is <paramref name="loss"/> and text perplexity <paramref name="perplexity"/>, under <paramref name="bound"/>.</summary>
    public static double BoundedValue(double loss, double perplexity, double bound) =>
        perplexity <= bound ? loss : OutsideBoundBase + Math.Log(perplexity / bound);

    /// <summary>The bound as the CLI takes it: a number, or the name of a seed.</summary>
    public static (double? Value, string? Seed) ParseMaxPerplexity(string text)
    {
        string t = text.Trim();
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) return (v, null);
        if (t.Length > 0 && t.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return (null, t.ToLowerInvariant());
        throw new BadInputException($"--max-ppl '{text}': expected a perplexity (e.g. 3.8) or the name of a seed (e.g. critical, yarn, init)");
    }

    public bool UsesText => Kind != FitnessKind.PassKey || BoundsPerplexity;

    public bool UsesPassKey => Kind != FitnessKind.Perplexity;

    public string Name => Kind switch
    {
        FitnessKind.Perplexity => "ppl",
        FitnessKind.PassKey => "passkey",
        _ => "mix",
    };

    public static PassKeyDepths ParseDepths(string text)
    {
        foreach (var d in Enum.GetValues<PassKeyDepths>()) if (d.Name() == text.Trim().ToLowerInvariant()) return d;
        throw new BadInputException($"--passkey-depths '{text}': expected centered or ends");
    }

    public static PassKeyLoss ParseLoss(string text)
    {
        foreach (var l in Enum.GetValues<PassKeyLoss>()) if (l.Name() == text.Trim().ToLowerInvariant()) return l;
        throw new BadInputException($"--passkey-loss '{text}': expected nll or margin");
    }

    public static FitnessKind ParseKind(string text) => text.Trim().ToLowerInvariant() switch
    {
        "ppl" or "perplexity" => FitnessKind.Perplexity,
        "passkey" or "pass-key" => FitnessKind.PassKey,
        "mix" => FitnessKind.Mix,
        _ => throw new BadInputException($"fitness '{text}': expected ppl, passkey or mix"),
    };

    /// <summary>What a fitness value means, for display.</summary>
    public string Unit => Kind switch
    {
        FitnessKind.Perplexity => "perplexity",
        FitnessKind.PassKey => PassKeyLoss == PassKeyLoss.Margin ? "pass-key margin loss (softplus of -worst margin)" : "pass-key answer NLL (nats/token)",
        _ => $"{MixWeight.ToString("0.###", CultureInfo.InvariantCulture)} x ln ppl + {(1 - MixWeight).ToString("0.###", CultureInfo.InvariantCulture)} x pass-key {(PassKeyLoss == PassKeyLoss.Margin ? "margin loss" : "NLL")}",
    };

    public void Validate()
    {
        if (TargetLength < 2) throw new BadInputException($"--target-length {TargetLength}: must be at least 2 tokens");
        if (UsesText && TextPath is null)
            throw new BadInputException(Kind == FitnessKind.PassKey
                ? "--max-ppl bounds the perplexity of a text: give it with --text FILE"
                : $"fitness {Name} measures perplexity on a text: give it with --text FILE");
        if (UsesText && Windows < 1) throw new BadInputException($"--windows {Windows}: must be at least 1");
        if (UsesPassKey && PassKeyPrompts < 1) throw new BadInputException($"--passkey-prompts {PassKeyPrompts}: must be at least 1");
        // As eval niah's prompts per length: 100000 took 37 s and 710 MB to build before --check said "ready", for a
        // search that would never end; 2000000000 grew memory until killed.
        if (UsesPassKey && PassKeyPrompts > Evaluation.Niah.NiahOptions.MaxPromptsPerLength)
            throw new BadInputException($"--passkey-prompts {PassKeyPrompts}: at most {Evaluation.Niah.NiahOptions.MaxPromptsPerLength:N0} (each candidate scores every prompt)");
        if (UsesPassKey && (PassKeyPassages < 1 || PassKeyPassages > PassKeyPrompts))
            throw new BadInputException($"--passkey-passages {PassKeyPassages}: must be between 1 and the number of prompts ({PassKeyPrompts})");
        if (UsesPassKey && Haystack is null && TextPath is null)
            throw new BadInputException("the pass-key fitness needs a haystack: --haystack filler|FILE, or --text FILE for prose");
        if (!UsesPassKey && PassKeyLoss != PassKeyLoss.Nll)
            throw new BadInputException($"--passkey-loss {PassKeyLoss.Name()}: fitness ppl has no pass-key part; use --fitness passkey or mix");
        if (!UsesPassKey && PassKeyDepths != PassKeyDepths.Centered)
            throw new BadInputException($"--passkey-depths {PassKeyDepths.Name()}: fitness ppl has no pass-key prompts; use --fitness passkey or mix");
        if (BoundsPerplexity && Kind == FitnessKind.Perplexity)
            throw new BadInputException("--max-ppl with fitness ppl: perplexity is already what it minimises; bound it with --fitness passkey or mix");
        if (MaxPerplexity is { } bound && !(bound >= 1 && double.IsFinite(bound)))
            throw new BadInputException($"--max-ppl {bound.ToString(CultureInfo.InvariantCulture)}: must be a finite perplexity of at least 1");
        if (MaxPerplexity is not null && MaxPerplexitySeed is not null)
            throw new BadInputException("--max-ppl: give a number or a seed's name, not both");
        if (!(MixWeight >= 0 && MixWeight <= 1)) throw new BadInputException($"--mix-weight {MixWeight.ToString(CultureInfo.InvariantCulture)}: must be between 0 and 1");
    }
}
