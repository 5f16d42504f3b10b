namespace SltSharp.Store;

/// <summary>
/// Base of every error the results store reports. The message is one line naming the file (or run) and what to do.
/// </summary>
public class ResultsStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ResultsStoreException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">One line: what is wrong, with which file, and what to do.</param>
    public ResultsStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">One line: what is wrong, with which file, and what to do.</param>
    /// <param name="innerException">The underlying error.</param>
    public ResultsStoreException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The store file was written by a newer version of the schema than this build understands.</summary>
public sealed class StoreSchemaTooNewException : ResultsStoreException
{
    /// <summary>Creates the exception.</summary>
    public StoreSchemaTooNewException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public StoreSchemaTooNewException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error.</param>
    public StoreSchemaTooNewException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The file is not a results store: not a database at all, damaged, or a database of another program.</summary>
public sealed class StoreCorruptException : ResultsStoreException
{
    /// <summary>Creates the exception.</summary>
    public StoreCorruptException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public StoreCorruptException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error.</param>
    public StoreCorruptException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The store cannot be created or written where it was asked to be (read-only folder or file).</summary>
public sealed class StoreNotWritableException : ResultsStoreException
{
    /// <summary>Creates the exception.</summary>
    public StoreNotWritableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public StoreNotWritableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error.</param>
    public StoreNotWritableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A run (or job) asked for by id is not in the store.</summary>
public sealed class RunNotFoundException : ResultsStoreException
{
    /// <summary>Creates the exception.</summary>
    public RunNotFoundException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public RunNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error.</param>
    public RunNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A write contradicts what is stored (e.g. the same checkpoint step with a different file hash).</summary>
public sealed class StoreConflictException : ResultsStoreException
{
    /// <summary>Creates the exception.</summary>
    public StoreConflictException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public StoreConflictException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error.</param>
    public StoreConflictException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
