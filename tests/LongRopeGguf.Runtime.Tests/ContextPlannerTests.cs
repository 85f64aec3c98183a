using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Runtime.Tests;

/// <summary>The planner's arithmetic, on header descriptions (no llama.cpp needed), and the header reading it relies on.</summary>
public class ContextPlannerTests
{
    private static ModelContextInfo LongRope(int original, int contextLength) =>
        new("m.gguf", "m", "llama", contextLength, 32, HasLongRope: true, original, "longrope", 1f, null);

    private static ModelContextInfo Plain(int contextLength, string? scaling = null) =>
        new("m.gguf", "m", "llama", contextLength, 32, HasLongRope: false, contextLength, scaling, null, null);

    [Theory]
    [InlineData(4096, 1, 4096, FactorSetKind.Short)]
    [InlineData(4096, 4096, 4096, FactorSetKind.Short)]
    [InlineData(4096, 4097, 4352, FactorSetKind.Long)]
    [InlineData(4096, 10000, 10240, FactorSetKind.Long)]
    [InlineData(4000, 3840, 3840, FactorSetKind.Short)] // largest multiple of 256 not above 4000
    [InlineData(4000, 3841, 4096, FactorSetKind.Long)]  // 4096 > 4000 already selects long
    [InlineData(300, 200, 256, FactorSetKind.Short)]
    [InlineData(200, 100, 256, FactorSetKind.Long)]     // no context is small enough for the short set
    public void Auto_picks_the_short_set_while_the_work_fits_the_original_context(int original, int need, int size, FactorSetKind set)
    {
        var plan = ContextPlanner.Plan(LongRope(original, 131072), new ContextRequest(need));
        Assert.Equal(set, plan.FactorSet);
        Assert.Equal(size, plan.ContextSize);
        Assert.Equal(set, ContextPlanner.SetFor(LongRope(original, 131072), plan.ContextSize)); // what llama.cpp will select
    }

    [Theory]
    [InlineData(4000, 4001, "4001 tokens exceed the original context 4000")]
    [InlineData(300, 276, "276 tokens exceed 256, the largest context on the short set (contexts are multiples of 256; original context 300)")]
    [InlineData(100, 8, "8 tokens run on the long set: the original context 100 is below llama.cpp's smallest context (256)")]
    public void The_reason_for_the_long_set_is_the_one_that_holds(int original, int need, string reason)
    {
        // "276 tokens exceed the original context 300" (and "8 ... exceed ... 100") was said where the work fit the
        // original length and the rounding to 256 decided.
        var m = LongRope(original, 131072);
        var plan = ContextPlanner.Plan(m, new ContextRequest(need));
        Assert.Equal(FactorSetKind.Long, plan.FactorSet);
        Assert.Equal(reason, plan.Reason);
        Assert.Equal(original switch
        {
            4000 => "m (llama, 32 layers, context_length 131072; LongRoPE: short set up to 3840 tokens (original context 4000; contexts are multiples of 256), long set above)",
            300 => "m (llama, 32 layers, context_length 131072; LongRoPE: short set up to 256 tokens (original context 300; contexts are multiples of 256), long set above)",
            _ => "m (llama, 32 layers, context_length 131072; LongRoPE: long set at every size (the original context 100 is below llama.cpp's smallest context, 256))",
        }, StartupReport.Model(m));
        Assert.Equal("m (llama, 32 layers, context_length 131072; LongRoPE: short set up to 4096 tokens, long set above)", StartupReport.Model(LongRope(4096, 131072)));
        Assert.Equal("fixed by --context 300 (rounded to 512); plain RoPE", ContextPlanner.Plan(Plain(4096), new ContextRequest(5, ContextSize: 300)).Reason);
    }

