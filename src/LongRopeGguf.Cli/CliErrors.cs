using LongRopeGguf.Gguf;
using LongRopeGguf.Runtime;

namespace LongRopeGguf.Cli;

/// <summary>An error already phrased for the user: printed as one line, with its exit code.</summary>
public sealed class CliException(string message, int exitCode = ExitCodes.BadInput) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Turns exceptions into one-line messages and meaningful exit codes: no stack traces for expected failures.</summary>
public static partial class CliErrors
{
    /// <param name="terminated">Whether the cancellation came from SIGTERM (said "terminated", not "interrupted").</param>
    public static async Task<int> RunAsync(Func<CancellationToken, Task<int>> action, CancellationToken cancellationToken, Func<bool>? terminated = null)
    {
        try
        {
            return await action(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // After SIGHUP the terminal is gone and the write fails (EIO): the exit status says it all the same.
            try { Console.Error.WriteLine(terminated?.Invoke() == true ? "longrope: terminated" : "longrope: interrupted"); }
            catch (IOException) { }
            return ExitCodes.Interrupted;
        }
        catch (StandardOutput.ClosedException)
        {
            return StandardOutput.BrokenPipe; // the reader stopped reading (| head): nothing to report
        }
        catch (Exception e) when (Classify(e) is { } code)
        {
            Console.Error.WriteLine($"longrope: error: {OneLine(e.Message)}");
            return code;
        }
        catch (Exception e)
        {
            return ReportInternalError(e);
        }
    }

    /// <summary>
    /// A failure of longrope itself, which no input explains: one line on standard error that says so, with the details
    /// (the command line, the exception and its stack) in <see cref="InternalErrorFile"/> for a bug report, and exit
    /// code <see cref="ExitCodes.InternalError"/>. (System.CommandLine's own handler printed the stack trace and exited
    /// 1, which from `verify` reads as "the file failed the check".) The details go to standard error where the file
    /// cannot be written.
    /// </summary>
    internal static int ReportInternalError(Exception e)
    {
        string details = $"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC, longrope {typeof(CliErrors).Assembly.GetName().Version}{Environment.NewLine}"
            + $"command line: {string.Join(' ', Environment.GetCommandLineArgs())}{Environment.NewLine}{e}{Environment.NewLine}";
        string? file = InternalErrorFile();
        try
        {
            if (file is null) throw new IOException("no cache folder");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, details);
        }
        catch (Exception writeFailure) when (writeFailure is IOException or UnauthorizedAccessException)
        {
            file = null;
        }
        try
        {
            Console.Error.WriteLine($"longrope: internal error (a bug in longrope, not a problem with the input): {e.GetType().Name}: {OneLine(e.Message).TrimEnd('.')}; "
                + (file is null ? "details follow; please report them" : $"details in {file}; please report them"));
            if (file is null) Console.Error.Write(details);
        }
        catch (IOException) { }
        return ExitCodes.InternalError;
    }

    /// <summary>Where an internal error's details are written: beside llama.cpp's default log
    /// (<c>~/.cache/longrope/internal-error.log</c>); null for an account without a home folder.</summary>
    internal static string? InternalErrorFile() =>
        NativeRuntime.DefaultLogFile() is { } log ? Path.Combine(Path.GetDirectoryName(log)!, "internal-error.log") : null;

    public static Task<int> Run(Func<int> action, CancellationToken cancellationToken, Func<bool>? terminated = null) =>
        RunAsync(_ => Task.FromResult(action()), cancellationToken, terminated);

    /// <summary>Exit code for an expected failure; null for a failure of longrope itself (a bug).</summary>
    internal static int? Classify(Exception e) => e switch
    {
        CliException c => c.ExitCode,
        // Every layer's input errors (file format, factors, patch, runtime, evaluation, search) derive from it.
        BadInputException => ExitCodes.BadInput,
        LlamaFailureException => ExitCodes.RuntimeFailure,
        // A file that cannot be opened, read or written (missing, a folder, permissions, a full disk).
        IOException or UnauthorizedAccessException => ExitCodes.BadInput,
        System.Text.Json.JsonException => ExitCodes.BadInput,
        // The runtime's own checks of a value given on the command line (a path the system cannot take); the argument
        // errors a bug raises (an index out of range, a null) are not input.
        ArgumentException when IsRefusedValue(e) => ExitCodes.BadInput,
        // LLamaSharp's own errors (a template llama.cpp cannot apply, a failed decode...): llama.cpp said no.
        _ when e.GetType().Namespace == "LLama.Exceptions" => ExitCodes.RuntimeFailure,
        _ => null,
    };

    /// <summary>An ArgumentException from the runtime's own check of a value the user gave (a path it cannot take), not
    /// one a bug raises (an index out of range, a null).</summary>
    internal static bool IsRefusedValue(Exception e) => e is ArgumentException and not (ArgumentOutOfRangeException or ArgumentNullException);

    // Native strings come with their terminating NUL at times ("template not found for '{{ x\0'"). .NET's "Access to the
    // path '/m.gguf' is denied." (also inside our own messages: "file at offset 0: Access to...") reads as the other
    // errors do: the path first.
    // Text from a file inside a message (a factor file's "source", a string value) cannot reach the terminal as control
    // characters, and a 5,000-byte architecture name repeated in key names does not make a 20,000-character line: the
    // middle goes, the start (the file) and the end (what happened) stay.
    internal static string OneLine(string s)
    {
        string line = DisplayText.Escape(AccessDenied().Replace(s.ReplaceLineEndings(" ").Replace("\0", "").Trim(), m => $"{m.Groups[1].Value}: permission denied"));
        if (line.Length <= MaxLine) return line;
        int head = MaxLine * 2 / 3, tail = line.Length - MaxLine / 3;
        if (char.IsHighSurrogate(line[head - 1])) head--; // a pair is kept or cut whole
        if (char.IsLowSurrogate(line[tail])) tail++;
        return $"{line[..head]} ...({tail - head:N0} characters left out)... {line[tail..]}";
    }

    private const int MaxLine = 1500;

    [System.Text.RegularExpressions.GeneratedRegex(@"Access to the path '(.+?)' is denied\.")]
    private static partial System.Text.RegularExpressions.Regex AccessDenied();
}
