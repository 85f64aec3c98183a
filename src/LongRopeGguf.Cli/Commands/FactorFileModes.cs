using System.Text;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.LongRope;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// eval's <c>--patched NAME=FILE</c> where FILE is a factor file (any format <c>patch --factors</c> reads) rather
/// than a GGUF model: the model is patched with it into the results folder (<c>.patched-NAME.gguf</c>), measured like
/// any patched file and deleted when the run ends, so that a factor set is measured without a separate
/// <c>longrope patch</c>. The copy takes the model's size on disk while the run lasts; it is the same bytes every time
/// (the patcher is deterministic), so a resumed niah run recognises its earlier trials.
/// </summary>
internal sealed class FactorFileModes : IDisposable
{
    private const string Prefix = ".patched-";
    private readonly List<string> _copies;
    private readonly List<IDisposable> _tracked; // the copies, deleted too when the process is ended before Dispose
    private readonly string _outputDirectory;
    private readonly string? _createdFolder; // the highest folder made for the copies (ResultsFolder.Create)
    private readonly TextWriter _log;

    private FactorFileModes(IReadOnlyList<RopeMode> modes, List<string> copies, List<IDisposable> tracked, string outputDirectory, string? createdFolder, TextWriter log)
    {
        Modes = modes;
        _copies = copies;
        _tracked = tracked;
        _outputDirectory = outputDirectory;
        _createdFolder = createdFolder;
        _log = log;
    }

    /// <summary>The modes to run: factor-file modes now point at their patched copies, the rest as given.</summary>
    public IReadOnlyList<RopeMode> Modes { get; }

    /// <summary>Patches a copy for each factor-file mode; call it after every cheap check of the run, since a copy
    /// of a multi-GB model takes a while. <paramref name="log"/> gets one line per copy and each patch warning.</summary>
    public static FactorFileModes Resolve(string modelPath, IReadOnlyList<RopeMode> modes, string outputDirectory, TextWriter log, CancellationToken ct)
    {
        var copies = new List<string>();
        var tracked = new List<IDisposable>();
        string? createdFolder = null;
        var resolved = new List<RopeMode>(modes.Count);
        try
        {
            foreach (var mode in modes)
            {
                if (mode.Kind != RopeModeKind.Patched || Gguf.GgufReader.HasMagic(mode.PatchedPath!))
                {
                    resolved.Add(mode);
                    continue;
                }
                var (set, factorFile) = ReadSet(modelPath, mode);
                createdFolder ??= Evaluation.Engine.ResultsFolder.Create(outputDirectory); // null when it was there
                string stem = Prefix + FileNameOf(mode.Name), copy = Path.Combine(outputDirectory, stem + ".gguf");
                for (int n = 2; copies.Contains(copy); n++) copy = Path.Combine(outputDirectory, $"{stem}-{n}.gguf"); // "a b" and "a_b"
                log.WriteLine($"longrope: mode {mode.Name}: patching {Path.GetFileName(modelPath)} with {mode.PatchedPath} into {copy} for this run");
                var report = LongRopePatcher.Patch(modelPath, set, copy, inPlace: false, new PatchOptions { Rewrite = new Gguf.RewriteOptions { CancellationToken = ct } });
                copies.Add(copy);
                // A run ended by the give-up timer after a signal (blocked reading a FIFO --text) left the copy behind.
                tracked.Add(Gguf.ScratchFiles.Track(copy));
                foreach (var warning in report.Warnings) log.WriteLine($"longrope: warning: --patched {mode.Name}: {warning}");
                resolved.Add(mode with { PatchedPath = copy, FactorFile = factorFile });
            }
            return new FactorFileModes(resolved, copies, tracked, outputDirectory, createdFolder, log);
        }
        catch
        {
            new FactorFileModes(resolved, copies, tracked, outputDirectory, createdFolder, log).Dispose();
            throw;
        }
    }

    /// <summary>The factor file's set for the model, and the file as trials record it (its name and content hash); the
    /// set's errors (which name the file) say which mode they belong to. The set's source becomes the content hash alone,
    /// not the file's path, name or mode: the copy's bytes (and so a niah run's fingerprint of it) are then the same
    /// for the same factors wherever the file lies, whatever it is called and whichever mode runs it, so that runs of
    /// one factor set resume and pool.</summary>
    private static (FactorSet Set, string FactorFile) ReadSet(string modelPath, RopeMode mode)
    {
        string file = mode.PatchedPath!;
        // The run identifies the factors by the file's content hash, read after the set: a pipe would be read once.
        if (Gguf.FileKinds.Of(file) == Gguf.FileKind.Special)
            throw new CliException($"--patched {mode.Name}: {file} is a pipe or device, not a file; save the factors to a file first");
        string hash = HashOf(file);
        FactorSet set;
        try
        {
            set = PatchCommand.ReadFactorsFor(modelPath, file, original: null, context: null, attention: null);
        }
        catch (CliException e)
        {
            throw new CliException($"--patched {mode.Name}: {e.Message}", e.ExitCode);
        }
        // A CSV (or a config.json without the lengths) leaves them to patch's --context / --original-context, which
        // eval does not have: say how to get a file eval can take instead of naming an option it would refuse.
        catch (FactorSetException e) when (e.Message.Contains("(--context)", StringComparison.Ordinal) || e.Message.Contains("(--original-context", StringComparison.Ordinal))
        {
            throw new CliException($"--patched {mode.Name}: {file} does not say the context lengths it is for (a LongRoPE CSV, or a config.json without them); "
                + "patch the model with it ('longrope patch MODEL --factors FILE --context N') and give the patched model");
        }
        catch (FactorSetException e)
        {
            throw new CliException($"--patched {mode.Name}: {e.Message}");
        }
        // Hashed before and after the parse: a file rewritten in between would label one set's trials with another's hash.
        if (HashOf(file) != hash)
            throw new CliException($"--patched {mode.Name}: {file} changed while it was being read; run again once it is written");
        // Not the file's own source: for a JSON without one or a config.json that is its path.
        return (set with { Source = $"eval --patched: factor file sha256 {hash}" }, $"{Path.GetFileName(file)} (sha256 {hash})");
    }

    private static string HashOf(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream))[..16];
    }

    /// <summary>The mode name as a file name: letters, digits, '.', '-' and '_' kept, anything else '_'.</summary>
    private static string FileNameOf(string name)
    {
        var b = new StringBuilder(name.Length);
        foreach (char c in name) b.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        return b.ToString();
    }

    public void Dispose()
    {
        // Untracked first: once deleted, the name may be another run's file, which a forced exit must not delete.
        foreach (var t in _tracked) t.Dispose();
        foreach (var copy in _copies)
        {
            try { File.Delete(copy); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.WriteLine($"longrope: warning: could not delete {copy} ({e.Message}); remove it by hand");
            }
        }
        // A folder made only for the copies goes too when the run left nothing else in it (a refused run).
        Evaluation.Engine.ResultsFolder.RemoveIfEmpty(_outputDirectory, _createdFolder);
    }
}
