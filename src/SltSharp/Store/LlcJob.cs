using System.Diagnostics;
using System.Text.Json.Nodes;
using SltSharp.Estimators;
using SltSharp.Sampling;

namespace SltSharp.Store;

/// <summary>What <see cref="LlcJob.Run"/> did.</summary>
/// <param name="Result">The estimate from all stored chains.</param>
/// <param name="Job">The job, its chains and stored estimate.</param>
public sealed record LlcJobResult(LlcResult Result, ChainJobResult Job)
{
    /// <summary>Chains sampled by this call.</summary>
    public int ChainsComputed => Job.ChainsRun.Count;

    /// <summary>Chains read back from the store (finished by an earlier, possibly killed, process).</summary>
    public int ChainsReused => Job.Chains.Count - Job.ChainsRun.Count;
}

/// <summary>
/// A resumable LLC measurement at one stored checkpoint: the sampling job is keyed by the checkpoint's hash and the
/// complete sampler configuration, chains are saved as they finish, a re-run samples only the missing chains, and the
/// estimate is always computed from the stored chains, so an interrupted-and-resumed job and an uninterrupted one go
/// through the very same numbers. Used by <c>slt llc</c> (one checkpoint) and <c>slt trajectory</c> (every checkpoint).
/// </summary>
public static class LlcJob
{
    /// <summary>Runs, resumes or just reads the job.</summary>
    /// <param name="store">The store.</param>
    /// <param name="checkpointId">The stored checkpoint w* belongs to.</param>
    /// <param name="samplerName">Sampler name for the job key (e.g. <c>sgld</c>).</param>
    /// <param name="samplerConfig">The complete sampler configuration (everything the chains depend on, not threads).</param>
    /// <param name="loss">The loss.</param>
    /// <param name="wStar">The checkpoint's parameters.</param>
    /// <param name="options">Estimator settings (Chains = all chains; Threads = chains computed at once).</param>
    /// <param name="progress">Per-draw progress with global chain indices, or null.</param>
    /// <param name="observer">Sees every kept draw of the chains sampled now (not of chains read back from the store), with global chain indices.</param>
    public static LlcJobResult Run(IResultsStore store, long checkpointId, string samplerName, JsonObject samplerConfig,
        IChainedLoss<double> loss, double[] wStar, LlcOptions options, IProgress<SamplingProgress>? progress = null, DrawObserver<double>? observer = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(samplerConfig);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(wStar);
        ArgumentNullException.ThrowIfNull(options);
        double nBeta = options.NBeta ?? LocalizedPosterior.DefaultNBeta(loss.SampleCount);
        // The stored trace holds kept draws only (burn-in steps are never recorded), hence Burnin 0 in the spec;
        // the burn-in step count is part of the sampler configuration.
        var spec = new SamplingJobSpec(checkpointId, samplerName, options.StepSize, nBeta, options.Localization,
            options.Chains, options.Draws, 0, samplerConfig.ToJsonString());
        string sampler = "";
        var job = ChainJobRunner.Run(store, spec, Math.Max(1, options.Threads),
            (jobId, chains) =>
            {
                var subsetProgress = progress is null ? null
                    : new CallbackProgress<SamplingProgress>(p => progress.Report(p with { Chain = chains[p.Chain] }));
                var stopwatch = Stopwatch.StartNew();
                DrawObserver<double>? subsetObserver = observer is null ? null : (slot, draw, position) => observer(chains[slot], draw, position);
                var sample = LlcEstimator.Sample(loss, wStar,
                    options with { ChainIndices = chains, Threads = Math.Min(options.Threads, chains.Count), Progress = subsetProgress }, subsetObserver);
                // The batch's chains ran together, so each is charged an equal share of its wall time: batches run one
                // after another, and the shares of all chains then add up to the job's wall time of sampling.
                double seconds = stopwatch.Elapsed.TotalSeconds / chains.Count;
                sampler = sample.SamplerName;
                return chains.Select((chain, slot) => ToRecord(jobId, chain, slot, sample, seconds)).ToList();
            },
            (job, chains) => ToEstimate(job.Id, Combine(chains, nBeta, options, sampler)));
        return new LlcJobResult(Combine(job.Chains, nBeta, options, sampler), job);
    }

