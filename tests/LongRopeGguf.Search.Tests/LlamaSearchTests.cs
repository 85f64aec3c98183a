using LongRopeGguf.Evaluation;
using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Evaluation.Perplexity;
using LongRopeGguf.Evaluation.Prompts;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.LongRope.Formats;
using LongRopeGguf.Search.Evolution;
using LongRopeGguf.Search.Llama;
using LongRopeGguf.Tests;
using ModelRopeInfo = LongRopeGguf.LongRope.ModelRopeInfo;

namespace LongRopeGguf.Search.Tests;

/// <summary>
/// The search through llama.cpp on the tiny model: a small search (CI-sized) must beat every fixed rule it starts from,
/// write a factor file that measures the same when patched, and resume from its log without evaluating again.
/// </summary>
public class LlamaSearchTests
{
    private static readonly string SearchText = TestPaths.ProseSearch;
    private static readonly EngineOptions Engine = new() { Threads = 2, BatchSize = 512 };

    private static SearchRequest LongSearch(FitnessSpec fitness, EvolutionSettings evolution, string outDir) => new()
    {
        ModelPath = TestPaths.TinyModel,
        Set = SearchSet.Long,
        Fitness = fitness,
        Evolution = evolution,
        OutputDirectory = outDir,
        Engine = Engine,
    };

    private static SearchRequest SmallLongSearch(string outDir) => LongSearch(
        new FitnessSpec { Kind = FitnessKind.Perplexity, TargetLength = 2048, TextPath = SearchText, Windows = 1 },
        new EvolutionSettings { Population = 6, Parents = 3, Mutations = 2, Crossovers = 2, Iterations = 2, Seed = 42 },
        outDir);

    private static double PerplexityAt(string modelPath, RopeMode mode, int length)
    {
        using var model = EvalModel.Load(modelPath, Engine);
        var tokens = model.Tokenize(TextOf(SearchText), addBos: false);
        using var context = model.CreateContext(mode, length, length);
        return new PerplexityScorer(context).Score(tokens, length, 1).Perplexity;
    }

    private static string TextOf(string path)
    {
        var h = Haystack.FromFile(path);
        return h.Take(h.AvailableChars);
    }

