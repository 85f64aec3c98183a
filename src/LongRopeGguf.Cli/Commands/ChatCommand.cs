using System.CommandLine;
using LongRopeGguf.Runtime;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// `longrope chat MODEL [--system TEXT]`: an interactive chat (like ollama run / llama-cli -cnv). The conversation
/// starts on the short LongRoPE set and moves to the long one when the next turn no longer fits (and to a larger long
/// context each time it outgrows one), prefilling the conversation again at each move.
/// </summary>
public static class ChatCommand
{
    private const string Help = "commands: /reset, /stats, /save FILE, /load FILE, /exit (or Ctrl-D); Ctrl-C stops a reply";

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var system = new Option<string?>("--system") { Description = "System message (with a chat template) or text put before the chat (plain continuation).", HelpName = "TEXT" };
        var rt = new RuntimeCommandOptions(defaultMaxTokens: ChatOptions.DefaultReplyTokens);
        rt.MaxTokens.Description = $"Most tokens per reply, also the room reserved in the context (default: a quarter of the model's original context, at most {ChatOptions.DefaultReplyTokens}).";
        rt.MaxTokens.DefaultValueFactory = null; // help's "[default: 512]" was not what a small model got
        var cmd = new Command("chat", "Chat with a GGUF model in the terminal; uses the model's chat template when the GGUF has one, plain continuation otherwise.")
        {
            model, system,
        };
        rt.AddGenerationOptions(cmd);
        rt.AddRuntimeOptions(cmd);
        cmd.SetAction(r => RuntimeCommandOptions.Run(interrupt =>
        {
            var generation = rt.Generation(r);
            var choice = rt.FactorSetChoice(r);
            using var llama = rt.LoadModel(r, r.GetValue(model)!);
            if (r.GetResult(rt.MaxTokens) is null or { Implicit: true })
                generation = generation with { MaxTokens = ChatOptions.DefaultReplyTokensFor(llama.Info) };
            using var session = new ChatSession(llama, new ChatOptions(r.GetValue(system), generation, choice, r.GetValue(rt.Context)));
            session.Conversation.Moved += move => Console.Error.WriteLine($"[{move.Describe()}]");
            var plan = session.Start(interrupt.Token);
            rt.PrintStartup(r, llama, Policy(llama, plan, choice, r.GetValue(rt.Context) is not null));
            Console.Error.WriteLine(session.UsesTemplate
                ? $"chat template from the GGUF; {Help}"
                : $"{session.TemplateProblem ?? "no chat template in the GGUF"}: plain continuation (your text is appended and the model continues it); {Help}");
            return Loop(session, interrupt);
        }));
        return cmd;
    }

    /// <summary>The startup line's plan part: the set in use and when the conversation would move.</summary>
    internal static string Policy(LlamaModel llama, ContextPlan plan, FactorSetChoice choice, bool fixedContext)
    {
        var info = llama.Info;
        string now = StartupReport.Plan(llama, plan);
        if (!info.HasLongRope || fixedContext || choice != FactorSetChoice.Auto || plan.FactorSet != FactorSetKind.Short)
            return now;
        return $"{now}; moves to the long set when a turn needs more than {plan.ContextSize} tokens, up to {info.ContextLength} (each move, to the long set or a larger context, prefills the conversation again)";
    }

    private static int Loop(ChatSession session, ConsoleInterrupt interrupt)
    {
        bool interactive = !Console.IsInputRedirected;
        interrupt.OnIdleInterrupt = () =>
        {
            Console.Error.WriteLine();
            // The terminal line being typed stays in the console's reader (no API clears it): said, since it is sent with the next Enter.
            Console.Error.WriteLine("(Ctrl-C stops a reply; it does not clear a line you were typing, which goes with the next Enter; /exit or Ctrl-D leaves)");
            if (interactive) { Console.Out.Write(">>> "); Console.Out.Flush(); }
        };
        int refused = 0, sent = 0;
        // A piped input is read strictly (a bad line is refused); a terminal through the console's own line reader.
        var piped = interactive ? null : new StrictLineReader(StandardStreams.OpenInput());
        // At the end of the input or at /exit: a script feeding the chat learns that something it sent was refused
        // (each one was said when it was).
        int Leave()
        {
            if (interactive || refused == 0) return ExitCodes.Success;
            Console.Error.WriteLine($"longrope: error: {refused} of {sent} messages and commands were refused");
            return ExitCodes.BadInput;
        }
        while (true)
        {
            // SIGTERM (SIGQUIT) stopped the reply (or the command) in progress: the chat ends there, by that signal.
            if (interrupt.TerminatedBy is { } signal) { Console.Error.WriteLine("longrope: terminated"); return SignalExit.ExitCode(signal); }
            if (interactive) { Console.Out.Write(">>> "); Console.Out.Flush(); }
            interrupt.Idle = true;
            string? line;
            try
            {
                line = piped is null ? Console.In.ReadLine() : piped.ReadLine();
            }
            catch (RuntimeInputException e)
            {
                interrupt.Idle = false;
                Console.Error.WriteLine($"longrope: error: {e.Message}");
                sent++;
                refused++;
                continue;
            }
            interrupt.Idle = false;
            var token = interrupt.Renew();
            if (line is null)
            {
                if (interactive) Console.Out.WriteLine();
                return Leave();
            }
            string input = line.Trim();
            if (input.Length == 0) continue;
            sent++;
            if (input.StartsWith('/'))
            {
                if (Command(session, input, token, out bool failed) is { } exit) return exit == ExitCodes.Success ? Leave() : exit;
                if (failed) refused++;
                continue;
            }
            try
            {
                var turn = session.Ask(line, piece => { Console.Out.Write(piece); Console.Out.Flush(); }, token);
                Console.Out.WriteLine();
                if (turn.Generation.StopReason == StopReason.Cancelled) Console.Error.WriteLine("[stopped]");
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                Console.Out.WriteLine();
                Console.Error.WriteLine("[stopped before the reply began; the message was not sent]");
            }
            catch (RuntimeInputException e)
            {
                // The turn does not fit (a fixed context, a forced short set, the model's limit): say why, stay in the chat.
                Console.Error.WriteLine($"longrope: error: {e.Message}");
                refused++;
            }
        }
    }

    /// <summary>Runs a /command; returns an exit code to leave, or null to go on.</summary>
    private static int? Command(ChatSession session, string input, CancellationToken token, out bool failed)
    {
        failed = false;
        int space = input.IndexOf(' ');
        string name = (space < 0 ? input : input[..space]).ToLowerInvariant(); // /STATS as /stats, as names are read elsewhere
        string rest = space < 0 ? "" : input[(space + 1)..].Trim();
        try
        {
            if (name is "/exit" or "/quit" or "/bye" or "/reset" or "/stats" or "/help" or "/?" && rest.Length > 0)
                throw new RuntimeInputException($"{name} takes no argument (given '{rest}')");
            string arg = name is "/save" or "/load" ? FileArgument(name, rest) : "";
            switch (name)
            {
                case "/exit" or "/quit" or "/bye":
                    return ExitCodes.Success;
                case "/reset":
                    session.Reset();
                    var plan = session.Start(token);
                    Console.Out.WriteLine($"conversation cleared; factor set {plan.FactorSetName}, n_ctx {plan.ContextSize}");
                    return null;
                case "/stats":
                    PrintStats(session);
                    return null;
                case "/save":
                    if (arg.Length == 0) throw new RuntimeInputException("/save needs a file name");
                    session.ToTranscript().Save(arg);
                    Console.Out.WriteLine($"saved {session.Messages.Count} messages to {Path.GetFullPath(arg)}");
                    return null;
                case "/load":
                    if (arg.Length == 0) throw new RuntimeInputException("/load needs a file name");
                    var transcript = ChatTranscript.Load(arg); // its errors say /load and the file
                    PrefillResult prefill;
                    try { prefill = session.Load(transcript, token); }
                    catch (RuntimeInputException e)
                    {
                        throw new RuntimeInputException($"/load {Path.GetFullPath(arg)}: {e.Message}"); // the transcript does not fit
                    }
                    Console.Out.WriteLine($"loaded {session.Messages.Count} messages ({prefill.Tokens} tokens in {prefill.Elapsed.TotalMilliseconds:F0} ms); factor set {session.Stats.Plan!.FactorSetName}, n_ctx {session.Stats.Plan.ContextSize}");
                    return null;
                case "/help" or "/?":
                    Console.Out.WriteLine(Help);
                    return null;
                default:
                    Console.Error.WriteLine($"longrope: error: unknown command {name}; {Help}");
                    failed = true;
                    return null;
            }
        }
        // ArgumentException: a path .NET refuses (a NUL in /save's name): said, and the chat goes on. Not the argument
        // errors a bug raises (an index out of range, a null): those end the chat as the bug they are (CliErrors).
        catch (Exception e) when (e is Gguf.BadInputException or IOException or UnauthorizedAccessException || CliErrors.IsRefusedValue(e))
        {
            Console.Error.WriteLine($"longrope: error: {e.Message.ReplaceLineEndings(" ")}");
            failed = true;
            return null;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            Console.Error.WriteLine("[stopped]");
            return null;
        }
    }

    /// <summary>
    /// The one word after a command, read as a shell reads it: '...' literally, "..." with \" \\ \$ \` escaped, a
    /// backslash outside quotes escaping the next character, an unquoted leading ~/ as the home folder; "" when none.
    /// More than one word, or a quote left open, is refused ("/save a b" saved to "a b", "/save 'x y' z" to
    /// "'x y' z").
    /// </summary>
    internal static string FileArgument(string command, string text)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        // Whether a word starts with a bare (unquoted, unescaped) "~" followed by its end or a bare "/": the only
        // tilde a shell expands ('~/x', \~/x and ~"/x" are names as written).
        bool inWord = false, bareTilde = false, quotedStart = false;
        void Append(char c, bool bare)
        {
            if (word.Length == 0) bareTilde = bare && c == '~' && !quotedStart;
            else if (word.Length == 1 && bareTilde) bareTilde = bare && c == '/';
            word.Append(c);
        }
        void EndWord()
        {
            string w = word.ToString();
            if (bareTilde && (w == "~" || w.StartsWith("~/", StringComparison.Ordinal))
                && Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } home)
                w = home + w[1..];
            words.Add(w);
            word.Clear();
            inWord = bareTilde = quotedStart = false;
        }
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                if (inWord) EndWord();
                continue;
            }
            inWord = true;
            if (c is '\'' or '"' && word.Length == 0) quotedStart = true; // ''~/x: the word does not start with the tilde
            if (c == '\'')
            {
                int end = text.IndexOf('\'', i + 1);
                if (end < 0) throw new RuntimeInputException($"{command} {text}: a quote (') is not closed");
                for (int k = i + 1; k < end; k++) Append(text[k], bare: false);
                i = end;
            }
            else if (c == '"')
            {
                int j = i + 1;
                for (; j < text.Length && text[j] != '"'; j++)
                    Append(text[j] == '\\' && j + 1 < text.Length && text[j + 1] is '"' or '\\' or '$' or '`' ? text[++j] : text[j], bare: false);
                if (j >= text.Length) throw new RuntimeInputException($"{command} {text}: a quote (\") is not closed");
                i = j;
            }
            else if (c == '\\' && i + 1 < text.Length) Append(text[++i], bare: false);
            else Append(c, bare: true);
        }
        if (inWord) EndWord();
        if (words.Count > 1)
            throw new RuntimeInputException($"{command} {text}: one file name, not {words.Count} (quote a name with spaces)");
        return words.Count == 0 ? "" : words[0];
    }

    private static void PrintStats(ChatSession session)
    {
        var s = session.Stats;
        var o = Console.Out;
        if (s.Plan is { } plan)
        {
            o.WriteLine($"tokens: {s.Tokens} used of n_ctx {plan.ContextSize}; factor set {plan.FactorSetName} (context made for: {plan.Reason})");
        }
        else o.WriteLine($"tokens: {s.Tokens}; no context yet");
        o.WriteLine($"sampling: {GenerateCommand.Sampling(session.Options.Generation.Sampling)}");
        var moves = session.Conversation.Moves;
        o.WriteLine($"turns: {s.Turns}; moves: {s.Moves}{(moves.Count > 0 ? $" (last: {moves[^1].Describe()})" : "")}");
        if (s.LastPrefill is { } p)
            o.WriteLine($"last prompt: {p.Tokens} tokens in {p.Elapsed.TotalMilliseconds:F0} ms ({p.TokensPerSecond:F1} tok/s)");
        if (s.LastGeneration is { } g)
            o.WriteLine($"last reply: {g.TokenCount} tokens in {g.DecodeTime.TotalMilliseconds:F0} ms ({g.TokensPerSecond:F1} tok/s)");
    }
}
