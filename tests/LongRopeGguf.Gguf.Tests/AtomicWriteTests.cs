using System.Diagnostics;
using LongRopeGguf.Gguf.Tests.Support;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>An interrupted write never touches the target path and leaves no temporary file where that can be avoided;
/// the input file is never written over unless asked.</summary>
public class AtomicWriteTests
{
    private static readonly byte[] OldContent = "previous target content"u8.ToArray();

    private static List<GgufMetadataEntry> Metadata => [new("general.architecture", GgufValue.String("t"))];

    /// <summary>A 4 KiB F32 tensor whose generator writes half of its bytes and then calls <paramref name="midway"/>.</summary>
    private static OutputTensor Interrupted(Action midway) =>
        new("t", GgmlType.F32, [1024], new TensorData.Generated(4096, s =>
        {
            s.Write(new byte[2048]);
            midway();
            s.Write(new byte[2048]);
        }));

    private static void AssertUntouched(TempDir dir, string target, params string[] alsoThere)
    {
        Assert.Equal(OldContent, File.ReadAllBytes(target));
        var expected = alsoThere.Append(Path.GetFileName(target)).Order();
        Assert.Equal(expected, Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void An_exception_while_writing_leaves_the_target_untouched_and_no_temporary_file()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        File.WriteAllBytes(target, OldContent);
        var e = Assert.Throws<InvalidOperationException>(() => GgufRewriter.WriteNew(target, Metadata,
            [Interrupted(() => throw new InvalidOperationException("generator failed"))]));
        Assert.Equal("generator failed", e.Message);
        AssertUntouched(dir, target);

        // Same through Rewrite, with tensor data being copied from a real source before the failing tensor.
        var source = GgufReader.Read(TestPaths.TinyModel);
        Assert.Throws<InvalidOperationException>(() => GgufRewriter.Rewrite(source,
            new GgufEdit().SetTensor(Interrupted(() => throw new InvalidOperationException("generator failed"))), target));
        AssertUntouched(dir, target);
    }

    [Fact]
    public void A_folder_at_the_target_path_is_refused_before_anything_is_written()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        Directory.CreateDirectory(target);
        bool generated = false;
        var e = Assert.Throws<IOException>(() => GgufRewriter.WriteNew(target, Metadata,
            [Interrupted(() => generated = true)]));
        Assert.Equal($"{target}: is a folder, not a file", e.Message);
        Assert.False(generated, "the data was written before the target was checked");
        Assert.Empty(Directory.GetFiles(dir.Path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(target));
    }

    [Theory]
    [InlineData("/dev/null", true)]
    [InlineData("/dev/shm/model.gguf", false)]
    [InlineData("/proc/self/fd/1", true)]
    [InlineData("/sys/kernel/x", true)]
    [InlineData("/devices/model.gguf", false)]
    [InlineData("/tmp/dev/null", false)]
    [InlineData("/work/model.gguf", false)]
    public void Files_under_dev_proc_and_sys_count_as_system_files(string path, bool system) =>
        // Checked on the path alone: a test that wrote to /dev/null to see the refusal would, if the refusal were
        // broken, replace the machine's /dev/null.
        Assert.Equal(system, AtomicFile.IsSystemFile(path));

    [Fact]
    public void An_existing_system_file_is_refused_before_anything_is_written()
    {
        // /proc/version exists and cannot be replaced anyway, so the wiring is tested where a broken check is harmless.
        bool generated = false;
        var e = Assert.Throws<IOException>(() => GgufRewriter.WriteNew("/proc/version", Metadata, [Interrupted(() => generated = true)]));
        Assert.Equal("/proc/version: a device or system file; refusing to replace it (write to a file in a regular folder)", e.Message);
        Assert.False(generated);
    }

    [Fact]
    public void A_folder_where_no_file_can_be_created_is_named_not_the_temporary_file()
    {
        // /proc takes no new files (ENOENT); the system's message would name the hidden temporary file.
        const string target = "/proc/out.gguf";
        var e = Assert.Throws<IOException>(() => GgufRewriter.WriteNew(target, Metadata, [Interrupted(() => { })]));
        Assert.Equal("/proc/out.gguf: cannot create a file in folder /proc", e.Message);
        Assert.DoesNotContain(".longrope-tmp-", e.Message);
    }

    [Fact]
    public void A_generator_that_writes_the_wrong_number_of_bytes_fails_the_write_cleanly()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        File.WriteAllBytes(target, OldContent);
        var shortTensor = new OutputTensor("t", GgmlType.F32, [1024], new TensorData.Generated(4096, s => s.Write(new byte[100])));
        var e = Assert.Throws<InvalidOperationException>(() => GgufRewriter.WriteNew(target, Metadata, [shortTensor]));
        Assert.Contains("'t'", e.Message);
        AssertUntouched(dir, target);
    }

