namespace LongRopeGguf.Cli;

/// <summary>What the exit status of every `longrope` command means.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The command ran but the answer is "no" (e.g. `verify` found a file llama.cpp would not run as intended).</summary>
    public const int CheckFailed = 1;

    /// <summary>Bad input: a malformed file, an invalid factor set, a bad option value.</summary>
    public const int BadInput = 2;

    /// <summary>llama.cpp failed: the model did not load, the context did not fit, decoding failed.</summary>
    public const int RuntimeFailure = 3;

    /// <summary>A failure of longrope itself (a bug, not the input): sysexits' EX_SOFTWARE.</summary>
    public const int InternalError = 70;

    /// <summary>Interrupted by Ctrl-C (128 + SIGINT).</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGTERM (128 + 15) after cleaning up.</summary>
    public const int Terminated = 143;
}
