using Xunit.Abstractions;
using Xunit.Sdk;

namespace LongRopeGguf.Gguf.Tests.Support;

/// <summary>A fact that may skip itself at run time by throwing <see cref="LongRopeGguf.Tests.SkipException"/> (tests/Shared). Kept for what a test can
/// only find out while running (e.g. an external tool that could not be installed).</summary>
[AttributeUsage(AttributeTargets.Method)]
[XunitTestCaseDiscoverer("LongRopeGguf.Gguf.Tests.Support.SkippableFactDiscoverer", "LongRopeGguf.Gguf.Tests")]
public sealed class SkippableFactAttribute : FactAttribute;

public sealed class SkippableFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        yield return new SkippableTestCase(diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
            discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod);
    }
}

public sealed class SkippableTestCase : XunitTestCase
{
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public SkippableTestCase() { }

    public SkippableTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod testMethod)
        : base(diagnosticMessageSink, display, options, testMethod) { }

    public override async Task<RunSummary> RunAsync(IMessageSink diagnosticMessageSink, IMessageBus messageBus, object[] constructorArguments,
        ExceptionAggregator aggregator, CancellationTokenSource cancellationTokenSource)
    {
        var bus = new SkippingMessageBus(messageBus);
        var summary = await base.RunAsync(diagnosticMessageSink, bus, constructorArguments, aggregator, cancellationTokenSource);
        summary.Failed -= bus.Skipped;
        summary.Skipped += bus.Skipped;
        return summary;
    }

    /// <summary>Turns the failure of a test that threw <see cref="LongRopeGguf.Tests.SkipException"/> into a skip.</summary>
    private sealed class SkippingMessageBus(IMessageBus inner) : IMessageBus
    {
        public int Skipped { get; private set; }

        public bool QueueMessage(IMessageSinkMessage message)
        {
            if (message is ITestFailed failed && failed.ExceptionTypes.FirstOrDefault() == typeof(LongRopeGguf.Tests.SkipException).FullName)
            {
                Skipped++;
                return inner.QueueMessage(new TestSkipped(failed.Test, failed.Messages.FirstOrDefault()));
            }
            return inner.QueueMessage(message);
        }

        public void Dispose() => inner.Dispose();
    }
}
