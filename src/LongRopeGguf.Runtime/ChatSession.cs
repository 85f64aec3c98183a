using System.Text;
using LLama;
using LLama.Exceptions;
using LLama.Native;

namespace LongRopeGguf.Runtime;

/// <summary>Chat settings: the system message, the per-turn budget and sampling, and how contexts are chosen.</summary>
public sealed record ChatOptions(
    string? System,
    GenerationOptions Generation,
    FactorSetChoice FactorSet = FactorSetChoice.Auto,
    int? ContextSize = null)
{
    /// <summary>The per-reply budget when the user sets none.</summary>
    public const int DefaultReplyTokens = 512;

    /// <summary>
    /// The per-reply budget for <paramref name="model"/> when the user sets none: <see cref="DefaultReplyTokens"/>, but
    /// at most a quarter of the original context. A chat reserves a whole reply in its context before the first turn, so
    /// a 512-token reserve could never start on a 512-token model, and on a LongRoPE file it would push even the first
    /// turn past the original context onto the long set.
    /// </summary>
    public static int DefaultReplyTokensFor(ModelContextInfo model) =>
        Math.Clamp(model.OriginalContextLength / 4, 1, DefaultReplyTokens);
}

/// <summary>Counters for <c>/stats</c>.</summary>
public sealed record ChatStats(int Tokens, ContextPlan? Plan, int Turns, int Moves, PrefillResult? LastPrefill, GenerationResult? LastGeneration);

/// <summary>A completed turn.</summary>
public sealed record ChatTurn(PrefillResult Prefill, GenerationResult Generation);

/// <summary>
/// A chat on top of a <see cref="Conversation"/>. With a chat template in the GGUF the transcript is rendered by it
/// (llama.cpp's template engine, through LLamaTemplate); without one the chat is a plain continuation: the user's
/// text is appended and the model continues it. Each turn re-renders the whole transcript and keeps the tokens it
/// shares with the history, so the KV cache is reused and nothing depends on how a reply was tokenized.
/// </summary>
public sealed class ChatSession : IDisposable
{
    private readonly LlamaModel _model;
    private readonly List<ChatMessage> _messages = new();
    private readonly bool _hasTemplate;
    private PrefillResult? _lastPrefill;
    private GenerationResult? _lastGeneration;
    private int _turns;

    public ChatSession(LlamaModel model, ChatOptions options)
    {
        _model = model;
        Options = options;
        options.Generation.Validate();
        (_hasTemplate, TemplateProblem) = ProbeTemplate(model.Weights);
        Conversation = new Conversation(model, new ConversationOptions(options.FactorSet, options.ContextSize, Growth: 2.0));
        if (!string.IsNullOrEmpty(options.System)) _messages.Add(new ChatMessage("system", options.System));
    }

    public ChatOptions Options { get; }

    public Conversation Conversation { get; }

    /// <summary>Whether the model's own chat template renders the transcript (else: plain continuation).</summary>
    public bool UsesTemplate => _hasTemplate;

    /// <summary>Why a chat template the GGUF carries is not used (llama.cpp does not recognise it); null when it is
    /// used or there is none.</summary>
    public string? TemplateProblem { get; }

    public IReadOnlyList<ChatMessage> Messages => _messages;

    public ChatStats Stats => new(Conversation.Tokens.Count, Conversation.Plan, _turns, Conversation.Moves.Count, _lastPrefill, _lastGeneration);

    /// <summary>Evaluates the system message (if any) so the first context exists before the first turn; returns its plan.</summary>
    public ContextPlan Start(CancellationToken cancellationToken = default)
    {
        var tokens = Render(addAssistant: false);
        if (tokens.Count > 0)
        {
            try
            {
                Conversation.SyncTo(tokens, Options.Generation.MaxTokens, cancellationToken);
            }
            catch (RuntimeInputException e) when (_messages.Count == 1 && _messages[0].Role == "system")
            {
                throw new RuntimeInputException($"--system: {e.Message}"); // said which text does not fit
            }
        }
        else
        {
            // The shortest first turn: BOS (where the model adds one) and a one-token message, then the reply's room. A
            // chat planned without the BOS started with -n context_length - 1 and refused every message.
            int prompt = 1 + (_model.Weights.Vocab.ShouldAddBOS ? 1 : 0);
            int n = Options.Generation.MaxTokens;
            Conversation.EnsureCapacity(ContextPlanner.Add(n, prompt), $"a first turn: prompt {prompt} or more + {n} to generate", cancellationToken);
        }
        return Conversation.Plan!;
    }

    /// <summary>The seed of reply <paramref name="reply"/> (0-based): <paramref name="seed"/> + reply, stepping over
    /// 0xFFFFFFFF, which llama.cpp takes as "draw a seed" (a chat with --seed 4294967294 did not repeat its second reply).</summary>
    public static uint ReplySeed(uint seed, int reply) => (uint)(((ulong)seed + (ulong)reply) % uint.MaxValue);

    /// <summary>Replies generated in this session, /reset included: the offset of the next reply's seed.</summary>
    private int _replies;

