namespace LongRopeGguf.Gguf;

/// <summary>
/// Input that cannot be used: a malformed or unsupported file, an option value out of range, work the model or the
/// machine cannot hold. The message is one line naming the file or option and the field, offset or value; the command
/// line prints it and exits 2.
/// </summary>
/// <remarks>
/// Every layer's input errors derive from this type (<see cref="GgufFormatException"/>, the factor, patch, runtime,
/// evaluation and search errors), so that the command line tells input from a failure of the tool itself by type:
/// an <see cref="ArgumentOutOfRangeException"/> or <see cref="InvalidOperationException"/> out of our own code is a bug,
/// and is reported as one, never as "bad input".
/// </remarks>
public class BadInputException(string message) : Exception(message);

/// <summary>A metadata key or tensor the work needs is not in the file: the message names the file and the key or
/// tensor.</summary>
public sealed class GgufMissingEntryException(string message) : BadInputException(message);