    [Fact]
    public void A_small_search_beats_every_rule_it_starts_from_and_its_factor_file_measures_the_same_when_patched()
    {
        using var dir = new TempDir();
        var request = SmallLongSearch(dir.File("out"));
        var report = SearchRunner.Run(request);
        var outcome = report.Outcome;

        Assert.Equal(["pi", "ntk", "yarn", "critical"], outcome.Seeds.Select(s => s.SeedName));
        Assert.Equal(6 + 2 * 4, outcome.All.Length);
        Assert.Equal(outcome.All.Length, outcome.NewEvaluations);
        // The seed YaRN is llama.cpp's YaRN with its factors rounded to the 0.01 grid (which costs it ~0.3 % perplexity
        // here: the fast dimensions are sensitive at 2048 positions).
        var yarn = outcome.Seeds.Single(s => s.SeedName == "yarn");
        double builtInYarn = PerplexityAt(TestPaths.TinyModel, RopeMode.Yarn, 2048);
        Assert.InRange(yarn.Fitness.Value, builtInYarn, builtInYarn * 1.01);
        Assert.Equal(AttentionFactors.Compute(AttentionFactorPolicy.Yarn, 4, 512), yarn.Candidate.AttentionFactor, 2);
        // The critical-dimension cut is the best rule here (as at 8x, its perplexity is below YaRN's), the others far
        // behind; the search improves on it, and on llama.cpp's exact YaRN too.
        Assert.Equal("critical", outcome.BestSeed.SeedName);
        Assert.True(outcome.BestSeed.Fitness.Value < yarn.Fitness.Value);
        Assert.True(outcome.Seeds.Where(s => s.SeedName is "pi" or "ntk").All(s => s.Fitness.Value > 2 * yarn.Fitness.Value));
        Assert.True(outcome.Best.Fitness.Value < outcome.BestSeed.Fitness.Value,
            $"search best {outcome.Best.Fitness.Value} is not below the best seed's {outcome.BestSeed.Fitness.Value}");
        Assert.True(outcome.Best.Fitness.Value < builtInYarn, $"search best {outcome.Best.Fitness.Value} is not below built-in YaRN's {builtInYarn}");
        Assert.NotEqual(CandidateOrigin.Seed, outcome.Best.Origin);

        // The factor file holds the best candidate, and the model patched with it measures exactly that fitness.
        var factors = FactorSetJson.Read(report.FactorsPath);
        Assert.Equal(outcome.Best.Candidate.Factors.ToArray(), factors.LongFactors.ToArray());
        Assert.Equal(FactorSet.Ones(32), factors.ShortFactors.ToArray());
        Assert.Equal(outcome.Best.Candidate.AttentionFactor, factors.AttentionFactor);
        Assert.Equal((512, 2048), (factors.OriginalContextLength, factors.ContextLength));
        Assert.StartsWith("search long ppl at 2048 tokens", factors.Source);
        string patched = dir.File("patched.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, factors, patched);
        Assert.Equal(outcome.Best.Fitness.Value, PerplexityAt(patched, new RopeMode("searched", RopeModeKind.Patched, patched), 2048), 6);

        Assert.True(new FileInfo(report.ChartPath).Length > 1000);
        Assert.False(File.Exists(Path.Combine(request.OutputDirectory, SearchRunner.WorkingFile)), "the working copy was left behind");

        // The same command again: everything comes from the log, nothing is evaluated, the answer is the same.
        var again = SearchRunner.Run(request);
        Assert.Equal(0, again.Outcome.NewEvaluations);
        Assert.True(again.Outcome.Resumed);
        Assert.Equal(outcome.Best.Genome, again.Outcome.Best.Genome);
        Assert.Equal(outcome.Best.Fitness.Value, again.Outcome.Best.Fitness.Value);
    }

    [Fact]
    public void The_short_set_search_keeps_the_long_set_and_its_attention_factor_and_measures_at_the_original_length()
    {
        using var dir = new TempDir();
        var info = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));
        var longSet = FactorRules.Make(FactorMethod.Yarn, info, 8);
        string init = dir.File("long.json");
        FactorSetJson.Write(longSet, init);
        var request = new SearchRequest
        {
            ModelPath = TestPaths.TinyModel,
            Set = SearchSet.Short,
            Fitness = new FitnessSpec { Kind = FitnessKind.Perplexity, TargetLength = 512, TextPath = SearchText, Windows = 1 },
            Evolution = new EvolutionSettings { Population = 3, Parents = 2, Mutations = 1, Crossovers = 1, Iterations = 1 },
            InitPath = init,
            OutputDirectory = dir.File("short"),
            Engine = Engine,
        };
        var report = SearchRunner.Run(request);

        Assert.Equal(["ones"], report.Outcome.Seeds.Select(s => s.SeedName));
        Assert.Null(report.Space.Attention);
        Assert.All(report.Outcome.All, c => Assert.Equal(longSet.AttentionFactor, c.Candidate.AttentionFactor));
        // The ones seed is the model with the long set's file at 512 tokens: short set of ones, run (as the runner runs
        // short contexts of a file this tool patched) at the model's own attention magnitude, i.e. the unpatched model.
        string patched = dir.File("patched.gguf");
        LongRopePatcher.Patch(TestPaths.TinyModel, longSet, patched);
        Assert.Equal(PerplexityAt(patched, new RopeMode("p", RopeModeKind.Patched, patched), 512), report.Outcome.Seeds[0].Fitness.Value, 6);
        Assert.Equal(PerplexityAt(TestPaths.TinyModel, RopeMode.None, 512), report.Outcome.Seeds[0].Fitness.Value, 6);

        // The log says how short contexts were measured, so that a log from before (the file's magnitude) is refused.
        using (var header = System.Text.Json.JsonDocument.Parse(File.ReadLines(Path.Combine(dir.File("short"), "search.jsonl")).First()))
            Assert.Contains("\"short_attention\":\"model\"", header.RootElement.GetRawText());

