namespace LongRopeGguf.LongRope;

/// <summary>A factor set is malformed or does not fit the model: one line saying what, where and what was expected.</summary>
public class FactorSetException(string message) : Gguf.BadInputException(message);

/// <summary>A model cannot be patched (or un-patched) as asked: one line saying why.</summary>
public class LongRopePatchException(string message) : Gguf.BadInputException(message);

/// <summary>A model whose RoPE shape this tool cannot work with, for a reason verify reports under its own finding code
/// (<see cref="Code"/>, with what llama.cpp does with such a file); <see cref="Detail"/> is the message without the path.</summary>
public sealed class ModelRopeException(string path, string detail, string code, Consequence consequence) : LongRopePatchException($"{path}: {detail}")
{
    public string Detail { get; } = detail;
    public string Code { get; } = code;
    public Consequence Consequence { get; } = consequence;
}

/// <summary>An in-place update is not possible for this file (the factor tensors or keys are missing or have another
/// size); a full rewrite is needed instead.</summary>
public sealed class InPlaceNotPossibleException(string message) : LongRopePatchException(message);
