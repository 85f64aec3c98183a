namespace LongRopeGguf.Gguf.Tests;

/// <summary>
/// Entry point used only when a test starts this test assembly as a separate process
/// (<c>dotnet exec LongRopeGguf.Gguf.Tests.dll write-and-hang|write-and-exit TARGET</c>): it starts writing TARGET,
/// prints "writing" once half of the tensor data is in the temporary file, and then waits to be killed
/// (write-and-hang) or calls Environment.Exit(3) (write-and-exit). The test runner never calls it.
/// </summary>
public static class ChildProcess
{
    public const string Ready = "writing";

    public static int Main(string[] args)
    {
        if (args is not [("write-and-hang" or "write-and-exit") and var mode, var target])
        {
            Console.Error.WriteLine("usage: write-and-hang|write-and-exit TARGET");
            return 2;
        }
        const int bytes = 1 << 20;
        GgufRewriter.WriteNew(target,
            [new GgufMetadataEntry("general.architecture", GgufValue.String("child"))],
            [new OutputTensor("t", GgmlType.F32, [bytes / 4], new TensorData.Generated(bytes, stream =>
            {
                stream.Write(new byte[bytes / 2]);
                stream.Flush();
                Console.Out.WriteLine(Ready);
                Console.Out.Flush();
                if (mode == "write-and-exit") Environment.Exit(3);
                Thread.Sleep(Timeout.Infinite);
            }))]);
        return 0;
    }
}
