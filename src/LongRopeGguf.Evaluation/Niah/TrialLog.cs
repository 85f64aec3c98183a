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

    /// <summary>
    /// Opens <paramref name="path"/> for appending, with the records <see cref="ReadForAppend"/> read from it; a torn last
    /// line it found is cut off now, once the run has passed its checks (a refused run leaves the file as it was).
    /// </summary>
    public static TrialLog Open(string path, RecordedTrials recorded)
    {
        if (recorded.TornEnd)
            using (var f = new FileStream(path, FileMode.Open, FileAccess.Write)) f.SetLength(recorded.CompleteBytes); // Append mode cannot truncate
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        return new TrialLog(path, recorded.Records, new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" });
    }

    /// <summary>
    /// The records of a file a run will append to (none when it does not exist; nothing is created or changed), with
    /// where its complete lines end; a damaged file is refused with what to do about it.
    /// </summary>
    public static RecordedTrials ReadForAppend(string path)
    {
        try
        {
            return Read(path);
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
    public static Dictionary<string, TrialRecord> ReadAll(string path, Action<string>? tornEnd = null)
    {
        var read = Read(path);
        if (read.TornEnd)
            tornEnd?.Invoke($"{path}: its last line ({read.FileBytes - read.CompleteBytes} bytes, no line end) is incomplete, as a run stopped while writing it leaves one; left out");
        return read.Records;
    }

    /// <summary>Far more than any grid's trials (a record is under 2 KB): a file past it is not a results file, and is
    /// refused before it is read (a 1 GB one ran out of memory).</summary>
    public const long MaxBytes = 256L << 20;

    /// <summary>Far more than one record (under 2 KB; the longest field, the answer, is a few tokens of text).</summary>
    public const int MaxLineBytes = 1 << 20;

    private static RecordedTrials Read(string path)
    {
        var records = new Dictionary<string, TrialRecord>(StringComparer.Ordinal);
        switch (Gguf.FileKinds.Of(path))
        {
            case Gguf.FileKind.Missing: return new RecordedTrials(records, 0, 0);
            case Gguf.FileKind.Directory: throw new EvalInputException($"{path}: is a folder, not a results file");
            // A FIFO would block the run until a writer came; a device (a link to /dev/zero) never ends.
            case Gguf.FileKind.Special: throw new EvalInputException($"{path}: is a pipe, socket or device, not a results file");
        }
        byte[] bytes;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            if (stream.Length > MaxBytes)
                throw new EvalInputException($"{path}: {stream.Length:N0} bytes is too big for a results file (at most {MaxBytes:N0})");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        // Lines are found in the bytes, so that the cut of a torn end is a byte offset whatever the text decodes to
        // (a byte-order mark or a bad byte made the decoded text shorter than the file, and the cut took a good line).
        int complete = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        int start = bytes.AsSpan().StartsWith(Gguf.StrictText.Utf8Bom) ? Gguf.StrictText.Utf8Bom.Length : 0; // an editor's byte-order mark
        int lineNo = 0;
        for (int at = Math.Min(start, complete); at < complete;)
        {
            int end = Array.IndexOf(bytes, (byte)'\n', at);
            lineNo++;
            // Decoded and parsed, a 260 MB line took 1.5 GB: a line far past any record is named by its size instead.
            if (end - at > MaxLineBytes)
                throw new EvalInputException($"{path}: line {lineNo}: {end - at:N0} bytes, too long for a trial record (at most {MaxLineBytes:N0})");
            string line = Gguf.StrictText.DecodeUtf8(bytes.AsSpan(at, end - at), out string? problem, offsetBase: at)
                ?? throw new EvalInputException($"{path}: line {lineNo}: {problem}");
            at = end + 1;
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
        return new RecordedTrials(records, complete, bytes.Length);
    }

    public void Dispose() => _writer.Dispose();
}

/// <summary>The trials a results file holds, by id (a later line wins), and where its complete lines end.</summary>
/// <param name="CompleteBytes">The bytes up to and including the last line end.</param>
/// <param name="FileBytes">The file's size: more than <paramref name="CompleteBytes"/> when its last line is torn.</param>
public sealed record RecordedTrials(Dictionary<string, TrialRecord> Records, long CompleteBytes, long FileBytes)
{
    public bool TornEnd => FileBytes > CompleteBytes;
}
