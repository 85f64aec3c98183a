using System.CommandLine;

namespace LongRopeGguf.Cli.Commands;

/// <summary>Arguments and options shared by several commands, defined once so they read the same everywhere.</summary>
public static class CommonOptions
{
    public static Argument<FileInfo> Model() => new("MODEL") { Description = "Path to a GGUF model file." };

    /// <summary>
    /// Checks a results folder option at parse time: an existing file of that name, or a place under /proc or /sys,
    /// is refused in one line naming the option, not by the system's message when the first result is written.
    /// </summary>
    public static T ResultsFolder<T>(this T option) where T : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return;
            string value = result.Tokens[^1].Value;
            if (value.Length == 0) { result.AddError($"{option.Name}: an empty path"); return; }
            string path;
            try { path = Path.GetFullPath(value); }
            catch (Exception e) when (e is ArgumentException or PathTooLongException or NotSupportedException)
            {
                result.AddError($"{option.Name} '{value}': not a valid path");
                return;
            }
            if (File.Exists(path)) result.AddError($"{option.Name} {path}: is a file, not a folder");
            else if (AncestorFile(path) is { } file) result.AddError($"{option.Name} {path}: {file} is a file, not a folder");
            else if (Gguf.AtomicFile.IsSystemFile(path + "/")) result.AddError($"{option.Name} {path}: not a folder results can be written to");
        });
        return option;
    }

    /// <summary>A folder above <paramref name="path"/> that is a file ("-o model.gguf/results" said "Could not find a part
    /// of the path").</summary>
    private static string? AncestorFile(string path)
    {
        for (string? p = Path.GetDirectoryName(path); p is not null; p = Path.GetDirectoryName(p))
            if (File.Exists(p)) return p;
        return null;
    }

    /// <summary>Refuses an empty value at parse time (a path option given "" would otherwise read as not given).</summary>
    public static T NotEmpty<T>(this T option) where T : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && result.Tokens[^1].Value.Length == 0) result.AddError($"{option.Name}: an empty path");
        });
        return option;
    }

    /// <summary>Refuses a token count below 1 at parse time, before any file is read or anything is shown.</summary>
    public static Option<int?> PositiveTokens(this Option<int?> option) => Positive(option, "must be a positive number of tokens");

    /// <summary>Refuses a given whole number below 1 with "OPTION N: <paramref name="requirement"/>".</summary>
    public static TOption Positive<TOption>(this TOption option, string requirement) where TOption : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && int.TryParse(result.Tokens[^1].Value, out int n) && n < 1)
                result.AddError($"{option.Name} {n}: {requirement}");
        });
        return option;
    }

    /// <summary>
    /// Accepts one of the given names in any letter case and hands the command the name as listed, as the named
    /// values of every other option are read (<c>--method PI</c>, <c>--set LONG</c>): System.CommandLine's own
    /// AcceptOnlyFromAmong compares case-sensitively.
    /// </summary>
    public static Option<string> OneOf(this Option<string> option, params string[] names)
    {
        option.CustomParser = result =>
        {
            if (result.Tokens.Count == 0) return null;
            string value = result.Tokens[^1].Value;
            string? name = names.FirstOrDefault(n => n.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase));
            if (name is null)
            {
                result.AddError($"{option.Name} '{value}': expected {string.Join(", ", names[..^1])} or {names[^1]}");
                return null;
            }
            return name;
        };
        option.CompletionSources.Add(names);
        return option;
    }

    public static Option<bool> Json() => new("--json") { Description = "Write machine-readable JSON to standard output." };
}
