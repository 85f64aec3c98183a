using LongRopeGguf.Gguf;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// Files named on the command line, checked before they are opened: a wrong path then reads as one plain sentence
/// ("no such GGUF model file") rather than as a format error at offset 0.
/// </summary>
internal static class InputFiles
{
    /// <summary>The full path of <paramref name="file"/>; throws a <see cref="CliException"/> when it is missing or a folder.</summary>
    /// <param name="what">What the file should be, for the message ("GGUF model file", "factor file").</param>
    public static string Existing(FileInfo file, string what)
    {
        string path = file.FullName;
        if (Directory.Exists(path)) throw new CliException($"{path}: is a folder, not a {what}");
        if (!File.Exists(path)) throw new CliException($"{path}: no such {what}");
        return path;
    }

    /// <summary>Reads the header of a model named on the command line.</summary>
    public static GgufFile ReadModel(FileInfo file) => GgufReader.Read(Existing(file, "GGUF model file"));
}
