using System.Text.Json;
using System.Text.RegularExpressions;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;

namespace LongRopeGguf.Runtime.Tests.Cli;

/// <summary>`longrope chat` as a terminal program, driven through tmux.</summary>
public class ChatCommandTests
{
    [Fact]
    public void A_chat_answers_a_pass_key_moves_to_the_long_set_once_and_keeps_its_history()
    {
        using var cli = new IsolatedCli();
        using var term = new TmuxTerminal(cli.ShellCommand("chat", PatchedModelFixture.PatchedModel, "--temp", "0", "-n", "8", "--stop", "."));
        string screen = term.WaitFor(">>> ");
        Assert.Contains("factor set short, n_ctx 512", screen);
        Assert.Contains("moves to the long set when a turn needs more than 512 tokens, up to 4096 (each move, to the long set or a larger context, prefills the conversation again)", screen);
        Assert.Contains("no chat template in the GGUF: plain continuation", screen);

        term.Type(PassKeyPrompt(399, 0.3, 27182));
        screen = term.WaitFor(">>> ", 2);
        Assert.Contains("The pass key is \n27182\n>>> ", screen.Replace("\r", ""));

        term.Type("/stats");
        screen = term.WaitFor("last reply:");
        Assert.Contains("tokens: 406 used of n_ctx 512; factor set short", screen);
        Assert.Contains("turns: 1; moves: 0", screen);

        // ~460 more tokens: the next turn no longer fits the short context; the first turn's key is still found.
        string filler = PassKeyPrompt(460, 0.5, 0).Replace("The pass key is 0. Remember it. 0 is the pass key. ", "");
        term.Type(". " + filler);
        screen = term.WaitFor(">>> ", 4);
        Assert.Matches(@"\[moved to the long factor set \(n_ctx 1792\): 816 tokens re-prefilled in \d+ ms\]", screen);
        Assert.EndsWith("The pass key is \n" + Regex.Match(screen, @"\[moved to the long[^\]]*\]").Value + "\n27182\n>>>", screen.Replace("\r", "").TrimEnd());

        term.Type("/stats");
        screen = term.WaitFor("turns: 2");
        Assert.Contains("used of n_ctx 1792; factor set long", screen);
        Assert.Contains("moves: 1 (last: moved to the long factor set", screen);

        term.Type("/save " + cli.File("chat.json"));
        term.WaitFor("saved 4 messages");
        var saved = JsonDocument.Parse(File.ReadAllText(cli.File("chat.json"))).RootElement;
        Assert.Equal("longrope-chat/1", saved.GetProperty("format").GetString());
        Assert.Equal("27182", saved.GetProperty("messages")[3].GetProperty("content").GetString());

        term.Type("/reset");
        term.WaitFor("conversation cleared; factor set short, n_ctx 512");
        term.Type("/load " + cli.File("chat.json"));
        term.WaitFor("loaded 4 messages");
        term.Type("/exit");
        screen = term.WaitFor("[exit ");
        Assert.Contains("[exit 0]", screen);
        Assert.Single(Regex.Matches(screen, @"\[moved to the long factor set"));
    }

    [Fact]
    public void Without_max_tokens_a_chat_reserves_at_most_a_quarter_of_the_original_context_per_reply()
    {
        // Standard input is closed at once: the chat starts (startup line), reads end of input and exits 0.
        using var cli = new IsolatedCli();
        var plain = cli.Run("chat", LongRopeGguf.Tests.TestPaths.TinyModel);
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("a context sized for 130 tokens (a first turn: prompt 2 or more + 128 to generate)", plain.Stderr);

        // A LongRoPE file starts on its short set: the reserve does not push the first turn past the original 512.
        var patched = cli.Run("chat", PatchedModelFixture.PatchedModel);
        Assert.True(patched.ExitCode == 0, patched.ToString());
        Assert.Contains("factor set short, n_ctx 512", patched.Stderr);

        // An explicit budget is the user's: 511 per reply (BOS, one token, 511) cannot fit a 512-token model, and says
        // so at the start (it started and refused every message); 510 does.
        var explicitBudget = cli.Run("chat", LongRopeGguf.Tests.TestPaths.TinyModel, "-n", "511");
        Assert.Equal(2, explicitBudget.ExitCode);
        Assert.Equal("longrope: error: 513 tokens (a first turn: prompt 2 or more + 511 to generate) do not fit: the model's context_length is 512", Assert.Single(explicitBudget.StderrLines));
        var fits = cli.RunWithInput("a\n", "chat", LongRopeGguf.Tests.TestPaths.TinyModel, "-n", "510", "--temp", "0");
        Assert.True(fits.ExitCode == 0, fits.ToString());
    }

