using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;
using static LongRopeGguf.Tests.LogitMath;

namespace LongRopeGguf.Runtime.Tests;

/// <summary>A conversation that outgrows the short set moves to the long set once, losing nothing and loading nothing.</summary>
public class ConversationMoveTests
{
    private static readonly GenerationOptions Greedy32 = new(32, SamplingOptions.Greedy, StopAtEndOfGeneration: false);

    [Fact]
    public void A_conversation_growing_from_400_to_900_tokens_moves_once_and_matches_a_fresh_long_prefill()
    {
        using var model = Load(PatchedModelFixture.PatchedModel);
        int weightLoads = LlamaModel.WeightLoads, llamaLoads = NativeRuntime.Log.ModelLoads, contexts = model.ContextsCreated;
        using var conversation = new Conversation(model, new ConversationOptions(Growth: 2.0));
        var moves = new List<ContextMove>();
        conversation.Moved += moves.Add;

        // Turn 1: 400 tokens + 32 generated fit the short context.
        var turn1 = model.Tokenize(PassKeyPrompt(399, 0.3, 27182), addBos: true);
        conversation.Append(turn1, reserve: 32);
        Assert.Equal(FactorSetKind.Short, conversation.Plan!.FactorSet);
        var reply1 = conversation.Generate(Greedy32);
        Assert.StartsWith("27182", reply1.Text);
        int afterTurn1 = conversation.Tokens.Count;
        Assert.Equal(432, afterTurn1);

        // Turn 2 brings the conversation to ~900 tokens: it no longer fits the short context with its budget.
        var turn2 = model.Tokenize(" " + PassKeyPrompt(467, 0.5, 14142), addBos: false);
        var prefill = conversation.Append(turn2, reserve: 32);
        int total = afterTurn1 + turn2.Length;
        Assert.InRange(total, 895, 905);

        var move = Assert.Single(moves);
        Assert.Same(move, prefill.Move);
        Assert.Equal(FactorSetKind.Short, move.From.FactorSet);
        Assert.Equal(512, move.From.ContextSize);
        Assert.Equal(FactorSetKind.Long, move.To.FactorSet);
        Assert.Equal(2048, move.To.ContextSize); // twice the need (900 + 32), rounded up to 256
        Assert.Equal(total, move.TokensReprefilled);
        Assert.StartsWith("moved to the long factor set (n_ctx 2048): ", move.Describe());

        // The logits after the move equal a fresh long-context prefill of the same tokens (no runner code involved).
        float diff = MaxAbsDiff(conversation.CurrentLogits(), FactorSetTests.DirectPrefill(model, conversation.Plan!, conversation.Tokens));
        Assert.True(diff <= 1e-3f, $"after the move the logits differ from a fresh long prefill by {diff}");

        // The turn goes on in the long context, token for token what the fresh context would generate.
        var history = conversation.Tokens.ToList();
        var reply2 = conversation.Generate(new GenerationOptions(5, SamplingOptions.Greedy));
        Assert.Equal(FactorSetTests.DirectGreedy(model, conversation.Plan!, history, 5).Text, reply2.Text);
        Assert.Equal(history, conversation.Tokens.Take(history.Count)); // nothing lost

        // No weights were loaded for the move: the runner's counter and llama.cpp's own log agree.
        Assert.Equal(weightLoads, LlamaModel.WeightLoads);
        Assert.Equal(llamaLoads, NativeRuntime.Log.ModelLoads);
        Assert.Equal(contexts + 2, model.ContextsCreated); // the short one and the long one, nothing else
        Assert.Single(conversation.Moves);
    }

