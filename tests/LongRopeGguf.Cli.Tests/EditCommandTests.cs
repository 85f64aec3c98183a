using System.Security.Cryptography;
using System.Text.Json;
using LongRopeGguf.Cli.Commands;
using LongRopeGguf.Gguf;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Cli.Tests;

public class EditCommandTests
{
    [Fact]
    public void Edit_sets_and_removes_keys_and_keeps_everything_else_byte_for_byte()
    {
        using var dir = new TempDir();
        string output = dir.File("edited.gguf");
        byte[] sourceHash = Hash(TestPaths.TinyModel);

        var r = CliProcess.Run("edit", TestPaths.TinyModel, "-o", output,
            "--set", "general.name=string:renamed: a=b",
            "--set", "llama.context_length=uint32:4096",
            "--set", "test.new_key=float64:-2.5e-3",
            "--remove", "general.description",
            "--json");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Empty(r.Stderr);
        Assert.Equal(sourceHash, Hash(TestPaths.TinyModel));
        var source = GgufReader.Read(TestPaths.TinyModel);
        var edited = GgufReader.Read(output);

        Assert.Equal("renamed: a=b", edited.GetString("general.name"));
        Assert.Equal(4096u, edited.GetUInt32("llama.context_length"));
        Assert.Equal(-2.5e-3, edited["test.new_key"].AsFloat64());
        Assert.False(edited.ContainsKey("general.description"));
        // Untouched keys keep their order and values; changed keys keep their position; the new key goes last.
        var expectedKeys = source.Metadata.Select(e => e.Key).Where(k => k != "general.description").Append("test.new_key").ToList();
        Assert.Equal(expectedKeys, edited.Metadata.Select(e => e.Key).ToList());
        foreach (var e in source.Metadata.Where(e => e.Key is not ("general.name" or "llama.context_length" or "general.description")))
            Assert.Equal(e.Value, edited[e.Key]);
        AssertSameTensorData(source, edited);

        using var json = JsonDocument.Parse(r.Stdout);
        var root = json.RootElement;
        Assert.Equal("edit", root.GetProperty("action").GetString());
        Assert.Equal(output, root.GetProperty("target").GetString());
        Assert.False(root.GetProperty("in_place").GetBoolean());
        Assert.True(root.GetProperty("elapsed_ms").GetDouble() > 0);
        Assert.Equal(["general.name", "llama.context_length", "test.new_key"], root.GetProperty("set").EnumerateArray().Select(s => s.GetProperty("key").GetString()));
        Assert.Equal("UINT32", root.GetProperty("set")[1].GetProperty("type").GetString());
        Assert.Equal(4096, root.GetProperty("set")[1].GetProperty("value").GetInt32());
        Assert.Equal(["general.description"], root.GetProperty("removed").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(new FileInfo(output).Length, root.GetProperty("file_length").GetInt64());
        Assert.Equal([output], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Editing_a_value_and_editing_it_back_restores_the_original_file_exactly()
    {
        using var dir = new TempDir();
        string once = dir.File("once.gguf"), back = dir.File("back.gguf");
        var original = GgufReader.Read(TestPaths.TinyModel);

        // A longer name moves the data section; setting it back must move it back.
        var r1 = CliProcess.Run("edit", TestPaths.TinyModel, "-o", once, "--set", "general.name=string:" + new string('x', 300));
        Assert.True(r1.ExitCode == 0, r1.ToString());
        Assert.NotEqual(original.DataOffset, GgufReader.Read(once).DataOffset);
        Assert.Matches(@"^wrote .*once\.gguf: 23 keys, 57 tensors, [\d,]+ bytes in [\d.]+ s\n  set general.name \(STRING\) = ""x{120}\.\.\.""\n$", r1.Stdout.ReplaceLineEndings("\n"));

        var back2 = EditCommand.ParseRequest(once, back, ["general.name=string:" + original.GetString("general.name")], [], inPlace: false);
        EditCommand.Execute(back2, TextWriter.Null, _ => false, CancellationToken.None);

        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(back));
    }

    [Fact]
    public void Edit_refuses_to_write_over_its_input_without_in_place()
    {
        using var dir = new TempDir();
        string model = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);
        File.SetLastWriteTimeUtc(model, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        File.CreateSymbolicLink(dir.File("link.gguf"), model);

        foreach (string output in new[] { model, dir.File("link.gguf"), dir.File("sub/../model.gguf") })
        {
            string line;
            if (output == model)
            {
                var r = CliProcess.Run("edit", model, "-o", output, "--set", "general.name=string:x");
                Assert.True(r.ExitCode == 2, r.ToString());
                line = Assert.Single(r.StderrLines);
            }
            else
            {
                line = "longrope: error: " + Refusal(() => EditCommand.ParseRequest(model, Path.GetFullPath(output), ["general.name=string:x"], [], inPlace: false)).Message;
            }
            Assert.StartsWith($"longrope: error: -o {Path.GetFullPath(output)}: that is the input file; refusing to overwrite it (add --in-place", line);
        }
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(model));
        Assert.Equal(new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(model));
        Assert.Equal(2, Directory.GetFileSystemEntries(dir.Path).Length);
    }

    [Fact]
    public void In_place_rewrites_the_model_through_a_temporary_file_keeping_its_permissions_and_links()
    {
        using var dir = new TempDir();
        string model = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);
        File.SetUnixFileMode(model, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        string link = dir.File("link.gguf");
        File.CreateSymbolicLink(link, model);
        long inodeBefore = Inode(model);

        var request = EditCommand.ParseRequest(link, null, ["llama.context_length=uint32:1024"], ["general.description"], inPlace: true);
        var outcome = EditCommand.Execute(request, TextWriter.Null, _ => false, CancellationToken.None);

        Assert.Equal(model, outcome.TargetPath);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        var edited = GgufReader.Read(model);
        Assert.Equal(1024u, edited.GetUInt32("llama.context_length"));
        Assert.False(edited.ContainsKey("general.description"));
        AssertSameTensorData(GgufReader.Read(TestPaths.TinyModel), edited);
        Assert.NotEqual(inodeBefore, Inode(model)); // a new file renamed over the old one, not written into it
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(model));
        Assert.Equal(2, Directory.GetFileSystemEntries(dir.Path).Length);
    }

