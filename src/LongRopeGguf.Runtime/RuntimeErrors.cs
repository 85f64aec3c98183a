namespace LongRopeGguf.Runtime;

/// <summary>
/// The user asked for something this model or runner cannot do (a context beyond the model, an empty prompt, an
/// invalid sampling value). The message is one line that names the value and the limit.
/// </summary>
public sealed class RuntimeInputException(string message) : Gguf.BadInputException(message);

/// <summary>
/// llama.cpp itself failed: the native library or the model did not load, a context could not be created (memory),
/// decoding failed. The message is one line and carries llama.cpp's own last error line when there is one.
/// </summary>
public sealed class LlamaFailureException(string message, Exception? inner = null) : Exception(message, inner);
