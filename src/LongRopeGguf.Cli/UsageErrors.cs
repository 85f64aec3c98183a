using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;

namespace LongRopeGguf.Cli;

/// <summary>
/// Command-line mistakes (a missing argument, an unknown option, a value that does not parse) reported the way every
/// other bad input is: one line <c>longrope: error: ...</c> on standard error and exit code 2. System.CommandLine's own
/// handling prints the whole help text and exits with 1, which for `verify` means "the file failed the check".
/// </summary>
public static partial class UsageErrors
{
    /// <summary>Parses and runs <paramref name="args"/>; a parse error is reported here instead of by the parser.</summary>
    public static int Invoke(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (OptionTakenAsFile(parse) is { } unknown)
        {
            string? close = ClosestOption(parse.CommandResult.Command, unknown);
            // A name like a file's ("-x.gguf"): the way to give a file of that name, which is missing here.
            string hint = close is not null ? $" Did you mean '{close}'?"
                : unknown.Contains('.') || unknown.Contains('/') ? $" (no file {unknown} here either; a file of that name goes as ./{unknown})" : "";
            Console.Error.WriteLine($"longrope: error: Unrecognized option '{unknown}'.{hint} (see '{string.Join(' ', CommandPath(parse.CommandResult))} --help')");
            return ExitCodes.BadInput;
        }
        if (parse.Action is not ParseErrorAction)
        {
            // Every command reports its own failures (CliErrors); what escapes is a bug, reported as one (exit 70), not
            // by the parser's handler (a stack trace and exit 1, "the check said no").
            try { return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }); }
            catch (StandardOutput.ClosedException) { return StandardOutput.BrokenPipe; } // --help | head -1
            catch (Exception e) { return CliErrors.ReportInternalError(e); }
        }

        var command = parse.CommandResult.Command;
        // A command group given without a subcommand (`longrope`, `longrope factors`): its help is the useful answer.
        if (command.Subcommands.Count > 0 && command.Action is null && parse.UnmatchedTokens.Count == 0
            && parse.Errors.All(e => e.SymbolResult is null || e.SymbolResult == parse.CommandResult))
        {
            root.Parse([.. CommandPath(parse.CommandResult).Skip(1), "--help"]).Invoke();
            return ExitCodes.BadInput;
        }
        Console.Error.WriteLine($"longrope: error: {Describe(parse)} (see '{string.Join(' ', CommandPath(parse.CommandResult))} --help')");
        return ExitCodes.BadInput;
    }

    /// <summary>
    /// An unknown option where the command takes files (`verify --bogus m.gguf`, `eval compare a --bogus`): the parser
    /// takes it for a file name, and the error then named the file ("Unrecognized command or argument 'm.gguf'") or a
    /// folder "--bogus" not found. A word like an option that no file or folder of that name backs, and that is no
    /// number, is said as the unknown option it is (after `--` it is the file name the user said it is).
    /// </summary>
    private static string? OptionTakenAsFile(ParseResult parse)
    {
        // Plain loops: this runs before every command, and is done at once where no argument starts with '-'.
        foreach (var child in parse.CommandResult.Children)
        {
            if (child is not ArgumentResult argument) continue;
            foreach (var token in argument.Tokens)
            {
                string v = token.Value;
                if (v.Length > 1 && v[0] == '-' && !AfterDoubleDash(parse, v)
                    && !double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)
                    && !File.Exists(v) && !Directory.Exists(v))
                    return v;
            }
        }
        return null;
    }

    private static bool AfterDoubleDash(ParseResult parse, string value)
    {
        bool after = false;
        foreach (var t in parse.Tokens)
        {
            if (t.Type == TokenType.DoubleDash) after = true;
            else if (after && t.Value == value) return true;
        }
        return false;
    }

    /// <summary>The command's option closest to <paramref name="token"/>, when most of the word matches.</summary>
    private static string? ClosestOption(Command command, string token) =>
        command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith('-'))
            .Where(n => Distance(token, n) <= Math.Min(2, token.Length / 3))
            .OrderBy(n => Distance(token, n)).FirstOrDefault();

    /// <summary>The errors in one line; "required command was not provided" is dropped when a more specific error (an
    /// unknown word, with a suggestion when it is close to a command or option name) explains it.</summary>
    public static string Describe(ParseResult parse)
    {
        var messages = parse.Errors.Select(e => Plain(NamingTheOption(e))).Distinct().ToList();
        if (messages.Count > 1) messages.RemoveAll(m => m.StartsWith("Required command was not provided", StringComparison.Ordinal));
        string text = string.Join(" ", messages.Select(m => m.EndsWith('.') ? m : m + "."));
        var command = parse.CommandResult.Command;
        var subcommands = command.Subcommands.Select(c => c.Name).ToList();
        var options = command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal)).ToList();
        // A misspelt option ("--jsn") is taken as a value of an argument by the parser, so argument tokens that look
        // like options are candidates too.
        var candidates = parse.UnmatchedTokens
            .Concat(parse.Tokens.Where(t => t.Type == TokenType.Argument && t.Value.StartsWith("--", StringComparison.Ordinal)).Select(t => t.Value));
        foreach (string token in candidates)
        {
            // Options are suggested for option-like words only, and only when most of the word matches (or it is the
            // start of a command name).
            var names = token.StartsWith('-') ? options : subcommands;
            string? close = names.Where(n => Distance(token, n) <= Math.Min(2, token.Length / 3) || (token.Length >= 2 && !token.StartsWith('-') && n.StartsWith(token, StringComparison.Ordinal)))
                .OrderBy(n => Distance(token, n)).FirstOrDefault();
            if (close is null) continue;
            // A misspelt command leaves every word after it unmatched too; the misspelling is the one thing to say.
            if (!token.StartsWith('-')) return $"Unknown command '{token}'. Did you mean '{close}'?";
            return $"{text} Did you mean '{close}'?";
        }
        return text;
    }

    /// <summary>The error's message, led by the option it is about when the parser's text does not name it
    /// ("Argument 'medium' not recognized" says which value but not where it was given).</summary>
    private static string NamingTheOption(ParseError error)
    {
        string message = error.Message.Trim();
        Option? option = error.SymbolResult switch
        {
            OptionResult o => o.Option,
            ArgumentResult { Parent: OptionResult o } => o.Option,
            _ => null,
        };
        if (option is not null && GivenTwice().Match(message) is { Success: true } twice)
            return Repeated(option.Name, twice.Groups["name"].Value, twice.Groups["count"].Value);
        return option is null || message.Contains(option.Name, StringComparison.Ordinal) ? message : $"{option.Name}: {message}";
    }

    /// <summary>An option given more than once, said as such: the parser counts arguments ("Option '-n' expects a
    /// single argument but 2 were provided"), naming the alias that was typed.</summary>
    private static string Repeated(string name, string typed, string count) =>
        $"{name}{(typed != name ? $" ({typed})" : "")} is given {count} times; give it once"
        + (name is "--lengths" or "--modes" or "--seed-rules" ? " (several values go in one, comma-separated)" : "");

    /// <summary>
    /// One line a user can read: the parser names .NET types ("as expected type 'System.Nullable`1[System.UInt32]'")
    /// where users know numbers, and lists choices on lines of their own ("one of:\n\t'auto'\n\t'short'").
    /// </summary>
    internal static string Plain(string message)
    {
        // For a command's argument the parser names the command: "inspect: an empty path" then.
        message = PathValue().Replace(message, m => m.Groups["value"].Value.Length == 0
            ? $"{m.Groups["name"].Value}: an empty path"
            : $"{m.Groups["name"].Value} '{m.Groups["value"].Value}': not a valid path");
        string typed = ExpectedType().Replace(message, m => m.Groups["type"].Value switch
        {
            "Double" or "Single" or "Decimal" => "a number",
            // With the range: "4294967296" is a whole number of 0 or more, just not one that fits.
            "Byte" => "a whole number from 0 to 255",
            "UInt16" => "a whole number from 0 to 65535",
            "UInt32" => "a whole number from 0 to 4294967295",
            "UInt64" => "a whole number from 0 to 18446744073709551615",
            "Int16" => "a whole number from -32768 to 32767",
            "Int32" => "a whole number from -2147483648 to 2147483647",
            "SByte" or "Int64" => "a whole number",
            _ => m.Value,
        });
        typed = GivenTwice().Replace(typed, m => Repeated(m.Groups["name"].Value, m.Groups["name"].Value, m.Groups["count"].Value));
        var lines = typed.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return lines.Length <= 1 ? typed.Trim() : lines[0] + " " + string.Join(", ", lines.Skip(1));
    }

    [GeneratedRegex(@"Option '(?<name>[^']+)' expects a single argument but (?<count>\d+) were provided")]
    private static partial Regex GivenTwice();

    [GeneratedRegex(@"expected type 'System\.(?:Nullable`1\[System\.)?(?<type>\w+)\]?'")]
    private static partial Regex ExpectedType();

    /// <summary>A file or folder value the parser could not take ("Cannot parse argument '' for option '--output' as
    /// expected type 'System.IO.FileInfo'"): said as the path it is, not as the .NET type.</summary>
    [GeneratedRegex(@"Cannot parse argument '(?<value>[^']*)' for (?:option|argument|command) '(?<name>[^']+)' as expected type 'System\.IO\.(?:FileInfo|DirectoryInfo|FileSystemInfo)(?:\[\])?'")]
    private static partial Regex PathValue();

    private static IEnumerable<string> CommandPath(CommandResult result)
    {
        var names = new Stack<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is CommandResult c) names.Push(c.Command is RootCommand ? "longrope" : c.Command.Name);
        return names;
    }

    /// <summary>Levenshtein distance, for "did you mean" on short command and option names.</summary>
    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
