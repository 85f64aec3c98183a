using LongRopeGguf.Gguf;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace LongRopeGguf.Search.Evolution;

/// <summary>Hears about the search as it goes (progress display). Called on the search's thread.</summary>
public interface ISearchObserver
{
    /// <summary>Before the first candidate: how many candidates the search will make at most.</summary>
    void OnStart(int plannedCandidates, bool resumed) { }

    void OnCandidate(EvaluatedCandidate candidate, SearchProgress progress) { }

    void OnIteration(IterationSummary summary, SearchProgress progress) { }

    /// <summary>Something about the search the user should know and that does not stop it (an --init set clipped to the space).</summary>
    void OnWarning(string message) { }
}

/// <summary>Counts for a progress display.</summary>
/// <param name="Candidates">Candidates made so far (evaluated or taken from the log).</param>
/// <param name="Planned">Candidates the whole search makes at most.</param>
/// <param name="NewEvaluations">Candidates this run evaluated (not from the log).</param>
/// <param name="NewEvaluationSeconds">Time those evaluations took.</param>
/// <param name="Best">Best candidate so far.</param>
public sealed record SearchProgress(int Iteration, int Iterations, int Candidates, int Planned, int NewEvaluations, double NewEvaluationSeconds, EvaluatedCandidate? Best)
{
    /// <summary>Candidates evaluated per minute in this run; null before the first.</summary>
    public double? CandidatesPerMinute => NewEvaluations > 0 && NewEvaluationSeconds > 0 ? NewEvaluations * 60 / NewEvaluationSeconds : null;

    /// <summary>Time left at the current rate, for the candidates still to make.</summary>
    public TimeSpan? Eta => CandidatesPerMinute is { } rate ? TimeSpan.FromMinutes(Math.Max(0, Planned - Candidates) / rate) : null;
}

/// <summary>The result of a search.</summary>
/// <param name="Best">The best candidate found.</param>
/// <param name="Seeds">The seed candidates with their fitness, in seed order.</param>
/// <param name="Iterations">The best after each iteration; index 0 is the initial population.</param>
/// <param name="All">Every candidate made, in order of creation.</param>
/// <param name="NewEvaluations">Candidates evaluated in this run (the others came from the log).</param>
/// <param name="NewEvaluationSeconds">Wall time of those evaluations.</param>
/// <param name="StoppedInIteration">The iteration a stop (a time limit) ended the run in (0: while making the initial
/// population), or null for a run that finished; the last entry of <paramref name="Iterations"/> is then that iteration,
/// cut short, if it had made a candidate.</param>
public sealed record SearchOutcome(
    EvaluatedCandidate Best,
    ImmutableArray<EvaluatedCandidate> Seeds,
    ImmutableArray<IterationSummary> Iterations,
    ImmutableArray<EvaluatedCandidate> All,
    int NewEvaluations,
    double NewEvaluationSeconds,
    bool Resumed,
    int? StoppedInIteration = null)
{
    /// <summary>Whether a stop ended the run before its last iteration.</summary>
    public bool StoppedEarly => StoppedInIteration is not null;

    /// <summary>Iterations after the initial population that ran to their end.</summary>
    public int CompletedIterations => StoppedInIteration is { } k ? Math.Max(0, k - 1) : Iterations.Length - 1;

    /// <summary>The best seed: the bar the search has to clear.</summary>
    public EvaluatedCandidate BestSeed => Seeds.OrderBy(s => s, Comparer<EvaluatedCandidate>.Create(EvaluatedCandidate.Compare)).First();

    /// <summary>Candidates evaluated per minute over every evaluation the log holds (this run's and earlier runs').</summary>
    public double? CandidatesPerMinute
    {
        get
        {
            double seconds = All.Sum(c => c.Seconds);
            return seconds > 0 ? All.Length * 60 / seconds : null;
        }
    }
}

