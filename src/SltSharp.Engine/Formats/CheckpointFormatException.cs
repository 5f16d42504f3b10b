namespace SltSharp.Engine.Formats;

/// <summary>
/// A checkpoint file (safetensors, .npy, .npz) is malformed, truncated, or does not hold what was asked for.
/// </summary>
/// <remarks>
/// Every reader in <see cref="SltSharp.Engine.Formats"/> reports bad input through this one type, so callers can
/// catch it and nothing else. The message names the file, the tensor (when one is involved), the problem and what to
/// do about it.
/// </remarks>
public sealed class CheckpointFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="filePath"/> and, if known, <paramref name="tensorName"/>.</summary>
    public CheckpointFormatException(string filePath, string? tensorName, string problem, Exception? innerException = null)
        : base(Compose(filePath, tensorName, problem), innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    /// <summary>Creates the exception with a bare message (for serializers and generic handlers).</summary>
    public CheckpointFormatException()
        : this("<unknown file>", null, "The checkpoint is malformed.")
    {
    }

    /// <summary>Creates the exception with a bare message (for serializers and generic handlers).</summary>
    public CheckpointFormatException(string message)
        : this("<unknown file>", null, message)
    {
    }

    /// <summary>Creates the exception with a bare message and cause.</summary>
    public CheckpointFormatException(string message, Exception innerException)
        : this("<unknown file>", null, message, innerException)
    {
    }

    /// <summary>The file being read or written (or a caller-chosen label for in-memory data).</summary>
    public string FilePath { get; }

    /// <summary>The tensor (or .npz entry) involved, or null when the problem is with the file as a whole.</summary>
    public string? TensorName { get; }

    private static string Compose(string filePath, string? tensorName, string problem) =>
        tensorName is null
            ? $"Checkpoint '{filePath}': {problem}"
            : $"Checkpoint '{filePath}', tensor '{tensorName}': {problem}";
}