    /// <summary>The estimate of all stored chains, through the one estimator (<see cref="LlcEstimator.Combine"/>).</summary>
    private static LlcResult Combine(IReadOnlyList<ChainRecord> chains, double nBeta, LlcOptions options, string samplerName)
    {
        if (chains.Count != options.Chains)
        {
            throw new InvalidOperationException($"The job holds {chains.Count} of {options.Chains} chains; run the same command again to finish it.");
        }
        double[] Info(ChainRecord c, string name) =>
            c.StepInfo.TryGetValue(name, out var v) ? [.. v.Select(x => (double)x)] : new double[c.LossTrace.Length];
        var sampling = SamplingResult.FromChains(
            [.. chains.Select(c => c.LossTrace)],
            [.. chains.Select(c => Info(c, "acceptance"))],
            [.. chains.Select(c => Info(c, "distance"))],
            [.. chains.Select(c => Info(c, "grad_norm"))],
            [.. chains.Select(c => c.StepInfo.ContainsKey("diverged")
                ? $"Chain {c.ChainIndex} diverged after {c.LossTrace.Length} of {options.Draws} draws." : null)],
            chains.Sum(c => options.Burnin + ((long)c.LossTrace.Length * options.Thinning)),
            TimeSpan.FromSeconds(chains.Sum(c => c.ElapsedSeconds)),
            [.. chains.Select(c => c.StepInfo.TryGetValue(StepCurvatureKey, out var v) && v.Length >= 3 ? new StepCurvature(v[0], (int)v[1], v[2], v.Length > 3 ? v[3] : 0) : null)]);
        // All chains share one anchor, so L(w*) is the same number in every record.
        return LlcEstimator.Combine(sampling, nBeta, chains[0].InitialLoss, options,
            samplerName.Length > 0 ? samplerName : options.Sampler.ToString().ToLowerInvariant());
    }

    private static ChainRecord ToRecord(long jobId, int chain, int slot, LlcSample sample, double seconds) =>
        ToChainRecord(jobId, chain, sample.Sampling, slot, sample.NBeta, sample.ReferenceLoss, seconds);

    /// <summary>
    /// The stored form of one chain of a sampling result: its loss trace, the per-draw info the report and
    /// <see cref="Combine"/> read back (acceptance, distance, gradient norm, a divergence mark) and its λ̂.
    /// </summary>
    public static ChainRecord ToChainRecord(long jobId, int chain, SamplingResult s, int slot, double nBeta, double referenceLoss, double seconds)
    {
        var info = new Dictionary<string, float[]>
        {
            ["acceptance"] = [.. s.Acceptances[slot].Select(v => (float)v)],
            ["distance"] = [.. s.Distances[slot].Select(v => (float)v)],
            ["grad_norm"] = [.. s.GradientNorms[slot].Select(v => (float)v)],
        };
        if (s.StepCurvatures[slot] is { } k)
        {
            // Not a per-draw trace: (tr(nβ∇²L), probes, q_max) of the chain's step-bias check, so that the verdict of a
            // resumed job is computed from the same measurement as that of an uninterrupted one.
            info[StepCurvatureKey] = [(float)k.Trace, k.Probes, (float)k.TopCurvature, (float)k.MinibatchNoise];
        }
        double lambda = double.NaN;
        if (s.Diverged[slot])
        {
            info["diverged"] = [1f];
        }
        else
        {
            lambda = nBeta * (s.Losses[slot].Average() - referenceLoss);
        }
        return new ChainRecord(jobId, chain, referenceLoss, s.Losses[slot], info, lambda, seconds);
    }

    /// <summary>The stored form of an estimate: λ̂, SE, the diagnostics as JSON, verdict and reasons.</summary>
    public static EstimateRecord ToEstimate(long jobId, LlcResult r)
    {
        var d = r.Diagnostics;
        var diagnostics = new JsonObject
        {
            ["r_hat"] = Finite(d.RHat),
            ["bulk_ess"] = Finite(d.BulkEss),
            ["ess"] = Finite(d.Ess),
            ["acceptance"] = Finite(d.MeanAcceptance),
            ["negative_fraction"] = Finite(d.NegativeFraction),
            ["drift_z"] = Finite(d.DriftZScore),
            ["diverged_chains"] = d.DivergedChains,
            ["mcse"] = Finite(r.MonteCarloStandardError),
            ["nbeta"] = r.NBeta,
            ["reference_loss"] = r.ReferenceLoss,
            ["chain_llcs"] = new JsonArray([.. r.ChainEstimates.Select(v => (JsonNode?)JsonValue.Create(Finite(v)))]),
        };
        if (d.StepBias is { } b)
        {
            diagnostics["step_bias"] = Finite(b.Bias);
            diagnostics["step_bias_relative"] = Finite(b.RelativeBias);
            diagnostics["curvature_trace"] = Finite(b.Trace);
            diagnostics["top_curvature"] = Finite(b.TopCurvature);
            diagnostics["edge_ratio"] = Finite(b.EdgeRatio);
            diagnostics["advised_epsilon"] = Finite(b.AdvisedStep);
        }
        return new EstimateRecord(jobId, r.Mean, r.StandardError, diagnostics.ToJsonString(), r.Verdict, [.. d.Reasons]);
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    /// <summary>The step-info name under which a chain's <see cref="StepCurvature"/> is stored.</summary>
    public const string StepCurvatureKey = "step_curvature";

    /// <summary>IProgress that calls back on the reporting thread (Progress&lt;T&gt; would post to a sync context).</summary>
    private sealed class CallbackProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