    [Fact]
    public void In_place_of_a_model_with_three_names_warns_that_the_other_two_keep_the_old_file()
    {
        using var dir = new TempDir();
        string model = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, model);
        SpecialFiles.HardLink(model, dir.File("b.gguf"));
        SpecialFiles.HardLink(model, dir.File("c.gguf"));

        var r = CliProcess.Run("edit", model, "--in-place", "--set", "general.name=string:n", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        string warning = $"{model} has 3 names (hard links); rewritten in place it becomes a new file under this name, and the other 2 names keep the old one";
        Assert.Equal(["longrope: warning: " + warning], r.StderrLines);
        using var json = System.Text.Json.JsonDocument.Parse(r.Stdout);
        Assert.Contains(warning, json.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
        Assert.Equal("n", GgufReader.Read(model).GetString("general.name"));
        Assert.Equal(File.ReadAllBytes(TestPaths.TinyModel), File.ReadAllBytes(dir.File("b.gguf")));
    }

    [Fact]
    public void Edits_that_make_a_model_llama_cpp_or_the_runner_cannot_use_are_written_with_a_warning_each()
    {
        // edit writes what it is told (it makes test files too); it said nothing of either of these.
        using var dir = new TempDir();
        string output = dir.File("out.gguf");
        var r = CliProcess.Run("edit", TestPaths.TinyModel, "-o", output, "--set", "general.name=string:", "--set", "general.file_type=uint64:1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal([
            "longrope: warning: general.name is an empty string: longrope's runner (LLamaSharp 0.30.0: generate, chat, bench, eval, search) cannot load a model with one",
            "longrope: warning: general.file_type was UINT32 and becomes UINT64; llama.cpp reads keys with exact types",
            "longrope: warning: llama.cpp will not load out.gguf: 'general.file_type' is UINT64; llama.cpp reads it as UINT32 and fails to load ('key general.file_type has wrong type'); patch does not change this key",
        ], r.StderrLines);
        Assert.Equal("", GgufReader.Read(output).GetString("general.name"));
    }

    [Fact]
    public void In_place_with_a_different_output_or_no_output_at_all_is_refused()
    {
        Assert.StartsWith("-o /tmp/other.gguf: --in-place rewrites MODEL",
            Refusal(() => EditCommand.ParseRequest(TestPaths.TinyModel, "/tmp/other.gguf", [], [], inPlace: true)).Message);
        Assert.StartsWith("edit needs -o OUT", Refusal(() => EditCommand.ParseRequest(TestPaths.TinyModel, null, [], [], inPlace: false)).Message);
    }

