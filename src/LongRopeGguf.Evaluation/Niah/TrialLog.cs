using System.Text;
using System.Text.Json;

namespace LongRopeGguf.Evaluation.Niah;

/// <summary>
/// results.jsonl: one line per finished trial, appended and flushed as each trial ends, so an interrupted run loses at
/// most the trial in progress. Opening it reads what is there (a torn last line from a killed run is cut off).
/// </summary>
public sealed class TrialLog : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly Dictionary<string, TrialRecord> _records;

    private TrialLog(string path, Dictionary<string, TrialRecord> records, StreamWriter writer)
    {
        Path = path;
        _records = records;
        _writer = writer;
    }

    public string Path { get; }

    /// <summary>Every trial in the file, by id (a later line wins).</summary>
    public IReadOnlyDictionary<string, TrialRecord> Records => _records;

    /// <summary>Opens <paramref name="path"/> for appending, with the records <see cref="ReadForAppend"/> read from it.</summary>
    public static TrialLog Open(string path, Dictionary<string, TrialRecord> records)
    {
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        return new TrialLog(path, records, new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" });
    }

    /// <summary>
    /// The records of a file a run will append to (none when it does not exist; nothing is created), a torn last line
    /// cut off; a damaged file is refused with what to do about it.
    /// </summary>
    public static Dictionary<string, TrialRecord> ReadForAppend(string path)
    {
        try
        {
            return ReadAll(path, repairTornEnd: true);
        }
        catch (EvalInputException e)
        {
            // A run appends to this file: what the user can do about a damaged one is start over.
            throw new EvalInputException($"{e.Message}; move the file away to start afresh");
        }
    }

    public void Append(TrialRecord record)
    {
        _writer.WriteLine(record.ToJsonLine());
        _writer.Flush();
        _records[record.Id] = record;
    }

    /// <summary>Reads a results file; a malformed line other than a torn last one is an error naming the line. A torn
    /// last one (a run stopped while writing it) is left out, and said through <paramref name="tornEnd"/> with its size.</summary>
    public static Dictionary<string, TrialRecord> ReadAll(string path, bool repairTornEnd = false, Action<string>? tornEnd = null)
    {
        var records = new Dictionary<string, TrialRecord>(StringComparer.Ordinal);
        if (!File.Exists(path)) return records;
        string content = File.ReadAllText(path, Encoding.UTF8);
        if (content.Length > 0 && !content.EndsWith('\n'))
        {
            int lastNewline = content.LastIndexOf('\n');
            tornEnd?.Invoke($"{path}: its last line ({content.Length - lastNewline - 1} characters, no line end) is incomplete, as a run stopped while writing it leaves one; left out");
            content = lastNewline < 0 ? "" : content[..(lastNewline + 1)];
            if (repairTornEnd)
                using (var f = new FileStream(path, FileMode.Open, FileAccess.Write)) f.SetLength(Encoding.UTF8.GetByteCount(content));
        }
        int lineNo = 0;
        foreach (string line in content.Split('\n'))
        {
            lineNo++;
            if (line.Trim().Length == 0) continue;
            try
            {
                var r = TrialRecord.FromJsonLine(line);
                records[r.Id] = r;
            }
            catch (JsonException e)
            {
                throw new EvalInputException($"{path}: line {lineNo}: not a trial record ({Gguf.JsonErrors.Describe(e)})");
            }
        }
        return records;
    }

    public void Dispose() => _writer.Dispose();
}
