using System.Runtime.InteropServices;
using LLama.Native;

namespace LongRopeGguf.Runtime;

/// <summary>
/// Process-wide llama.cpp setup: which native library to load and where its log goes. LLamaSharp fixes both when the
/// library loads (on the first native call), so <see cref="Configure"/> must run before anything else touches
/// LLamaSharp; later calls may only re-target the log.
/// </summary>
public static class NativeRuntime
{
    /// <summary>Environment variable naming a folder with a custom llama.cpp build (libllama.so and its ggml libraries).</summary>
    public const string NativeLibEnvironmentVariable = "LONGROPE_NATIVE_LIB";

    private static readonly object s_lock = new();
    private static NativeLogConfig.LLamaLogCallback? s_callback; // held for the process lifetime: native code keeps the pointer
    private static TextWriter? s_sink;
    private static bool s_sinkOwned;
    private static bool s_configured;
    private static string? s_nativeLibDir;
    private static string? s_nativeLibSource; // "--native-lib" or the environment variable: what a load failure blames
    private static BackendInfo? s_backend;

    /// <summary>What the runner gleans from llama.cpp's log.</summary>
    public static NativeLogCapture Log { get; } = new();

    /// <summary>The file the native log goes to; null when it goes to standard error (verbose) or is discarded (unwritable).</summary>
    public static string? LogFilePath { get; private set; }

    /// <summary>Whether <see cref="Configure"/> has run in this process.</summary>
    public static bool IsConfigured
    {
        get { lock (s_lock) return s_configured; }
    }

    /// <summary>The custom llama.cpp folder in use, or null for the one LLamaSharp's backend package ships.</summary>
    public static string? NativeLibraryDirectory => s_nativeLibDir;