/// <summary>
/// LongRoPE's evolution search, in our own code (after microsoft/LongRoPE evolution/algorithms): an initial population
/// of the seeds and mutations of them; then per iteration the best <see cref="EvolutionSettings.Parents"/> survive and
/// breed <see cref="EvolutionSettings.Mutations"/> mutants and <see cref="EvolutionSettings.Crossovers"/> crossovers.
/// No genome is evaluated twice: the operators only make genomes not seen before, and a resumed search takes the fitness
/// of every genome in its log from the log (see <see cref="SearchLog"/>).
/// </summary>
public sealed class EvolutionSearch
{
    /// <summary>Names the algorithm's version in the log header: a log written by another version is not replayed
    /// (its trajectory would differ), so change this whenever the search would make other choices.</summary>
    public const string Algorithm = "longrope-evolution-2";

    private readonly SearchSpace _space;
    private readonly EvolutionSettings _settings;
    private readonly IReadOnlyList<SearchSeed> _seeds;
    private readonly IFitnessFunction _fitness;

    public EvolutionSearch(SearchSpace space, EvolutionSettings settings, IReadOnlyList<SearchSeed> seeds, IFitnessFunction fitness)
    {
        settings.Validate();
        if (seeds.Count == 0) throw new BadInputException("the search needs at least one seed");
        foreach (var s in seeds)
            if (s.Factors.Length != space.Dimensions)
                throw new BadInputException($"seed {s.Name}: {s.Factors.Length} factors; the model has {space.Dimensions} (rope_dimension_count / 2)");
        _space = space;
        _settings = settings;
        _seeds = seeds;
        _fitness = fitness;
    }

    /// <summary>
    /// Everything that decides the search, as the log header keeps it: the space, the settings (but the iteration
    /// count, so that a finished search can be extended), the seeds as genomes, and the fitness.
    /// </summary>
    public JsonObject Describe()
    {
        var seeds = new JsonArray();
        foreach (var s in _seeds)
            seeds.Add((JsonNode)new JsonObject { ["name"] = s.Name, ["key"] = _space.Quantize(s.Factors, s.AttentionFactor).Key });
        var space = new JsonObject
        {
            ["dimensions"] = _space.Dimensions,
            ["scale"] = _space.Scale,
            ["max_factor"] = _space.MaxFactor,
            ["step"] = _space.Step,
            ["piecewise"] = _space.Piecewise,
            ["attn_factor"] = _space.Attention is { } a
                ? a.TopBelowNearest
                    ? new JsonObject { ["min"] = a.Min, ["max"] = a.Max, ["step"] = a.Step, ["max_index"] = a.MaxIndex }
                    : new JsonObject { ["min"] = a.Min, ["max"] = a.Max, ["step"] = a.Step }
                : JsonValue.Create(_space.FixedAttentionFactor),
        };
        // Only where the top grid point moved below the nearest: every other logged search keeps its header.
        if (_space.TopBelowNearest) space["max_index"] = _space.MaxIndex;
        return new JsonObject
        {
            ["algorithm"] = Algorithm,
            ["space"] = space,
            ["settings"] = new JsonObject
            {
                ["population"] = _settings.Population,
                ["parents"] = _settings.Parents,
                ["mutations"] = _settings.Mutations,
                ["crossovers"] = _settings.Crossovers,
                ["mutation_probability"] = _settings.MutationProbability,
                ["attn_mutation_sigma"] = _settings.AttentionMutationSigma,
                ["boundary_mutation_sigma"] = _settings.BoundaryMutationSigma,
                ["max_crossover_tries"] = _settings.MaxCrossoverTries,
                ["max_mutation_tries"] = _settings.MaxMutationTries,
                ["seed"] = _settings.Seed,
            },
            ["seeds"] = seeds,
            ["fitness"] = _fitness.Describe(),
        };
    }

    /// <summary>Fewer iterations than the log holds would replay a shorter search and write its best over the longer
    /// one's: refused (by `search --check` too).</summary>
    public void RefuseShorterThan(SearchLog log)
    {
        if (log.LastIteration > _settings.Iterations)
            throw new SearchLogException($"{log.Path}: holds iteration {log.LastIteration} of this search; {_settings.Iterations} iteration(s) would "
                + $"replace its result with the best of a shorter search; give --iterations {log.LastIteration} or more (or choose another --out)");
    }

