namespace SltSharp.Engine.Checkpoints;

/// <summary>A model spec (JSON model description) is malformed: unknown kind or field, missing field, bad value.</summary>
public sealed class ModelSpecException : Exception
{
    /// <summary>Creates the exception for <paramref name="field"/> (null when the problem is the document as a whole).</summary>
    public ModelSpecException(string? field, string problem, Exception? innerException = null)
        : base(field is null ? $"Model spec: {problem}" : $"Model spec, field '{field}': {problem}", innerException)
    {
        Field = field;
    }

    /// <summary>Creates the exception with a bare message.</summary>
    public ModelSpecException()
        : this(null, "the model spec is malformed.")
    {
    }

    /// <summary>Creates the exception with a bare message.</summary>
    public ModelSpecException(string message)
        : this(null, message)
    {
    }

    /// <summary>Creates the exception with a bare message and cause.</summary>
    public ModelSpecException(string message, Exception innerException)
        : this(null, message, innerException)
    {
    }

    /// <summary>The offending JSON field (e.g. <c>d_model</c>), or null.</summary>
    public string? Field { get; }
}