    [Fact]
    public void A_piped_line_that_is_not_text_is_refused_and_never_reaches_the_transcript()
    {
        // It was sent to the model as it came (a NUL kept, bad bytes as replacement characters) and saved so.
        using var cli = new IsolatedCli();
        string saved = Path.Combine(cli.CacheHome, "t.json");
        var r = cli.RunWithInput($"hi\0there\nhello\n/save {saved}\n", "chat", LongRopeGguf.Tests.TestPaths.TinyModel, "-n", "2", "--temp", "0");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("longrope: error: standard input, line 1: a NUL byte at offset 2, not text", r.StderrLines);
        Assert.Equal("longrope: error: 1 of 3 messages and commands were refused", r.StderrLines[^1]);
        var transcript = ChatTranscript.Load(saved);
        Assert.Equal(["hello"], transcript.Messages.Where(m => m.Role == "user").Select(m => m.Content));
    }

    [Fact]
    public void Text_too_big_for_the_context_by_its_size_alone_is_refused_before_it_is_tokenized_and_file_errors_name_the_command()
    {
        // A 16 MB piped line or /load of an 8 MB message took 9 s and 700 MB (tokenized whole) to hear "does not fit";
        // /save's and /load's file problems came without the command ("nope.json: no such transcript file").
        using var cli = new IsolatedCli();
        string transcript = cli.File("big.json");
        new ChatTranscript(ChatTranscript.CurrentFormat, null, [new ChatMessage("user", new string('b', 400_000))]).Save(transcript);
        string missing = cli.File("nope.json"), noFolder = cli.File("none/x.json");
        string input = string.Join("\n", new string('a', 300_000), $"/load {transcript}", $"/load {missing}", $"/save {noFolder}") + "\n";
        var r = cli.RunWithInput(input, "chat", LongRopeGguf.Tests.TestPaths.TinyModel, "-n", "5");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(
        [
            "longrope: error: at least 50000 tokens (a conversation of 300000 bytes, and no token of the model stands for more than 6 bytes of it) + 5 to generate do not fit: the model's context_length is 512",
            $"longrope: error: /load {transcript}: at least 66666 tokens (a transcript of 400000 bytes, and no token of the model stands for more than 6 bytes of it) + 5 to generate do not fit: the model's context_length is 512",
            $"longrope: error: /load {missing}: no such transcript file",
            $"longrope: error: /save {noFolder}: folder {Path.GetDirectoryName(noFolder)} does not exist",
            "longrope: error: 4 of 4 messages and commands were refused",
        ], r.StderrLines.Skip(2));
    }

    [Fact]
    public void Ctrl_c_stops_a_reply_without_leaving_the_chat()
    {
        using var cli = new IsolatedCli();
        // A reply long enough to be interrupted on any machine: 3000 tokens on the patched 4096-token model take seconds
        // (400 on the 512-token model could finish within the 300 ms on a fast, quiet CPU).
        using var term = new TmuxTerminal(cli.ShellCommand("chat", PatchedModelFixture.PatchedModel, "--temp", "0", "-n", "3000"));
        term.WaitFor(">>> ");
        term.Type("The grass");
        // Stopped once the reply shows (a fixed 300 ms wait could fall before the first token on a loaded machine).
        var waited = System.Diagnostics.Stopwatch.StartNew();
        for (string s = term.Screen(); s[(s.LastIndexOf("The grass", StringComparison.Ordinal) + "The grass".Length)..].Trim().Length == 0; s = term.Screen())
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(90), "no reply on the screen: " + s);
            Thread.Sleep(20);
        }
        term.CtrlC();
        string screen = term.WaitFor("[stopped]");
        term.WaitFor(">>> ", 2);
        term.Type("/stats");
        screen = term.WaitFor("last reply:");
        var m = Regex.Match(screen, @"last reply: (\d+) tokens");
        Assert.True(m.Success, screen);
        Assert.InRange(int.Parse(m.Groups[1].Value), 1, 2999); // stopped early, after some tokens
        term.CtrlC(); // at the prompt: a hint, not an exit
        term.WaitFor("(Ctrl-C stops a reply; it does not clear a line you were typing, which goes with the next Enter; /exit or Ctrl-D leaves)");
        term.Type("/exit");
        Assert.Contains("[exit 0]", term.WaitFor("[exit "));
    }
}
