using LongRopeGguf.Gguf;

namespace LongRopeGguf.Runtime;

/// <summary>
/// Checks for the side outputs of the run commands (llama.cpp's log, generate's logits, chat's transcripts): they are
/// written by plain truncate-and-write, so a mistyped name must not take the model, or any other model, with it.
/// </summary>
public static class OutputFiles
{
    /// <summary>Throws a <see cref="RuntimeInputException"/> when <paramref name="path"/> is a folder or an existing
    /// GGUF file. <paramref name="option"/> names where the path came from ("--log-file", "/save").</summary>
    public static void RefuseFolderOrModel(string path, string option)
    {
        string full = Path.GetFullPath(path);
        switch (FileKinds.Of(full))
        {
            case FileKind.Directory:
                throw new RuntimeInputException($"{option} {full}: is a folder, not a file");
            case FileKind.Regular when StartsLikeAModel(full):
                throw new RuntimeInputException($"{option} {full}: is a GGUF model file; refusing to overwrite it (give another file name)");
        }
    }

    /// <summary>Whether the file starts with GGUF's magic; a file this process cannot read (write-only) is no model it
    /// could have been given, and the write itself says whether it may be replaced.</summary>
    private static bool StartsLikeAModel(string path)
    {
        try { return GgufReader.HasMagic(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
