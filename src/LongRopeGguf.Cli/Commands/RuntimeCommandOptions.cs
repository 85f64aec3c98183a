using System.CommandLine;
using LongRopeGguf.Runtime;
using System.Runtime.InteropServices;

namespace LongRopeGguf.Cli.Commands;

/// <summary>
/// Options shared by the commands that run a model (generate, chat, bench): where llama.cpp comes from, where its log
/// goes, how the model is placed, how contexts and tokens are chosen; and the setup they all do in the same order.
/// </summary>
public sealed class RuntimeCommandOptions
{
    /// <summary>--native-lib, --verbose, --log-file.</summary>
    public NativeOptions Native { get; } = new();

    public Option<int?> GpuLayers { get; } = new("--gpu-layers", "-ngl")
    {
        Description = "Layers to offload to the GPU (-1: all). Default: all when a GPU backend is present, else 0.",
        HelpName = "N",
    };

    public Option<int?> Threads { get; } = new("--threads", "-t") { Description = "CPU threads (default: half the cores).", HelpName = "N" };

    public Option<int> BatchSize { get; } = new("--batch-size")
    {
        Description = "Prompt batch size, n_batch = n_ubatch (capped by the context).",
        DefaultValueFactory = _ => RunnerOptions.DefaultBatchSize,
        HelpName = "N",
    };

    public Option<string> ShortAttention { get; } = new Option<string>("--short-attention")
    {
        Description = "Attention magnitude of short contexts of a file this tool patched: model (the model's own, as unpatched) or file (the file's attn_factor, as llama.cpp applies it to both sets).",
        DefaultValueFactory = _ => "model",
        HelpName = "model|file",
    }.OneOf("model", "file");

    public Option<int?> Context { get; } = new("--context", "-c")
    {
        Description = "Fix the context size in tokens (llama.cpp rounds it up to a multiple of 256); its size decides the LongRoPE set. Default: planned for the work.",
        HelpName = "N",
    };

    public Option<string> FactorSet { get; } = new Option<string>("--factor-set")
    {
        Description = "LongRoPE factor set: auto (short while the work fits the original context, long beyond), short or long.",
        DefaultValueFactory = _ => "auto",
        HelpName = "auto|short|long",
    }.OneOf("auto", "short", "long");

    public Option<int> MaxTokens { get; }
    public Option<float> Temperature { get; } = new("--temp") { Description = "Sampling temperature; 0 is greedy.", DefaultValueFactory = _ => 0.8f };
    public Option<int> TopK { get; } = new("--top-k") { Description = "Top-k sampling (0: off).", DefaultValueFactory = _ => 40 };
    public Option<float> TopP { get; } = new("--top-p") { Description = "Top-p (nucleus) sampling, in (0, 1].", DefaultValueFactory = _ => 0.95f };
    public Option<uint?> Seed { get; } = new("--seed") { Description = "Random seed for sampling (default: random)." };
    public Option<string[]> Stop { get; } = new("--stop")
    {
        Description = "Stop when this text is generated (repeatable); it is not shown.",
        Arity = ArgumentArity.ZeroOrMore,
        HelpName = "TEXT",
    };

    private readonly int _defaultMaxTokens;

    public RuntimeCommandOptions(int defaultMaxTokens)
    {
        _defaultMaxTokens = defaultMaxTokens;
        MaxTokens = new Option<int>("--max-tokens", "-n")
        {
            HelpName = "N",
            Description = "Most tokens to generate (per reply); also the room reserved in the context.",
            DefaultValueFactory = _ => defaultMaxTokens,
        };
    }

    /// <summary>Adds the native, placement and context options (all commands that run a model).</summary>
    public void AddRuntimeOptions(Command command)
    {
        Native.AddTo(command);
        foreach (var o in new Option[] { GpuLayers, Threads, BatchSize, ShortAttention })
            command.Options.Add(o);
    }

    /// <summary>Adds the context and sampling options (generate, chat).</summary>
    public void AddGenerationOptions(Command command)
    {
        foreach (var o in new Option[] { MaxTokens, Context, FactorSet, Temperature, TopK, TopP, Seed, Stop })
            command.Options.Add(o);
    }

    public RunnerOptions Runner(ParseResult r) => new()
    {
        GpuLayers = r.GetValue(GpuLayers),
        Threads = r.GetValue(Threads),
        BatchSize = r.GetValue(BatchSize),
        FileAttentionOnShortContexts = r.GetValue(ShortAttention) == "file",
    };