        var written = FactorSetJson.Read(report.FactorsPath);
        Assert.Equal(longSet.LongFactors.ToArray(), written.LongFactors.ToArray());
        Assert.Equal(report.Outcome.Best.Candidate.Factors.ToArray(), written.ShortFactors.ToArray());
        Assert.Equal(longSet.AttentionFactor, written.AttentionFactor);
        Assert.Equal((512, 4096), (written.OriginalContextLength, written.ContextLength));
    }

    [Fact]
    public void An_init_file_is_checked_as_patch_checks_it_and_never_is_the_file_the_search_writes()
    {
        using var dir = new TempDir();
        var ok = SmallLongSearch(dir.File("out"));
        var info = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));
        var yarn = FactorRules.Make(FactorMethod.Yarn, info, 2);
        string Write(string name, float[] longFactors)
        {
            string path = dir.File(name);
            FactorSetJson.Write(FactorSet.Create(longFactors, yarn.ShortFactors, 512, 1024, AttentionFactorPolicy.Explicit, 1.1f, "test"), path);
            return path;
        }
        // A NaN started the search as 1 (said only as "clipped"); patch and factors show refuse the file.
        float[] withNan = [.. yarn.LongFactors];
        withNan[3] = float.NaN;
        string nan = Write("nan.json", withNan);
        Assert.Equal($"--init {nan}: long factors must be finite and > 0: [3] = NaN",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { InitPath = nan })).Message);
        // The search's own result file: the first run replaced it, the next refused to resume.
        Directory.CreateDirectory(dir.File("out"));
        string own = Write("out/factors.json", [.. yarn.LongFactors]);
        Assert.Equal($"--init {own}: is the factor file this search writes ({own}); copy it elsewhere, or give another --out",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { InitPath = own })).Message);
        Assert.Equal($"--init {dir.Path}: is a folder, not a factor file", Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { InitPath = dir.Path })).Message);
        Assert.Equal($"--init {dir.File("none.json")}: no such factor file", Assert.Throws<FileNotFoundException>(() => SearchRunner.Plan(ok with { InitPath = dir.File("none.json") })).Message);

        // Decreasing factors are a warning (the seed is made non-decreasing), as patch warns of them.
        string decreasing = Write("dec.json", [.. yarn.LongFactors.ToArray().Reverse()]);
        var plan = SearchRunner.Plan(ok with { InitPath = decreasing });
        Assert.True(plan.Warnings.Any(w => w.StartsWith($"--init {decreasing}: its long factors decrease ([15] = 2 > [16] = 1.85714), and this search keeps them non-decreasing", StringComparison.Ordinal)), string.Join(" | ", plan.Warnings));
        // A LongRoPE CSV carries no lengths: it is taken for the search's target (it asked for --context, which search has not).
        string csv = dir.File("init.csv");
        File.WriteAllLines(csv, yarn.LongFactors.ToArray().Select(f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
        var fromCsv = SearchRunner.Plan(ok with { InitPath = csv });
        Assert.Equal(yarn.LongFactors.ToArray(), fromCsv.Seeds.Single(x => x.Name == "init").Factors.ToArray());
    }

    [Fact]
    public void Requests_that_cannot_work_are_refused_before_any_model_is_loaded()
    {
        using var dir = new TempDir();
        var ok = SmallLongSearch(dir.File("x"));
        // Not "use --set short for 512": the short set is searched at the original length, not at the length given.
        Assert.Equal("--target-length 512: a long set is searched for a length above the original 512 tokens of tiny-passkey-512.gguf (the short set, --set short, serves contexts up to 512)",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { Fitness = ok.Fitness with { TargetLength = 512 } })).Message);
        // A target so long that the grid cannot hold it is said in the user's terms (was "maximum factor 244140.62... grid points").
        Assert.Equal("--target-length 99999999: 195312x the original 512 tokens puts factors up to 244141; in steps of --step 0.01 that is more than 10,000,000 grid points (give a shorter target or a larger --step)",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { Fitness = ok.Fitness with { TargetLength = 99_999_999 } })).Message);
        Assert.Equal("--max-factor 200000: in steps of --step 0.01 that is more than 10,000,000 grid points (give a smaller maximum or a larger --step)",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { MaxFactor = 200_000 })).Message);
        Assert.DoesNotContain("--target-length", Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { Step = 0 })).Message); // the step's own error
        // A grid of one factor: every seed became all ones and the search wrote them, exit 0.
        Assert.Equal("--max-factor 1 in steps of --step 0.01: the factor grid holds only 1, so there is nothing to search (the scale is 4)",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { MaxFactor = 1 })).Message);
        Assert.Equal("--max-factor 5 in steps of --step 100: the factor grid holds only 1, so there is nothing to search (the scale is 4)",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { Step = 100 })).Message);
        Assert.Equal("--max-factor 3 is below the scale 4 (2048 / 512 tokens): the rule seeds, whose largest factors are the scale or more, start clipped to it",
            SearchRunner.Plan(ok with { MaxFactor = 3 }).Warnings[0]);
        Assert.Empty(SearchRunner.Plan(ok).Warnings);
        // A model whose output would be meaningless is named itself (the working copy, deleted by then, was named).
        string noBase = dir.File("no-base.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue("llama.rope.freq_base", GgufValue.Float32(0)), noBase);
        Assert.StartsWith($"{noBase}: llama.cpp would run this file but its output would be meaningless: llama.rope.freq_base = 0",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { ModelPath = noBase })).Message);
        Assert.Equal(["--attn-factor 100 is outside [1, 2]; it scales attention logits by its square (10000)"],
            SearchRunner.Plan(ok with { FixedAttention = (AttentionFactorPolicy.Explicit, 100f) }).Warnings);
        Assert.Contains("--init", Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { Set = SearchSet.Short, Fitness = ok.Fitness with { TargetLength = 512 } })).Message);
        Assert.Contains("--text", Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { Fitness = ok.Fitness with { TextPath = null } })).Message);
        Assert.Contains("--max-factor", Assert.Throws<BadInputException>(() => SearchRunner.Plan(ok with { Piecewise = true, MaxFactor = 6 })).Message);

        var info = ModelRopeInfo.From(GgufReader.Read(TestPaths.TinyModel));
        string init = dir.File("long.json");
        FactorSetJson.Write(FactorRules.Make(FactorMethod.Yarn, info, 8), init);
        var shortRequest = ok with { Set = SearchSet.Short, InitPath = init, Fitness = ok.Fitness with { TargetLength = 500 } };
        Assert.Equal(SearchSet.Short, shortRequest.Set);
        SearchRunner.Plan(shortRequest); // 500 rounds up to 512: still the short set
        Assert.Contains("one attn_factor for both sets",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(shortRequest with { FixedAttention = (AttentionFactorPolicy.Su, null) })).Message);

        // A perplexity bound names one of the search's seeds: the short search's are ones (and init when its short set is not).
        var boundedShort = shortRequest with { Fitness = shortRequest.Fitness with { Kind = FitnessKind.Mix, MaxPerplexitySeed = "ones" } };
        Assert.Equal("ones", SearchRunner.Plan(boundedShort).BoundSeed!.Name);
        Assert.Null(SearchRunner.Plan(shortRequest).BoundSeed);
        Assert.Equal("--max-ppl critical: no seed of that name in this search; its seeds are ones (or give the bound as a number)",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(boundedShort with { Fitness = boundedShort.Fitness with { MaxPerplexitySeed = "critical" } })).Message);
        Assert.Equal("--max-ppl init: the --init file's short set is all ones, which is the ones seed; give --max-ppl ones",
            Assert.Throws<BadInputException>(() => SearchRunner.Plan(boundedShort with { Fitness = boundedShort.Fitness with { MaxPerplexitySeed = "init" } })).Message);

        // An --init file made for another length starts clipped to the space, and the plan says so (it was silent).
        var clipped = SearchRunner.Plan(ok with { InitPath = init, AttentionMin = 1.0, AttentionMax = 1.1 }); // the 8x YaRN set in a 4x search
        Assert.Equal([$"--init {init}: its long factors span 1 to 8 (made for 4096 tokens), and this search takes factors from 1 to 5 for 2048: the init seed starts clipped to that range",
            $"--init {init}: its attention factor 1.20794 is outside the searched range 1 to 1.1: the init seed starts at the nearest end (--attn-range widens it)"], clipped.Warnings);

        var plan = SearchRunner.Plan(ok with { FixedAttention = (AttentionFactorPolicy.Su, null) });
        Assert.Null(plan.Space.Attention);
        Assert.Equal(AttentionFactors.Compute(AttentionFactorPolicy.Su, 4, 512), plan.Space.FixedAttentionFactor);
        Assert.All(plan.Seeds, s => Assert.Equal(plan.Space.FixedAttentionFactor, s.AttentionFactor));
        Assert.Equal(5.0, SearchRunner.Plan(ok).Space.MaxFactor, 9); // 1.25 x s, as in the LongRoPE paper

        // Piecewise: the largest factor is the scale; YaRN's seed is 1 below its ramp and s above it.
        var piecewise = SearchRunner.Plan(ok with { Piecewise = true });
        Assert.Equal(4.0, piecewise.Space.MaxFactor, 9);
        var yarn = piecewise.Space.Quantize(piecewise.Seeds.Single(s => s.Name == "yarn").Factors, 1f);
        Assert.True(piecewise.Space.IsValid(yarn));
        Assert.True(yarn.Low > 0 && yarn.High < 32 && yarn.Low < yarn.High, $"bounds {yarn.Low}..{yarn.High}");
    }

    [Fact]
    public void The_margin_loss_changes_the_fitness_value_only_and_charges_every_wrong_key_at_least_ln_2()
    {
        using var dir = new TempDir();
        SearchReport Seeds(PassKeyLoss loss) => SearchRunner.Run(LongSearch(
            new FitnessSpec { Kind = FitnessKind.PassKey, TargetLength = 2048, Haystack = "filler", PassKeyPrompts = 4, PassKeyLoss = loss },
            new EvolutionSettings { Population = 3, Parents = 1, Mutations = 0, Crossovers = 0, Iterations = 0 },
            dir.File(loss.ToString())));
        var nll = Seeds(PassKeyLoss.Nll);
        var margin = Seeds(PassKeyLoss.Margin);

        Assert.Equal(["pi", "ntk", "yarn", "critical"], margin.Outcome.Seeds.Select(s => s.SeedName));
        foreach (var (n, m) in nll.Outcome.Seeds.Zip(margin.Outcome.Seeds))
        {
            // The same prompts, the same model runs: the NLL and the greedy keys are the same in both searches.
            Assert.Equal(n.Fitness.Value, n.Fitness.Components["passkey_nll"], 12);
            Assert.Equal(n.Fitness.Components["passkey_nll"], m.Fitness.Components["passkey_nll"], 9);
            double greedy = m.Fitness.Components["passkey_greedy"];
            Assert.Equal(n.Fitness.Components["passkey_greedy"], greedy);
            Assert.False(n.Fitness.Components.ContainsKey("passkey_margin_loss"));
            // The margin search scores by the margin loss: a wrong key costs ln 2 or more, a right one less.
            Assert.Equal(m.Fitness.Value, m.Fitness.Components["passkey_margin_loss"], 12);
            Assert.True(m.Fitness.Value >= Math.Log(2) * (1 - greedy), $"{m.SeedName}: loss {m.Fitness.Value}, {greedy:P0} of the keys right");
            if (greedy == 1) Assert.True(m.Fitness.Value < Math.Log(2), $"{m.SeedName}: every key right but loss {m.Fitness.Value}");
        }
        // YaRN holds at 4x (the model card): all four keys, and the lowest loss of the seeds.
        var yarn = margin.Outcome.Seeds.Single(s => s.SeedName == "yarn");
        Assert.Equal(1.0, yarn.Fitness.Components["passkey_greedy"]);
        Assert.Equal("yarn", margin.Outcome.BestSeed.SeedName);

        // The log says which loss it holds, so that neither search resumes from the other's log.
        string Header(SearchReport r) => File.ReadLines(r.LogPath).First();
        Assert.Contains("\"passkey_loss\":\"margin\"", Header(margin));
        Assert.DoesNotContain("passkey_loss", Header(nll));
    }

    [Fact]
    public void Bounded_by_the_critical_seeds_perplexity_the_search_keeps_to_it_and_lowers_the_pass_key_loss_within_it()
    {
        using var dir = new TempDir();
        var fitness = new FitnessSpec
        {
            Kind = FitnessKind.PassKey, TargetLength = 4096, TextPath = SearchText, Windows = 1,
            PassKeyPrompts = 4, PassKeyLoss = PassKeyLoss.Margin, MaxPerplexitySeed = "critical",
        };
        var request = LongSearch(fitness, new EvolutionSettings { Population = 6, Parents = 3, Mutations = 2, Crossovers = 2, Iterations = 1, Seed = 42 }, dir.File("bounded"));
        var report = SearchRunner.Run(request);
        var outcome = report.Outcome;
        double bound = report.MaxPerplexity!.Value;
        var critical = outcome.Seeds.Single(s => s.SeedName == "critical");
        var yarn = outcome.Seeds.Single(s => s.SeedName == "yarn");

        // The bound is the critical seed's perplexity on the text, rounded up to 4 decimals: it is within it.
        Assert.InRange(bound - critical.Fitness.Components["ppl"], 0, 1e-4);
        // At 8x on prose YaRN finds more keys than the cut (a lower margin loss) at a higher perplexity: unbounded it
        // would rank first of the two, bounded it ranks after every candidate within the cut's perplexity.
        Assert.True(yarn.Fitness.Components["ppl"] > bound, $"YaRN's perplexity {yarn.Fitness.Components["ppl"]} is within {bound}");
        Assert.True(yarn.Fitness.Components["passkey_margin_loss"] < critical.Fitness.Components["passkey_margin_loss"]);
        Assert.Equal("critical", outcome.BestSeed.SeedName);
        foreach (var c in outcome.All)
        {
            double ppl = c.Fitness.Components["ppl"], loss = c.Fitness.Components["passkey_margin_loss"];
            Assert.Equal(ppl <= bound ? loss : FitnessSpec.OutsideBoundBase + Math.Log(ppl / bound), c.Fitness.Value, 9);
        }
        // The search found a candidate within the bound with a lower pass-key loss than the rule's.
        Assert.True(outcome.Best.Fitness.Components["ppl"] <= bound);
        Assert.True(outcome.Best.Fitness.Value < critical.Fitness.Value, $"best {outcome.Best.Fitness.Value} is not below the critical seed's {critical.Fitness.Value}");

        // The same request resumes (the bound is measured again and is the same), and a number for the bound
        // scores the candidates as the seed's measurement did.
        var again = SearchRunner.Run(request);
        Assert.Equal(0, again.Outcome.NewEvaluations);
        Assert.Equal(bound, again.MaxPerplexity);
        // A resumed search takes the bound from its log rather than measuring again (another build or device could
        // round to another bound, and the log would refuse it): a header bound no measurement gives is kept.
        var lines = File.ReadAllLines(report.LogPath);
        string b = bound.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"\"max_ppl\":{b},", lines[0]);
        lines[0] = lines[0].Replace($"\"max_ppl\":{b},", "\"max_ppl\":99.5,");
        File.WriteAllLines(report.LogPath, lines);
        var fromLog = SearchRunner.Run(request);
        Assert.Equal(0, fromLog.Outcome.NewEvaluations);
        Assert.Equal(99.5, fromLog.MaxPerplexity);
        Assert.Contains("text perplexity at most 99.5 (the critical seed's)", FactorSetJson.Read(fromLog.FactorsPath).Source);
        var seedsOnly = SearchRunner.Run(LongSearch(fitness with { MaxPerplexitySeed = null, MaxPerplexity = bound },
            new EvolutionSettings { Population = 4, Parents = 1, Mutations = 0, Crossovers = 0, Iterations = 0 }, dir.File("number")));
        Assert.Equal(bound, seedsOnly.MaxPerplexity);
        Assert.Equal(outcome.Seeds.Select(s => s.Fitness.Value), seedsOnly.Outcome.Seeds.Select(s => s.Fitness.Value));
        Assert.DoesNotContain("max_ppl_of", File.ReadLines(seedsOnly.LogPath).First());
    }

    [Fact]
    public void A_text_too_short_for_the_windows_is_a_one_line_error_naming_it()
    {
        using var dir = new TempDir();
        string shortText = dir.File("short.txt");
        File.WriteAllText(shortText, string.Concat(Enumerable.Repeat("A short sentence of prose. ", 40)));
        var request = SmallLongSearch(dir.File("out")) with { Fitness = new FitnessSpec { Kind = FitnessKind.Perplexity, TargetLength = 2048, TextPath = shortText, Windows = 1 } };
        var e = Assert.Throws<EvalInputException>(() => SearchRunner.Run(request));
        Assert.Contains(shortText, e.Message);
        Assert.Contains("0 window(s) of 2048 tokens", e.Message);
        Assert.False(File.Exists(Path.Combine(request.OutputDirectory, SearchRunner.WorkingFile)));
    }
}