    [Fact]
    public void An_empty_removed_key_or_a_key_removed_twice_is_refused_naming_it()
    {
        Assert.Equal("--remove '': the key is empty", Refusal(() => EditCommand.ParseRequest(TestPaths.TinyModel, "/tmp/o.gguf", [], [""], inPlace: false)).Message);
        Assert.Equal("--remove general.name: the key is removed more than once",
            Refusal(() => EditCommand.ParseRequest(TestPaths.TinyModel, "/tmp/o.gguf", [], ["general.name", "general.name"], inPlace: false)).Message);
    }

    [Fact]
    public void A_bad_set_value_is_one_line_naming_option_and_value_with_exit_code_2_and_no_output_file()
    {
        using var dir = new TempDir();
        string output = dir.File("out.gguf");
        var r = CliProcess.Run("edit", TestPaths.TinyModel, "-o", output, "--set", "general.name=string:ok", "--set", "llama.context_length=uint32:-1");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Empty(r.Stdout);
        Assert.Equal("longrope: error: --set 'llama.context_length=uint32:-1': '-1' is out of range for uint32", Assert.Single(r.StderrLines));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData("--remove", "no.such.key", "--remove no.such.key: ")]
    [InlineData("--remove", "general.name", "--remove general.name: the same key is also given to --set")]
    [InlineData("--set", "general.name=string:twice", "--set general.name: the key is set more than once")]
    public void Inconsistent_edits_are_refused(string option, string value, string expected)
    {
        using var dir = new TempDir();
        var e = Refusal(() =>
        {
            var request = EditCommand.ParseRequest(TestPaths.TinyModel, dir.File("out.gguf"),
                option == "--set" ? ["general.name=string:a", value] : ["general.name=string:a"], option == "--remove" ? [value] : [], inPlace: false);
            EditCommand.Execute(request, TextWriter.Null, _ => false, CancellationToken.None);
        });
        Assert.StartsWith(expected, e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Changing_a_keys_type_warns_because_llama_cpp_reads_exact_types()
    {
        using var dir = new TempDir();
        var warnings = new StringWriter();
        var request = EditCommand.ParseRequest(TestPaths.TinyModel, dir.File("out.gguf"), ["llama.context_length=int32:4096", "general.name=string:same type"], [], inPlace: false);
        var outcome = EditCommand.Execute(request, warnings, _ => false, CancellationToken.None);
        // The change, then what it means for llama.cpp (verify's finding on the result).
        string[] expected =
        [
            "llama.context_length was UINT32 and becomes INT32; llama.cpp reads keys with exact types",
            "llama.cpp will not load out.gguf: 'llama.context_length' is INT32; llama.cpp reads it as UINT32 and fails to load ('key llama.context_length has wrong type')",
        ];
        Assert.Equal(expected.Select(w => "longrope: warning: " + w), warnings.ToString().TrimEnd().Split('\n'));
        Assert.Equal(expected, outcome.Warnings);
        Assert.Equal(4096, GgufReader.Read(dir.File("out.gguf")).GetInt32("llama.context_length"));
    }

    [Theory]
    [InlineData("llama.rope.freq_base=float32:NaN")]
    [InlineData("llama.rope.freq_base=float32:-5")]
    [InlineData("llama.rope.freq_base=float32:inf")]
    public void Writing_a_value_that_makes_every_output_meaningless_is_done_with_a_warning(string assignment)
    {
        // edit warned of files llama.cpp will not load, not of those it runs to NaN (verify calls them errors).
        using var dir = new TempDir();
        var warnings = new StringWriter();
        var request = EditCommand.ParseRequest(TestPaths.TinyModel, dir.File("out.gguf"), [assignment], [], inPlace: false);
        var outcome = EditCommand.Execute(request, warnings, _ => false, CancellationToken.None);
        string warning = Assert.Single(outcome.Warnings);
        Assert.StartsWith("llama.cpp runs out.gguf but every output is meaningless: llama.rope.freq_base = ", warning);
        Assert.True(File.Exists(dir.File("out.gguf")));
    }

    [Fact]
    public void Removing_the_architecture_is_done_and_said_in_text_and_json()
    {
        using var dir = new TempDir();
        string output = dir.File("no-arch.gguf");
        var r = CliProcess.Run("edit", TestPaths.TinyModel, "-o", output, "--remove", "general.architecture", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        const string Warning = "llama.cpp will not load no-arch.gguf: no 'general.architecture' string key: llama.cpp cannot load this file";
        Assert.Equal($"longrope: warning: {Warning}", r.Stderr.Trim());
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal([Warning], json.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
        Assert.False(GgufReader.Read(output).ContainsKey("general.architecture"));

        // A plain edit has none.
        var plain = CliProcess.Run("edit", TestPaths.TinyModel, "-o", dir.File("named.gguf"), "--set", "general.name=string:x", "--json");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Empty(plain.Stderr);
        using var plainJson = JsonDocument.Parse(plain.Stdout);
        Assert.Equal(0, plainJson.RootElement.GetProperty("warnings").GetArrayLength());
    }

    [Fact]
    public void A_cancelled_edit_leaves_no_file_behind()
    {
        using var dir = new TempDir();
        using var cts = new CancellationTokenSource();
        var request = EditCommand.ParseRequest(TestPaths.TinyModel, dir.File("out.gguf"), ["general.name=string:x"], [], inPlace: false);
        // Cancelled before the rewrite starts: it notices at its first data chunk, when the temporary file and its
        // header already exist.
        Assert.ThrowsAny<OperationCanceledException>(() => EditCommand.Execute(request, TextWriter.Null, _ => { cts.Cancel(); return false; }, cts.Token));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_reported_header_is_exactly_what_a_reader_of_the_written_file_sees(bool allTypes)
    {
        using var dir = new TempDir();
        string source = allTypes ? TestModels.AllValueTypes(dir.File("all.gguf")) : TestPaths.TinyModel;
        string output = dir.File("out.gguf");
        var request = EditCommand.ParseRequest(source, output, ["general.name=string:x", "test.added=bool:true"], ["general.architecture"], inPlace: false);
        var written = EditCommand.Execute(request, TextWriter.Null, _ => false, CancellationToken.None).Written;
        var read = GgufReader.Read(output);

        Assert.Equal((read.Version, read.Alignment, read.DataOffset, read.HeaderLength, read.FileLength, read.Path),
            (written.Version, written.Alignment, written.DataOffset, written.HeaderLength, written.FileLength, written.Path));
        Assert.Equal(read.Metadata.Select(e => (e.Key, e.Offset, e.Length, e.ValueOffset)), written.Metadata.Select(e => (e.Key, e.Offset, e.Length, e.ValueOffset)));
        for (int i = 0; i < read.Metadata.Count; i++) Assert.Equal(read.Metadata[i].Value, written.Metadata[i].Value);
        Assert.Equal(read.Tensors.Select(t => (t.Name, t.Type, t.ShapeText, t.Offset, t.InfoOffset)), written.Tensors.Select(t => (t.Name, t.Type, t.ShapeText, t.Offset, t.InfoOffset)));
    }

    [Fact]
    public void A_string_with_a_lone_surrogate_is_reported_as_the_replacement_character_the_file_holds()
    {
        using var dir = new TempDir();
        var request = EditCommand.ParseRequest(TestPaths.TinyModel, dir.File("out.gguf"), ["general.name=string:a\uD800b"], [], inPlace: false);
        var written = EditCommand.Execute(request, TextWriter.Null, _ => false, CancellationToken.None).Written;
        Assert.Equal("a\uFFFDb", written.GetString("general.name"));
        Assert.Equal("a\uFFFDb", GgufReader.Read(dir.File("out.gguf")).GetString("general.name"));
    }

    internal static void AssertSameTensorData(GgufFile a, GgufFile b)
    {
        Assert.Equal(a.Tensors.Select(t => (t.Name, t.Type, string.Join(",", t.Dimensions))), b.Tensors.Select(t => (t.Name, t.Type, string.Join(",", t.Dimensions))));
        using var sa = File.OpenRead(a.Path!);
        using var sb = File.OpenRead(b.Path!);
        for (int i = 0; i < a.Tensors.Count; i++)
        {
            Assert.Equal(Slice(sa, a.AbsoluteOffset(a.Tensors[i]), (int)a.Tensors[i].ByteSize), Slice(sb, b.AbsoluteOffset(b.Tensors[i]), (int)b.Tensors[i].ByteSize));
        }
    }

    private static byte[] Slice(FileStream s, long offset, int length)
    {
        var buffer = new byte[length];
        s.Position = offset;
        s.ReadExactly(buffer);
        return buffer;
    }

    internal static byte[] Hash(string path)
    {
        using var s = File.OpenRead(path);
        return SHA256.HashData(s);
    }

    private static long Inode(string path)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return long.Parse(text.Trim());
    }

    /// <summary>Runs in-process code that must refuse with a user-facing error (printed by CliErrors as one line
    /// "longrope: error: MESSAGE", exit code 2).</summary>
    private static CliException Refusal(Action action)
    {
        var e = Assert.Throws<CliException>(action);
        Assert.Equal(ExitCodes.BadInput, e.ExitCode);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }
}