    /// <summary>Runs the search. With a <paramref name="log"/>, candidates it holds are not evaluated again and new ones
    /// are appended; cancelling leaves a log that a later run resumes exactly. <paramref name="stopToken"/> ends the
    /// search early but normally (a time limit): once every seed is evaluated, no new candidate is started after it is
    /// signalled, and the outcome so far is returned with <see cref="SearchOutcome.StoppedEarly"/>; the log is not
    /// marked done, so the same command continues it.</summary>
    public SearchOutcome Run(SearchLog? log = null, ISearchObserver? observer = null, CancellationToken cancellationToken = default,
        CancellationToken stopToken = default)
    {
        if (log is not null) RefuseShorterThan(log);
        var execution = new Execution(this, log, observer, cancellationToken, stopToken);
        return execution.Execute();
    }

    /// <summary>Thrown inside an execution when its stop token is signalled; never leaves <see cref="Run"/>.</summary>
    private sealed class StopRequested : Exception;

    /// <summary>One execution: the state a search carries from candidate to candidate.</summary>
    private sealed class Execution(EvolutionSearch owner, SearchLog? log, ISearchObserver? observer, CancellationToken ct, CancellationToken stop)
    {
        private readonly Random _random = new(owner._settings.Seed);
        private readonly HashSet<Genome> _seen = [];
        private readonly List<EvaluatedCandidate> _all = [];
        private readonly List<IterationSummary> _iterations = [];
        private readonly List<EvaluatedCandidate> _seeds = [];
        private int _madeThisIteration;
        private GeneticOperators? _ops;
        private EvaluatedCandidate? _best;
        private int _newEvaluations;
        private double _newSeconds;
        private int _iteration;

        private SearchSpace Space => owner._space;
        private EvolutionSettings Settings => owner._settings;
        // Every seed is evaluated even when there are more seeds than the population holds.
        private int Planned => (int)Settings.PlannedCandidates(owner._seeds.Count); // at most MaxCandidates (Validate)

        public SearchOutcome Execute()
        {
            observer?.OnStart(Planned, log?.Resumed ?? false);
            try
            {
                Evolve();
            }
            catch (StopRequested)
            {
                // The iteration in progress is summarized for the report and chart, not logged (a later run redoes it)
                // and not announced as finished.
                if (_madeThisIteration > 0) Summarize(_iteration, partial: true);
                return Outcome(stoppedInIteration: _iteration);
            }
            // Once per iteration count: a finished search re-run adds nothing, one extended says its new result.
            if (log is not null && Settings.Iterations > log.DoneIterations) log.AppendDone(_best!, Settings.Iterations);
            return Outcome(stoppedInIteration: null);
        }

        private SearchOutcome Outcome(int? stoppedInIteration) =>
            new(_best!, [.. _seeds], [.. _iterations], [.. _all], _newEvaluations, _newSeconds, log?.Resumed ?? false, stoppedInIteration);