    [Fact]
    public void A_cancelled_token_leaves_the_target_untouched_and_no_temporary_file()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        File.WriteAllBytes(target, OldContent);
        var source = GgufReader.Read(TestPaths.TinyModel);

        // Cancelled before the write starts.
        using (var cts = new CancellationTokenSource())
        {
            cts.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => GgufRewriter.Rewrite(source, new GgufEdit(), target,
                new RewriteOptions { CancellationToken = cts.Token }));
            AssertUntouched(dir, target);
            Assert.ThrowsAny<OperationCanceledException>(() => GgufRewriter.WriteNew(target, Metadata, [], options:
                new RewriteOptions { CancellationToken = cts.Token }));
            AssertUntouched(dir, target);
        }

        // Cancelled in the middle of generating a tensor.
        using (var cts = new CancellationTokenSource())
        {
            Assert.ThrowsAny<OperationCanceledException>(() => GgufRewriter.WriteNew(target, Metadata, [Interrupted(cts.Cancel)],
                options: new RewriteOptions { CancellationToken = cts.Token }));
            AssertUntouched(dir, target);
        }

        // Cancelled while source data is being copied (from the first progress report on).
        using (var cts = new CancellationTokenSource())
        {
            long reports = 0;
            Assert.ThrowsAny<OperationCanceledException>(() => GgufRewriter.Rewrite(source, new GgufEdit(), target, new RewriteOptions
            {
                CancellationToken = cts.Token,
                Progress = (_, _) => { reports++; cts.Cancel(); },
            }));
            Assert.True(reports > 0);
            AssertUntouched(dir, target);
        }
    }

    [Fact]
    public void Writing_over_the_input_is_refused_unless_allowed()
    {
        using var dir = new TempDir();
        string input = dir.File("model.gguf");
        File.Copy(TestPaths.TinyModel, input);
        byte[] original = File.ReadAllBytes(input);
        var source = GgufReader.Read(input);
        var edit = new GgufEdit().SetValue("general.name", GgufValue.String("edited"));

        Directory.CreateDirectory(dir.File("sub"));
        File.CreateSymbolicLink(dir.File("link.gguf"), input);
        Directory.CreateSymbolicLink(dir.File("folder-link"), dir.Path);
        string cwd = Environment.CurrentDirectory;
        foreach (string sameFile in new[]
                 {
                     input,
                     dir.File("sub/../model.gguf"),
                     dir.File("link.gguf"),                       // a link to the input
                     Path.Combine(dir.File("folder-link"), "model.gguf"), // the input through a linked folder
                     Path.GetRelativePath(cwd, input),
                 })
        {
            var e = Assert.Throws<IOException>(() => GgufRewriter.Rewrite(source, edit, sameFile));
            Assert.Contains("refusing to write over the input", e.Message);
        }
        Assert.Equal(original, File.ReadAllBytes(input));
        Assert.Equal(new[] { "link.gguf", "model.gguf" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());

        var written = GgufRewriter.Rewrite(source, edit, input, new RewriteOptions { AllowOverwriteSource = true });
        Assert.Equal("edited", GgufReader.Read(input).GetString("general.name"));
        Assert.Equal(input, written.Path);
        Assert.Equal(new[] { "link.gguf", "model.gguf" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
        foreach (var t in source.Tensors)
            Assert.Equal(SampleFiles.Sha256(original[(int)source.AbsoluteOffset(t)..(int)(source.AbsoluteOffset(t) + (long)t.ByteSize)]),
                SampleFiles.TensorSha256(written, written.GetTensor(t.Name)));
    }

    [Fact]
    public void A_temporary_file_left_by_a_dead_process_is_removed_by_the_next_write_and_a_live_ones_is_kept()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        int deadPid = DeadPid();
        string stale = dir.File($".out.gguf.longrope-tmp-{deadPid}-{Guid.NewGuid():N}");
        string live = dir.File($".out.gguf.longrope-tmp-{Environment.ProcessId}-{Guid.NewGuid():N}"); // as if another write of ours were running
        string otherTarget = dir.File($".other.gguf.longrope-tmp-{deadPid}-{Guid.NewGuid():N}");
        foreach (string f in new[] { stale, live, otherTarget }) File.WriteAllBytes(f, [1, 2, 3]);

        GgufRewriter.WriteNew(target, Metadata, []);

        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(otherTarget)); // only temporaries of the target being written are looked at
        Assert.Equal("t", GgufReader.Read(target).Architecture);
    }

    [Fact]
    public void A_temporary_file_a_writer_still_holds_is_kept_even_when_its_pid_is_not_one_of_this_machines()
    {
        // A writer in another pid namespace (a container) or on another host: its pid looked dead here, and its
        // temporary file was deleted under it (its write then failed). Its stream's lock says it is alive.
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        string held = dir.File($".out.gguf.longrope-tmp-{DeadPid()}-{Guid.NewGuid():N}");
        using (var writer = new FileStream(held, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
        {
            GgufRewriter.WriteNew(target, Metadata, []);
            Assert.True(File.Exists(held));
        }
        GgufRewriter.WriteNew(target, Metadata, []);
        Assert.False(File.Exists(held)); // let go: now it is stale
    }

    [Fact]
    public void Writing_a_whole_file_goes_through_a_link_and_keeps_the_files_permissions()
    {
        // Results and charts went from File.WriteAllText to atomic writes: a linked ppl.csv was replaced by a copy (the
        // link's target kept the old text) and a 0600 summary became 0644.
        using var dir = new TempDir();
        string real = dir.File("elsewhere.csv"), link = dir.File("ppl.csv"), privateFile = dir.File("ppl.md");
        File.WriteAllText(real, "old");
        File.CreateSymbolicLink(link, real);
        File.WriteAllText(privateFile, "old");
        File.SetUnixFileMode(privateFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        AtomicFile.WriteAllText(link, "new");
        AtomicFile.WriteAllText(privateFile, "new");
        AtomicFile.WriteAllText(dir.File("fresh.txt"), "new");

        Assert.Equal(real, new FileInfo(link).ResolveLinkTarget(returnFinalTarget: true)?.FullName);
        Assert.Equal("new", File.ReadAllText(real));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(privateFile));
        Assert.Equal("new", File.ReadAllText(privateFile));
        Assert.Equal("new", File.ReadAllText(dir.File("fresh.txt")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*" + ".longrope-tmp-" + "*"));
    }

    [Fact]
    public void A_pipe_at_the_target_path_is_refused_and_a_long_target_name_is_written()
    {
        using var dir = new TempDir();
        string fifo = SpecialFiles.Fifo(dir.File("fifo.gguf"));
        var e = Assert.Throws<IOException>(() => GgufRewriter.WriteNew(fifo, Metadata, []));
        Assert.Equal($"{fifo}: is a pipe, socket or device, not a file; refusing to replace it (give another file name)", e.Message);
        Assert.Equal(FileKind.Special, FileKinds.Of(fifo));

        // 245 bytes is a valid name; the temporary name added 55 and went past the 255-byte limit.
        string longName = dir.File(new string('m', 240) + ".gguf");
        GgufRewriter.WriteNew(longName, Metadata, []);
        Assert.Equal("t", GgufReader.Read(longName).Architecture);
        string multiByte = dir.File(string.Concat(Enumerable.Repeat("日", 80)) + ".gguf"); // 245 bytes in UTF-8
        GgufRewriter.WriteNew(multiByte, Metadata, []);
        Assert.Equal([longName, multiByte, fifo], Directory.GetFileSystemEntries(dir.Path).Order(StringComparer.Ordinal).OrderBy(f => f != longName).ThenBy(f => f != multiByte));
    }

    [Fact]
    public void A_failure_while_writing_names_the_target_not_the_temporary_file_and_a_source_that_shrank_names_the_source()
    {
        using var dir = new TempDir();
        string folder = dir.File("sub");
        Directory.CreateDirectory(folder);
        string target = Path.Combine(folder, "out.gguf");
        using (var file = AtomicFile.Create(target))
        {
            file.Stream.Write([1, 2, 3]);
            Directory.Delete(folder, recursive: true); // the folder went while the file was written
            var e = Assert.ThrowsAny<IOException>(() => file.Commit());
            Assert.StartsWith($"{target}: cannot write it (", e.Message);
            Assert.EndsWith("); nothing written to it", e.Message);
            Assert.DoesNotContain(".longrope-tmp-", e.Message);
        }

        string source = dir.File("source.gguf");
        File.Copy(TestPaths.TinyModel, source);
        var header = GgufReader.Read(source);
        string copy = dir.File("copy.gguf");
        bool cut = false;
        void Shrink(long done, long total)
        {
            if (cut) return;
            cut = true; // while the copy runs, as another program rewriting the model would
            using var s = new FileStream(source, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            s.SetLength(header.DataOffset + 1000);
        }
        var shrank = Assert.ThrowsAny<IOException>(() => GgufRewriter.Rewrite(header, new GgufEdit(), copy, new RewriteOptions { Progress = Shrink }));
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(source)}: ended at offset \\d+ while its tensor data was copied \\(did the file change while it was copied\\?\\); nothing written to {System.Text.RegularExpressions.Regex.Escape(copy)}$", shrank.Message);
        Assert.False(File.Exists(copy));
    }

    [Fact]
    public void A_writer_process_killed_mid_write_leaves_the_target_untouched_and_the_next_write_cleans_up()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        File.WriteAllBytes(target, OldContent);

        using (var child = StartChild("write-and-hang", target))
        {
            string temp = Assert.Single(Directory.GetFiles(dir.Path), f => f != target);
            Assert.Contains($".longrope-tmp-{child.Id}-", temp);
            Assert.True(new FileInfo(temp).Length > 0);
            child.Kill(); // SIGKILL: nothing in the child can react
            Assert.True(child.WaitForExit(30_000));
            AssertUntouched(dir, target, Path.GetFileName(temp));
        }

        GgufRewriter.WriteNew(target, Metadata, []);
        Assert.Single(Directory.GetFiles(dir.Path));
        Assert.Equal("t", GgufReader.Read(target).Architecture);
    }

    [Fact]
    public void A_writer_process_that_exits_mid_write_removes_its_temporary_file()
    {
        using var dir = new TempDir();
        string target = dir.File("out.gguf");
        File.WriteAllBytes(target, OldContent);
        using var child = StartChild("write-and-exit", target);
        Assert.True(child.WaitForExit(30_000));
        Assert.Equal(3, child.ExitCode);
        AssertUntouched(dir, target);
    }

    /// <summary>Starts this test assembly as a child writing <paramref name="target"/> and waits until it is mid-write.</summary>
    private static Process StartChild(string mode, string target)
    {
        var psi = new ProcessStartInfo(TestPaths.DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "exec", typeof(ChildProcess).Assembly.Location, mode, target }) psi.ArgumentList.Add(a);
        var child = Process.Start(psi)!;
        var line = child.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(60)) || line.Result != ChildProcess.Ready)
        {
            try { child.Kill(); } catch (InvalidOperationException) { }
            Assert.Fail($"child did not start writing: stdout '{(line.IsCompleted ? line.Result : "(nothing)")}', stderr '{child.StandardError.ReadToEnd()}'");
        }
        return child;
    }

    /// <summary>The pid of a process that has exited (and whose pid is not in use again).</summary>
    private static int DeadPid()
    {
        for (int attempt = 0; attempt < 10; attempt++)
        {
            using var p = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
            p.WaitForExit();
            if (!Directory.Exists($"/proc/{p.Id}")) return p.Id;
        }
        throw new InvalidOperationException("could not find a free pid");
    }
}
