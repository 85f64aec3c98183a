using System.Text;
using LongRopeGguf.Evaluation.Niah;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>
/// results.jsonl as a run reads it back before appending: cut only at a byte offset of a line end, and only once the run
/// goes ahead; refused in one line where it cannot be a results file (where it ran out of memory, blocked, or lost a
/// good line).
/// </summary>
public class TrialLogTests
{
    private static readonly string Line = new TrialRecord
    {
        Id = "none|filler|key|1|512|0|0", Mode = "none", ModeKind = "builtin", Model = "tiny-passkey-512.gguf",
        Haystack = "filler", Needle = "The pass key is {key}.", Seed = 1, Length = 512, PromptTokens = 500, Depth = 0,
        DepthActual = 0, DepthIndex = 0, Trial = 0, Expected = "12345", Answer = "12345 é", Correct = true,
        Scoring = "first-number", FactorSet = "none", Rope = "file (no rescaling)", NCtx = 512, NCtxSeq = 512,
        PrefillTokens = 500, ReusedTokens = 0, PrefillMs = 1, DecodeMs = 1, WallMs = 2,
    }.ToJsonLine() + "\n";

    [Fact]
    public void A_torn_end_after_a_byte_order_mark_is_cut_at_the_line_end_and_the_good_line_is_kept()
    {
        using var dir = new TempDir();
        string path = dir.File("results.jsonl");
        byte[] good = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Line)];
        File.WriteAllBytes(path, [.. good, .. "{\"id\":\"torn"u8.ToArray()]);

        var recorded = TrialLog.ReadForAppend(path);
        Assert.Single(recorded.Records);
        Assert.True(recorded.TornEnd);
        Assert.Equal(good.Length, recorded.CompleteBytes);
        Assert.Equal(good.Length + 11, new FileInfo(path).Length); // reading changes nothing

        using (TrialLog.Open(path, recorded)) { }
        Assert.Equal(good, File.ReadAllBytes(path)); // the cut was 3 bytes into the good line (decoded length, not bytes)
        Assert.Single(TrialLog.ReadAll(path));
    }

    [Fact]
    public void A_file_that_is_not_utf8_is_refused_naming_the_line_and_offset_and_left_as_it_was()
    {
        using var dir = new TempDir();
        string path = dir.File("results.jsonl");
        byte[] bytes = [.. Encoding.UTF8.GetBytes(Line), 0x7B, 0xFF, 0x7D, 0x0A, .. "{\"id\""u8.ToArray()];
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<EvalInputException>(() => TrialLog.ReadForAppend(path));
        Assert.Equal($"{path}: line 2: not UTF-8 text (invalid byte 0xFF at offset {Encoding.UTF8.GetByteCount(Line) + 1}); move the file away to start afresh", e.Message);

        // UTF-16 (an editor's "Unicode"): refused, where it was read as one torn line and emptied.
        File.WriteAllBytes(path, [0xFF, 0xFE, 0x0A, 0x00]);
        Assert.Contains("line 1: not UTF-8 text", Assert.Throws<EvalInputException>(() => TrialLog.ReadForAppend(path)).Message);
        Assert.Equal(4, new FileInfo(path).Length);
    }

    [Fact]
    public void A_pipe_a_folder_or_an_oversized_file_is_refused_before_it_is_read()
    {
        using var dir = new TempDir();
        string fifo = SpecialFiles.Fifo(dir.File("fifo.jsonl")); // opening it would wait for a writer
        Assert.Equal($"{fifo}: is a pipe, socket or device, not a results file", Assert.Throws<EvalInputException>(() => TrialLog.ReadAll(fifo)).Message);
        Directory.CreateDirectory(dir.File("folder.jsonl"));
        Assert.Equal($"{dir.File("folder.jsonl")}: is a folder, not a results file", Assert.Throws<EvalInputException>(() => TrialLog.ReadAll(dir.File("folder.jsonl"))).Message);

        string big = dir.File("big.jsonl");
        using (var f = File.Create(big)) f.SetLength(TrialLog.MaxBytes + 1); // sparse: a 1 GB one ran out of memory
        Assert.Equal($"{big}: {TrialLog.MaxBytes + 1:N0} bytes is too big for a results file (at most {TrialLog.MaxBytes:N0})",
            Assert.Throws<EvalInputException>(() => TrialLog.ReadAll(big)).Message);

        // One line far past any record: named by its size, not decoded and parsed (a 260 MB line took 1.5 GB).
        string longLine = dir.File("long.jsonl");
        File.WriteAllText(longLine, "{\"id\":\"" + new string('x', TrialLog.MaxLineBytes) + "\"}\n");
        Assert.Equal($"{longLine}: line 1: {TrialLog.MaxLineBytes + 9:N0} bytes, too long for a trial record (at most {TrialLog.MaxLineBytes:N0})",
            Assert.Throws<EvalInputException>(() => TrialLog.ReadAll(longLine)).Message);
    }

    [Theory]
    [InlineData("\"length\":512", "\"length\":-5", "'length' -5 is not a positive number of tokens")]
    [InlineData("\"mode\":\"none\"", "\"mode\":\"\"", "'mode' is empty")]
    // "required" lets a null through: it failed as a NullReferenceException (an internal error).
    [InlineData("\"mode\":\"none\"", "\"mode\":null", "'mode' is empty")]
    [InlineData("\"answer\":\"12345 é\"", "\"answer\":null", "'answer' is null")]
    [InlineData("\"depth\":0", "\"depth\":1.5", "'depth' 1.5 is not within 0..1")]
    [InlineData("\"prompt_tokens\":500", "\"prompt_tokens\":900", "'prompt_tokens' 900 is not within the length 512")]
    public void A_hand_edited_value_no_run_writes_is_refused_naming_the_line(string written, string edited, string problem)
    {
        // They made table rows of their own in eval compare ("| -5 | none | 4 | 2 |") with exit 0.
        using var dir = new TempDir();
        string path = dir.File("results.jsonl");
        Assert.Contains(written, Line);
        File.WriteAllText(path, Line + Line.Replace(written, edited));
        Assert.Equal($"{path}: line 2: not a trial record ({problem})", Assert.Throws<EvalInputException>(() => TrialLog.ReadAll(path)).Message);
    }
}