    public GenerationOptions Generation(ParseResult r)
    {
        if (r.GetValue(Seed) == uint.MaxValue)
            throw new RuntimeInputException("--seed 4294967295: llama.cpp takes it as 'draw a seed', so the run could not be repeated; give 0 to 4294967294");
        var options = new GenerationOptions(
            // Given, or the command's default (chat shows none in its help: its default depends on the model).
            r.GetResult(MaxTokens) is { Implicit: false } ? r.GetValue(MaxTokens) : _defaultMaxTokens,
            // Without --seed one is drawn here, not by llama.cpp, so that the run can say it and a good sample be repeated.
            new SamplingOptions(r.GetValue(Temperature), r.GetValue(TopK), r.GetValue(TopP), r.GetValue(Seed) ?? (uint)Random.Shared.NextInt64(0, uint.MaxValue)), // not 0xFFFFFFFF: llama.cpp's "draw one"
            r.GetValue(Stop) ?? []);
        options.Validate();
        return options;
    }

    public FactorSetChoice FactorSetChoice(ParseResult r) => r.GetValue(FactorSet) switch
    {
        "short" => Runtime.FactorSetChoice.Short,
        "long" => Runtime.FactorSetChoice.Long,
        _ => Runtime.FactorSetChoice.Auto,
    };

    /// <summary>Sets up llama.cpp (library, log) and loads the model once; bad input is refused before anything loads.</summary>
    /// <param name="info">The model's facts when the command has read them already (bench).</param>
    public LlamaModel LoadModel(ParseResult r, FileInfo model, ModelContextInfo? info = null)
    {
        var runner = Runner(r);
        runner.Validate();
        if (r.GetValue(Context) is <= 0 and var c) throw new RuntimeInputException($"--context {c}: must be a positive number of tokens");
        info ??= ModelContextInfo.Read(model.FullName); // our header check first: a non-GGUF file gets our one-line error, not llama.cpp's
        // Given for a file with no factor sets it changes nothing, which was not said.
        if (r.GetResult(ShortAttention) is { Implicit: false } && !info.HasLongRope)
            Console.Error.WriteLine($"longrope: warning: --short-attention {r.GetValue(ShortAttention)}: {model.FullName} has no LongRoPE factor sets; nothing to apply it to");
        Native.RefuseLogOverInputs(r);
        NativeRuntime.Configure(r.GetValue(Native.NativeLib), r.GetValue(Native.Verbose), r.GetValue(Native.LogFile));
        return LlamaModel.Load(info, runner);
    }

    /// <summary>The startup line, on standard error.</summary>
    public void PrintStartup(ParseResult r, LlamaModel model, string planText) =>
        Console.Error.WriteLine(StartupReport.Line(model, r.GetValue(GpuLayers), planText, NativeRuntime.LogFilePath));

    /// <summary>
    /// Runs a command body: Ctrl-C cancels <paramref name="body"/>'s token instead of killing the process, llama.cpp
    /// failures exit with <see cref="ExitCodes.RuntimeFailure"/>, bad input with <see cref="ExitCodes.BadInput"/>.
    /// </summary>
    public static int Run(Func<ConsoleInterrupt, int> body)
    {
        using var interrupt = new ConsoleInterrupt();
        int code = CliErrors.Run(() => body(interrupt), interrupt.Token, () => interrupt.Terminated).GetAwaiter().GetResult();
        // A run stopped by SIGTERM (SIGQUIT) finished like one stopped by Ctrl-C (partial result, --json included), says
        // so and ends by that signal (143, 131).
        return code == ExitCodes.Interrupted && interrupt.TerminatedBy is { } signal ? SignalExit.ExitCode(signal) : code;
    }
}

/// <summary>
/// Ctrl-C without leaving: each press cancels the current token (a generation stops, the program decides what next)
/// and a fresh token is handed out by <see cref="Renew"/>. While <see cref="Idle"/> is set, a press only calls
/// <see cref="OnIdleInterrupt"/> (a chat waiting for input), or ends the process when there is none (setting up).
/// </summary>
public sealed class ConsoleInterrupt : IDisposable
{
    private CancellationTokenSource _cts = new();

    /// <summary>
    /// Nothing is running that Ctrl-C should stop, and nothing SIGTERM should let finish: set from the start (loading a
    /// model, reading a prompt from a pipe do not look at the token, so a SIGTERM then waited for all of it) until the
    /// command starts the work it can stop part-way (a prefill, a generation), and while a chat waits for input.
    /// </summary>
    public volatile bool Idle = true;

    public Action? OnIdleInterrupt { get; set; }

    private readonly PosixSignalRegistration? _terminate;
    private readonly Lock _terminateLock = new();
    private long _terminatedAt;
    private int _terminatedBy;
    private Timer? _giveUp;
    private bool _disposed;

