using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace LongRopeGguf.Cli;

/// <summary>
/// Floating-point options read as plain invariant numbers. System.CommandLine's own parsing takes thousands
/// separators, so "--scale 8,5" was 85 and "--temp 0,8" 8: a comma is refused instead, with the option and value.
/// </summary>
internal static class StrictNumbers
{
    public static void Apply(Command command)
    {
        foreach (var option in command.Options)
        {
            switch (option)
            {
                case Option<double> d when d.CustomParser is null:
                    d.CustomParser = r => Parse(r, d.Name) ?? default;
                    break;
                case Option<double?> d when d.CustomParser is null:
                    d.CustomParser = r => Parse(r, d.Name);
                    break;
                case Option<float> f when f.CustomParser is null:
                    f.CustomParser = r => (float)(Parse(r, f.Name) ?? default);
                    break;
                case Option<float?> f when f.CustomParser is null:
                    f.CustomParser = r => Parse(r, f.Name) is { } v ? (float)v : null;
                    break;
            }
        }
        foreach (var sub in command.Subcommands) Apply(sub);
    }

    private static double? Parse(ArgumentResult result, string name)
    {
        if (result.Tokens.Count == 0) return null;
        string token = result.Tokens[^1].Value;
        if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)) return value;
        result.AddError(token.Contains(',')
            ? $"{name} '{token}': not a number (write decimals with a point, e.g. 8.5; no thousands separators)"
            : $"{name} '{token}': not a number");
        return null;
    }
}
