namespace SltSharp.Store;

/// <summary>
/// Where runs, checkpoints, sampling jobs, chains and estimates live. Every method is one transaction, so a crash or
/// Ctrl-C at any point loses at most the chain in flight. The default implementation is
/// <see cref="SqliteResultsStore"/>; the operations are deliberately plain (no SQLite-only features leak through) so
/// that a PostgreSQL implementation can follow.
/// </summary>
/// <remarks>
/// Resuming a job: <c>var job = store.FindOrCreateJob(spec); foreach chain not in store.CompletedChains(job.Id):
/// run it and store.SaveChain(...)</c>; then <see cref="CompleteJob"/> with the estimate. <see cref="ChainJobRunner"/>
/// wraps exactly this loop.
/// </remarks>
public interface IResultsStore : IDisposable
{
    /// <summary>Human-readable location (file path or connection target) used in messages.</summary>
    string Location { get; }

    /// <summary>Records a new run in state <see cref="RunStatus.Running"/> and returns it.</summary>
    /// <param name="start">What the run is.</param>
    RunRecord CreateRun(RunStart start);

    /// <summary>Marks a run finished (completed, failed or interrupted) now.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="status">Its final state.</param>
    /// <exception cref="RunNotFoundException">No such run.</exception>
    void FinishRun(long runId, RunStatus status);

    /// <summary>The run with this id.</summary>
    /// <param name="runId">The run.</param>
    /// <exception cref="RunNotFoundException">No such run; the message lists what the store holds.</exception>
    RunRecord GetRun(long runId);

    /// <summary>All runs, oldest first.</summary>
    IReadOnlyList<RunRecord> ListRuns();

    /// <summary>
    /// Records a checkpoint, or returns the stored one when the same (run, step) was recorded with the same hash.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="step">Training step.</param>
    /// <param name="path">Where the parameter file lives.</param>
    /// <param name="sha256">Hex SHA-256 of the parameter file.</param>
    /// <exception cref="StoreConflictException">The step is stored with a different hash.</exception>
    CheckpointRecord AddCheckpoint(long runId, long step, string path, string sha256);

    /// <summary>Checkpoints of a run by ascending step.</summary>
    /// <param name="runId">The run.</param>
    IReadOnlyList<CheckpointRecord> Checkpoints(long runId);

    /// <summary>Appends training metrics (one transaction for the whole batch).</summary>
    /// <param name="runId">The run.</param>
    /// <param name="points">The metric values.</param>
    void AppendMetrics(long runId, IReadOnlyList<MetricPoint> points);

    /// <summary>Training metrics of a run ordered by name, then step.</summary>
    /// <param name="runId">The run.</param>
    IReadOnlyList<MetricPoint> Metrics(long runId);

    /// <summary>Replaces the developmental stages recorded for a run.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="stages">Stages in order.</param>
    void SaveStages(long runId, IReadOnlyList<StageRecord> stages);

    /// <summary>Developmental stages of a run by start step.</summary>
    /// <param name="runId">The run.</param>
    IReadOnlyList<StageRecord> Stages(long runId);

    /// <summary>Stores (or replaces) a named analysis of a run as a JSON document, e.g. <c>essential_dynamics</c>.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="name">The analysis name.</param>
    /// <param name="contentJson">Its content.</param>
    void SaveAnalysis(long runId, string name, string contentJson);

    /// <summary>The named analysis of a run, or null when none was stored.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="name">The analysis name.</param>
    string? Analysis(long runId, string name);

    /// <summary>
    /// Returns the job with the spec's key, creating it when absent. Re-running the same command thus finds the job
    /// it started before, finished or not.
    /// </summary>
    /// <param name="spec">The job.</param>
    SamplingJobRecord FindOrCreateJob(SamplingJobSpec spec);

    /// <summary>Jobs whose checkpoint belongs to the run, by checkpoint step then id.</summary>
    /// <param name="runId">The run.</param>
    IReadOnlyList<SamplingJobRecord> Jobs(long runId);

    /// <summary>Indices of the chains of the job already saved, ascending.</summary>
    /// <param name="jobId">The job.</param>
    IReadOnlyList<int> CompletedChains(long jobId);

    /// <summary>
    /// Saves one finished chain (trace and step info) in one transaction. Saving a chain index that is already
    /// stored is a <see cref="StoreConflictException"/>: a resumed job must skip finished chains.
    /// </summary>
    /// <param name="chain">The chain.</param>
    void SaveChain(ChainRecord chain);

    /// <summary>All saved chains of a job by chain index.</summary>
    /// <param name="jobId">The job.</param>
    IReadOnlyList<ChainRecord> Chains(long jobId);

    /// <summary>Stores the job's estimate and marks the job completed (one transaction); replaces an earlier estimate.</summary>
    /// <param name="estimate">The estimate.</param>
    void CompleteJob(EstimateRecord estimate);

    /// <summary>The job's estimate, or null when the job has not completed.</summary>
    /// <param name="jobId">The job.</param>
    EstimateRecord? Estimate(long jobId);
}