    [Fact]
    public void After_a_reset_the_conversation_returns_to_the_kept_short_context()
    {
        using var model = Load(PatchedModelFixture.PatchedModel);
        using var conversation = new Conversation(model, new ConversationOptions(Growth: 2.0));
        conversation.Append(model.Tokenize(PassKeyPrompt(299, 0.5, 31415), addBos: true), reserve: 16);
        var shortContext = conversation.Context;
        conversation.Append(model.Tokenize(new string('a', 400), addBos: false), reserve: 16);
        Assert.Equal(FactorSetKind.Long, conversation.Plan!.FactorSet);
        int created = model.ContextsCreated;

        Assert.Single(conversation.Moves);
        conversation.Reset();
        Assert.Empty(conversation.Tokens);
        Assert.Empty(conversation.Moves);
        conversation.Append(model.Tokenize(PassKeyPrompt(299, 0.5, 31415), addBos: true), reserve: 5);
        Assert.Same(shortContext, conversation.Context); // short and long contexts live side by side; neither is rebuilt
        Assert.Equal(created, model.ContextsCreated);
        Assert.Equal("31415", conversation.Generate(new GenerationOptions(5, SamplingOptions.Greedy)).Text);
    }

    [Fact]
    public void An_interrupted_move_leaves_the_conversation_on_the_short_set_intact()
    {
        using var model = Load(PatchedModelFixture.PatchedModel);
        using var conversation = new Conversation(model, new ConversationOptions(Growth: 2.0));
        var prompt = model.Tokenize(PassKeyPrompt(299, 0.5, 31415), addBos: true);
        conversation.Append(prompt, reserve: 5);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => conversation.Append(model.Tokenize(new string('a', 400), addBos: false), 5, cancelled.Token));
        Assert.Equal(FactorSetKind.Short, conversation.Plan!.FactorSet);
        Assert.Equal(prompt, conversation.Tokens);
        Assert.Empty(conversation.Moves);
        Assert.Equal("31415", conversation.Generate(new GenerationOptions(5, SamplingOptions.Greedy)).Text);
    }

    [Fact]
    public void A_plain_chat_moves_once_and_keeps_answering_from_the_whole_history()
    {
        using var model = Load(PatchedModelFixture.PatchedModel);
        int weightLoads = LlamaModel.WeightLoads;
        using var chat = new ChatSession(model, new ChatOptions(null, new GenerationOptions(8, SamplingOptions.Greedy, ["."])));
        Assert.False(chat.UsesTemplate); // the tiny model has no chat template: plain continuation
        var start = chat.Start();
        Assert.Equal(FactorSetKind.Short, start.FactorSet);

        var first = chat.Ask(PassKeyPrompt(399, 0.2, 27182), null, CancellationToken.None);
        Assert.Equal("27182", first.Generation.Text);
        Assert.Null(first.Prefill.Move);
        Assert.Equal(FactorSetKind.Short, chat.Stats.Plan!.FactorSet);

        // The second turn asks again with ~460 more tokens of filler: the conversation moves to the long set, and the
        // key from the first turn (now ~850 tokens back) is still found.
        var streamed = new List<string>();
        var question = ". " + PassKeyPrompt(460, 0.5, 0).Replace("The pass key is 0. Remember it. 0 is the pass key. ", "");
        var second = chat.Ask(question, streamed.Add, CancellationToken.None);
        Assert.NotNull(second.Prefill.Move);
        Assert.Equal(FactorSetKind.Long, chat.Stats.Plan!.FactorSet);
        Assert.Equal("27182", second.Generation.Text);
        Assert.Equal("27182", string.Concat(streamed));
        Assert.Equal(1, chat.Stats.Moves);
        Assert.Equal(2, chat.Stats.Turns);
        Assert.Equal(weightLoads, LlamaModel.WeightLoads);
        Assert.Equal(["user", "assistant", "user", "assistant"], chat.Messages.Select(m => m.Role));
    }

    [Fact]
    public void A_saved_chat_loads_back_into_the_same_tokens()
    {
        using var model = Load(PatchedModelFixture.PatchedModel);
        using var dir = new TempDir();
        var options = new ChatOptions("Remember the key.", new GenerationOptions(5, SamplingOptions.Greedy));
        using var chat = new ChatSession(model, options);
        chat.Start();
        chat.Ask(PassKeyPrompt(299, 0.5, 31415), null, CancellationToken.None);
        var tokens = chat.Conversation.Tokens.ToList();
        chat.ToTranscript().Save(dir.File("t.json"));

        using var other = new ChatSession(model, options);
        var loaded = ChatTranscript.Load(dir.File("t.json"));
        Assert.Equal(chat.Messages, loaded.Messages);
        other.Load(loaded, CancellationToken.None);
        Assert.Equal(chat.Messages, other.Messages);
        Assert.Equal(tokens, other.Conversation.Tokens);
        Assert.Equal(1, other.Stats.Turns);

        // The reply of the conversation a transcript replaced is not the loaded one's "last reply" (/stats showed it).
        other.Ask("Again", null, CancellationToken.None);
        Assert.NotNull(other.Stats.LastGeneration);
        other.Load(loaded, CancellationToken.None);
        Assert.Null(other.Stats.LastGeneration);
    }

    [Fact]
    public void A_first_message_longer_than_the_start_planned_for_gets_a_long_context_without_a_move()
    {
        // The chat's start context held nothing; a first message of 1000 tokens was reported as "moved to the long
        // set: 1001 tokens re-prefilled" and counted as a move.
        using var model = Load(PatchedModelFixture.PatchedModel);
        using var chat = new ChatSession(model, new ChatOptions(null, new GenerationOptions(5, SamplingOptions.Greedy)));
        Assert.Equal(FactorSetKind.Short, chat.Start().FactorSet);
        var turn = chat.Ask(PassKeyPrompt(999, 0.5, 31415), null, CancellationToken.None);
        Assert.Null(turn.Prefill.Move);
        Assert.Equal(0, chat.Stats.Moves);
        Assert.Equal(FactorSetKind.Long, chat.Stats.Plan!.FactorSet);
        Assert.Equal(1000, turn.Prefill.Tokens);
    }

    [Fact]
    public void Work_that_exactly_fills_the_context_does_not_move()
    {
        using var model = Load(PatchedModelFixture.PatchedModel);
        using var c = new Conversation(model, new ConversationOptions(Growth: 2.0));
        var prompt = model.Tokenize(PassKeyPrompt(299, 0.5, 31415), addBos: true);
        c.Append(prompt, reserve: 0);
        var context = c.Context;
        Assert.Equal(512, context!.Size);
        var r = c.Append([], reserve: 512 - prompt.Length);
        Assert.Null(r.Move);
        Assert.Empty(c.Moves);
        Assert.Same(context, c.Context);
    }

    [Fact]
    public void Generation_makes_room_for_its_own_budget()
    {
        // Callers reserve the budget first; a library caller that did not got "position 512 is beyond the 512-token
        // context" had Generate not made the room itself.
        using var model = Load(PatchedModelFixture.PatchedModel);
        using var c = new Conversation(model);
        c.Append(model.Tokenize(PassKeyPrompt(299, 0.5, 31415), addBos: true), reserve: 0);
        Assert.Equal(FactorSetKind.Short, c.Plan!.FactorSet);
        var r = c.Generate(new GenerationOptions(300, SamplingOptions.Greedy, StopAtEndOfGeneration: false));
        Assert.Equal(300, r.TokenCount);
        Assert.Equal(FactorSetKind.Long, c.Plan!.FactorSet);
        Assert.Single(c.Moves);
    }

    [Fact]
    public void A_reset_keeps_the_system_message()
    {
        using var model = Load(TestPaths.TinyModel);
        using var chat = new ChatSession(model, new ChatOptions("Remember the key.", new GenerationOptions(3, SamplingOptions.Greedy)));
        chat.Start();
        chat.Ask("Hello", null, CancellationToken.None);
        chat.Reset();
        Assert.Equal([new ChatMessage("system", "Remember the key.")], chat.Messages);
    }
}
