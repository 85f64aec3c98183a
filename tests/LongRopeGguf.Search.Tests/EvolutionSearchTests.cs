using LongRopeGguf.Gguf;
using LongRopeGguf.Search.Evolution;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Search.Tests;

/// <summary>The search on a synthetic fitness with a known optimum: it must find it, deterministically, without
/// evaluating a genome twice, and resume exactly after an interruption.</summary>
public class EvolutionSearchTests
{
    private const int Dims = 16;
    private static readonly float[] Target = SyntheticFitness.Curve(Dims, 6.0);
    private const float TargetAttention = 1.37f;

    private static SearchSpace Space(bool piecewise = false) =>
        new(Dims, 8, piecewise ? 8 : 10, 0.01, new AttentionRange(1.0, 2.0, 0.01), 1f, piecewise);

    private static readonly SearchSeed[] Seeds =
    [
        new("ones", Enumerable.Repeat(1f, Dims), 1f),
        new("pi", Enumerable.Repeat(8f, Dims), 1.2f),
        new("linear", Enumerable.Range(0, Dims).Select(i => 1f + 7f * i / (Dims - 1)), 1.1f),
    ];

    private static EvolutionSettings Small(int iterations = 12, int seed = 42) => new()
    {
        Population = 16, Parents = 8, Mutations = 6, Crossovers = 6, Iterations = iterations, Seed = seed,
    };

    private static SyntheticFitness NewFitness() => new(Target, TargetAttention);

    /// <summary>A fitness given as a function of the candidate (ties and NaN, which the synthetic curve never gives).</summary>
    private sealed class FunctionFitness(Func<Candidate, double> value) : IFitnessFunction
    {
        public System.Text.Json.Nodes.JsonObject Describe() => new() { ["kind"] = "function" };
        public FitnessResult Evaluate(Candidate candidate, CancellationToken cancellationToken) => FitnessResult.Of(value(candidate));
    }

    private static EvolutionSettings Tiny => new() { Population = 4, Parents = 2, Mutations = 2, Crossovers = 2, Iterations = 2 };

    [Fact]
    public void A_nan_fitness_ranks_last_and_a_tie_keeps_the_first_candidate_as_best()
    {
        // Real fitness gives both: every candidate outside a perplexity bound can score alike, and a fitness other than
        // llama.cpp's (or a logged one) can be NaN. A NaN once ranked first; a tie once went to the later candidate.
        SearchSeed[] seeds = [Seeds[0], Seeds[1]];
        var nan = new EvolutionSearch(Space(), Tiny, seeds, new FunctionFitness(c => c.Genome.Genes[0] == 0 && c.Genome.Genes[Dims - 1] == 0 ? double.NaN : 5.0)).Run();
        Assert.Equal("pi", nan.BestSeed.SeedName);
        Assert.False(double.IsNaN(nan.Best.Fitness.Value));

        var tie = new EvolutionSearch(Space(), Tiny, seeds, new FunctionFitness(_ => 1.0)).Run();
        Assert.Equal(0, tie.Best.Serial);
        Assert.Equal("ones", tie.Best.SeedName);
    }

    [Fact]
    public void The_search_makes_the_choices_its_algorithm_version_names()
    {
        // A search log resumes by replaying the search from its seed, so a change to any choice the search makes
        // (which parents pair, which gene moves) must come with a new EvolutionSearch.Algorithm; this run pins the
        // choices of the current one. (A crossover that could draw one parent twice fell back to a mutation, and every
        // other test compares a run only with itself.) Update the figures together with the Algorithm name.
        Assert.Equal("longrope-evolution-2", EvolutionSearch.Algorithm);
        var outcome = new EvolutionSearch(Space(), Small(iterations: 5), Seeds, NewFitness()).Run();
        var counts = (outcome.All.Length, outcome.All.Count(c => c.Origin == CandidateOrigin.Crossover), outcome.All.Count(c => c.Origin == CandidateOrigin.Mutation));
        Assert.Equal((76, 30, 43), counts);
        Assert.Equal((68, "0,32,93,114,117,233,272,327,373,404,419,459,590,603,638,700|a16|p0,16"), (outcome.Best.Serial, outcome.Best.Genome.Key));
    }

