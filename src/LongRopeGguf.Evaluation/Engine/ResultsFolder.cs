namespace LongRopeGguf.Evaluation.Engine;

/// <summary>The results folder of an evaluation or search (--out).</summary>
public static class ResultsFolder
{
    /// <summary>
    /// Creates the folder (and those above it), saying a failure as the results folder's: .NET's own message named only
    /// a path ("Access to the path '/data/ro/res' is denied.").
    /// </summary>
    public static void Create(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (UnauthorizedAccessException)
        {
            throw new EvalInputException($"--out {path}: cannot create the results folder (permission denied)");
        }
        catch (IOException e)
        {
            throw new EvalInputException($"--out {path}: cannot create the results folder ({e.Message.ReplaceLineEndings(" ").Trim()})");
        }
    }
}
