namespace SltSharp.Store;

/// <summary>
/// The one place where a recorded run's final status follows from how its work ended: completed when the work returns,
/// interrupted when it is cancelled (Ctrl-C), failed when it throws anything else.
/// </summary>
public static class RunStatusScope
{
    /// <summary>Runs <paramref name="work"/> for run <paramref name="runId"/> and records how it ended.</summary>
    /// <remarks>A <see cref="ResultsStoreException"/> passes through without a status: the store itself failed (full,
    /// read-only, corrupt), so writing to it again would fail too and hide the real error.</remarks>
    public static T Run<T>(IResultsStore store, long runId, Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(work);
        try
        {
            T result = work();
            store.FinishRun(runId, RunStatus.Completed);
            return result;
        }
        catch (OperationCanceledException)
        {
            store.FinishRun(runId, RunStatus.Interrupted);
            throw;
        }
        catch (Exception ex) when (ex is not ResultsStoreException)
        {
            store.FinishRun(runId, RunStatus.Failed);
            throw;
        }
    }
}
