namespace LongRopeGguf.Evaluation;

/// <summary>Bad input to an evaluation (a haystack too short, a length the model cannot hold, a needle without a
/// placeholder): the message is one line that names the value and says what was expected.</summary>
/// <remarks>llama.cpp's own failures are <see cref="Runtime.LlamaFailureException"/>, as in the runner.</remarks>
public sealed class EvalInputException(string message) : Gguf.BadInputException(message);
