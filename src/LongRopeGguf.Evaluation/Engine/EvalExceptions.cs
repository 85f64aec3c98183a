namespace LongRopeGguf.Evaluation;

/// <summary>Bad input to an evaluation (a haystack too short, a length the model cannot hold, a needle without a
/// placeholder): the message is one line that names the value and says what was expected.</summary>
public sealed class EvalInputException(string message) : ArgumentException(message);

/// <summary>llama.cpp failed while evaluating (load, context creation, decode): the message is one line.</summary>
/// <remarks>The exception llama.cpp's failure came as, kept as the inner one (for --verbose and a debugger).</remarks>
public sealed class LlamaFailureException(string message, Exception? inner = null) : Exception(message, inner);
