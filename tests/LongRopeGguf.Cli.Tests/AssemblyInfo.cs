// These tests start the CLI as a process and send it POSIX signals: Linux only, like the tool's atomic writes
// (copy_file_range, /proc) are tested here.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
