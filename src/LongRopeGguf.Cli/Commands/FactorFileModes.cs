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
    private readonly string? _createdFolder;

    private FactorFileModes(IReadOnlyList<RopeMode> modes, List<string> copies, string? createdFolder)
    {
        Modes = modes;
        _copies = copies;
        _createdFolder = createdFolder;
    }

    /// <summary>The modes to run: factor-file modes now point at their patched copies, the rest as given.</summary>
    public IReadOnlyList<RopeMode> Modes { get; }

    public static FactorFileModes Resolve(string modelPath, IReadOnlyList<RopeMode> modes, string outputDirectory, CancellationToken ct)
    {
        var copies = new List<string>();
        string? createdFolder = null;
        var resolved = new List<RopeMode>(modes.Count);
        try
        {
            foreach (var mode in modes)
            {
                if (mode.Kind != RopeModeKind.Patched || IsGguf(mode.PatchedPath!))
                {
                    resolved.Add(mode);
                    continue;
                }
                if (!Directory.Exists(outputDirectory))
                {
                    Directory.CreateDirectory(outputDirectory);
                    createdFolder = outputDirectory;
                }
                string stem = Prefix + FileNameOf(mode.Name), copy = Path.Combine(outputDirectory, stem + ".gguf");
                for (int n = 2; copies.Contains(copy); n++) copy = Path.Combine(outputDirectory, $"{stem}-{n}.gguf"); // "a b" and "a_b"
                var set = ReadSet(modelPath, mode);
                LongRopePatcher.Patch(modelPath, set, copy, inPlace: false, new PatchOptions { Rewrite = new Gguf.RewriteOptions { CancellationToken = ct } });
                copies.Add(copy);
                resolved.Add(mode with { PatchedPath = copy });
            }
            return new FactorFileModes(resolved, copies, createdFolder);
        }
        catch
        {
            new FactorFileModes(resolved, copies, createdFolder).Dispose();
            throw;
        }
    }

    /// <summary>The factor file's set for the model; its errors (which name the file) say which mode they belong to.</summary>
    private static FactorSet ReadSet(string modelPath, RopeMode mode)
    {
        try
        {
            return PatchCommand.ReadFactorsFor(modelPath, mode.PatchedPath!, original: null, context: null, attention: null);
        }
        catch (CliException e)
        {
            throw new CliException($"--patched {mode.Name}: {e.Message}", e.ExitCode);
        }
        catch (FactorSetException e)
        {
            throw new CliException($"--patched {mode.Name}: {e.Message}");
        }
    }

    private static bool IsGguf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8);
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
        foreach (var copy in _copies)
        {
            try { File.Delete(copy); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        // A folder made only for the copies goes too when the run left nothing else in it (a refused run).
        if (_createdFolder is not null)
        {
            try
            {
                if (!Directory.EnumerateFileSystemEntries(_createdFolder).Any()) Directory.Delete(_createdFolder);
            }
            catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