    /// <summary>When the current token was cancelled by Ctrl-C (0: it was not): a press the work has not answered
    /// (blocked in the kernel, on a FIFO nobody writes) for TerminationSignals.ForceAfter is followed by one that ends the run.</summary>
    private long _cancelledAt;

    public ConsoleInterrupt()
    {
        Console.CancelKeyPress += OnCancel;
        try { _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnTerminate); }
        catch (PlatformNotSupportedException) { } // no POSIX signals: SIGTERM keeps its default action
    }

    /// <summary>SIGTERM or SIGQUIT (Ctrl-\) was received: the work in progress stops as for Ctrl-C, and the run ends
    /// (by that signal: 143, 131).</summary>
    public bool Terminated => Interlocked.Read(ref _terminatedAt) != 0;

    /// <summary>The signal that ended the run (the first of SIGTERM and SIGQUIT received), null while none has.</summary>
    public PosixSignal? TerminatedBy => Terminated ? (PosixSignal)Volatile.Read(ref _terminatedBy) : null;

    public CancellationToken Token => _cts.Token;

    public bool Requested => _cts.IsCancellationRequested;

    /// <summary>A new token after an interrupt was handled (the chat goes on).</summary>
    public CancellationToken Renew()
    {
        if (_cts.IsCancellationRequested)
        {
            _cts.Dispose();
            _cts = new CancellationTokenSource();
            Interlocked.Exchange(ref _cancelledAt, 0);
        }
        return _cts.Token;
    }

    private void OnTerminate(PosixSignalContext context) => context.Cancel = Terminate(PosixSignal.SIGTERM);

    /// <summary>True when the signal stops the work in progress and the run ends by it afterwards; false when its
    /// default action should end the process now.</summary>
    private bool Terminate(PosixSignal signal)
    {
        lock (_terminateLock)
        {
            // Waiting for input, nothing to finish: the default action ends the process. A second signal
            // TerminationSignals.ForceAfter or more after the first does too; two at once (GNU timeout) are one.
            if (Idle) return false;
            long now = Environment.TickCount64;
            if (_terminatedAt != 0 && now - _terminatedAt >= TerminationSignals.ForceAfter.TotalMilliseconds) return false;
            if (_terminatedAt == 0)
            {
                Volatile.Write(ref _terminatedBy, (int)signal);
                Interlocked.Exchange(ref _terminatedAt, now);
                // Work blocked in the kernel never sees the token (a chat's /load of a FIFO nobody writes): as for
                // patch, eval and search, the run ends by the signal when it has not stopped within the grace.
                if (!_disposed) _giveUp = TerminationSignals.GiveUpTimer(signal);
            }
        }
        SignalExit.Record(signal);
        CancelCurrent();
        return true;
    }

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        // .NET raises this event for SIGQUIT (Ctrl-\) too, as ControlBreak: that one ends the run, as SIGTERM does.
        if (e.SpecialKey == ConsoleSpecialKey.ControlBreak)
        {
            e.Cancel = Terminate(PosixSignal.SIGQUIT);
            return;
        }
        if (Idle)
        {
            // Setting up (loading the model, opening a prompt or log file): nothing to stop part-way or to clean up, and
            // the work may be blocked in the kernel where no token is looked at (opening a FIFO nobody writes waited for
            // ever). The default action ends the process now, by SIGINT (130), as SIGTERM's does then.
            if (OnIdleInterrupt is not { } hint) return;
            e.Cancel = true; // a chat waiting for input: said, and it goes on
            hint();
            return;
        }
        // A press the work has not answered for ForceAfter (blocked where no token is looked at): this one ends the run,
        // by SIGINT's default action (130).
        long cancelledAt = Interlocked.Read(ref _cancelledAt);
        if (cancelledAt != 0 && Environment.TickCount64 - cancelledAt >= TerminationSignals.ForceAfter.TotalMilliseconds) return;
        e.Cancel = true;
        SignalExit.Record(PosixSignal.SIGINT); // a run that ends 130 because of it dies of it (a chat that goes on does not)
        Interlocked.CompareExchange(ref _cancelledAt, Environment.TickCount64, 0);
        CancelCurrent();
    }

    /// <summary>Signal handlers run on a thread of their own: the source may have just been renewed (chat) or disposed
    /// (the run ended), which must not end the process with an ObjectDisposedException.</summary>
    private void CancelCurrent()
    {
        try { _cts.Cancel(); }
        catch (ObjectDisposedException) { }
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        _terminate?.Dispose();
        lock (_terminateLock)
        {
            _disposed = true; // a handler still running makes no timer now
            _giveUp?.Dispose(); // the run stopped in time (or was never signalled)
        }
        _cts.Dispose();
    }
}
