using System.Runtime.CompilerServices;

namespace LongRopeGguf.Tests;

/// <summary>
/// Gives every test process its own XDG cache folder, so that llama.cpp's default log (XDG_CACHE_HOME/longrope/llama.log,
/// truncated by each run that loads a model) is never the user's: a `dotnet test` emptied ~/.cache/longrope/llama.log,
/// in-process model loads and the longrope processes the tests start alike (they inherit the variable).
/// </summary>
internal static class TestCacheFolder
{
    [ModuleInitializer]
    internal static void Isolate()
    {
        const string prefix = "longrope-test-cache-";
        // A test host that the runner ends runs no exit handler: the folders of hosts that are gone go now.
        // Only where /proc shows this process: elsewhere (or in another pid namespace sharing /tmp) a live host's
        // folder would look stale.
        foreach (string stale in Directory.Exists($"/proc/{Environment.ProcessId}") ? Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*") : [])
        {
            string rest = Path.GetFileName(stale)[prefix.Length..];
            if (int.TryParse(rest.Split('-')[0], out int pid) && !Directory.Exists($"/proc/{pid}"))
                try { Directory.Delete(stale, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        string folder = Path.Combine(Path.GetTempPath(), $"{prefix}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(folder);
        Environment.SetEnvironmentVariable("XDG_CACHE_HOME", folder);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { } };
    }
}