        private void Evolve()
        {
            _ops = new GeneticOperators(Space, Settings, _random);
            // Initial population: every distinct seed, then mutations of the seeds in turn until the population is full.
            var population = new List<EvaluatedCandidate>();
            var seeds = _seeds;
            foreach (var seed in owner._seeds)
            {
                var genome = Space.Quantize(seed.Factors, seed.AttentionFactor);
                if (_seen.Contains(genome))
                {
                    // Two seeds on the same grid point (e.g. a rule that equals another at this scale): evaluated once.
                    var twin = seeds.First(s => s.Genome.Equals(genome));
                    seeds.Add(twin with { SeedName = seed.Name });
                    continue;
                }
                var c = Make(genome, CandidateOrigin.Seed, seed.Name, []);
                seeds.Add(c);
                population.Add(c);
            }
            // The rest of the population: mutations of the seeds, the better seeds more often (a rule far off at this
            // scale, like PI at 8x, is not worth half the initial budget): slot j mutates the seed ranked by the number of
            // trailing zero bits of j + 1, so the best seed gets 1/2 of the slots, the second 1/4, the third 1/8...
            var ranked = population.OrderBy(c => c, Comparer<EvaluatedCandidate>.Create(EvaluatedCandidate.Compare)).ToList();
            int failuresInARow = 0;
            for (int j = 0; population.Count < Settings.Population && failuresInARow < 2 * ranked.Count; j++)
            {
                var parent = ranked[Math.Min(System.Numerics.BitOperations.TrailingZeroCount(j + 1), ranked.Count - 1)];
                var child = _ops.Mutate(parent.Genome, _seen);
                if (child is null) { failuresInARow++; continue; }
                failuresInARow = 0;
                population.Add(Make(child, CandidateOrigin.Mutation, null, [parent.Serial]));
            }
            Summarize(0);

            for (_iteration = 1; _iteration <= Settings.Iterations; _iteration++)
            {
                var parents = population.OrderBy(c => c, Comparer<EvaluatedCandidate>.Create(EvaluatedCandidate.Compare))
                    .Take(Settings.Parents).ToList();
                var next = new List<EvaluatedCandidate>(parents);
                for (int j = 0; j < Settings.Mutations; j++)
                {
                    var parent = parents[_random.Next(parents.Count)];
                    if (_ops.Mutate(parent.Genome, _seen) is { } child)
                        next.Add(Make(child, CandidateOrigin.Mutation, null, [parent.Serial]));
                }
                for (int j = 0; j < Settings.Crossovers; j++)
                {
                    Genome? child = null;
                    EvaluatedCandidate first;
                    if (parents.Count >= 2)
                    {
                        int a = _random.Next(parents.Count), b = _random.Next(parents.Count - 1);
                        if (b >= a) b++;
                        (a, b) = (Math.Min(a, b), Math.Max(a, b)); // the better parent first
                        first = parents[a];
                        var second = parents[b];
                        child = _ops.Crossover(first.Genome, second.Genome, _seen);
                        if (child is not null)
                        {
                            next.Add(Make(child, CandidateOrigin.Crossover, null, [first.Serial, second.Serial]));
                            continue;
                        }
                    }
                    else first = parents[0];
                    // As in LongRoPE: no valid new crossover, so mutate the first parent instead.
                    if (_ops.Mutate(first.Genome, _seen) is { } mutant)
                        next.Add(Make(mutant, CandidateOrigin.Mutation, null, [first.Serial]));
                }
                population = next;
                Summarize(_iteration);
            }
        }

        /// <summary>Creates, evaluates (or looks up in the log) and records one candidate.</summary>
        private EvaluatedCandidate Make(Genome genome, CandidateOrigin origin, string? seedName, int[] parents)
        {
            ct.ThrowIfCancellationRequested();
            _seen.Add(genome);
            var candidate = new Candidate(genome, [.. Space.FactorsOf(genome)], Space.AttentionFactorOf(genome));
            EvaluatedCandidate result;
            if (log is not null && log.Cache.TryGetValue(genome.Key, out var logged))
            {
                result = new EvaluatedCandidate(_all.Count, _iteration, origin, seedName, [.. parents], candidate, logged.Fitness, logged.Seconds, FromLog: true);
            }
            else
            {
                // A stop ends the run before the next evaluation, never a replay from the log (a resumed run with a
                // limit first catches up with its log), and only after the seeds: they are the bar the report uses.
                if (stop.IsCancellationRequested && origin != CandidateOrigin.Seed) throw new StopRequested();
                var sw = Stopwatch.StartNew();
                var fitness = owner._fitness.Evaluate(candidate, ct);
                double seconds = sw.Elapsed.TotalSeconds;
                _newEvaluations++;
                _newSeconds += seconds;
                result = new EvaluatedCandidate(_all.Count, _iteration, origin, seedName, [.. parents], candidate, fitness, seconds, FromLog: false);
                log?.AppendCandidate(result);
            }
            _all.Add(result);
            _madeThisIteration++;
            if (_best is null || EvaluatedCandidate.Compare(result, _best) < 0) _best = result;
            observer?.OnCandidate(result, Progress());
            return result;
        }

        private void Summarize(int iteration, bool partial = false)
        {
            var summary = new IterationSummary(iteration, _best!, _all.Count, _newEvaluations, _all.Sum(c => c.Seconds));
            _iterations.Add(summary);
            _madeThisIteration = 0;
            if (partial) return;
            if (log is not null && !log.HasIteration(iteration)) log.AppendIteration(summary);
            observer?.OnIteration(summary, Progress());
        }

        private SearchProgress Progress() =>
            new(_iteration, Settings.Iterations, _all.Count, Planned, _newEvaluations, _newSeconds, _best);
    }
}