    [Fact]
    public void The_search_improves_far_beyond_its_seeds_and_moves_toward_the_known_optimum()
    {
        var fitness = NewFitness();
        var outcome = new EvolutionSearch(Space(), Small(iterations: 30), Seeds, fitness).Run();

        double seedBest = outcome.BestSeed.Fitness.Value;
        Assert.Equal("linear", outcome.BestSeed.SeedName);
        // Seeds are evaluated as they sit on the grid (factors rounded to 0.01).
        var onGrid = Space().Quantize(Seeds[2].Factors, 1.1f);
        Assert.Equal(fitness.Loss(Space().FactorsOf(onGrid), 1.1f), seedBest, 9);
        Assert.True(outcome.Best.Fitness.Value < seedBest / 4, $"best {outcome.Best.Fitness.Value} vs seed {seedBest}");
        // The attention gene moved from the seeds' values toward the optimum 1.37.
        Assert.InRange(outcome.Best.Candidate.AttentionFactor, 1.25f, 1.50f);

        // Best-so-far never gets worse, and it is the best of everything evaluated.
        for (int i = 1; i < outcome.Iterations.Length; i++)
            Assert.True(outcome.Iterations[i].Best.Fitness.Value <= outcome.Iterations[i - 1].Best.Fitness.Value);
        Assert.Equal(outcome.All.Min(c => c.Fitness.Value), outcome.Best.Fitness.Value);
        Assert.Equal(31, outcome.Iterations.Length);
        Assert.True(outcome.Iterations[^1].Best.Fitness.Value < outcome.Iterations[0].Best.Fitness.Value);
    }

    [Fact]
    public void No_genome_is_evaluated_twice_and_every_candidate_is_valid()
    {
        var fitness = NewFitness();
        var space = Space();
        var outcome = new EvolutionSearch(space, Small(), Seeds, fitness).Run();
        Assert.All(fitness.Calls, kv => Assert.Equal(1, kv.Value));
        Assert.Equal(outcome.All.Length, fitness.TotalCalls);
        Assert.Equal(outcome.All.Length, outcome.All.Select(c => c.Genome.Key).Distinct().Count());
        Assert.All(outcome.All, c => Assert.True(space.IsValid(c.Genome), c.Genome.Key));
        // Population of 16, then 12 new candidates per iteration.
        Assert.Equal(16 + 12 * 12, outcome.All.Length);
        Assert.Equal(3, outcome.All.Count(c => c.Origin == CandidateOrigin.Seed));
        Assert.True(outcome.All.Count(c => c.Origin == CandidateOrigin.Crossover) > 50);
    }

    [Fact]
    public void The_planned_count_covers_every_seed_when_the_population_holds_fewer()
    {
        var observer = new PlanObserver();
        var settings = Small(iterations: 2) with { Population = 2, Parents = 2, Mutations = 1, Crossovers = 1 };
        var outcome = new EvolutionSearch(Space(), settings, Seeds, NewFitness()).Run(null, observer);
        Assert.Equal(3 + 2 * 2, observer.Planned); // three seeds, not a population of two
        Assert.Equal(outcome.All.Length, observer.LastCandidates);
        Assert.True(observer.LastCandidates <= observer.Planned, $"{observer.LastCandidates}/{observer.Planned} candidates");
    }

    private sealed class PlanObserver : ISearchObserver
    {
        public int Planned { get; private set; }
        public int LastCandidates { get; private set; }
        public void OnStart(int plannedCandidates, bool resumed) => Planned = plannedCandidates;
        public void OnCandidate(EvaluatedCandidate candidate, SearchProgress progress) => LastCandidates = progress.Candidates;
    }

    [Fact]
    public void Equal_seeds_are_evaluated_once()
    {
        var fitness = NewFitness();
        SearchSeed[] seeds = [Seeds[0], new("also-ones", Enumerable.Repeat(1.001f, Dims), 1f), Seeds[1]];
        var outcome = new EvolutionSearch(Space(), Small(iterations: 1), seeds, fitness).Run();
        Assert.Equal(3, outcome.Seeds.Length);
        Assert.Equal(outcome.Seeds[0].Serial, outcome.Seeds[1].Serial);
        Assert.Equal("also-ones", outcome.Seeds[1].SeedName);
        Assert.Equal(2, outcome.All.Count(c => c.Origin == CandidateOrigin.Seed));
    }