    [Fact]
    public void A_short_set_never_gets_a_context_above_the_models_context_length()
    {
        // An original length above context_length (a malformed file verify refuses) planned a 99840-token context for
        // five tokens; the short set now stops at the model's context length.
        var m = LongRope(100000, 4096);
        Assert.Equal(4096, ContextPlanner.ShortContextSize(m));
        var plan = ContextPlanner.Plan(m, new ContextRequest(5));
        Assert.Equal((4096, FactorSetKind.Short), (plan.ContextSize, plan.FactorSet));
        Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(m, new ContextRequest(5000)));
    }

    [Fact]
    public void A_token_count_plus_a_budget_saturates_rather_than_wrapping_to_a_negative_need()
    {
        Assert.Equal(int.MaxValue, ContextPlanner.Add(3, int.MaxValue - 2));
        Assert.Equal(10, ContextPlanner.Add(3, 7));
        var e = Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(LongRope(512, 4096), new ContextRequest(ContextPlanner.Add(3, 2147483645), "prompt 3 + 2147483645 to generate")));
        Assert.Equal("over 2147483646 tokens (prompt 3 + 2147483645 to generate) do not fit: the model's context_length is 4096", e.Message);
    }

    [Fact]
    public void Growth_room_is_capped_by_the_models_context_length()
    {
        var m = LongRope(4096, 8192);
        Assert.Equal(8192, ContextPlanner.Plan(m, new ContextRequest(5000, PreferredTokens: 10000)).ContextSize);
        Assert.Equal(6144, ContextPlanner.Plan(m, new ContextRequest(5000, PreferredTokens: 6000)).ContextSize);
        var e = Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(m, new ContextRequest(9000, "prompt 8000 + 1000 to generate")));
        Assert.Equal("9000 tokens (prompt 8000 + 1000 to generate) do not fit: the model's context_length is 8192", e.Message);
    }

    [Fact]
    public void Forced_and_fixed_choices_are_honoured_or_refused_with_the_reason()
    {
        var m = LongRope(4096, 131072);
        var forcedLong = ContextPlanner.Plan(m, new ContextRequest(100, FactorSet: FactorSetChoice.Long));
        Assert.Equal((4352, FactorSetKind.Long), (forcedLong.ContextSize, forcedLong.FactorSet));
        var forcedShort = ContextPlanner.Plan(m, new ContextRequest(100, FactorSet: FactorSetChoice.Short));
        Assert.Equal((4096, FactorSetKind.Short), (forcedShort.ContextSize, forcedShort.FactorSet));
        Assert.Contains("do not fit the short set, which holds at most 4096 tokens",
            Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(m, new ContextRequest(5000, FactorSet: FactorSetChoice.Short))).Message);

        var fixedPlan = ContextPlanner.Plan(m, new ContextRequest(100, ContextSize: 5000));
        Assert.Equal((5120, FactorSetKind.Long), (fixedPlan.ContextSize, fixedPlan.FactorSet));
        Assert.Equal("fixed by --context 5000 (rounded to 5120): 5120 > original context 4096", fixedPlan.Reason);
        Assert.Contains("runs a 5120-token context on the long set",
            Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(m, new ContextRequest(100, FactorSet: FactorSetChoice.Short, ContextSize: 5000))).Message);
        Assert.Contains("runs on the short set",
            Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(m, new ContextRequest(100, FactorSet: FactorSetChoice.Long, ContextSize: 2048))).Message);
        Assert.Equal("300 tokens do not fit --context 256",
            Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(m, new ContextRequest(300, ContextSize: 256))).Message);
    }

    [Fact]
    public void Models_without_longrope_get_a_context_sized_for_the_work()
    {
        var plan = ContextPlanner.Plan(Plain(8192), new ContextRequest(1000));
        Assert.Equal((1024, FactorSetKind.None), (plan.ContextSize, plan.FactorSet));
        Assert.StartsWith("plain RoPE, no factor sets to switch", plan.Reason);
        var yarn = ContextPlanner.Plan(Plain(32768, "yarn"), new ContextRequest(1000));
        Assert.StartsWith("built-in yarn scaling", yarn.Reason);
        Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(Plain(512), new ContextRequest(600)));
    }

    [Fact]
    public void Header_reading_finds_the_longrope_keys_and_tensors()
    {
        var tiny = ModelContextInfo.Read(TestPaths.TinyModel);
        Assert.Equal(("llama", 512, 6, false, 512), (tiny.Architecture, tiny.ContextLength, tiny.LayerCount, tiny.HasLongRope, tiny.OriginalContextLength));
        Assert.Null(tiny.Warning);

        var patched = ModelContextInfo.Read(PatchedModelFixture.PatchedModel);
        Assert.Equal((4096, true, 512, "longrope"), (patched.ContextLength, patched.HasLongRope, patched.OriginalContextLength, patched.ScalingType));
        Assert.Equal(1f, patched.AttnFactor);

        // longrope declared but no tensors: llama.cpp would silently run plain RoPE; we say so and do not switch sets.
        using var dir = new TempDir();
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit()
            .SetValue("llama.rope.scaling.type", GgufValue.String("longrope"))
            .SetValue("llama.rope.scaling.original_context_length", GgufValue.UInt32(256)), dir.File("x.gguf"));
        var declared = ModelContextInfo.Read(dir.File("x.gguf"));
        Assert.False(declared.HasLongRope);
        Assert.Equal(256, declared.OriginalContextLength);
        Assert.Contains("no factor tensors", declared.Warning);
    }

    // The cases below were found by a mutation run: each plan was right, and no test would have noticed it going wrong.

    [Fact]
    public void The_long_set_forced_on_a_model_with_no_room_above_its_original_context_is_refused()
    {
        var e = Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(LongRope(4096, 4096), new ContextRequest(100, FactorSet: FactorSetChoice.Long)));
        Assert.Equal("the long set needs a context above the original 4096 tokens, but the model's context_length is 4096", e.Message);
    }

    [Fact]
    public void A_fixed_context_holds_work_up_to_its_rounded_size()
    {
        // --context 300 runs a 512-token context: 400 tokens of work fit it.
        var p = ContextPlanner.Plan(LongRope(4096, 131072), new ContextRequest(400, ContextSize: 300));
        Assert.Equal((512, FactorSetKind.Short), (p.ContextSize, p.FactorSet));
        Assert.Equal("fixed by --context 300 (rounded to 512): 512 <= original context 4096", p.Reason);
    }

    [Fact]
    public void Work_of_exactly_a_non_multiple_original_length_is_said_to_exceed_the_short_sets_top()
    {
        var p = ContextPlanner.Plan(LongRope(4000, 131072), new ContextRequest(4000));
        Assert.Equal((4096, FactorSetKind.Long), (p.ContextSize, p.FactorSet));
        Assert.Equal("4000 tokens exceed 3840, the largest context on the short set (contexts are multiples of 256; original context 4000)", p.Reason);
    }

    [Fact]
    public void A_plain_model_gets_the_room_to_grow_a_chat_asks_for()
    {
        // Without it every turn of a chat on a plain model moved to a bigger context, prefilling the history again.
        Assert.Equal(2048, ContextPlanner.Plan(Plain(8192), new ContextRequest(1000, PreferredTokens: 2000)).ContextSize);
    }

    [Fact]
    public void The_short_set_forced_refuses_work_above_its_rounded_top()
    {
        var e = Assert.Throws<RuntimeInputException>(() => ContextPlanner.Plan(LongRope(4000, 131072), new ContextRequest(3900, FactorSet: FactorSetChoice.Short)));
        Assert.Contains("do not fit the short set, which holds at most 3840 tokens (original context 4000)", e.Message);
    }
}

/// <summary>Bench settings it cannot measure are refused in one line naming the option.</summary>
public class BenchOptionsTests
{
    [Theory]
    [InlineData(1, "--move-tokens 1: must be 0 (skip) or at least 2")]
    [InlineData(-1, "--move-tokens -1: must be 0 (skip) or at least 2")]
    public void A_move_of_fewer_than_two_tokens_is_refused(int moveTokens, string expected)
    {
        var e = Assert.Throws<RuntimeInputException>(() => new BenchOptions([256], MoveTokens: moveTokens).Validate());
        Assert.Equal(expected, e.Message);
        new BenchOptions([256], MoveTokens: 0).Validate();
        new BenchOptions([256], MoveTokens: 2).Validate();
    }
}
