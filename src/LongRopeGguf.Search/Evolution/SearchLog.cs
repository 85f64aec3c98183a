using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LongRopeGguf.Search.Evolution;

/// <summary>The search log cannot be used: one line saying which file, which line and what is wrong.</summary>
public sealed class SearchLogException(string message) : Gguf.BadInputException(message);

/// <summary>A candidate's fitness as the log recorded it.</summary>
public sealed record LoggedFitness(int Serial, FitnessResult Fitness, double Seconds);

/// <summary>
/// The search log: JSON Lines, one object a line. The first line is the header, whose "search" object holds everything
/// that decides the search (space, settings but the iteration count, seeds, fitness); then one "candidate" line per
/// evaluated candidate, one "iteration" line per finished iteration, and a "done" line at the end.
/// <para>
/// Resuming is a replay: the search runs again from its seed, and every candidate the log holds takes its fitness from
/// the log instead of being evaluated. Because the generator and the fitness values are the same, the replay makes
/// exactly the same choices and goes on, past the end of the log, as the interrupted run would have. A log whose header
/// differs (another model, text, space...) is refused; a different iteration count is allowed, to extend a search.
/// A last line cut short by an interruption is dropped.
/// </para>
/// </summary>
public sealed class SearchLog : IDisposable
{
    public const string Format = "longrope-search-log";
    public const int Version = 1;

    private readonly FileStream _stream;
    private readonly Dictionary<string, LoggedFitness> _cache;
    private readonly HashSet<int> _iterations;

    private SearchLog(string path, FileStream stream, Dictionary<string, LoggedFitness> cache, HashSet<int> iterations, bool resumed, int doneIterations)
    {
        Path = path;
        _stream = stream;
        _cache = cache;
        _iterations = iterations;
        Resumed = resumed;
        DoneIterations = doneIterations;
    }

    public string Path { get; }

    /// <summary>Whether the log held an earlier run of the same search.</summary>
    public bool Resumed { get; }

    /// <summary>The iteration count of the longest earlier run that finished (its "done" line); 0 when none did. A
    /// search extended with more iterations writes a "done" line of its own: the first one's result is superseded.</summary>
    public int DoneIterations { get; }

    /// <summary>Evaluated candidates by genome key.</summary>
    public IReadOnlyDictionary<string, LoggedFitness> Cache => _cache;

    public int CandidateCount => _cache.Count;

    /// <summary>The last iteration the log holds a candidate or a summary of (0: only the initial population or nothing).</summary>
    public int LastIteration { get; private init; }