    [Fact]
    public void The_same_seed_gives_the_same_search_and_another_seed_another()
    {
        static string[] Keys(SearchOutcome o) => o.All.Select(c => c.Genome.Key).ToArray();
        var a = new EvolutionSearch(Space(), Small(seed: 5), Seeds, NewFitness()).Run();
        var b = new EvolutionSearch(Space(), Small(seed: 5), Seeds, NewFitness()).Run();
        var c = new EvolutionSearch(Space(), Small(seed: 6), Seeds, NewFitness()).Run();
        Assert.Equal(Keys(a), Keys(b));
        Assert.NotEqual(Keys(a), Keys(c));
    }

    [Fact]
    public void The_piecewise_variant_keeps_low_dimensions_at_one_and_high_ones_at_the_scale()
    {
        var space = Space(piecewise: true);
        SearchSeed[] seeds = [new("ramp", Enumerable.Range(0, Dims).Select(i => i < 3 ? 1f : i >= 12 ? 8f : 1f + 7f * (i - 2) / 10), 1.1f)];
        var outcome = new EvolutionSearch(space, Small(), seeds, NewFitness()).Run();
        Assert.True(outcome.Best.Fitness.Value < outcome.BestSeed.Fitness.Value);
        Assert.True(outcome.All.Select(c => (c.Genome.Low, c.Genome.High)).Distinct().Count() > 3, "the boundaries never moved");
        foreach (var c in outcome.All)
        {
            var f = c.Candidate.Factors;
            for (int i = 0; i < c.Genome.Low; i++) Assert.Equal(1f, f[i]);
            for (int i = c.Genome.High; i < Dims; i++) Assert.Equal(8f, f[i]);
            Assert.All(f, x => Assert.InRange(x, 1f, 8f));
        }
    }

    [Fact]
    public void An_interrupted_search_resumes_exactly_without_evaluating_anything_twice()
    {
        using var dir = new TempDir();
        var reference = new EvolutionSearch(Space(), Small(), Seeds, NewFitness()).Run();

        // First run: interrupted when it starts its 70th evaluation (in iteration 5).
        var first = NewFitness();
        using var cts = new CancellationTokenSource();
        first.CancelAt = (70, cts);
        var search1 = new EvolutionSearch(Space(), Small(), Seeds, first);
        using (var log = SearchLog.Open(dir.File("log.jsonl"), search1.Describe()))
            Assert.ThrowsAny<OperationCanceledException>(() => search1.Run(log, null, cts.Token));
        Assert.Equal(69, first.TotalCalls);

        // Second run: the same command again.
        var second = NewFitness();
        var search2 = new EvolutionSearch(Space(), Small(), Seeds, second);
        SearchOutcome resumed;
        using (var log = SearchLog.Open(dir.File("log.jsonl"), search2.Describe()))
        {
            Assert.True(log.Resumed);
            Assert.Equal(69, log.CandidateCount);
            resumed = search2.Run(log);
        }
        Assert.Equal(reference.All.Length - 69, second.TotalCalls);
        Assert.Empty(first.Calls.Keys.Intersect(second.Calls.Keys));
        Assert.Equal(reference.All.Select(c => (c.Genome.Key, c.Fitness.Value)), resumed.All.Select(c => (c.Genome.Key, c.Fitness.Value)));
        Assert.Equal(reference.Best.Genome, resumed.Best.Genome);
        Assert.Equal(69, resumed.All.Count(c => c.FromLog));

        // The log holds each candidate once, one summary per iteration and the end.
        var lines = File.ReadAllLines(dir.File("log.jsonl"));
        Assert.Equal(reference.All.Length, lines.Count(l => l.Contains("\"type\":\"candidate\"")));
        Assert.Equal(13, lines.Count(l => l.Contains("\"type\":\"iteration\"")));
        Assert.Single(lines, l => l.Contains("\"type\":\"done\""));
    }

