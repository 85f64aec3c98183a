using System.CommandLine;

namespace LongRopeGguf.Cli.Commands;

/// <summary>Arguments and options shared by several commands, defined once so they read the same everywhere.</summary>
public static class CommonOptions
{
    public static Argument<FileInfo> Model() => new("MODEL") { Description = "Path to a GGUF model file." };

    public static Option<bool> Json() => new("--json") { Description = "Write machine-readable JSON to standard output." };
}
