namespace LongRopeGguf.Cli;

/// <summary>
/// The command line as the kernel gave it (/proc/self/cmdline): .NET decodes each argument as UTF-8 and puts U+FFFD in
/// place of a byte that is none, so a prompt or a --system text typed in another encoding reached the model as
/// replacement characters (a prompt file with the same bytes is refused). Linux only; elsewhere nothing is checked.
/// </summary>
internal static class CommandLineBytes
{
    /// <summary>"argument N: not UTF-8 text (invalid byte 0xFF at offset 3)" for the first argument whose bytes are not
    /// UTF-8, or null. Only looked at when an argument holds U+FFFD (what a bad byte became).</summary>
    public static string? FirstProblem(string[] args)
    {
        if (!OperatingSystem.IsLinux() || !args.Any(a => a.Contains('\uFFFD'))) return null;
        byte[] raw;
        try { raw = File.ReadAllBytes("/proc/self/cmdline"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // The program (and, run as `dotnet longrope.dll`, the host and the dll) come first: the arguments are the last ones.
        var entries = new List<ReadOnlyMemory<byte>>();
        int start = 0;
        for (int i = 0; i < raw.Length; i++)
            if (raw[i] == 0) { entries.Add(raw.AsMemory(start, i - start)); start = i + 1; }
        if (entries.Count < args.Length) return null;
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].Contains('\uFFFD')) continue;
            var bytes = entries[entries.Count - args.Length + i].Span;
            if (Gguf.StrictText.DecodeUtf8(bytes, out string? problem) is null)
                return $"argument {i + 1} ('{Gguf.DisplayText.Escape(args[i])}'): {problem}; longrope reads its command line as UTF-8 (give such text in a file, e.g. --prompt-file)";
        }
        return null;
    }
}
