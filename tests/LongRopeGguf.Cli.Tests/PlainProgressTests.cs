namespace LongRopeGguf.Cli.Tests;

/// <summary>Plain progress lines (standard error not a terminal): a line per tenth of the work, and a heartbeat while
/// one step runs longer than the interval.</summary>
public class PlainProgressTests
{
    private static string[] Lines(StringWriter w) => w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void A_line_per_tenth_of_the_work_and_none_in_between()
    {
        var output = new StringWriter();
        using (var progress = new PlainProgress(output, "niah", TimeSpan.FromMinutes(10)))
            for (int done = 0; done <= 100; done++) progress.Report(done, 100, $"cell {done}");
        Assert.Equal(11, Lines(output).Length); // 0, 10, 20 ... 100
        Assert.Equal("niah: 0/100 cell 0", Lines(output)[0]);
        Assert.Equal("niah: 100/100 cell 100", Lines(output)[^1]);
    }

    [Fact]
    public void A_step_longer_than_the_interval_gets_a_heartbeat_line_and_nothing_before_the_first_report()
    {
        var output = new StringWriter();
        System.Diagnostics.Stopwatch running;
        using (var progress = new PlainProgress(output, "ppl", TimeSpan.FromMilliseconds(200)))
        {
            Thread.Sleep(500);
            Assert.Empty(Lines(output)); // nothing started: nothing to say
            progress.Report(1, 10, "yarn @ 16384");
            running = System.Diagnostics.Stopwatch.StartNew();
            Thread.Sleep(1000); // one step running long
        }
        running.Stop();
        var lines = Lines(output);
        Assert.Equal("ppl: 1/10 yarn @ 16384", lines[0]);
        Assert.True(lines.Length >= 2, string.Join(" | ", lines));
        Assert.All(lines.Skip(1), l => Assert.Matches(@"^ppl: 1/10 yarn @ 16384 \(working, \d+ s since the last line\)$", l));
        // About one per interval, not one per tick: at most one per 200 ms that really passed (a loaded machine
        // oversleeps), plus the first line.
        Assert.True(lines.Length <= 1 + (int)(running.ElapsedMilliseconds / 200), $"{running.ElapsedMilliseconds} ms: " + string.Join(" | ", lines));

        // After Dispose the heartbeat is silent.
        int count = Lines(output).Length;
        Thread.Sleep(400);
        Assert.Equal(count, Lines(output).Length);
    }

    [Fact]
    public void A_caller_with_lines_of_its_own_gets_only_the_heartbeat_counted_from_its_last_line()
    {
        var output = new StringWriter();
        // An interval of 2 s: the check right after the line must come before it even on a loaded machine.
        using (var progress = new PlainProgress(output, "search", TimeSpan.FromSeconds(2), linePerTenth: false))
        {
            for (int done = 1; done <= 10; done++) progress.Report(done, 10, "iteration 0/1");
            progress.Line("iteration 0/1 best 3.2");
            Thread.Sleep(150);
            Assert.Equal(["iteration 0/1 best 3.2"], Lines(output)); // no tenths, and the interval counts from the line
            Thread.Sleep(3000);
        }
        var lines = Lines(output);
        Assert.True(lines.Length >= 2, string.Join(" | ", lines));
        Assert.StartsWith("search: 10/10 iteration 0/1 (working, ", lines[1]);
    }
}
