namespace LongRopeGguf.LongRope;

/// <summary>A factor set is malformed or does not fit the model: one line saying what, where and what was expected.</summary>
public class FactorSetException(string message) : InvalidOperationException(message);

/// <summary>A model cannot be patched (or un-patched) as asked: one line saying why.</summary>
public class LongRopePatchException(string message) : InvalidOperationException(message);

/// <summary>An in-place update is not possible for this file (the factor tensors or keys are missing or have another
/// size); a full rewrite is needed instead.</summary>
public sealed class InPlaceNotPossibleException(string message) : LongRopePatchException(message);
