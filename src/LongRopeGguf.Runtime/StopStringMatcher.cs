namespace LongRopeGguf.Runtime;

/// <summary>
/// Finds stop strings in streamed text. Text that could still turn out to be the start of a stop string is held back,
/// so a stop string is never shown, even when it arrives split over several tokens.
/// </summary>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private string _pending = "";

    public StopStringMatcher(IEnumerable<string>? stops)
    {
        _stops = (stops ?? []).ToArray();
        if (_stops.Any(s => s.Length == 0)) throw new RuntimeInputException("--stop: a stop string must not be empty");
    }

    /// <summary>Whether a stop string has been seen (nothing more is emitted after it).</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds generated text; returns the text that is safe to show now.</summary>
    public string Push(string text)
    {
        if (Stopped || text.Length == 0) return "";
        if (_stops.Length == 0) return text;
        string buffer = _pending + text;
        int cut = -1;
        foreach (var s in _stops)
        {
            int i = buffer.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (cut < 0 || i < cut)) cut = i;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _pending = "";
            return buffer[..cut];
        }
        int hold = HeldBack(buffer);
        _pending = buffer[(buffer.Length - hold)..];
        return buffer[..(buffer.Length - hold)];
    }

    /// <summary>The held-back text, at the end of generation (it did not complete a stop string).</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }

    /// <summary>Length of the longest suffix of <paramref name="buffer"/> that is a proper prefix of some stop string.</summary>
    private int HeldBack(string buffer)
    {
        int best = 0;
        foreach (var s in _stops)
        {
            for (int len = Math.Min(s.Length - 1, buffer.Length); len > best; len--)
            {
                if (string.CompareOrdinal(buffer, buffer.Length - len, s, 0, len) == 0) { best = len; break; }
            }
        }
        return best;
    }
}
