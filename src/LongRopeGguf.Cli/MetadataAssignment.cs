using System.Globalization;
using LongRopeGguf.Gguf;

namespace LongRopeGguf.Cli;

/// <summary>
/// One <c>KEY=TYPE:VALUE</c> metadata assignment from the command line (<c>general.name=string:foo</c>,
/// <c>llama.context_length=uint32:4096</c>). The type is explicit because llama.cpp reads every key with an exact
/// type: guessing "4096" as INT32 where llama.cpp wants UINT32 would make the model fail to load.
/// </summary>
public sealed record MetadataAssignment(string Key, GgufValue Value)
{
    /// <summary>The TYPE names accepted, integers by width, then floats, bool and string.</summary>
    public static readonly IReadOnlyList<string> TypeNames =
        ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64", "bool", "string"];

    /// <summary>Parses <paramref name="text"/>; a malformed one is a <see cref="CliException"/> naming
    /// <paramref name="option"/> and the text, so the user sees exactly which argument was wrong.</summary>
    public static MetadataAssignment Parse(string text, string option = "--set")
    {
        CliException Bad(string problem) => new(Gguf.DisplayText.Escape($"{option} '{text}': {problem}")); // what was typed may hold any character

        int eq = text.IndexOf('=');
        if (eq < 0) throw Bad("expected KEY=TYPE:VALUE, e.g. general.name=string:foo");
        string key = text[..eq];
        if (key.Length == 0) throw Bad("the key is empty");
        if (key.Any(char.IsWhiteSpace)) throw Bad($"the key '{key}' contains white space");
        string rest = text[(eq + 1)..];
        int colon = rest.IndexOf(':');
        if (colon < 0) throw Bad($"expected TYPE:VALUE after '=', with TYPE one of {string.Join(", ", TypeNames)}");
        string type = rest[..colon].Trim().ToLowerInvariant();
        string value = rest[(colon + 1)..];
        return new MetadataAssignment(key, ParseValue(type, value, Bad));
    }

    private static GgufValue ParseValue(string type, string text, Func<string, CliException> bad)
    {
        const NumberStyles integer = NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite;
        var inv = CultureInfo.InvariantCulture;
        CliException NotA() => bad($"'{text}' is not a valid {type}");
        CliException OutOfRange() => bad($"'{text}' is out of range for {type}");

        // Integers are parsed as 128-bit first so that "300" for uint8 says "out of range", not "not a number".
        T Integer<T>(Func<Int128, T> convert, Int128 min, Int128 max)
        {
            if (!Int128.TryParse(text, integer, inv, out var v)) throw NotA();
            if (v < min || v > max) throw OutOfRange();
            return convert(v);
        }

        return type switch
        {
            "uint8" => GgufValue.UInt8(Integer(v => (byte)v, byte.MinValue, byte.MaxValue)),
            "int8" => GgufValue.Int8(Integer(v => (sbyte)v, sbyte.MinValue, sbyte.MaxValue)),
            "uint16" => GgufValue.UInt16(Integer(v => (ushort)v, ushort.MinValue, ushort.MaxValue)),
            "int16" => GgufValue.Int16(Integer(v => (short)v, short.MinValue, short.MaxValue)),
            "uint32" => GgufValue.UInt32(Integer(v => (uint)v, uint.MinValue, uint.MaxValue)),
            "int32" => GgufValue.Int32(Integer(v => (int)v, int.MinValue, int.MaxValue)),
            "uint64" => GgufValue.UInt64(Integer(v => (ulong)v, ulong.MinValue, ulong.MaxValue)),
            "int64" => GgufValue.Int64(Integer(v => (long)v, long.MinValue, long.MaxValue)),
            "float32" => GgufValue.Float32(float.TryParse(Spelled(text), NumberStyles.Float, inv, out float f)
                ? Gguf.NumberText.OutOfRange(f, text) ? throw OutOfRange() : f
                : throw NotA()),
            "float64" => GgufValue.Float64(double.TryParse(Spelled(text), NumberStyles.Float, inv, out double d)
                ? Gguf.NumberText.OutOfRange(d, text) ? throw OutOfRange() : d
                : throw NotA()),
            "bool" => GgufValue.Bool(text.Trim().ToLowerInvariant() switch
            {
                "true" or "1" => true,
                "false" or "0" => false,
                _ => throw bad($"'{text}' is not a valid bool (true, false, 1 or 0)"),
            }),
            "string" => GgufValue.String(text),
            _ => throw bad($"unknown type '{type}'; expected one of {string.Join(", ", TypeNames)} (arrays cannot be set from the command line)"),
        };
    }

    /// <summary>"inf", "+inf" and "-inf" as .NET spells them ("Infinity"), so that every usual spelling of infinity and NaN is read.</summary>
    private static string Spelled(string text) => text.Trim().ToLowerInvariant() switch
    {
        "inf" or "+inf" => "Infinity",
        "-inf" => "-Infinity",
        _ => text,
    };
}