    /// <summary>One turn: the user's message in, the reply streamed to <paramref name="onText"/>.</summary>
    public ChatTurn Ask(string userText, Action<string>? onText, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(userText)) throw new RuntimeInputException("empty message");
        // Megabytes that cannot fit are refused by their size, before the tokenizer spends seconds and memory on them.
        PromptSizeBound.Refuse(_model.Info, _messages.Select(m => m.Content).Append(userText), Options.Generation.MaxTokens, "a conversation");
        _messages.Add(new ChatMessage("user", userText));
        PrefillResult prefill;
        try
        {
            prefill = Conversation.SyncTo(Render(addAssistant: true), Options.Generation.MaxTokens, cancellationToken);
        }
        catch
        {
            _messages.RemoveAt(_messages.Count - 1);
            throw;
        }
        // Each reply its own seed (seed + replies so far, /reset or not): one seed for every turn gave the same reply to the same question
        // after /reset; the chat still repeats with --seed N.
        var sampling = Options.Generation.Sampling;
        var options = sampling.Seed is { } seed ? Options.Generation with { Sampling = sampling with { Seed = ReplySeed(seed, _replies++) } } : Options.Generation;
        var generation = Conversation.Generate(options, onText, cancellationToken);
        _messages.Add(new ChatMessage("assistant", generation.Text));
        _lastPrefill = prefill;
        _lastGeneration = generation;
        _turns++;
        return new ChatTurn(prefill, generation);
    }

    /// <summary>Forgets the conversation (the system message stays) and goes back to a freshly planned context.</summary>
    public void Reset()
    {
        _messages.RemoveAll(m => m.Role != "system");
        Conversation.Reset();
        _turns = 0;
        _lastPrefill = null;
        _lastGeneration = null;
    }

    public ChatTranscript ToTranscript() => new(ChatTranscript.CurrentFormat, _model.Info.Path, _messages.ToList());

    /// <summary>Replaces the conversation with a saved one and evaluates it (it must fit the model).</summary>
    public PrefillResult Load(ChatTranscript transcript, CancellationToken cancellationToken)
    {
        PromptSizeBound.Refuse(_model.Info, transcript.Messages.Select(m => m.Content), Options.Generation.MaxTokens, "a transcript");
        var saved = _messages.ToList();
        _messages.Clear();
        _messages.AddRange(transcript.Messages);
        try
        {
            // A transcript that cannot fit is refused before the conversation's context is dropped: the chat goes on
            // as it was, its cache included (the next turn re-prefilled the whole history).
            var rendered = Render(addAssistant: false);
            int reserve = Options.Generation.MaxTokens;
            Conversation.CheckFits(ContextPlanner.Add(rendered.Count, reserve), $"prompt {rendered.Count} + {reserve} to generate");
        }
        catch
        {
            _messages.Clear();
            _messages.AddRange(saved);
            throw;
        }
        try
        {
            Conversation.Reset();
            var prefill = Conversation.SyncTo(Render(addAssistant: false), Options.Generation.MaxTokens, cancellationToken);
            _turns = _messages.Count(m => m.Role == "user");
            _lastPrefill = prefill;
            _lastGeneration = null; // the last reply was the conversation's that the transcript replaced
            return prefill;
        }
        catch
        {
            _messages.Clear();
            _messages.AddRange(saved);
            Conversation.Reset();
            throw;
        }
    }

    /// <summary>The whole transcript as tokens.</summary>
    public IReadOnlyList<LLamaToken> Render(bool addAssistant)
    {
        if (_messages.Count == 0) return [];
        var vocab = _model.Weights.Vocab;
        if (_hasTemplate)
        {
            var template = new LLamaTemplate(_model.Weights, strict: true) { AddAssistant = addAssistant };
            foreach (var m in _messages) template.Add(m.Role, m.Content);
            string text = Encoding.UTF8.GetString(template.Apply());
            string bosText = (vocab.BOS is { } bos ? vocab.LLamaTokenToString(bos, true) : null) ?? "";
            // Templates that write the BOS text themselves must not get a second BOS.
            bool addBos = vocab.ShouldAddBOS && !(bosText.Length > 0 && text.StartsWith(bosText, StringComparison.Ordinal));
            return _model.Tokenize(text, addBos, special: true);
        }
        var plain = new StringBuilder();
        foreach (var m in _messages)
        {
            plain.Append(m.Content);
            if (m.Role == "system") plain.Append('\n');
        }
        return _model.Tokenize(plain.ToString(), vocab.ShouldAddBOS, special: false);
    }

    public void Dispose() => Conversation.Dispose();

    /// <summary>
    /// Whether the GGUF's chat template can render a chat. llama.cpp renders only the templates it recognises (it
    /// matches them against known families, it does not run Jinja): a template it does not know is found when the model
    /// loads but fails at the first render, so one message is rendered here, before any turn.
    /// </summary>
    private static (bool Usable, string? Problem) ProbeTemplate(LLamaWeights weights)
    {
        LLamaTemplate template;
        try
        {
            template = new LLamaTemplate(weights, strict: true) { AddAssistant = true };
        }
        catch (Exception e) when (e is TemplateNotFoundException or MissingTemplateException)
        {
            return (false, null);
        }
        try
        {
            template.Add("user", "hello");
            _ = template.Apply();
            return (true, null);
        }
        catch (Exception e) when (e is TemplateNotFoundException or MissingTemplateException)
        {
            return (false, "llama.cpp does not recognise the GGUF's chat template (tokenizer.chat_template)");
        }
    }
}
