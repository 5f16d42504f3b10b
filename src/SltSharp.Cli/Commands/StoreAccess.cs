using System.CommandLine;
using SltSharp.Store;

namespace SltSharp.Cli.Commands;

/// <summary>What the commands that read a results store share: the options, opening an existing store, picking a run.</summary>
internal static class StoreAccess
{
    public static Option<string> StoreOption() =>
        new("--store") { Description = "The results store to read.", DefaultValueFactory = _ => LlcCommand.DefaultStore };

    public static Argument<long?> RunArgument() =>
        new("RUN_ID") { Description = "The run's id (see the 'recorded run N' line of slt llc).", Arity = ArgumentArity.ZeroOrOne };

    public static Option<bool> LatestOption() =>
        new("--latest") { Description = "Use the most recent run instead of RUN_ID." };

    /// <summary>Opens a store that must already exist: reading never creates an empty one.</summary>
    public static SqliteResultsStore OpenExisting(string path)
    {
        if (!File.Exists(path))
        {
            throw new ResultsStoreException(
                $"No results store at '{Path.GetFullPath(path)}': run 'slt llc' first (it records there), or pass --store PATH.");
        }
        return SqliteResultsStore.Open(path);
    }

    /// <summary>The run named by RUN_ID or --latest (exactly one of them).</summary>
    public static RunRecord Resolve(IResultsStore store, long? runId, bool latest)
    {
        if (runId is not null && latest)
        {
            throw new CliUsageException("Give either RUN_ID or --latest, not both.");
        }
        if (runId is { } id)
        {
            return store.GetRun(id);
        }
        if (!latest)
        {
            throw new CliUsageException("Which run? Give its id (e.g. 'slt report 3') or --latest.");
        }
        var runs = store.ListRuns();
        return runs.Count > 0
            ? runs.MaxBy(r => r.Id)!
            : throw new RunNotFoundException($"The results store '{store.Location}' holds no runs yet: run 'slt llc' first.");
    }
}
