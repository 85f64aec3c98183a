using System.Text.RegularExpressions;

namespace LongRopeGguf.Evaluation.Prompts;

/// <summary>How an answer is judged.</summary>
public enum AnswerScoring
{
    /// <summary>The first number in the answer equals the key (pass keys).</summary>
    FirstNumber,

    /// <summary>The answer contains the expected text, ignoring case (text needles).</summary>
    Contains,
}

/// <summary>
/// What is hidden and how it is asked for. The template's <c>{key}</c> placeholder receives a random 5-digit key, or
/// the expected answer when one is given (a text needle, scored by containment).
/// </summary>
public sealed record NeedleSpec(string Template, string Question, string? FixedAnswer)
{
    public const string Placeholder = "{key}";

    /// <summary>The model card's pass-key needle and question.</summary>
    public static NeedleSpec PassKey { get; } = new(
        "The pass key is {key}. Remember it. {key} is the pass key. ",
        "What is the pass key? The pass key is ",
        null);

    public AnswerScoring Scoring => FixedAnswer is null ? AnswerScoring.FirstNumber : AnswerScoring.Contains;

    /// <summary>A checked needle: the template must hold the placeholder, the question and answer must not be empty.</summary>
    public static NeedleSpec Create(string? template, string? question, string? answer)
    {
        if (template is null && question is null && answer is null) return PassKey;
        template ??= PassKey.Template;
        question ??= PassKey.Question;
        if (!template.Contains(Placeholder, StringComparison.Ordinal))
            throw new EvalInputException($"needle template \"{Shorten(template)}\" has no {Placeholder} placeholder: write where the key (or --answer text) goes, e.g. \"The pass key is {Placeholder}. \"");
        if (string.IsNullOrWhiteSpace(question))
            throw new EvalInputException("question is empty: give the text that asks for the needle, e.g. \"What is the pass key? The pass key is \"");
        if (answer is not null && string.IsNullOrWhiteSpace(answer))
            throw new EvalInputException("--answer is empty: give the text the model must produce, or leave it out for random 5-digit keys");
        return new NeedleSpec(template, question, answer);
    }

    /// <summary>The expected answer of a trial whose random key is <paramref name="key"/>.</summary>
    public string ExpectedFor(int key) => FixedAnswer ?? key.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public string NeedleText(string expected) => Template.Replace(Placeholder, expected, StringComparison.Ordinal);

    /// <summary>True when <paramref name="answer"/> (the raw generated text) is right.</summary>
    public bool IsCorrect(string answer, string expected) => Scoring switch
    {
        AnswerScoring.FirstNumber => FirstNumber(answer) == expected,
        _ => answer.Contains(expected.Trim(), StringComparison.OrdinalIgnoreCase),
    };

    /// <summary>The first run of digits in <paramref name="text"/>, or null.</summary>
    public static string? FirstNumber(string text)
    {
        var m = Regex.Match(text, "[0-9]+");
        return m.Success ? m.Value : null;
    }

    /// <summary>Stable short fingerprint of the needle, part of every trial's identity (resuming must not mix needles).</summary>
    public string Fingerprint()
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(Template + "\u0001" + Question + "\u0001" + (FixedAnswer ?? "\u0002"));
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes))[..8].ToLowerInvariant();
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
