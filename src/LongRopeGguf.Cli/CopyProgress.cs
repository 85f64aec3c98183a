using Spectre.Console;

namespace LongRopeGguf.Cli;

/// <summary>
/// A progress bar on standard error for copies long enough to be worth watching. Only when standard error is a
/// terminal: redirected output (scripts, tests, logs) never receives control sequences.
/// </summary>
public static class CopyProgress
{
    /// <summary>Copies smaller than this finish before a bar would be readable.</summary>
    public const long MinimumBytes = 256L << 20;

    public static bool Wanted(long bytes) => bytes >= MinimumBytes && !Console.IsErrorRedirected;

    /// <summary>Runs <paramref name="work"/>, giving it a callback (bytes done, bytes total) that moves the bar.</summary>
    public static T Run<T>(string description, Func<Action<long, long>, T> work)
    {
        var console = ErrorConsole.Create();
        return console.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(description), maxValue: 1);
                // Draw the bar with its description now: Spectre redraws on a 100 ms timer, and a copy served from the
                // page cache can end before the first tick (the bar would flash empty and be cleared).
                ctx.Refresh();
                return work((done, total) =>
                {
                    task.MaxValue = Math.Max(1, total);
                    task.Value = done;
                });
            });
    }
}
