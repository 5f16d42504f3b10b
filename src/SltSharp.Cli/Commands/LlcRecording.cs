using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using SltSharp.Estimators;
using SltSharp.Sampling;
using SltSharp.Store;

namespace SltSharp.Cli.Commands;

/// <summary>What <see cref="LlcRecording.Run"/> did.</summary>
/// <param name="Result">The estimate from all stored chains.</param>
/// <param name="RunId">The run in the store (re-used when the same command ran before).</param>
/// <param name="JobId">The sampling job.</param>
/// <param name="ChainsComputed">Chains sampled by this process.</param>
/// <param name="ChainsReused">Chains read back from the store (finished by an earlier, possibly killed, process).</param>
internal sealed record LlcRecordingResult(LlcResult Result, long RunId, long JobId, int ChainsComputed, int ChainsReused);

/// <summary>
/// Records an <c>slt llc</c> measurement in a results store and makes it resumable: the run and job are found by the
/// command's configuration, chains are saved as they finish, and a re-run samples only the chains that are missing.
/// The final estimate is always computed from the stored chains, so an interrupted-and-resumed run and an
/// uninterrupted one go through the very same numbers.
/// </summary>
internal static class LlcRecording
{
    public const string Command = "llc";

    /// <param name="store">The store.</param>
    /// <param name="modelSpec">The model as JSON (name, shape, n, data seed): with w* it identifies the checkpoint.</param>
    /// <param name="samplerConfig">The complete sampler configuration (everything the chains depend on, not threads).</param>
    /// <param name="setup">The model.</param>
    /// <param name="options">The estimator settings (Chains = all chains).</param>
    /// <param name="progress">Per-draw progress with global chain indices, or null.</param>
    public static LlcRecordingResult Run(IResultsStore store, JsonObject modelSpec, JsonObject samplerConfig, BuiltinModel setup,
        LlcOptions options, IProgress<SamplingProgress>? progress)
    {
        string configJson = new JsonObject { ["model"] = modelSpec.DeepClone(), ["sampler"] = samplerConfig.DeepClone() }.ToJsonString();
        // The same command finds the run it started before (finished, failed or killed), so its job and chains show up
        // under one run id in reports.
        var run = store.ListRuns().LastOrDefault(r => r.Command == Command && r.ConfigJson == configJson)
            ?? store.CreateRun(new RunStart(Command, configJson, unchecked((long)options.Seed), CodeVersion(), Environment.MachineName));
        try
        {
            var checkpoint = store.AddCheckpoint(run.Id, 0, "builtin:" + (string?)modelSpec["name"], CheckpointHash(modelSpec, setup.WStar));
            double nBeta = options.NBeta ?? LocalizedPosterior.DefaultNBeta(setup.Loss.SampleCount);
            // The stored trace holds kept draws only (burn-in steps are never recorded), hence Burnin 0 in the spec;
            // the burn-in step count is part of the sampler configuration.
            var spec = new SamplingJobSpec(checkpoint.Id, (string)samplerConfig["sampler"]!, options.StepSize, nBeta, options.Localization,
                options.Chains, options.Draws, 0, samplerConfig.ToJsonString());
            string samplerName = "";
            var job = ChainJobRunner.Run(store, spec, Math.Max(1, options.Threads),
                (jobId, chains) =>
                {
                    var subsetProgress = progress is null ? null
                        : new SynchronousProgress<SamplingProgress>(p => progress.Report(p with { Chain = chains[p.Chain] }));
                    var stopwatch = Stopwatch.StartNew();
                    var sample = LlcEstimator.Sample(setup.Loss, setup.WStar,
                        options with { ChainIndices = chains, Threads = Math.Min(options.Threads, chains.Count), Progress = subsetProgress });
                    double seconds = stopwatch.Elapsed.TotalSeconds;
                    samplerName = sample.SamplerName;
                    return chains.Select((chain, slot) => ToRecord(jobId, chain, slot, sample, seconds)).ToList();
                },
                (job, chains) => ToEstimate(job.Id, Combine(chains, nBeta, options, samplerName)));
            var result = Combine(job.Chains, nBeta, options, samplerName);
            store.FinishRun(run.Id, RunStatus.Completed);
            return new LlcRecordingResult(result, run.Id, job.Job.Id, job.ChainsRun.Count, job.Chains.Count - job.ChainsRun.Count);
        }
        catch (OperationCanceledException)
        {
            store.FinishRun(run.Id, RunStatus.Interrupted);
            throw;
        }
        catch (Exception ex) when (ex is not ResultsStoreException)
        {
            store.FinishRun(run.Id, RunStatus.Failed);
            throw;
        }
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
            TimeSpan.FromSeconds(chains.Sum(c => c.ElapsedSeconds)));
        // All chains share one anchor, so L(w*) is the same number in every record.
        return LlcEstimator.Combine(sampling, nBeta, chains[0].InitialLoss, options,
            samplerName.Length > 0 ? samplerName : options.Sampler.ToString().ToLowerInvariant());
    }

    private static ChainRecord ToRecord(long jobId, int chain, int slot, LlcSample sample, double seconds)
    {
        var s = sample.Sampling;
        var info = new Dictionary<string, float[]>
        {
            ["acceptance"] = [.. s.Acceptances[slot].Select(v => (float)v)],
            ["distance"] = [.. s.Distances[slot].Select(v => (float)v)],
            ["grad_norm"] = [.. s.GradientNorms[slot].Select(v => (float)v)],
        };
        double lambda = double.NaN;
        if (s.Diverged[slot])
        {
            info["diverged"] = [1f];
        }
        else
        {
            lambda = sample.NBeta * (s.Losses[slot].Average() - sample.ReferenceLoss);
        }
        return new ChainRecord(jobId, chain, sample.ReferenceLoss, s.Losses[slot], info, lambda, seconds);
    }

    internal static EstimateRecord ToEstimate(long jobId, LlcResult r)
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
        return new EstimateRecord(jobId, r.Mean, r.StandardError, diagnostics.ToJsonString(), r.Verdict, [.. d.Reasons]);
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    /// <summary>The checkpoint's identity: the model spec and the exact bits of w*.</summary>
    private static string CheckpointHash(JsonObject modelSpec, double[] wStar)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(modelSpec.ToJsonString()));
        foreach (double w in wStar)
        {
            sha.AppendData(BitConverter.GetBytes(w));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static string CodeVersion() =>
        typeof(LlcRecording).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(LlcRecording).Assembly.GetName().Version?.ToString() ?? "unknown";
}

/// <summary>IProgress that calls back on the reporting thread (Progress&lt;T&gt; would post to a sync context).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