    /// <summary>
    /// Opens the log at <paramref name="path"/> for the search described by <paramref name="search"/>: creates it with a
    /// header, or reads what an earlier run of the same search wrote. The file stays locked while open.
    /// </summary>
    public static SearchLog Open(string path, JsonObject search)
    {
        string searchText = search.ToJsonString();
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new SearchLogException($"{path}: cannot open the search log ({e.Message.ReplaceLineEndings(" ").Trim()}); is another search writing to it?");
        }
        try
        {
            var cache = new Dictionary<string, LoggedFitness>(StringComparer.Ordinal);
            var iterations = new HashSet<int>();
            // A header cut short (a search killed while writing its first line) holds nothing to resume: started over, as
            // a cut candidate line is dropped; it was refused ("no complete header line; delete the file").
            if (IsTornHeader(stream)) stream.SetLength(0);
            if (stream.Length == 0)
            {
                var header = new JsonObject
                {
                    ["type"] = "header",
                    ["format"] = Format,
                    ["version"] = Version,
                    ["created"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                    ["search"] = JsonNode.Parse(searchText),
                };
                var log = new SearchLog(path, stream, cache, iterations, resumed: false, doneIterations: 0);
                log.WriteLine(header);
                return log;
            }
            int doneIterations = Read(path, stream, searchText, cache, iterations, out int lastIteration);
            return new SearchLog(path, stream, cache, iterations, resumed: true, doneIterations) { LastIteration = lastIteration };
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The "search" object of the header of the log at <paramref name="path"/>, or null when there is no log or its first
    /// line is not a complete header (<see cref="Open"/> then creates or refuses it with the reason). For settings a
    /// search measures before it opens its log, which a resumed search takes from the log instead.
    /// </summary>
    public static JsonObject? ReadLoggedSearch(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            if (!new LineReader(stream).ReadLine(out string? line, out _, out bool complete) || !complete) return null;
            var header = JsonNode.Parse(line!) as JsonObject;
            return header?["type"]?.ToString() == "header" ? header["search"] as JsonObject : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException) { return null; }
    }

    /// <summary>Reads an existing log, checks its header, fills the cache and leaves the stream at the end of the last
    /// complete line (cutting off a partial one); returns <see cref="DoneIterations"/>.</summary>
    private static int Read(string path, FileStream stream, string searchText, Dictionary<string, LoggedFitness> cache, HashSet<int> iterations,
        out int lastIteration)
    {
        lastIteration = 0;
        stream.Position = 0;
        var reader = new LineReader(stream);
        long goodEnd = 0;
        int lineNumber = 0;
        int doneIterations = 0;
        bool sawHeader = false;
        while (reader.ReadLine(out string? line, out long end, out bool complete))
        {
            lineNumber++;
            if (complete && string.IsNullOrWhiteSpace(line)) { goodEnd = end; continue; }
            JsonObject? obj = null;
            try { obj = JsonNode.Parse(line!) as JsonObject; }
            catch (JsonException) when (!complete) { }
            catch (JsonException e)
            {
                throw new SearchLogException($"{path}: line {lineNumber} is not valid JSON ({Gguf.JsonErrors.Describe(e)})");
            }
            if (obj is null)
            {
                if (!complete) break; // an interrupted last write: dropped below
                throw new SearchLogException($"{path}: line {lineNumber} is not a JSON object");
            }
            if (!complete) break; // parseable but without its newline: also dropped, to be written again
            // Read without GetValue, which throws InvalidOperationException for another JSON type ({"type": 5} ended
            // the search as an internal error): a field of the wrong type reads as a missing one.
            string? type = Text(obj["type"]);
            if (!sawHeader)
            {
                sawHeader = true;
                if (type != "header" || Text(obj["format"]) != Format)
                    throw new SearchLogException($"{path}: line {lineNumber} is not a {Format} header; not a search log (choose another --out)");
                int version = obj["version"] is JsonValue v && v.TryGetValue(out int n) ? n : 0;
                if (version != Version)
                    throw new SearchLogException($"{path}: search log version {version}; this tool reads version {Version}");
                if (obj["search"] is not JsonObject logged)
                    throw new SearchLogException($"{path}: line 1: the header has no \"search\" object");
                var now = JsonNode.Parse(searchText)!.AsObject();
                var (loggedIdentity, nowIdentity) = SearchIdentity.Comparable(logged, now);
                if (loggedIdentity.ToJsonString() != nowIdentity.ToJsonString())
                {
                    string difference = SearchIdentity.FirstDifference(loggedIdentity, nowIdentity);
                    // Seeds differ by name (or by their factors, when the --init file changed): say which, and the one
                    // case an unchanged command meets, a log from before the critical cut joined the default seeds.
                    string hint = "";
                    if (difference.StartsWith("'seeds'", StringComparison.Ordinal))
                    {
                        var (before, after) = (SeedNames(logged), SeedNames(now));
                        difference = before.SequenceEqual(after)
                            ? $"the seeds {string.Join(", ", after)} have other factors (another --init file?)"
                            : $"the log's seeds are {string.Join(", ", before)}, this search's {string.Join(", ", after)}";
                        if (!before.Contains("critical") && after.Contains("critical"))
                            hint = "; a log from before the critical rule was a default seed resumes with --seed-rules pi,ntk,yarn";
                    }
                    throw new SearchLogException($"{path}: written by a different search ({difference}){hint}; resume only with the same settings, or choose another --out");
                }
            }
            else
            {
                try
                {
                    switch (type)
                    {
                        case "candidate":
                            var key = StringField(obj, "key");
                            if (obj["iteration"] is not null) lastIteration = Math.Max(lastIteration, IntField(obj, "iteration"));
                            cache[key] = new LoggedFitness(
                                IntField(obj, "serial"),
                                ReadFitness(obj),
                                obj["seconds"] is null ? 0 : ReadDouble(obj["seconds"], "seconds"));
                            break;
                        case "iteration":
                            int iteration = IntField(obj, "iteration");
                            iterations.Add(iteration);
                            lastIteration = Math.Max(lastIteration, iteration);
                            break;
                        case "done":
                            doneIterations = Math.Max(doneIterations, IntField(obj, "iterations"));
                            break;
                        default:
                            throw new SearchLogException($"{path}: line {lineNumber}: unknown entry type '{type}'");
                    }
                }
                catch (Exception e) when (e is InvalidOperationException or FormatException && e is not SearchLogException)
                {
                    throw new SearchLogException($"{path}: line {lineNumber}: malformed {type} entry ({e.Message.ReplaceLineEndings(" ").Trim()})");
                }
            }
            goodEnd = end;
        }
        if (!sawHeader)
            throw new SearchLogException($"{path}: no complete header line; delete the file or choose another --out");
        stream.SetLength(goodEnd);
        stream.Position = goodEnd;
        return doneIterations;
    }

    /// <summary>The start of every header this tool writes (its first two fields, in the order written).</summary>
    private const string HeaderStart = "{\"type\":\"header\",\"format\":\"" + Format + "\"";

    /// <summary>The file is the start of a header line and nothing else: it begins as a header does and holds no line
    /// end. Read only as far as that takes (another file: its first bytes; a log: up to its header's line end).</summary>
    private static bool IsTornHeader(FileStream stream)
    {
        try
        {
            var start = new byte[Math.Min(stream.Length, HeaderStart.Length)];
            stream.Position = 0;
            stream.ReadExactly(start);
            if (start.Length == 0 || !HeaderStart.AsSpan(0, start.Length).SequenceEqual(Encoding.ASCII.GetString(start))) return false;
            stream.Position = 0;
            var buffer = new byte[1 << 16];
            for (int n; (n = stream.Read(buffer)) > 0;)
                if (buffer.AsSpan(0, n).Contains((byte)'\n')) return false;
            return true;
        }
        finally { stream.Position = 0; }
    }

    /// <summary>A field an entry must have: a line without it said "Object reference not set to an instance of an object".</summary>
    private static JsonNode Field(JsonObject obj, string name) => obj[name] ?? throw new FormatException($"no '{name}'");

    /// <summary>A whole-number field, named when it is anything else (GetValue said "An element of type 'String' cannot
    /// be converted to a 'System.Int32'", naming no field).</summary>
    private static int IntField(JsonObject obj, string name) =>
        Field(obj, name) is JsonValue v && v.TryGetValue(out int n) ? n : throw new FormatException($"'{name}' must be a whole number, found {obj[name]!.ToJsonString()}");

    private static string StringField(JsonObject obj, string name) =>
        Text(Field(obj, name)) ?? throw new FormatException($"'{name}' must be a string, found {obj[name]!.ToJsonString()}");

    private static FitnessResult ReadFitness(JsonObject obj)
    {
        // Non-finite values cannot be JSON numbers: they are written as strings ("Infinity", "NaN").
        double value = ReadDouble(obj["fitness"], "fitness");
        var components = ImmutableSortedDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        if (obj["components"] is JsonObject c)
            foreach (var (name, node) in c) components[name] = ReadDouble(node, $"components.{name}");
        return new FitnessResult(value, components.ToImmutable());
    }

    /// <summary>A number, or the string a non-finite one is written as ("NaN", "Infinity").</summary>
    private static double ReadDouble(JsonNode? node, string name) => node switch
    {
        null => double.NaN,
        JsonValue v when v.TryGetValue(out double d) => d,
        JsonValue v when v.TryGetValue(out string? s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
        _ => throw new FormatException($"'{name}' must be a number, found {node.ToJsonString()}"),
    };

    private static JsonNode WriteDouble(double d) =>
        double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(d.ToString(CultureInfo.InvariantCulture));

    private static List<string> SeedNames(JsonObject search) =>
        search["seeds"] is JsonArray seeds ? [.. seeds.Select(seed => (seed as JsonObject) is { } o ? Text(o["name"]) ?? "?" : "?")] : [];

    /// <summary>A JSON string's text; null for anything else.</summary>
    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    /// <summary>Whether a summary line for iteration <paramref name="iteration"/> is already in the log.</summary>
    public bool HasIteration(int iteration) => _iterations.Contains(iteration);

    public void AppendCandidate(EvaluatedCandidate c)
    {
        var factors = new JsonArray();
        foreach (float f in c.Candidate.Factors) factors.Add((JsonNode)JsonValue.Create(f));
        var parents = new JsonArray();
        foreach (int p in c.Parents) parents.Add((JsonNode)JsonValue.Create(p));
        var components = new JsonObject();
        foreach (var (name, value) in c.Fitness.Components) components[name] = WriteDouble(value);
        var obj = new JsonObject
        {
            ["type"] = "candidate",
            ["serial"] = c.Serial,
            ["iteration"] = c.Iteration,
            ["origin"] = c.Origin.ToString().ToLowerInvariant(),
            ["seed"] = c.SeedName,
            ["parents"] = parents,
            ["key"] = c.Genome.Key,
            ["factors"] = factors,
            ["attn_factor"] = c.Candidate.AttentionFactor,
            ["fitness"] = WriteDouble(c.Fitness.Value),
            ["components"] = components,
            ["seconds"] = Math.Round(c.Seconds, 4),
        };
        WriteLine(obj);
        _cache[c.Genome.Key] = new LoggedFitness(c.Serial, c.Fitness, c.Seconds);
    }

    public void AppendIteration(IterationSummary s)
    {
        WriteLine(new JsonObject
        {
            ["type"] = "iteration",
            ["iteration"] = s.Iteration,
            ["best_fitness"] = WriteDouble(s.Best.Fitness.Value),
            ["best_serial"] = s.Best.Serial,
            ["best_key"] = s.Best.Genome.Key,
            ["best_attn_factor"] = s.Best.Candidate.AttentionFactor,
            ["candidates"] = s.Candidates,
            ["evaluation_seconds"] = Math.Round(s.EvaluationSeconds, 3),
            ["candidates_per_minute"] = s.EvaluationSeconds > 0 ? Math.Round(s.Candidates * 60 / s.EvaluationSeconds, 2) : null,
        });
        _iterations.Add(s.Iteration);
    }

    public void AppendDone(EvaluatedCandidate best, int iterations)
    {
        WriteLine(new JsonObject
        {
            ["type"] = "done",
            ["iterations"] = iterations,
            ["best_fitness"] = WriteDouble(best.Fitness.Value),
            ["best_serial"] = best.Serial,
            ["best_key"] = best.Genome.Key,
        });
    }

    private void WriteLine(JsonObject obj)
    {
        // One write per line, flushed to the file: an interruption loses at most the line being written.
        byte[] bytes = Encoding.UTF8.GetBytes(obj.ToJsonString() + "\n");
        _stream.Write(bytes);
        _stream.Flush(flushToDisk: false);
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>Reads UTF-8 lines with the byte offset where each ends, without buffering past what it returns.</summary>
    private sealed class LineReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start, _count;
        private long _consumed;

        public bool ReadLine(out string? line, out long end, out bool complete)
        {
            var bytes = new List<byte>();
            while (true)
            {
                if (_start == _count)
                {
                    _count = stream.Read(_buffer, 0, _buffer.Length);
                    _start = 0;
                    if (_count == 0)
                    {
                        line = bytes.Count == 0 ? null : Encoding.UTF8.GetString(bytes.ToArray());
                        end = _consumed;
                        complete = false;
                        return bytes.Count > 0;
                    }
                }
                int nl = Array.IndexOf(_buffer, (byte)'\n', _start, _count - _start);
                if (nl < 0)
                {
                    bytes.AddRange(new ArraySegment<byte>(_buffer, _start, _count - _start));
                    _consumed += _count - _start;
                    _start = _count;
                    continue;
                }
                bytes.AddRange(new ArraySegment<byte>(_buffer, _start, nl - _start));
                _consumed += nl - _start + 1;
                _start = nl + 1;
                line = Encoding.UTF8.GetString(bytes.ToArray());
                end = _consumed;
                complete = true;
                return true;
            }
        }
    }
}
