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
    /// <param name="observer">Sees the kept draws of the chains sampled now, or null.</param>
    public static LlcRecordingResult Run(IResultsStore store, JsonObject modelSpec, JsonObject samplerConfig, BuiltinModel setup,
        LlcOptions options, IProgress<SamplingProgress>? progress, DrawObserver<double>? observer = null)
    {
        string configJson = new JsonObject { ["model"] = modelSpec.DeepClone(), ["sampler"] = samplerConfig.DeepClone() }.ToJsonString();
        // The same command finds the run it started before (finished, failed or killed), so its job and chains show up
        // under one run id in reports.
        var run = store.ListRuns().LastOrDefault(r => r.Command == Command && r.ConfigJson == configJson)
            ?? store.CreateRun(new RunStart(Command, configJson, unchecked((long)options.Seed), CodeVersion(), Environment.MachineName));
        return RunStatusScope.Run(store, run.Id, () =>
        {
            var checkpoint = store.AddCheckpoint(run.Id, 0, (string?)modelSpec["checkpoint"] ?? "builtin:" + (string?)modelSpec["name"], CheckpointHash(modelSpec, setup.WStar));
            var job = LlcJob.Run(store, checkpoint.Id, (string)samplerConfig["sampler"]!, samplerConfig, setup.Loss, setup.WStar, options, progress, observer);
            return new LlcRecordingResult(job.Result, run.Id, job.Job.Job.Id, job.ChainsComputed, job.ChainsReused);
        });
    }

    /// <summary>The checkpoint's identity: the model spec and the exact bits of w*.</summary>
    internal static string CheckpointHash(JsonObject modelSpec, double[] wStar)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(modelSpec.ToJsonString()));
        foreach (double w in wStar)
        {
            sha.AppendData(BitConverter.GetBytes(w));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    internal static string CodeVersion() =>
        typeof(LlcRecording).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(LlcRecording).Assembly.GetName().Version?.ToString() ?? "unknown";
}

/// <summary>IProgress that calls back on the reporting thread (Progress&lt;T&gt; would post to a sync context).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
