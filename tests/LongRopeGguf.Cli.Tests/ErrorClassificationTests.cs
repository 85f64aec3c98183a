using System.CommandLine;
using LongRopeGguf.Evaluation;
using LongRopeGguf.Gguf;
using LongRopeGguf.LongRope;
using LongRopeGguf.Runtime;
using LongRopeGguf.Search.Evolution;

namespace LongRopeGguf.Cli.Tests;

/// <summary>
/// The exit code says whose fault a failure is: the input's (2), llama.cpp's (3), or longrope's own (70, a bug). A bug
/// used to pass as bad input (an ArgumentOutOfRangeException or any InvalidOperationException of ours exited 2 with its
/// message) or, outside the commands' handler, as System.CommandLine's stack trace with exit 1 ("the check said no").
/// </summary>
public class ErrorClassificationTests
{
    public static TheoryData<Exception, int?> Failures() => new()
    {
        // Every layer's input errors.
        { new GgufFormatException("m.gguf", "header", 0, "not a GGUF file"), ExitCodes.BadInput },
        { new GgufMissingEntryException("m.gguf: no tensor 'x'"), ExitCodes.BadInput },
        { new GgufTypeMismatchException("m.gguf: key 'k' is INT32"), ExitCodes.BadInput },
        { new FactorSetException("f.json: long_factor[3] is NaN"), ExitCodes.BadInput },
        { new InPlaceNotPossibleException("m.gguf: no factor tensors"), ExitCodes.BadInput },
        { new RuntimeInputException("--context 100: too small"), ExitCodes.BadInput },
        { new EvalInputException("--depths 2: out of range"), ExitCodes.BadInput },
        { new SearchLogException("search.jsonl line 3: no 'fitness'"), ExitCodes.BadInput },
        { new BadInputException("--population 0: must be at least 1"), ExitCodes.BadInput },
        // Files and values the system refuses.
        { new FileNotFoundException("no such file"), ExitCodes.BadInput },
        { new UnauthorizedAccessException("denied"), ExitCodes.BadInput },
        { new IOException("No space left on device"), ExitCodes.BadInput },
        { new ArgumentException("Null character in path."), ExitCodes.BadInput },
        // llama.cpp.
        { new LlamaFailureException("llama.cpp cannot load this model"), ExitCodes.RuntimeFailure },
        // Bugs of our own: none is input.
        { new ArgumentOutOfRangeException("index"), null },
        { new ArgumentNullException("value"), null },
        { new InvalidOperationException("no logits: the last evaluation did not end a sequence"), null },
        { new KeyNotFoundException("The given key was not present in the dictionary."), null },
        { new FormatException("bad"), null },
        { new NullReferenceException(), null },
        { new IndexOutOfRangeException(), null },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void A_failure_is_classified_by_whose_fault_it_is(Exception e, int? expected) =>
        Assert.Equal(expected, CliErrors.Classify(e));

    [Fact]
    public void A_bug_in_a_command_exits_70_with_one_line_and_its_details_in_a_file()
    {
        var (code, stderr) = CaptureError(() => CliErrors.Run(() => Fail(), CancellationToken.None).GetAwaiter().GetResult());
        AssertReportedAsBug(code, stderr, nameof(Fail));
    }

    [Fact]
    public void A_bug_outside_the_command_handler_exits_70_not_with_the_parser_stack_trace_and_exit_1()
    {
        var root = new RootCommand();
        var broken = new Command("broken");
        broken.SetAction(_ => Fail());
        root.Subcommands.Add(broken);
        var (code, stderr) = CaptureError(() => UsageErrors.Invoke(root, ["broken"]));
        AssertReportedAsBug(code, stderr, nameof(Fail));
    }

    [Fact]
    public void Bad_input_stays_exit_2_with_its_message_and_no_details_file()
    {
        string file = CliErrors.InternalErrorFile()!;
        var (code, stderr) = CaptureError(() => CliErrors.Run(() => throw new FactorSetException("f.json: long_factor[3] is NaN"), CancellationToken.None).GetAwaiter().GetResult());
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("longrope: error: f.json: long_factor[3] is NaN", stderr.TrimEnd());
        Assert.False(File.Exists(file));
    }

    private static int Fail() => throw new ArgumentOutOfRangeException("index", "Index was out of range.");

    private static void AssertReportedAsBug(int code, string stderr, string thrower)
    {
        Assert.Equal(ExitCodes.InternalError, code);
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        string file = CliErrors.InternalErrorFile()!;
        Assert.StartsWith("longrope: internal error (a bug in longrope, not a problem with the input): ArgumentOutOfRangeException: Index was out of range.", line);
        Assert.EndsWith($"details in {file}; please report them", line);
        // The details name the command line and where the exception came from (its stack), for the report.
        string details = File.ReadAllText(file);
        Assert.Contains("command line: ", details);
        Assert.Contains($"{nameof(ErrorClassificationTests)}.{thrower}", details);
    }

    private static (int Code, string Stderr) CaptureError(Func<int> run)
    {
        string? file = CliErrors.InternalErrorFile();
        if (File.Exists(file)) File.Delete(file);
        var old = Console.Error;
        using var error = new StringWriter();
        Console.SetError(error);
        try
        {
            return (run(), error.ToString());
        }
        finally
        {
            Console.SetError(old);
        }
    }
}
