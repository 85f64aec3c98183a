namespace LongRopeGguf.Evaluation.Engine;

/// <summary>The results folder of an evaluation or search (--out).</summary>
public static class ResultsFolder
{
    /// <summary>
    /// Creates the folder (and those above it), saying a failure as the results folder's: .NET's own message named only
    /// a path ("Access to the path '/data/ro/res' is denied.").
    /// The folder may be a default the user never typed (eval's results/niah, search's MODEL.search-long-N): the message
    /// names the folder and says that --out chooses another.
    /// </summary>
    public static void Create(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (UnauthorizedAccessException)
        {
            throw new EvalInputException($"{path}: cannot create the results folder (permission denied; --out chooses another)");
        }
        catch (IOException) when (FileOnTheWay(path) is { } file)
        {
            throw new EvalInputException($"{path}: cannot create the results folder ({file} is a file; --out chooses another)");
        }
        catch (IOException e)
        {
            // .NET adds " : 'PATH'" to the system's reason ("Read-only file system : '/data/ro/res'").
            string reason = e.Message.ReplaceLineEndings(" ").Trim();
            int at = reason.LastIndexOf(" : '", StringComparison.Ordinal);
            if (at > 0 && reason.EndsWith('\'')) reason = reason[..at];
            throw new EvalInputException($"{path}: cannot create the results folder ({reason}; --out chooses another)");
        }
    }

    /// <summary>The path itself or a folder above it that is a file (.NET said "Could not find a part of the path").</summary>
    private static string? FileOnTheWay(string path)
    {
        for (string? p = Path.GetFullPath(path); p is not null; p = Path.GetDirectoryName(p))
            if (File.Exists(p)) return p;
        return null;
    }
}