    [Fact]
    public void A_stopped_search_returns_the_best_so_far_and_the_same_command_continues_it()
    {
        using var dir = new TempDir();
        var reference = new EvolutionSearch(Space(), Small(), Seeds, NewFitness()).Run();

        // A time limit that runs out while the 70th evaluation (in iteration 5) is under way: that one finishes, no
        // 71st starts, and the run returns normally with what it has.
        var first = NewFitness();
        using var stop = new CancellationTokenSource();
        first.CancelAt = (70, stop);
        var search1 = new EvolutionSearch(Space(), Small(), Seeds, first);
        SearchOutcome stopped;
        using (var log = SearchLog.Open(dir.File("log.jsonl"), search1.Describe()))
            stopped = search1.Run(log, null, default, stop.Token);
        Assert.True(stopped.StoppedEarly);
        Assert.Equal(70, first.TotalCalls);
        Assert.Equal(reference.All.Take(70).Select(c => (c.Genome.Key, c.Fitness.Value)), stopped.All.Select(c => (c.Genome.Key, c.Fitness.Value)));
        var bestOf70 = reference.All.Take(70).Order(Comparer<EvaluatedCandidate>.Create(EvaluatedCandidate.Compare)).First();
        Assert.Equal(bestOf70.Genome, stopped.Best.Genome);
        Assert.Equal(3, stopped.Seeds.Length);
        // The iteration cut short is reported (so the chart ends at the best), after the 5 complete summaries.
        Assert.Equal([0, 1, 2, 3, 4, 5], stopped.Iterations.Select(i => i.Iteration));
        Assert.Equal(stopped.Best.Fitness.Value, stopped.Iterations[^1].Best.Fitness.Value);
        // ...but not logged, and the log is not marked done.
        var lines = File.ReadAllLines(dir.File("log.jsonl"));
        Assert.Equal(5, lines.Count(l => l.Contains("\"type\":\"iteration\"")));
        Assert.DoesNotContain(lines, l => l.Contains("\"type\":\"done\""));

        Assert.Equal(5, stopped.StoppedInIteration);
        Assert.Equal(4, stopped.CompletedIterations);

        // The same command with a limit already over catches up with its log before the limit counts: nothing is
        // evaluated, nothing is lost, and it stops where the first run did.
        var again = NewFitness();
        using var over = new CancellationTokenSource();
        over.Cancel();
        var searchAgain = new EvolutionSearch(Space(), Small(), Seeds, again);
        SearchOutcome replayed;
        using (var log = SearchLog.Open(dir.File("log.jsonl"), searchAgain.Describe()))
            replayed = searchAgain.Run(log, null, default, over.Token);
        Assert.Equal(0, again.TotalCalls);
        Assert.Equal(70, replayed.All.Length);
        Assert.Equal(stopped.Best.Genome, replayed.Best.Genome);
        Assert.Equal(5, replayed.StoppedInIteration);

        // The same command without the limit continues to exactly the uninterrupted search.
        var second = NewFitness();
        var search2 = new EvolutionSearch(Space(), Small(), Seeds, second);
        SearchOutcome resumed;
        using (var log = SearchLog.Open(dir.File("log.jsonl"), search2.Describe()))
            resumed = search2.Run(log);
        Assert.False(resumed.StoppedEarly);
        Assert.Equal(reference.All.Length - 70, second.TotalCalls);
        Assert.Equal(reference.All.Select(c => (c.Genome.Key, c.Fitness.Value)), resumed.All.Select(c => (c.Genome.Key, c.Fitness.Value)));
        Assert.Equal(13, File.ReadAllLines(dir.File("log.jsonl")).Count(l => l.Contains("\"type\":\"iteration\"")));
    }

    [Fact]
    public void A_stop_between_iterations_reports_the_iteration_it_did_not_start_and_only_complete_ones()
    {
        var reference = new EvolutionSearch(Space(), Small(), Seeds, NewFitness()).Run();
        int throughIteration4 = reference.All.Count(c => c.Iteration <= 4);
        var fitness = NewFitness();
        using var stop = new CancellationTokenSource();
        fitness.CancelAt = (throughIteration4, stop); // signalled during the last evaluation of iteration 4
        var outcome = new EvolutionSearch(Space(), Small(), Seeds, fitness).Run(null, null, default, stop.Token);
        Assert.Equal(throughIteration4, outcome.All.Length);
        Assert.Equal(5, outcome.StoppedInIteration);
        Assert.Equal(4, outcome.CompletedIterations);
        Assert.Equal([0, 1, 2, 3, 4], outcome.Iterations.Select(i => i.Iteration));
    }