    /// <summary>
    /// The default log file: $XDG_CACHE_HOME/longrope/llama.log (an absolute XDG_CACHE_HOME; the XDG spec says to ignore
    /// a relative one), else ~/.cache/longrope/llama.log; null for an account without a home folder (GetFolderPath
    /// gives "" when HOME is unset or does not exist). Then the log is discarded rather than written under the working
    /// folder or in a shared temporary folder, where another user could have put a link in its place.
    /// </summary>
    public static string? DefaultLogFile()
    {
        string? cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cache) || !Path.IsPathFullyQualified(cache))
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (home.Length == 0) return null;
            cache = Path.Combine(home, ".cache");
        }
        return Path.Combine(cache, "longrope", "llama.log");
    }

    /// <summary>
    /// Chooses the native library (<paramref name="nativeLibDir"/>, else <see cref="NativeLibEnvironmentVariable"/>, else
    /// the bundled backend) and routes llama.cpp's log to standard error (<paramref name="verbose"/>) or to a file
    /// (<paramref name="logFile"/>, else <see cref="DefaultLogFile"/>). Loads nothing yet.
    /// </summary>
    public static void Configure(string? nativeLibDir, bool verbose, string? logFile)
    {
        string source = "--native-lib ";
        if (string.IsNullOrWhiteSpace(nativeLibDir))
        {
            nativeLibDir = Environment.GetEnvironmentVariable(NativeLibEnvironmentVariable);
            source = NativeLibEnvironmentVariable + "=";
        }
        if (string.IsNullOrWhiteSpace(nativeLibDir)) nativeLibDir = null;
        if (nativeLibDir is not null)
        {
            nativeLibDir = Path.GetFullPath(nativeLibDir);
            if (File.Exists(nativeLibDir))
                throw new RuntimeInputException($"{source}{nativeLibDir}: is a file; give the folder that holds libllama.so and its ggml libraries");
            if (!Directory.Exists(nativeLibDir))
                throw new RuntimeInputException($"{source}{nativeLibDir}: no such directory");
            if (!File.Exists(Path.Combine(nativeLibDir, "libllama.so")))
                throw new RuntimeInputException($"{source}{nativeLibDir}: no libllama.so in it");
        }

        lock (s_lock)
        {
            PreferSleepingThreadWaits();
            if (!verbose) SuppressNativeBacktrace();
            if (s_configured && nativeLibDir != s_nativeLibDir)
                throw new InvalidOperationException($"the native library was already chosen ({s_nativeLibDir ?? "bundled backend"}); it cannot change within a process");
            SetSink(verbose, logFile);
            if (s_configured) return;

            s_callback = OnNativeLog;
            if (NativeLibraryConfig.LLama.LibraryHasLoaded)
            {
                // Something used LLamaSharp first (a test, a library caller): the library is fixed, the log can still move.
                if (nativeLibDir is not null)
                    throw new InvalidOperationException("--native-lib must be set before llama.cpp is first used in this process");
                NativeLogConfig.llama_log_set(s_callback);
            }
            else
            {
                if (nativeLibDir is not null)
                    NativeLibraryConfig.All.WithLibrary(Path.Combine(nativeLibDir, "libllama.so"), null);
                else if (CpuBuildSelector.Detect() is { } level)
                    NativeLibraryConfig.All.WithAvx(level); // LLamaSharp's own guess is noavx under Native AOT
                // Before the load, so LLamaSharp's own loader messages (which library, why a fallback) are routed too.
                NativeLibraryConfig.All.WithLogCallback(s_callback);
            }
            s_nativeLibDir = nativeLibDir;
            s_nativeLibSource = nativeLibDir is null ? null : source.TrimEnd(' ', '=');
            s_configured = true;
        }
    }

    /// <summary>Loads the native library if needed and describes the backend and its devices (cached).</summary>
    public static BackendInfo Backend()
    {
        lock (s_lock)
        {
            if (!s_configured) throw new InvalidOperationException("NativeRuntime.Configure must run before llama.cpp is used");
            if (s_backend is not null) return s_backend;
        }
        long mark = Log.Position;
        try
        {
            if (s_nativeLibDir is not null) PreloadGgml(s_nativeLibDir);
            NativeApi.llama_empty_call(); // first native call: LLamaSharp selects and loads the library here
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string where = s_nativeLibDir is null ? "the bundled LLamaSharp backend" : $"{s_nativeLibDir} ({s_nativeLibSource})";
            // A custom build: the system loader's reason is the whole story (LLamaSharp's message is a page of generic
            // advice around it): PreloadGgml's own failure when a ggml backend failed (one missing a CUDA library),
            // otherwise libllama loaded once more by the system loader to hear why.
            if (s_nativeLibDir is not null && (LoaderReason(e) ?? LoaderError(s_nativeLibDir)) is { } reason)
                throw new LlamaFailureException($"cannot load llama.cpp from {where}: {reason}", e);
            string? cause = Log.BestErrorSince(mark);
            throw new LlamaFailureException($"cannot load llama.cpp from {where}: {OneLine(Innermost(e).Message)}{(cause is null ? "" : " (" + cause + ")")}", e);
        }
        var info = BackendInfo.Probe(s_nativeLibDir, Log.LoadedLibraryPath);
        lock (s_lock) return s_backend ??= info;
    }

    private static Exception Innermost(Exception e)
    {
        // LLamaSharp's first native call fails as "The type initializer for 'LLama.Native.NativeApi' threw an
        // exception"; what went wrong is further in.
        while (e is TypeInitializationException && e.InnerException is not null) e = e.InnerException;
        return e;
    }

    /// <summary>
    /// The system loader's reason why a custom build's libllama.so does not load ("libggml-base.so: cannot open shared
    /// object file", "invalid ELF header"), which LLamaSharp's own message leaves out; null when it loads.
    /// </summary>
    private static string? LoaderError(string dir)
    {
        try
        {
            NativeLibrary.Load(Path.Combine(dir, "libllama.so"));
            return null;
        }
        catch (Exception e) when (LoaderReason(e) is { } reason)
        {
            return reason;
        }
    }

    /// <summary>dlerror()'s text from a failed NativeLibrary.Load (.NET puts it on the message's last line, after its
    /// own advice); null for any other exception.</summary>
    private static string? LoaderReason(Exception e)
    {
        if (e is not (DllNotFoundException or BadImageFormatException)) return null;
        string last = e.Message.Trim().Split('\n')[^1].Trim();
        return last.Length > 0 ? last : OneLine(e.Message);
    }

    /// <summary>
    /// Loads a custom build's ggml libraries from its folder, in dependency order, before libllama: then libllama's own
    /// dependencies resolve to them (by soname) even when the build has no rpath and the folder is not on the library path.
    /// </summary>
    private static void PreloadGgml(string dir)
    {
        foreach (string name in new[] { "libggml-base.so", "libggml-cpu.so", "libggml-cuda.so", "libggml-vulkan.so", "libggml.so" })
        {
            string path = Path.Combine(dir, name);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }
    }

    private static void SetSink(bool verbose, string? logFile)
    {
        TextWriter sink;
        string? path = null;
        if (verbose)
        {
            sink = Console.Error;
        }
        else if ((logFile ?? DefaultLogFile()) is not { } target)
        {
            Console.Error.WriteLine("longrope: warning: no home folder for llama.cpp's log; it is discarded (use --log-file FILE or --verbose to see it)");
            sink = TextWriter.Null;
        }
        else
        {
            path = Path.GetFullPath(target);
            if (logFile is not null) OutputFiles.RefuseFolderOrModel(path, "--log-file", replaced: false);
            try
            {
                // The default place is ours to make; a folder the user named must exist (as for any output file).
                if (logFile is null) Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                sink = new StreamWriter(stream) { AutoFlush = true };
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (logFile is not null && e is DirectoryNotFoundException)
                    throw new RuntimeInputException($"--log-file {path}: the folder {Path.GetDirectoryName(path)} does not exist");
                if (logFile is not null) throw new RuntimeInputException($"--log-file {path}: {OneLine(e.Message)}");
                // The default place is not writable: say so once and drop the native log rather than fail.
                Console.Error.WriteLine($"longrope: warning: cannot write llama.cpp's log to {path} ({OneLine(e.Message)}); it is discarded (use --verbose to see it)");
                sink = TextWriter.Null;
                path = null;
            }
        }
        var old = s_sink;
        bool oldOwned = s_sinkOwned;
        s_sink = TextWriter.Synchronized(sink);
        s_sinkOwned = !verbose;
        LogFilePath = path;
        if (path is not null) OutputFiles.MarkInUse(path, "--log-file", logFile is null ? "llama.cpp log (the default --log-file)" : null);
        if (oldOwned) old?.Dispose();
    }

    private static void OnNativeLog(LLamaLogLevel level, string message)
    {
        Log.Observe(level, message);
        var sink = s_sink;
        if (sink is null) return;
        try
        {
            if (level == LLamaLogLevel.Continue) sink.Write(message);
            else if (message.EndsWith('\n')) sink.Write(message);
            else sink.WriteLine(message);
        }
        catch (ObjectDisposedException)
        {
            // The sink was swapped while a native thread was logging; the line is lost, nothing else.
        }
        catch (IOException e)
        {
            // The sink cannot be written (a log file on a full disk or like /proc/version, or a standard error that
            // fails): an exception here would surface inside llama.cpp's callback, so the log is dropped instead, with one
            // warning when it was a file.
            if (Interlocked.CompareExchange(ref s_sink, TextWriter.Null, sink) != sink) return;
            string? file = LogFilePath;
            LogFilePath = null; // the startup line must not point at a file that holds nothing
            try
            {
                if (file is not null)
                    Console.Error.WriteLine($"longrope: warning: cannot write llama.cpp's log to {file} ({OneLine(e.Message)}); it is discarded (use --verbose to see it)");
                if (s_sinkOwned) sink.Dispose();
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// llama.cpp's CPU backend parallelizes with OpenMP, whose threads spin at barriers by default. On a machine whose
    /// cores are shared with other work, a spinning thread that gets preempted stalls the others: measured here, 2
    /// threads ran a 2048-token grid 3.6x slower than 1. OMP_WAIT_POLICY=PASSIVE makes waiting threads sleep instead,
    /// which removed the penalty. libgomp reads it when it loads, so it is put into the native environment (where
    /// getenv sees it; .NET's own environment copy is not) before llama.cpp loads, unless the user chose a policy.
    /// Called by <see cref="Configure"/>; public for callers (test harnesses) that load LLamaSharp without it.
    /// </summary>
    public static void PreferSleepingThreadWaits()
    {
        if (NativeLibraryConfig.LLama.LibraryHasLoaded || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        try
        {
            setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Without libc's setenv the default (spinning) policy stays: slower under contention, same results.
        }
    }

    /// <summary>
    /// When llama.cpp aborts (a GGML_ASSERT: a file verify cannot see into, such as a vocabulary with duplicate tokens),
    /// ggml first attaches gdb to the process and prints its backtrace on standard output, where it corrupts --json
    /// and means nothing to a user. GGML_NO_BACKTRACE turns that off; the one-line assertion still goes to standard
    /// error. Left as the user set it, and on with --verbose.
    /// </summary>
    private static void SuppressNativeBacktrace()
    {
        if (Environment.GetEnvironmentVariable("GGML_NO_BACKTRACE") is not null || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        try
        {
            setenv("GGML_NO_BACKTRACE", "1", 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    internal static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
