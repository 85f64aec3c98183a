namespace LongRopeGguf.Tests;

/// <summary>Thrown by a SkippableFact test (Gguf.Tests) to report itself skipped, with the reason, instead of
/// failed (xunit 2 has no run-time skip of its own).</summary>
public sealed class SkipException(string reason) : Exception(reason);
