namespace SltSharp.Store;

/// <summary>What <see cref="ChainJobRunner.Run"/> did.</summary>
/// <param name="Job">The job (found or created).</param>
/// <param name="Chains">All chains of the job, from the store, by chain index.</param>
/// <param name="Estimate">The job's estimate.</param>
/// <param name="ChainsRun">Chain indices computed by this call (empty when everything was already stored).</param>
public sealed record ChainJobResult(
    SamplingJobRecord Job,
    IReadOnlyList<ChainRecord> Chains,
    EstimateRecord Estimate,
    IReadOnlyList<int> ChainsRun);

/// <summary>
/// The resumable driver loop around a store: find or create the job, run only the chains not yet saved (each saved
/// in its own transaction as soon as it finishes), then compute and save the estimate from all stored chains.
/// A crash or Ctrl-C loses at most the chain in flight; calling again with the same spec finishes the job.
/// </summary>
public static class ChainJobRunner
{
    /// <summary>Runs (or resumes, or just returns) the job.</summary>
    /// <param name="store">The results store.</param>
    /// <param name="spec">The job.</param>
    /// <param name="runChain">Samples chain <c>chainIndex</c> of job <c>jobId</c>. Its randomness must depend only on the
    /// job's seed and the chain index (e.g. <c>new Rng(seed, stream: chainIndex)</c>), never on which chains ran
    /// before in this process, so that a resumed job equals an uninterrupted one.</param>
    /// <param name="estimate">Computes the estimate from all chains (ordered by index).</param>
    /// <param name="cancellationToken">Checked between chains; a cancelled run keeps every chain saved so far.</param>
    public static ChainJobResult Run(
        IResultsStore store,
        SamplingJobSpec spec,
        Func<long, int, ChainRecord> runChain,
        Func<SamplingJobRecord, IReadOnlyList<ChainRecord>, EstimateRecord> estimate,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(runChain);
        ArgumentNullException.ThrowIfNull(estimate);

        var job = store.FindOrCreateJob(spec);
        var stored = job.Status == RunStatus.Completed ? store.Estimate(job.Id) : null;
        if (stored is not null)
        {
            return new ChainJobResult(job, store.Chains(job.Id), stored, []);
        }

        var done = store.CompletedChains(job.Id).ToHashSet();
        var ran = new List<int>();
        for (var chain = 0; chain < spec.Chains; chain++)
        {
            if (done.Contains(chain))
            {
                continue;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var record = runChain(job.Id, chain);
            if (record.JobId != job.Id || record.ChainIndex != chain)
            {
                throw new InvalidOperationException(
                    $"runChain was asked for chain {chain} of job {job.Id} but returned chain {record.ChainIndex} of job {record.JobId}.");
            }

            store.SaveChain(record);
            ran.Add(chain);
        }

        var chains = store.Chains(job.Id);
        var result = estimate(job, chains);
        if (result.JobId != job.Id)
        {
            throw new InvalidOperationException($"The estimate is for job {result.JobId}, not job {job.Id}.");
        }

        store.CompleteJob(result);
        return new ChainJobResult(job with { Status = RunStatus.Completed }, chains, result, ran);
    }
}
