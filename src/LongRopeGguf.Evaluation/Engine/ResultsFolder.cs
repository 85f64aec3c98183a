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
        catch (IOException e)
        {
            // .NET adds " : 'PATH'" to the system's reason ("Read-only file system : '/data/ro/res'").
            string reason = e.Message.ReplaceLineEndings(" ").Trim();
            int at = reason.LastIndexOf(" : '", StringComparison.Ordinal);
            if (at > 0 && reason.EndsWith('\'')) reason = reason[..at];
            throw new EvalInputException($"{path}: cannot create the results folder ({reason}; --out chooses another)");
        }
    }
}
