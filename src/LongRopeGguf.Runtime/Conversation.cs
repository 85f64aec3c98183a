using System.Diagnostics;
using System.Text;
using LLama;
using LLama.Native;

namespace LongRopeGguf.Runtime;

/// <summary>How a conversation sizes its context.</summary>
/// <param name="Growth">Ask for this many times the tokens needed when a context is (re)planned, so a growing chat
/// does not move at every turn. 1 for one-shot generation.</param>
public sealed record ConversationOptions(FactorSetChoice FactorSet = FactorSetChoice.Auto, int? ContextSize = null, double Growth = 1.0);

/// <summary>
/// A token sequence evaluated in one context at a time. Keeps its full token history, so that when the next piece of
/// work no longer fits (for a LongRoPE model: no longer fits the short set), it moves to a context planned for it and
/// evaluates the whole history there again; no token is lost and the weights are never reloaded.
/// </summary>
public sealed class Conversation : IDisposable
{
    private readonly LlamaModel _model;
    private readonly List<LLamaToken> _tokens = new();
    private readonly List<ContextMove> _moves = new();
    private ModelContext? _context;
    private int _evaluated; // _tokens[.._evaluated] are in the context's KV cache

    public Conversation(LlamaModel model, ConversationOptions? options = null)
    {
        _model = model;
        Options = options ?? new ConversationOptions();
        if (Options.Growth < 1.0) throw new ArgumentOutOfRangeException(nameof(options), "growth must be at least 1");
    }

    public ConversationOptions Options { get; }

    public LlamaModel Model => _model;

    /// <summary>Every token of the conversation, evaluated or not.</summary>
    public IReadOnlyList<LLamaToken> Tokens => _tokens;

    /// <summary>The context in use; null before the first evaluation.</summary>
    public ModelContext? Context => _context;

    public ContextPlan? Plan => _context?.Plan;

    /// <summary>Every move so far, oldest first.</summary>
    public IReadOnlyList<ContextMove> Moves => _moves;

    /// <summary>Raised after each move, before generation goes on.</summary>
    public event Action<ContextMove>? Moved;

    /// <summary>Throws as planning a fresh context for <paramref name="tokens"/> would (after <see cref="Reset"/>),
    /// changing nothing: for work that would otherwise drop the current context before it finds out (chat's /load).
    /// The memory check of the context itself is not made here.</summary>
    public void CheckFits(int tokens, string? detail = null) => ContextPlanner.Plan(_model.Info, Request(tokens, detail));

    private ContextRequest Request(int tokens, string? detail) => new(
        tokens, detail,
        PreferredTokens: Options.Growth > 1.0 ? (int)Math.Min(int.MaxValue, tokens * Options.Growth) : null,
        FactorSet: Options.FactorSet,
        ContextSize: Options.ContextSize);

    /// <summary>
    /// Makes sure a context exists that holds <paramref name="tokens"/> tokens, moving the conversation if needed.
    /// Returns the move, if one happened.
    /// </summary>
    public ContextMove? EnsureCapacity(int tokens, string? detail = null, CancellationToken cancellationToken = default)
    {
        if (_context is not null && tokens <= _context.Size) return null;
        var plan = ContextPlanner.Plan(_model.Info, Request(tokens, detail));
        // A context that holds nothing evaluated yet (a chat's first message, longer than the start planned for) is
        // replaced, not moved from: there is nothing to prefill again, and no move to count.
        if (_context is null || _evaluated == 0)
        {
            if (_context is { } empty)
            {
                _context = null;
                _model.ReleaseContext(empty);
            }
            _context = _model.AcquireContext(plan);
            _evaluated = 0;
            return null;
        }
        return MoveTo(plan, cancellationToken);
    }

    /// <summary>
    /// Adds <paramref name="tokens"/> and evaluates every pending token, first making room for them plus
    /// <paramref name="reserve"/> more (the generation budget).
    /// </summary>
    public PrefillResult Append(IReadOnlyList<LLamaToken> tokens, int reserve = 0, CancellationToken cancellationToken = default)
    {
        if (reserve < 0) throw new ArgumentOutOfRangeException(nameof(reserve));
        int need = ContextPlanner.Add(ContextPlanner.Add(_tokens.Count, tokens.Count), reserve);
        string detail = _tokens.Count == 0
            ? $"prompt {tokens.Count} + {reserve} to generate"
            : $"history {_tokens.Count} + {tokens.Count} new + {reserve} to generate";
        _tokens.AddRange(tokens);
        int before = _evaluated;
        try
        {
            // A move evaluates the whole history in the new context; otherwise only the pending tokens are evaluated.
            var move = EnsureCapacity(need, detail, cancellationToken);
            if (move is not null) return new PrefillResult(move.TokensReprefilled, move.ReprefillTime, move);
            var sw = Stopwatch.StartNew();
            EvaluatePending(cancellationToken);
            return new PrefillResult(_evaluated - before, sw.Elapsed, null);
        }
        catch
        {
            // Nothing of a failed append stays: the history is what the caller had before.
            TruncateTo(_tokens.Count - tokens.Count);
            throw;
        }
    }

    /// <summary>
    /// Brings the history to <paramref name="tokens"/>: keeps the common prefix (its KV stays valid), drops the rest,
    /// appends the new tail. Used by chat, which re-renders the whole transcript each turn.
    /// </summary>
    public PrefillResult SyncTo(IReadOnlyList<LLamaToken> tokens, int reserve, CancellationToken cancellationToken = default)
    {
        int common = 0;
        int max = Math.Min(tokens.Count, _tokens.Count);
        while (common < max && tokens[common] == _tokens[common]) common++;
        TruncateTo(common);
        return Append(tokens.Skip(common).ToList(), reserve, cancellationToken);
    }