    [Fact]
    public void A_stop_before_the_seeds_are_evaluated_still_evaluates_every_seed()
    {
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var fitness = NewFitness();
        var outcome = new EvolutionSearch(Space(), Small(), Seeds, fitness).Run(null, null, default, stop.Token);
        Assert.True(outcome.StoppedEarly);
        Assert.Equal(3, fitness.TotalCalls);
        Assert.Equal(Seeds.Select(s => s.Name), outcome.All.Select(c => c.SeedName));
        Assert.Equal(outcome.BestSeed.Genome, outcome.Best.Genome);
        Assert.Equal([0], outcome.Iterations.Select(i => i.Iteration));
        Assert.Equal(0, outcome.StoppedInIteration);
        Assert.Equal(0, outcome.CompletedIterations);
    }

    [Fact]
    public void A_line_cut_short_by_an_interruption_is_dropped_and_written_again()
    {
        using var dir = new TempDir();
        string path = dir.File("log.jsonl");
        var first = NewFitness();
        using var cts = new CancellationTokenSource();
        first.CancelAt = (30, cts);
        var search1 = new EvolutionSearch(Space(), Small(), Seeds, first);
        using (var log = SearchLog.Open(path, search1.Describe()))
            Assert.ThrowsAny<OperationCanceledException>(() => search1.Run(log, null, cts.Token));
        // Simulate a kill in the middle of writing the 30th candidate.
        var lines = File.ReadAllLines(path);
        string last = lines.Last(l => l.Contains("\"type\":\"candidate\""));
        File.WriteAllLines(path, lines.Take(lines.Length - 1));
        File.AppendAllText(path, last[..(last.Length / 2)]);

        var second = NewFitness();
        var search2 = new EvolutionSearch(Space(), Small(), Seeds, second);
        using (var log = SearchLog.Open(path, search2.Describe()))
        {
            Assert.Equal(28, log.CandidateCount);
            search2.Run(log);
        }
        Assert.Equal(first.Calls.Count + second.Calls.Count - 1, new EvolutionSearch(Space(), Small(), Seeds, NewFitness()).Run().All.Length);
        Assert.All(File.ReadAllLines(path), l => System.Text.Json.Nodes.JsonNode.Parse(l));
    }

    [Theory]
    [InlineData("key", null, "no 'key'")]
    [InlineData("serial", null, "no 'serial'")]
    // The serializer's words named no field: "An element of type 'String' cannot be converted to a 'System.Int32'."
    [InlineData("serial", "\"7\"", "'serial' must be a whole number, found \"7\"")]
    [InlineData("iteration", "1.5", "'iteration' must be a whole number, found 1.5")]
    [InlineData("key", "5", "'key' must be a string, found 5")]
    [InlineData("fitness", "\"low\"", "'fitness' must be a number, found \"low\"")]
    [InlineData("seconds", "[1]", "'seconds' must be a number, found [1]")]
    public void A_complete_line_missing_a_field_is_refused_naming_the_line_and_the_field(string field, string? value, string problem)
    {
        // It said "malformed candidate entry (Object reference not set to an instance of an object.)".
        using var dir = new TempDir();
        string path = dir.File("log.jsonl");
        var s1 = new EvolutionSearch(Space(), Small(iterations: 1), Seeds, NewFitness());
        using (var log = SearchLog.Open(path, s1.Describe())) s1.Run(log);
        var lines = File.ReadAllLines(path);
        int at = Array.FindIndex(lines, l => l.Contains("\"type\":\"candidate\"", StringComparison.Ordinal));
        var entry = System.Text.Json.Nodes.JsonNode.Parse(lines[at])!.AsObject();
        entry.Remove(field);
        if (value is not null) entry[field] = System.Text.Json.Nodes.JsonNode.Parse(value);
        lines[at] = entry.ToJsonString();
        File.WriteAllLines(path, lines);
        var e = Assert.Throws<SearchLogException>(() => SearchLog.Open(path, s1.Describe()).Dispose());
        Assert.Equal($"{path}: line {at + 1}: malformed candidate entry ({problem})", e.Message);
    }

