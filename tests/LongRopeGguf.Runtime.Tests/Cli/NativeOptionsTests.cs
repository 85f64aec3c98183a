using System.Text.RegularExpressions;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Runtime.Tests.Cli;

/// <summary>
/// --native-lib and --log-file on every command that runs a model, not only generate/chat/bench: the evaluation and
/// the search are what a GPU user runs longest, with the device kit's CUDA build.
/// </summary>
public class NativeOptionsTests
{
    private static readonly string ProseText = TestPaths.ProseSearch;

    // The AVX2 build that LLamaSharp's CPU package ships stands in for a custom build (as in GenerateCommandTests).
    private static string CustomBuild => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx2");

    /// <summary>A small real run of each command; OUT is its results folder.</summary>
    public static TheoryData<string> Commands() => ["niah", "ppl", "search"];

    private static List<string> Arguments(string command, string output) => command switch
    {
        "niah" => ["eval", "niah", TestPaths.TinyModel, "--lengths", "300", "--depths", "1", "--modes", "none", "--threads", "2", "--out", output],
        "ppl" => ["eval", "ppl", TestPaths.TinyModel, "--text", ProseText, "--lengths", "512", "--windows", "1", "--modes", "none", "--threads", "2", "--out", output],
        "search" => ["search", TestPaths.TinyModel, "--target-length", "1024", "--fitness", "ppl", "--text", ProseText, "--windows", "1",
            "--population", "3", "--parents", "1", "--mutations", "1", "--crossovers", "0", "--iterations", "0", "--threads", "2", "--out", output],
        _ => throw new ArgumentOutOfRangeException(nameof(command)),
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void The_library_comes_from_native_lib_and_the_log_goes_to_log_file(string command)
    {
        using var cli = new IsolatedCli();
        string log = cli.File("custom.log");
        var args = Arguments(command, cli.File("out"));
        args.AddRange(["--native-lib", CustomBuild, "--log-file", log]);
        var r = cli.Run([.. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        string text = File.ReadAllText(log);
        Assert.Contains($"Successfully loaded '{Path.Combine(CustomBuild, "libllama.so")}'", text);
        Assert.Contains("llama_model_loader: loaded meta data", text);
        Assert.False(File.Exists(cli.DefaultLogFile), "the log went to --log-file, not to the default place");
        Assert.DoesNotContain("llama_model_loader", r.Stderr);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void A_missing_library_folder_or_an_unwritable_log_file_is_refused_before_anything_is_written(string command)
    {
        using var cli = new IsolatedCli();
        string output = cli.File("out");
        File.WriteAllText(cli.File("plain-file"), "not a folder");
        foreach (var (option, value, message) in new[]
        {
            ("--native-lib", "/nonexistent", "longrope: error: --native-lib /nonexistent: no such directory"),
            ("--native-lib", cli.CacheHome, $"longrope: error: --native-lib {cli.CacheHome}: no libllama.so in it"),
            ("--log-file", cli.File("plain-file") + "/llama.log", $"longrope: error: --log-file {cli.File("plain-file")}/llama.log: "),
            ("--log-file", cli.File("no-such-folder") + "/llama.log", $"longrope: error: --log-file {cli.File("no-such-folder")}/llama.log: "),
        })
        {
            var args = Arguments(command, output);
            args.AddRange([option, value]);
            var r = cli.Run([.. args]);
            Assert.Equal(2, r.ExitCode);
            Assert.Equal("", r.Stdout);
            var line = Assert.Single(r.StderrLines);
            Assert.StartsWith(message, line);
            Assert.False(Directory.Exists(output), $"{option} {value}: nothing may be written before llama.cpp is set up");
        }
        Assert.False(Directory.Exists(cli.File("no-such-folder")), "a log file's folder that the user named is not made for them");
    }

    [Theory]
    [MemberData(nameof(Commands))]
    [InlineData("generate")]
    public void A_log_file_with_verbose_is_refused_as_the_conflict_it_is(string command)
    {
        // --verbose won silently: the file was never written, and a log file in a folder that does not exist was not said.
        using var cli = new IsolatedCli();
        string output = cli.File("out"), log = cli.File("no-such-folder") + "/llama.log";
        var args = command == "generate" ? ["generate", TestPaths.TinyModel, "-p", "The grass", "-n", "2"] : Arguments(command, output);
        args.AddRange(["--verbose", "--log-file", log]);
        var r = cli.Run([.. args]);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Equal($"longrope: error: --log-file {log} with --verbose: --verbose sends llama.cpp's log to standard error instead of a file; give one of them", Assert.Single(r.StderrLines));
        Assert.False(Directory.Exists(output));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void A_log_file_over_an_input_of_the_run_or_in_its_results_folder_is_refused_and_the_input_kept(string command)
    {
        // The log truncates its file at start: `eval ppl --text t.txt --log-file t.txt` measured its own log (perplexity
        // 85 with exit 0), `--patched a=f.json --log-file f.json` destroyed the factor file, a log in the results folder
        // replaced results.jsonl.
        using var cli = new IsolatedCli();
        string text = cli.File("text.txt"), factors = cli.File("f.json"), output = cli.File("out");
        File.Copy(ProseText, text);
        File.WriteAllText(factors, "{}");
        var args = Arguments(command, output);
        if (command != "niah") args[args.IndexOf(ProseText)] = text;
        var cases = new List<(string[] Extra, string Log, string Role)>
        {
            ([], TestPaths.TinyModel, "MODEL"),
            ([], Path.Combine(output, "results.jsonl"), "--out"),
        };
        if (command != "niah") cases.Add(([], text, "--text"));
        // A second name of the text (a hard link) is the same file: the log would empty it all the same.
        if (command != "niah") cases.Add(([], SpecialFiles.HardLink(text, cli.File("text-too.log")), "--text"));
        if (command == "ppl") cases.Add((["--patched", "mine=" + factors], factors, "--patched"));
        foreach (var (extra, log, role) in cases)
        {
            var r = cli.Run([.. args, .. extra, "--log-file", log]);
            Assert.True(r.ExitCode == 2, r.ToString());
            string expected = role == "--out"
                ? $"longrope: error: --log-file {log}: is inside the results folder --out {output}, whose files the run writes (name it *.log, or give a path outside it)"
                : $"longrope: error: --log-file {log}: is also this run's {role}; refusing to overwrite it (give another file name)";
            Assert.Equal(expected, Assert.Single(r.StderrLines));
        }
        Assert.Equal(File.ReadAllBytes(ProseText), File.ReadAllBytes(text));
        Assert.Equal("{}", File.ReadAllText(factors));
        Assert.False(Directory.Exists(output));
        // Search's own default folder (MODEL.search-long-1024 beside the model) is its results folder too.
        if (command == "search")
        {
            string model = cli.File("m.gguf");
            File.Copy(TestPaths.TinyModel, model);
            string inDefault = Path.Combine(cli.File("m.search-long-1024"), "search.jsonl");
            var searchArgs = args.ToList();
            int o = searchArgs.IndexOf("--out");
            searchArgs.RemoveRange(o, 2);
            searchArgs[searchArgs.IndexOf(TestPaths.TinyModel)] = model;
            var r = cli.Run([.. searchArgs, "--log-file", inDefault]);
            Assert.Equal(2, r.ExitCode);
            Assert.Equal($"longrope: error: --log-file {inDefault}: is inside the results folder --out {cli.File("m.search-long-1024")}, whose files the run writes (name it *.log, or give a path outside it)", Assert.Single(r.StderrLines));
        }
        // A *.log among the results is fine: the run writes none (its folder must exist, as for any --log-file).
        Directory.CreateDirectory(output);
        var logged = cli.Run([.. args, "--log-file", Path.Combine(output, "llama.log")]);
        Assert.True(logged.ExitCode == 0, logged.ToString());
        Assert.Contains("llama_model_loader", File.ReadAllText(Path.Combine(output, "llama.log")));
        Directory.Delete(output, recursive: true);
        // The default log is overwritten as a given one is: the text read from it was llama.cpp's log (perplexity 95).
        if (command != "niah")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(cli.DefaultLogFile)!);
            File.Copy(ProseText, cli.DefaultLogFile);
            var textArgs = args.ToList();
            textArgs[textArgs.IndexOf(text)] = cli.DefaultLogFile;
            var r = cli.Run([.. textArgs]);
            Assert.Equal(2, r.ExitCode);
            Assert.Equal($"longrope: error: --text {cli.DefaultLogFile}: is llama.cpp's log, which this run overwrites (the default --log-file); give --log-file another file, or use a copy",
                Assert.Single(r.StderrLines));
            Assert.Equal(File.ReadAllBytes(ProseText), File.ReadAllBytes(cli.DefaultLogFile));
            Assert.Equal(0, cli.Run([.. textArgs, "--log-file", cli.File("other.log")]).ExitCode);
        }
        // Through a link the same file is the same file.
        File.CreateSymbolicLink(cli.File("link.txt"), text);
        if (command != "niah")
            Assert.Equal(2, cli.Run([.. args, "--log-file", cli.File("link.txt")]).ExitCode);
        Assert.Equal(File.ReadAllBytes(ProseText), File.ReadAllBytes(text));
    }

    /// <summary>Each command that runs a model, with each of two custom builds that do not load.</summary>
    public static TheoryData<string, string> CommandsAndBrokenBuilds()
    {
        var data = new TheoryData<string, string>();
        foreach (string command in new[] { "niah", "ppl", "search", "generate" })
            foreach (string kind in new[] { "not-a-library", "without-ggml", "broken-backend" })
                data.Add(command, kind);
        return data;
    }

    [Theory]
    [MemberData(nameof(CommandsAndBrokenBuilds))]
    public void A_library_that_does_not_load_is_one_line_with_the_loaders_reason_and_exit_3(string command, string kind)
    {
        // not-a-library: libllama.so is not a shared object. without-ggml: the real libllama.so copied without the ggml
        // libraries it needs, the likeliest mistake with one's own (CUDA) build. Before, the line said only "The type
        // initializer for 'LLama.Native.NativeApi' threw an exception" (or carried LLamaSharp's page of generic
        // advice), the cause in --verbose alone; before that, exit 1 with a stack trace.
        using var cli = new IsolatedCli();
        string build = cli.File(kind);
        Directory.CreateDirectory(build);
        string library = Path.Combine(build, "libllama.so");
        if (kind == "not-a-library") File.WriteAllText(library, "not a shared object");
        else File.Copy(Path.Combine(CustomBuild, "libllama.so"), library);
        if (kind == "broken-backend")
        {
            // The whole build, but a ggml backend that does not load (as libggml-cuda.so does without the CUDA
            // runtime): the reason is that library's, not a made-up missing libggml.so.
            foreach (string so in Directory.GetFiles(CustomBuild, "libggml*.so")) File.Copy(so, Path.Combine(build, Path.GetFileName(so)));
            File.WriteAllText(Path.Combine(build, "libggml-cuda.so"), "not a shared object");
        }
        string output = cli.File("out");
        var args = command == "generate" ? ["generate", TestPaths.TinyModel, "-p", "hi", "-n", "1"] : Arguments(command, output);
        // generate takes the build from the environment variable, the others from --native-lib; the line says which.
        bool fromEnvironment = command == "generate";
        if (!fromEnvironment) args.AddRange(["--native-lib", build]);

        var r = fromEnvironment ? cli.RunWith(new Dictionary<string, string> { [NativeRuntime.NativeLibEnvironmentVariable] = build }, [.. args]) : cli.Run([.. args]);

        Assert.Equal(3, r.ExitCode);
        Assert.Equal("", r.Stdout);
        string reason = kind switch
        {
            "not-a-library" => Regex.Escape($"{library}: file too short"),
            "broken-backend" => Regex.Escape($"{Path.Combine(build, "libggml-cuda.so")}: file too short"),
            _ => @"libggml[-a-z]*\.so: cannot open shared object file: No such file or directory",
        };
        string source = fromEnvironment ? NativeRuntime.NativeLibEnvironmentVariable : "--native-lib";
        Assert.Matches($"^longrope: error: cannot load llama.cpp from {Regex.Escape($"{build} ({source})")}: {reason}$", Assert.Single(r.StderrLines));
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void The_tests_keep_llama_cpps_default_log_in_a_cache_folder_of_their_own()
    {
        // Every model load truncates the default log: a test run emptied the user's ~/.cache/longrope/llama.log.
        Assert.StartsWith(Path.Combine(Path.GetTempPath(), "longrope-test-cache-"), NativeRuntime.DefaultLogFile());
        var r = CliProcess.Run("generate", TestPaths.TinyModel, "-p", "The grass", "-n", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("llama_model_loader", File.ReadAllText(NativeRuntime.DefaultLogFile()!));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("relative/cache")]
    public void Without_a_home_folder_the_log_is_discarded_not_written_under_the_working_folder(string? xdgCacheHome)
    {
        // A service account's HOME may not exist (user nobody: /nonexistent); the default log path was then the
        // relative ".cache/longrope/llama.log" under the working folder. A shared temporary folder would let another
        // user put a link where the log goes, so there is no default file then; --log-file still works. A relative
        // XDG_CACHE_HOME is ignored, as the XDG spec says.
        using var work = new TempDir();
        var env = new Dictionary<string, string?>
        {
            ["HOME"] = "/nonexistent-longrope-home",
            ["XDG_CACHE_HOME"] = xdgCacheHome,
            [NativeRuntime.NativeLibEnvironmentVariable] = null,
        };
        var r = CliProcess.RunIn(work.Path, env, TimeSpan.FromMinutes(2), "generate", TestPaths.TinyModel, "-p", "hi", "-n", "1", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("longrope: warning: no home folder for llama.cpp's log; it is discarded (use --log-file FILE or --verbose to see it)", r.StderrLines);
        Assert.DoesNotContain("llama.cpp log:", r.Stderr); // the startup line points at no file
        Assert.Empty(Directory.EnumerateFileSystemEntries(work.Path));

        string log = work.File("named.log");
        r = CliProcess.RunIn(work.Path, env, TimeSpan.FromMinutes(2), "generate", TestPaths.TinyModel, "-p", "hi", "-n", "1", "--json", "--log-file", log);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("warning", r.Stderr);
        Assert.Contains("llama_model_loader: loaded meta data", File.ReadAllText(log));
    }
}
