using System.Text.RegularExpressions;
using LLama.Native;

namespace LongRopeGguf.Runtime;

/// <summary>
/// Reads llama.cpp's log as it streams past, keeping only what the runner reports: how many layers went to the GPU,
/// which native library was loaded, llama.cpp's recent error lines (for one-line error messages) and how many times a
/// model file was loaded (to prove that moving between factor sets never reloads weights).
/// </summary>
public sealed partial class NativeLogCapture
{
    private readonly object _lock = new();
    private readonly List<(long Seq, string Line)> _errors = new();
    private long _seq;

    private (long Seq, int Offloaded, int Total)? _offload;

    /// <summary>The native llama library LLamaSharp loaded, from its loader log.</summary>
    public string? LoadedLibraryPath { get; private set; }

    /// <summary>Model files llama.cpp has loaded in this process ("llama_model_loader: loaded meta data" lines).</summary>
    public int ModelLoads { get; private set; }

    /// <summary>Lines seen so far; <see cref="ErrorsSince"/> takes one as a mark.</summary>
    public long Position { get { lock (_lock) return _seq; } }

    internal void Observe(LLamaLogLevel level, string message)
    {
        lock (_lock)
        {
            _seq++;
            if (level == LLamaLogLevel.Error)
            {
                _errors.Add((_seq, message.Trim()));
                if (_errors.Count > 32) _errors.RemoveAt(0);
            }
            if (message.Contains("layers to GPU", StringComparison.Ordinal) && OffloadRegex().Match(message) is { Success: true } m)
                _offload = (_seq, int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value));
            else if (message.Contains("loaded meta data", StringComparison.Ordinal))
                ModelLoads++;
            else if (message.StartsWith("Successfully loaded '", StringComparison.Ordinal) && message.Contains("libllama", StringComparison.Ordinal))
                LoadedLibraryPath = message.Trim()["Successfully loaded '".Length..].TrimEnd('\'');
        }
    }

    /// <summary>Layers offloaded by a model load logged after <paramref name="position"/> ("offloaded N/M layers to GPU"); null when not logged.</summary>
    public (int Offloaded, int Total)? OffloadSince(long position)
    {
        lock (_lock) return _offload is { } o && o.Seq > position ? (o.Offloaded, o.Total) : null;
    }

    /// <summary>llama.cpp's error lines logged after <paramref name="position"/>, oldest first.</summary>
    public IReadOnlyList<string> ErrorsSince(long position)
    {
        lock (_lock) return _errors.Where(e => e.Seq > position).Select(e => e.Line).ToList();
    }

    /// <summary>
    /// The most telling error since <paramref name="position"/>: llama.cpp's own summary of the cause ("error loading
    /// model: ...", "failed to initialize the context: ...") followed by the first, most specific error line.
    /// </summary>
    public string? BestErrorSince(long position)
    {
        var errors = ErrorsSince(position);
        if (errors.Count == 0) return null;
        foreach (var e in errors)
        {
            foreach (var marker in s_causeMarkers)
            {
                int i = e.IndexOf(marker, StringComparison.Ordinal);
                if (i < 0) continue;
                string cause = e[(i + marker.Length)..];
                string first = errors[0];
                return first == e || first.Contains(cause, StringComparison.Ordinal) ? cause : $"{cause} ({first})";
            }
        }
        return errors[0];
    }

    private static readonly string[] s_causeMarkers = ["error loading model: ", "failed to initialize the context: "];

    [GeneratedRegex(@"offloaded (\d+)/(\d+) layers to GPU")]
    private static partial Regex OffloadRegex();
}
