namespace LongRopeGguf.Evaluation.Engine;

/// <summary>The results folder of an evaluation or search (--out).</summary>
public static class ResultsFolder
{
    /// <summary>
    /// Creates the folder (and those above it), saying a failure as the results folder's: .NET's own message named only
    /// a path ("Access to the path '/data/ro/res' is denied.").
    /// The folder may be a default the user never typed (eval's results/niah, search's MODEL.search-long-N): the message
    /// names the folder and says that --out chooses another.
    /// Returns the highest folder it made (null when the folder was there), for <see cref="RemoveIfEmpty"/>.
    /// </summary>
    public static string? Create(string path)
    {
        string full = Path.GetFullPath(path);
        string? top = null;
        for (string? p = full; p is not null && !Directory.Exists(p); p = Path.GetDirectoryName(p)) top = p;
        try
        {
            Directory.CreateDirectory(full);
            return top;
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

    /// <summary>
    /// Undoes <see cref="Create"/> for a run that was refused or only checked (`search --check`): the folder and the
    /// ones above it up to <paramref name="createdTop"/> go while they are empty (`-o a/b/c` left a/b behind when only
    /// c went). Anything in them, or a folder that was already there, stays.
    /// </summary>
    public static void RemoveIfEmpty(string path, string? createdTop)
    {
        if (createdTop is null) return;
        try
        {
            for (string? p = Path.GetFullPath(path); p is not null; p = Path.GetDirectoryName(p))
            {
                if (Directory.EnumerateFileSystemEntries(p).Any()) return;
                Directory.Delete(p);
                if (p == createdTop) return;
            }
        }
        catch (IOException) { } // the run's own outcome is what the user needs to see
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Refuses, before any work, a results file the run could not write (a folder, a device at its name) or that is one
    /// of the run's inputs, as such or through a link. Results are written through links (a results file linked
    /// elsewhere stays linked), so a link at summary.csv to the model replaced the model with a table.
    /// </summary>
    /// <param name="writer">Who writes, as the message says it ("the search", "eval niah").</param>
    /// <param name="outputs">The files written in <paramref name="folder"/>, by name, and what each is.</param>
    /// <param name="inputs">The files the run reads, by what the command line calls them.</param>
    public static void CheckTargets(string folder, string writer, IEnumerable<(string Name, string What)> outputs, IEnumerable<(string Name, string Path)> inputs)
    {
        var read = inputs.Where(i => File.Exists(i.Path)).ToList();
        foreach (var (name, what) in outputs)
        {
            string path = Path.GetFullPath(Path.Combine(folder, name));
            if (Gguf.AtomicFile.WhyNotATarget(path) is { } why)
                throw new EvalInputException($"{path}: {why} ({writer} writes its {what} there; give another --out)");
            if (File.Exists(path) && read.FirstOrDefault(i => Gguf.AtomicFile.SameFile(path, i.Path)) is { Path: not null } input)
                throw new EvalInputException($"{path}: is {input.Name} {input.Path}{(Path.GetFullPath(input.Path) == path ? "" : " (through a link)")}, "
                    + $"which {writer} would replace with its {what}; give another --out");
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