    [Fact]
    public void A_header_cut_short_starts_the_log_over_and_other_text_is_still_refused()
    {
        // A search killed while writing its first line left a log that every later run refused ("no complete header
        // line; delete the file").
        using var dir = new TempDir();
        string path = dir.File("log.jsonl");
        var s1 = new EvolutionSearch(Space(), Small(iterations: 1), Seeds, NewFitness());
        using (var log = SearchLog.Open(path, s1.Describe())) s1.Run(log);
        string header = File.ReadLines(path).First();
        foreach (int cut in new[] { 5, header.Length / 2, header.Length })
        {
            File.WriteAllText(path, header[..cut]);
            using (var log = SearchLog.Open(path, s1.Describe()))
            {
                Assert.False(log.Resumed);
                Assert.Equal(0, log.CandidateCount);
            }
            var lines = File.ReadAllLines(path);
            Assert.Single(lines);
            Assert.StartsWith("{\"type\":\"header\"", lines[0]);
        }
        File.WriteAllText(path, "hello");
        var e = Assert.Throws<SearchLogException>(() => SearchLog.Open(path, s1.Describe()).Dispose());
        Assert.Equal($"{path}: no complete header line; delete the file or choose another --out", e.Message);
        Assert.Equal("hello", File.ReadAllText(path));
    }

    [Fact]
    public void A_complete_line_that_is_not_json_is_named_in_the_reads_own_terms()
    {
        // The serializer's text came through: "... LineNumber: 0 | BytePositionInLine: 20."
        using var dir = new TempDir();
        string path = dir.File("log.jsonl");
        var s1 = new EvolutionSearch(Space(), Small(iterations: 1), Seeds, NewFitness());
        using (var log = SearchLog.Open(path, s1.Describe())) s1.Run(log);
        var lines = File.ReadAllLines(path);
        lines[1] = "{\"type\": candidate}";
        File.WriteAllLines(path, lines);
        var e = Assert.Throws<SearchLogException>(() => SearchLog.Open(path, s1.Describe()).Dispose());
        Assert.Equal($"{path}: line 2 is not valid JSON ('c' is an invalid start of a value near byte 10)", e.Message);
    }

    [Fact]
    public void A_finished_search_can_be_extended_by_more_iterations()
    {
        using var dir = new TempDir();
        string path = dir.File("log.jsonl");
        var short1 = NewFitness();
        var s1 = new EvolutionSearch(Space(), Small(iterations: 4), Seeds, short1);
        using (var log = SearchLog.Open(path, s1.Describe())) s1.Run(log);

        var more = NewFitness();
        var s2 = new EvolutionSearch(Space(), Small(iterations: 8), Seeds, more);
        SearchOutcome extended;
        using (var log = SearchLog.Open(path, s2.Describe()))
        {
            Assert.Equal(4, log.DoneIterations);
            extended = s2.Run(log);
        }
        var reference = new EvolutionSearch(Space(), Small(iterations: 8), Seeds, NewFitness()).Run();
        Assert.Equal(reference.All.Select(c => c.Genome.Key), extended.All.Select(c => c.Genome.Key));
        Assert.Equal(16 + 4 * 12, short1.TotalCalls);
        Assert.Equal(4 * 12, more.TotalCalls);

        // The log's last line is the extended search's "done", with its result (the first run's stayed the only one,
        // with 4 iterations and the best of those); the same search run again adds none.
        var done = File.ReadLines(path).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).Where(n => n["type"]!.ToString() == "done").ToList();
        Assert.Equal([4, 8], done.Select(d => d["iterations"]!.GetValue<int>()));
        Assert.Equal(extended.Best.Genome.Key, done[^1]["best_key"]!.ToString());
        Assert.Contains("\"type\":\"done\"", File.ReadLines(path).Last());
        byte[] before = File.ReadAllBytes(path);
        var s3 = new EvolutionSearch(Space(), Small(iterations: 8), Seeds, NewFitness());
        using (var log = SearchLog.Open(path, s3.Describe()))
        {
            Assert.Equal(8, log.DoneIterations);
            s3.Run(log);
        }
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void Fewer_iterations_than_the_log_holds_are_refused_leaving_the_log_as_it_was()
    {
        using var dir = new TempDir();
        string path = dir.File("log.jsonl");
        var s1 = new EvolutionSearch(Space(), Small(iterations: 3), Seeds, NewFitness());
        using (var log = SearchLog.Open(path, s1.Describe())) s1.Run(log);
        byte[] before = File.ReadAllBytes(path);
        var s2 = new EvolutionSearch(Space(), Small(iterations: 2), Seeds, NewFitness());
        using (var log = SearchLog.Open(path, s2.Describe()))
        {
            Assert.Equal(3, log.LastIteration);
            var e = Assert.Throws<SearchLogException>(() => s2.Run(log));
            Assert.Equal($"{path}: holds iteration 3 of this search; 2 iteration(s) would replace its result with the best of a shorter search; "
                + "give --iterations 3 or more (or choose another --out)", e.Message);
        }
        Assert.Equal(before, File.ReadAllBytes(path));
        // The same count or more runs.
        var s3 = new EvolutionSearch(Space(), Small(iterations: 3), Seeds, NewFitness());
        using (var log = SearchLog.Open(path, s3.Describe())) Assert.Equal(0, s3.Run(log).NewEvaluations);
    }

