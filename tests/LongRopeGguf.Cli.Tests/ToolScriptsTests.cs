using System.Diagnostics;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Cli.Tests;

/// <summary>
/// The scripts in tools/ answer --help with their own usage and refuse an unknown option before doing anything: given
/// "--help", quickstart.sh took it for its output folder, built, and failed; search-vs-yarn.sh would have started a
/// 15-hour run in a folder named "-x".
/// </summary>
public class ToolScriptsTests
{
    private static CliResult RunScript(string script, IReadOnlyDictionary<string, string>? environment = null, params string[] args) =>
        RunScript(script, environment, TimeSpan.FromSeconds(30), args);

    private static CliResult RunScript(string script, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = TestPaths.RepoRoot };
        psi.ArgumentList.Add(Path.Combine(TestPaths.RepoRoot, "tools", script));
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            // A script that got past its option check builds and runs for minutes (writing results/): ended here, not
            // left running after the test.
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{script} {string.Join(' ', args)} did not finish in {timeout.TotalSeconds:0} s");
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    [Theory]
    [InlineData("quickstart.sh")]
    [InlineData("search-vs-yarn.sh")]
    [InlineData("search-bounded.sh")]
    [InlineData("niah.sh")]
    [InlineData("publish.sh")]
    public void Help_prints_the_scripts_own_usage_and_does_nothing_else(string script)
    {
        foreach (string help in (string[])["--help", "-h"])
        {
            var r = RunScript(script, null, help);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains($"Usage: tools/{script}", r.Stdout);
            Assert.Equal("", r.Stderr);
        }
    }

    [Theory]
    [InlineData("quickstart.sh")]
    [InlineData("search-vs-yarn.sh")]
    [InlineData("search-bounded.sh")]
    [InlineData("publish.sh")]
    public void An_unknown_option_is_refused_before_anything_runs(string script)
    {
        var r = RunScript(script, null, "-x");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.StartsWith($"tools/{script}: unknown option '-x' (usage: tools/{script} ", r.Stderr);
        Assert.False(Directory.Exists(Path.Combine(TestPaths.RepoRoot, "-x")));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1e400")] // passed the script's check, then "--scale '1e400': out of range"
    public void Niah_says_a_bad_patch_scale_as_its_own_setting(string scale)
    {
        // It was "longrope: error: --scale 'abc': not a number. (see 'longrope factors make --help')", after a build.
        var r = RunScript("niah.sh", new Dictionary<string, string> { ["NIAH_PATCH_SCALE"] = scale });
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"niah.sh: NIAH_PATCH_SCALE '{scale}': not a number greater than 1 (the scale of the patched mode's factors)", r.Stderr.Trim());
    }

    [Fact]
    public void Niah_says_a_patch_scale_past_any_context_as_its_own_setting()
    {
        // 1e9 passed the number check and was refused by `factors make` as "scale 1E+09: ...", naming no setting.
        var r = RunScript("niah.sh", new Dictionary<string, string> { ["NIAH_PATCH_SCALE"] = "1e9" }, TimeSpan.FromMinutes(2), "--lengths", "512");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("niah.sh: NIAH_PATCH_SCALE '1e9': 512 x 1e9 tokens is more than a GGUF context holds (2147483647)", r.Stderr.Trim());
    }

    [Fact]
    public void Niah_keeps_its_patched_mode_for_a_length_list_with_spaces()
    {
        // eval niah reads "512, 1024"; the script took " 1024" for no number and left its patched mode out without a word.
        using var dir = new TempDir();
        var r = RunScript("niah.sh", null, TimeSpan.FromMinutes(3), "--lengths", "512, 1024", "--depths", "1", "--modes", "", "--json", "--out", dir.File("out"));
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(r.Stdout);
        var cells = json.RootElement.GetProperty("cells").EnumerateArray().Select(c => (c.GetProperty("mode").GetString(), c.GetProperty("length").GetInt32()));
        Assert.Equal([("yarn-rule-2x", 512), ("yarn-rule-2x", 1024)], cells);
    }
    [Theory]
    [InlineData("FITNESS=passkey LOSS=margin MAX_PPL=yarn WINDOWS=1 PASSKEY_SEED=7081", null)] // the next GPU session's run
    [InlineData("SEARCH_SECONDS=380 LOSS=margin MIX_WEIGHT=0.5 WINDOWS=1 PASSKEY_SEED=7041 ITERATIONS=100", null)] // session 19's
    [InlineData("", null)] // the defaults (session 18's)
    [InlineData("FITNESS=passkey MAX_PPL=yarn WINDOWS=2", "1 window(s) of 16384 tokens; 2 asked (--windows)")] // as session 19 found at launch
    [InlineData("FITNESS=passkey MAX_PPL=nosuchseed", "--max-ppl nosuchseed: no seed of that name")]
    public void The_gpu_search_scripts_search_is_checked_on_the_cpu_before_a_device_session(string settings, string? refusal)
    {
        // FITNESS=passkey with the always-given --mix-weight was refused at once, and WINDOWS=2 at 16384 too: found only
        // on the device, each would have spent a session. `search --check` goes through everything the search checks
        // before its first candidate (model, --init, text windows, the 24 prompts of 16384 tokens) in about a second.
        // The staged --init (.gpu/extra) is not here: a committed 32x factor file stands in for it.
        var env = settings.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        env["PRINT_SEARCH"] = "1";
        env["INIT"] = "docs/search-results/tiny-long-16384-gpu-mix24.factors.json";
        var printed = RunScript("gpu-search32.sh", env);
        Assert.True(printed.ExitCode == 0, printed.ToString());
        string[] args = printed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("search", args[0]);
        using var dir = new TempDir();
        var r = CliProcess.RunIn(TestPaths.RepoRoot, null, CliProcess.Timeout, [.. args, "--out", dir.File("out"), "--check", "--threads", "2"]);
        if (refusal is null)
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            using var json = System.Text.Json.JsonDocument.Parse(r.Stdout);
            Assert.True(json.RootElement.GetProperty("ready").GetBoolean());
            Assert.Equal(int.Parse(env.GetValueOrDefault("PROMPTS", "24")), json.RootElement.GetProperty("passkey_prompts").GetInt32());
        }
        else
        {
            Assert.Equal(2, r.ExitCode);
            Assert.Contains(refusal, Assert.Single(r.StderrLines));
        }
        Assert.False(Directory.Exists(dir.File("out")), "a check leaves no results folder");
    }
}
