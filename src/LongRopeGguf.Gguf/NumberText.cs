namespace LongRopeGguf.Gguf;

/// <summary>What a number written as text turned into when parsed into a float type.</summary>
public static class NumberText
{
    /// <summary>
    /// Whether <paramref name="written"/> is a finite, non-zero number that became infinite or 0 as parsed into
    /// <paramref name="value"/> (1e39 or 1e-50 as a 32-bit float): such a value is out of range, to be said as written,
    /// not stored as Infinity or 0. Infinity asked for by name ("Infinity", "inf", "∞") and a written zero are values.
    /// </summary>
    public static bool OutOfRange(double value, string written)
    {
        string t = written.Trim();
        if (double.IsInfinity(value)) return !t.Contains("inf", StringComparison.OrdinalIgnoreCase) && !t.Contains('∞');
        if (value != 0) return false;
        int e = t.IndexOfAny(['e', 'E']);
        return (e < 0 ? t : t[..e]).Any(c => c is >= '1' and <= '9');
    }
}
