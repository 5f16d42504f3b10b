namespace SltSharp.Store;

/// <summary>What <c>ChainJobRunner.Run</c> did.</summary>
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
    /// <summary>Runs (or resumes, or just returns) the job, one chain at a time.</summary>
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
        ArgumentNullException.ThrowIfNull(runChain);
        return Run(store, spec, 1, (jobId, chains) => [runChain(jobId, chains[0])], estimate, cancellationToken);
    }

    /// <summary>
    /// Runs (or resumes, or just returns) the job, computing the missing chains in batches of up to
    /// <paramref name="batchSize"/> (e.g. one chain per thread); each batch's chains are saved as soon as it finishes.
    /// </summary>
    /// <param name="store">The results store.</param>
    /// <param name="spec">The job.</param>
    /// <param name="batchSize">Chains per call of <paramref name="runChains"/> (≥ 1).</param>
    /// <param name="runChains">Samples the given chain indices of job <c>jobId</c> and returns one record per index,
    /// in the same order. Chain c's randomness must depend only on the job's seed and c.</param>
    /// <param name="estimate">Computes the estimate from all chains (ordered by index).</param>
    /// <param name="cancellationToken">Checked between batches; a cancelled run keeps every chain saved so far.</param>
    public static ChainJobResult Run(
        IResultsStore store,
        SamplingJobSpec spec,
        int batchSize,
        Func<long, IReadOnlyList<int>, IReadOnlyList<ChainRecord>> runChains,
        Func<SamplingJobRecord, IReadOnlyList<ChainRecord>, EstimateRecord> estimate,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(runChains);
        ArgumentNullException.ThrowIfNull(estimate);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);

        var job = store.FindOrCreateJob(spec);
        var stored = job.Status == RunStatus.Completed ? store.Estimate(job.Id) : null;
        if (stored is not null)
        {
            return new ChainJobResult(job, store.Chains(job.Id), stored, []);
        }

        var done = store.CompletedChains(job.Id).ToHashSet();
        var missing = Enumerable.Range(0, spec.Chains).Where(c => !done.Contains(c)).ToArray();
        var ran = new List<int>();
        foreach (var batch in missing.Chunk(batchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var records = runChains(job.Id, batch);
            if (records.Count != batch.Length)
            {
                throw new InvalidOperationException($"runChains was asked for {batch.Length} chains but returned {records.Count}.");
            }

            for (var i = 0; i < batch.Length; i++)
            {
                var record = records[i];
                if (record.JobId != job.Id || record.ChainIndex != batch[i])
                {
                    throw new InvalidOperationException(
                        $"runChains was asked for chain {batch[i]} of job {job.Id} but returned chain {record.ChainIndex} of job {record.JobId}.");
                }

                store.SaveChain(record);
                ran.Add(batch[i]);
            }
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
