using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;
using static LongRopeGguf.Runtime.Tests.RuntimeTestEnvironment;

namespace LongRopeGguf.Runtime.Tests;

/// <summary>With a chat template in the GGUF, turns are rendered by it and the KV cache of earlier turns is reused.</summary>
public class ChatTemplateTests
{
    private const string ChatMl =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    [Fact]
    public void A_templated_chat_renders_with_the_models_template_and_evaluates_only_what_is_new()
    {
        using var dir = new TempDir();
        string path = dir.File("chatml.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue("tokenizer.chat_template", GgufValue.String(ChatMl)), path);
        using var model = Load(path);
        using var chat = new ChatSession(model, new ChatOptions("Be brief.", new GenerationOptions(4, SamplingOptions.Greedy)));
        Assert.True(chat.UsesTemplate);

        chat.Start();
        string systemText = "<|im_start|>system\nBe brief.<|im_end|>\n";
        Assert.Equal(model.Tokenize(systemText, addBos: true, special: true), chat.Conversation.Tokens);

        var first = chat.Ask("The grass is", null, CancellationToken.None);
        int turn1 = ("<|im_start|>user\nThe grass is<|im_end|>\n<|im_start|>assistant\n").Length;
        Assert.Equal(turn1, first.Prefill.Tokens); // the system part was not evaluated again (one token per character)
        Assert.Equal(4, first.Generation.TokenCount);

        int before = chat.Conversation.Tokens.Count;
        var second = chat.Ask("The sky is", null, CancellationToken.None);
        string expected = systemText + "<|im_start|>user\nThe grass is<|im_end|>\n<|im_start|>assistant\n" + first.Generation.Text +
                          "<|im_end|>\n<|im_start|>user\nThe sky is<|im_end|>\n<|im_start|>assistant\n";
        var rendered = model.Tokenize(expected, addBos: true, special: true);
        Assert.Equal(rendered, chat.Conversation.Tokens.Take(rendered.Length));
        // Only the new turn went through the model, plus the reply's last token (sampled, not yet evaluated).
        Assert.Equal(rendered.Length - before + 1, second.Prefill.Tokens);
    }

    [Fact]
    public void A_template_llama_cpp_does_not_recognise_falls_back_to_plain_continuation_and_says_why()
    {
        using var dir = new TempDir();
        string path = dir.File("unknown-template.gguf");
        GgufRewriter.Rewrite(GgufReader.Read(TestPaths.TinyModel), new GgufEdit().SetValue("tokenizer.chat_template", GgufValue.String("{{ garbage")), path);
        using var model = Load(path);
        using var chat = new ChatSession(model, new ChatOptions("Be brief.", new GenerationOptions(4, SamplingOptions.Greedy)));
        Assert.False(chat.UsesTemplate);
        Assert.Equal("llama.cpp does not recognise the GGUF's chat template (tokenizer.chat_template)", chat.TemplateProblem);
        chat.Start();
        var turn = chat.Ask("The grass is", null, CancellationToken.None);
        Assert.Equal(4, turn.Generation.TokenCount);
        var plainText = model.Tokenize("Be brief.\nThe grass is", addBos: true, special: false);
        Assert.Equal(plainText, chat.Conversation.Tokens.Take(plainText.Length));

        // The command says so at start-up and chats on (it ended with a .NET stack trace and exit 1).
        using var cli = new Cli.IsolatedCli();
        var r = cli.Run("chat", path, "--system", "hi", "-n", "4");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("llama.cpp does not recognise the GGUF's chat template (tokenizer.chat_template): plain continuation", r.Stderr);
        Assert.DoesNotContain("Exception", r.Stderr);

        // A model without a template is not said to have an unrecognised one.
        using var plainModel = Load(TestPaths.TinyModel);
        using var plain = new ChatSession(plainModel, new ChatOptions(null, new GenerationOptions(4, SamplingOptions.Greedy)));
        Assert.False(plain.UsesTemplate);
        Assert.Null(plain.TemplateProblem);
    }
}
