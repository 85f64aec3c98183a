namespace LongRopeGguf.Gguf;

/// <summary>
/// A set of changes to apply to a source file: keys to set or remove, tensors to add, replace or remove.
/// Keys and tensors that are not touched keep their order and their exact bytes; a set key that already exists
/// keeps its position, new keys and tensors go at the end in the order they were set.
/// </summary>
public sealed class GgufEdit
{
    private readonly List<(string Key, GgufValue? Value)> _metadata = [];
    private readonly List<(string Name, OutputTensor? Tensor)> _tensors = [];

    public GgufEdit SetValue(string key, GgufValue value)
    {
        _metadata.Add((key, value));
        return this;
    }

    public GgufEdit RemoveKey(string key)
    {
        _metadata.Add((key, null));
        return this;
    }

    public GgufEdit SetTensor(OutputTensor tensor)
    {
        _tensors.Add((tensor.Name, tensor));
        return this;
    }

    public GgufEdit RemoveTensor(string name)
    {
        _tensors.Add((name, null));
        return this;
    }

    public bool IsEmpty => _metadata.Count == 0 && _tensors.Count == 0;

    /// <summary>The last change for each key, in the order keys were first touched.</summary>
    internal IReadOnlyList<(string Key, GgufValue? Value)> MetadataChanges => LastWins(_metadata, x => x.Key);

    internal IReadOnlyList<(string Name, OutputTensor? Tensor)> TensorChanges => LastWins(_tensors, x => x.Name);

    private static List<T> LastWins<T>(List<T> changes, Func<T, string> key)
    {
        var last = new Dictionary<string, T>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var c in changes)
        {
            if (!last.ContainsKey(key(c))) order.Add(key(c));
            last[key(c)] = c;
        }
        return order.Select(k => last[k]).ToList();
    }
}