    [Fact]
    public void A_log_of_another_search_is_refused_naming_what_differs()
    {
        using var dir = new TempDir();
        string path = dir.File("log.jsonl");
        var s1 = new EvolutionSearch(Space(), Small(), Seeds, NewFitness());
        using (var log = SearchLog.Open(path, s1.Describe())) { }
        var other = new EvolutionSearch(Space(), Small() with { Mutations = 3 }, Seeds, NewFitness());
        var e = Assert.Throws<SearchLogException>(() => SearchLog.Open(path, other.Describe()));
        Assert.Contains(path, e.Message);
        Assert.Contains("different search", e.Message);
        // The field itself, found inside the nested settings object: not a cut-off dump of the object.
        Assert.Contains("'settings.mutations' was 6, now 3", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_search_log_is_refused()
    {
        using var dir = new TempDir();
        string path = dir.File("log.jsonl");
        File.WriteAllText(path, "{\"hello\":1}\n");
        var s = new EvolutionSearch(Space(), Small(), Seeds, NewFitness());
        var e = Assert.Throws<SearchLogException>(() => SearchLog.Open(path, s.Describe()));
        Assert.Contains("not a longrope-search-log header", e.Message);
        Assert.Equal("{\"hello\":1}\n", File.ReadAllText(path));

        // Fields of another JSON type read as missing ones: {"type": 5} threw InvalidOperationException (an internal error).
        foreach (string header in new[] { "{\"type\":5}", "{\"type\":\"header\",\"format\":[1]}", "{\"type\":\"header\",\"format\":\"longrope-search-log\",\"version\":\"1\"}" })
        {
            File.WriteAllText(path, header + "\n");
            Assert.Throws<SearchLogException>(() => SearchLog.Open(path, s.Describe()));
        }

        File.WriteAllText(path, "");
        using (var log = SearchLog.Open(path, s.Describe())) { }
        File.AppendAllText(path, "{\"type\":\"candidate\",\"serial\":0}\n");
        var bad = Assert.Throws<SearchLogException>(() => SearchLog.Open(path, s.Describe()));
        Assert.Contains("line 2", bad.Message);
    }

    [Fact]
    public void Bad_settings_are_refused()
    {
        var e = Assert.Throws<BadInputException>(() => new EvolutionSearch(Space(), Small() with { Parents = 40 }, Seeds, NewFitness()));
        Assert.Contains("parents 40", e.Message);
        var f = Assert.Throws<BadInputException>(() => new EvolutionSearch(Space(), Small(), [new SearchSeed("short", new float[5], 1f)], NewFitness()));
        Assert.Contains("seed short: 5 factors", f.Message);
    }
}
