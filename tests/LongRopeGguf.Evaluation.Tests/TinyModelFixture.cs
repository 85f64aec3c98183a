using LongRopeGguf.Evaluation.Engine;
using LongRopeGguf.Tests;

namespace LongRopeGguf.Evaluation.Tests;

/// <summary>The tiny pass-key model, loaded once for all tests of the collection.</summary>
public sealed class TinyModelFixture : IDisposable
{
    public TinyModelFixture()
    {
        Model = EvalModel.Load(TestPaths.TinyModel, new EngineOptions { Threads = 2 });
    }

    public EvalModel Model { get; }

    public void Dispose() => Model.Dispose();
}

[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModelFixture>, ICollectionFixture<NiahGridFixture>
{
    public const string Name = "tiny model";
}