    /// <summary>Drops tokens from the end of the history, and their KV.</summary>
    public void TruncateTo(int count)
    {
        if (count < 0 || count > _tokens.Count) throw new ArgumentOutOfRangeException(nameof(count));
        _tokens.RemoveRange(count, _tokens.Count - count);
        if (_evaluated > count)
        {
            _context?.RemoveFrom(count);
            _evaluated = count;
        }
    }

    /// <summary>Next-token logits after the whole history (evaluating what is pending first).</summary>
    public float[] CurrentLogits(CancellationToken cancellationToken = default)
    {
        EnsureLogits(cancellationToken);
        return _context!.Logits.ToArray();
    }

    /// <summary>
    /// Samples up to <see cref="GenerationOptions.MaxTokens"/> tokens after the history, streaming their text to
    /// <paramref name="onText"/>. Cancellation stops it early and keeps what was generated.
    /// </summary>
    public GenerationResult Generate(GenerationOptions options, Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (_tokens.Count == 0) throw new RuntimeInputException("nothing to continue: the prompt is empty");
        EnsureCapacity(ContextPlanner.Add(_tokens.Count, options.MaxTokens), $"history {_tokens.Count} + {options.MaxTokens} to generate", cancellationToken);
        EnsureLogits(cancellationToken);

        var vocab = _model.Weights.Vocab;
        using var sampler = TokenSampler.Create(options.Sampling);
        var decoder = new StreamingTokenDecoder(Encoding.UTF8, _model.Weights);
        var stops = new StopStringMatcher(options.StopStrings);
        var text = new StringBuilder();
        var reason = StopReason.MaxTokens;
        int generated = 0;
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (cancellationToken.IsCancellationRequested) { reason = StopReason.Cancelled; break; }
            LLamaToken token = sampler.Sample(_context!);
            if (options.StopAtEndOfGeneration && token.IsEndOfGeneration(vocab)) { reason = StopReason.EndOfGeneration; break; }
            _tokens.Add(token);
            generated++;
            decoder.Add(token);
            string shown = stops.Push(decoder.Read());
            if (shown.Length > 0) { text.Append(shown); onText?.Invoke(shown); }
            if (stops.Stopped) { reason = StopReason.StopString; break; }
            if (generated == options.MaxTokens) break; // the last token is evaluated by the next turn, if any
            _context!.EvaluateOne(token, _tokens.Count - 1);
            _evaluated = _tokens.Count;
        }
        string rest = stops.Flush();
        if (rest.Length > 0) { text.Append(rest); onText?.Invoke(rest); }
        return new GenerationResult(text.ToString(), generated, reason, sw.Elapsed);
    }

    /// <summary>Empties the conversation, its record of moves included (chat's /stats after /reset showed the old one),
    /// and gives its context back (a new one is planned for the next work).</summary>
    public void Reset()
    {
        _tokens.Clear();
        _moves.Clear();
        _evaluated = 0;
        if (_context is not null) _model.ReleaseContext(_context);
        _context = null;
    }

    public void Dispose() => Reset();

    private ContextMove MoveTo(ContextPlan plan, CancellationToken cancellationToken)
    {
        var from = _context!;
        int fromEvaluated = _evaluated;
        var sw = Stopwatch.StartNew();
        var to = _model.AcquireContext(plan);
        var createTime = sw.Elapsed;
        _context = to;
        _evaluated = 0;
        sw.Restart();
        try
        {
            EvaluatePending(cancellationToken);
        }
        catch
        {
            // Interrupted or failed re-prefill: stay where we were (that context's cache is untouched).
            _context = from;
            _evaluated = fromEvaluated;
            _model.ReleaseContext(to);
            throw;
        }
        _model.ReleaseContext(from);
        var move = new ContextMove(from.Plan, to.Plan, _tokens.Count, createTime, sw.Elapsed);
        _moves.Add(move);
        Moved?.Invoke(move);
        return move;
    }

    private void EvaluatePending(CancellationToken cancellationToken)
    {
        if (_evaluated >= _tokens.Count) return;
        if (_context is null) EnsureCapacity(_tokens.Count, null, cancellationToken);
        var pending = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_tokens)[_evaluated..];
        try
        {
            _context!.Evaluate(pending, _evaluated, cancellationToken);
            _evaluated = _tokens.Count;
        }
        catch
        {
            // A partly evaluated batch run leaves an unknown KV tail: drop it, the tokens stay pending.
            _context!.RemoveFrom(_evaluated);
            throw;
        }
    }

    private void EnsureLogits(CancellationToken cancellationToken)
    {
        if (_tokens.Count == 0) throw new InvalidOperationException("no tokens: nothing has logits");
        if (_context is null) EnsureCapacity(_tokens.Count, null, cancellationToken);
        if (_evaluated == _tokens.Count && _context!.HasLogits) return;
        if (_evaluated == _tokens.Count)
        {
            // Fully evaluated but the logits are gone (a truncation): evaluate the last token again.
            _context!.RemoveFrom(_tokens.Count - 1);
            _evaluated = _tokens.Count - 1;
        }
        EvaluatePending(cancellationToken);
    }
}
