using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using SltSharp.Estimators;
using SltSharp.Experiments.Icl;
using SltSharp.Store;

namespace SltSharp.Cli.Commands;

/// <summary>
/// Writes one <c>slt experiment icl</c> run (one task diversity M) to a results store, in the shapes <c>slt report</c>
/// draws: the distances to dMMSE and ridge and the training loss as metrics, one checkpoint per LLC step, a sampling
/// job per checkpoint for the whole-model LLC and one per attention head (sampler <c>sgld head lXhY</c>, the
/// weight-refined LLC), and the detected stages.
/// </summary>
internal static class IclRecording
{
    public const string Command = "experiment icl";

    /// <summary>The sampler label of a head's weight-refined LLC job; <c>ReportLoader</c> plots these apart.</summary>
    public static string HeadSampler(string head) => "sgld head " + head;

    public static long Record(IResultsStore store, IclRunResult result, bool quick)
    {
        var o = result.Options;
        var config = new JsonObject
        {
            ["experiment"] = "icl",
            ["m"] = result.TaskCountLabel,
            ["quick"] = quick,
            ["dimension"] = o.Dimension,
            ["pairs"] = o.Pairs,
            ["noise_variance"] = o.NoiseVariance,
            ["model"] = new JsonObject { ["d_model"] = o.Model.ModelDimension, ["heads"] = o.Model.Heads, ["layers"] = o.Model.Layers, ["mlp_hidden"] = o.Model.MlpHidden, ["parameters"] = result.ParameterCount },
            ["steps"] = o.Steps,
            ["batch_size"] = o.BatchSize,
            ["learning_rate"] = o.LearningRate,
            ["llc"] = Sampler(o.Llc),
            ["head_llc"] = o.HeadLlc ? Sampler(o.HeadLlcOptions) : null,
            ["llc_sequences"] = o.LlcSequences,
            ["probe_sequences"] = o.ProbeSequences,
        };
        var run = store.CreateRun(new RunStart(Command, config.ToJsonString(), unchecked((long)o.Seed), LlcRecording.CodeVersion(), Environment.MachineName));
        try
        {
            var metrics = new List<MetricPoint>();
            foreach (var e in result.Evaluations)
            {
                metrics.Add(new MetricPoint(e.Step, "distance to dMMSE", e.DistanceDmmse));
                metrics.Add(new MetricPoint(e.Step, "distance to ridge", e.DistanceRidge));
                metrics.Add(new MetricPoint(e.Step, "train loss", e.TrainLoss));
            }
            store.AppendMetrics(run.Id, metrics);
            foreach (var c in result.Checkpoints)
            {
                var checkpoint = store.AddCheckpoint(run.Id, c.Step, $"memory:icl/m={result.TaskCountLabel}/step={c.Step}", Hash(c.Parameters));
                SaveJob(store, checkpoint.Id, "sgld", o.Llc, c.Llc);
                foreach (var (head, llc) in c.HeadLlcs)
                {
                    SaveJob(store, checkpoint.Id, HeadSampler(head), o.HeadLlcOptions, llc);
                }
            }
            if (result.Stages is { } stages)
            {
                store.SaveStages(run.Id, [.. stages.Stages.Select(s => new StageRecord(
                    (long)Math.Round(s.StartStep), (long)Math.Round(s.EndStep), s.Type.ToString(),
                    string.Create(CultureInfo.InvariantCulture, $"{s.Type} (Δλ̂ {s.DeltaLlc:+0.0;-0.0})")))]);
            }
            store.FinishRun(run.Id, RunStatus.Completed);
            return run.Id;
        }
        catch (Exception ex) when (ex is not ResultsStoreException)
        {
            store.FinishRun(run.Id, RunStatus.Failed);
            throw;
        }
    }

    private static void SaveJob(IResultsStore store, long checkpointId, string sampler, LlcOptions options, LlcResult llc)
    {
        var spec = new SamplingJobSpec(checkpointId, sampler, options.StepSize, llc.NBeta, options.Localization, options.Chains, options.Draws, 0,
            Sampler(options).ToJsonString());
        var job = store.FindOrCreateJob(spec);
        var done = store.CompletedChains(job.Id).ToHashSet();
        var s = llc.Sampling;
        for (int slot = 0; slot < s.Losses.Length; slot++)
        {
            if (done.Contains(slot))
            {
                continue;
            }
            store.SaveChain(LlcJob.ToChainRecord(job.Id, slot, s, slot, llc.NBeta, llc.ReferenceLoss, 0));
        }
        store.CompleteJob(LlcJob.ToEstimate(job.Id, llc));
    }

    private static JsonObject Sampler(LlcOptions o) => new()
    {
        ["sampler"] = "sgld",
        ["epsilon"] = o.StepSize,
        ["nbeta"] = o.NBeta,
        ["gamma"] = o.Localization,
        ["chains"] = o.Chains,
        ["burnin"] = o.Burnin,
        ["draws"] = o.Draws,
        ["batch_size"] = o.BatchSize,
    };

    private static string Hash(float[] parameters)
    {
        var bytes = new byte[parameters.Length * sizeof(float)];
        Buffer.BlockCopy(parameters, 0, bytes, 0, bytes.Length);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }
}
