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
                    d.CustomParser = r => Parse(r, d.Name, single: false) ?? default;
                    break;
                case Option<double?> d when d.CustomParser is null:
                    d.CustomParser = r => Parse(r, d.Name, single: false);
                    break;
                case Option<float> f when f.CustomParser is null:
                    f.CustomParser = r => (float)(Parse(r, f.Name, single: true) ?? default);
                    break;
                case Option<float?> f when f.CustomParser is null:
                    f.CustomParser = r => Parse(r, f.Name, single: true) is { } v ? (float)v : null;
                    break;
            }
        }
        foreach (var sub in command.Subcommands) Apply(sub);
    }

    /// <summary>The option's number, refused where its type (<paramref name="single"/>: float) cannot hold it: "1e309",
    /// and "1e39" for a float option, became Infinity, and the option's check then said "--temp Infinity".</summary>
    private static double? Parse(ArgumentResult result, string name, bool single)
    {
        double max = single ? float.MaxValue : double.MaxValue;
        if (result.Tokens.Count == 0) return null;
        string token = result.Tokens[^1].Value;
        if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            if (double.IsNaN(value)) result.AddError($"{name} '{token}': not a number");
            else if (Math.Abs(value) > max) result.AddError($"{name} '{token}': out of range (at most {max.ToString("G3", CultureInfo.InvariantCulture)} in magnitude)");
            // "--top-p 1e-50" was "--top-p 0: must be in (0, 1]": a float option's value that only a double holds.
            else if (single && value != 0 && (float)value == 0) result.AddError($"{name} '{token}': too small for a 32-bit float (it would be 0)");
            else return value;
            return null;
        }
        result.AddError(token.Contains(',')
            ? $"{name} '{token}': not a number (write decimals with a point, e.g. 8.5; no thousands separators)"
            : $"{name} '{token}': not a number");
        return null;
    }
}
