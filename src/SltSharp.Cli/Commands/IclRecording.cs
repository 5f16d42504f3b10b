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

    /// <summary>The analysis holding a run's JSON summary (its entry of <c>--json</c>): a resumed sweep prints it again.</summary>
    public const string SummaryAnalysis = "icl_summary";

    /// <summary>
    /// Records a finished run, with <paramref name="summary"/> as its <see cref="SummaryAnalysis"/>; the run is marked
    /// completed only after everything is written, so a run killed while recording is redone by the next sweep.
    /// </summary>
    public static long Record(IResultsStore store, IclRunResult result, bool quick, JsonObject summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var config = Config(result.Options, result.ParameterCount, quick);
        var run = store.CreateRun(new RunStart(Command, config.ToJsonString(), unchecked((long)result.Options.Seed), LlcRecording.CodeVersion(), Environment.MachineName));
        return RunStatusScope.Run(store, run.Id, () =>
        {
            WriteResults(store, run.Id, result);
            store.SaveAnalysis(run.Id, SummaryAnalysis, summary.ToJsonString());
            return run.Id;
        });
    }

    /// <summary>
    /// The latest completed run of these exact settings (everything that decides its numbers: the configuration and
    /// the seed) and its stored summary, or null: a sweep interrupted after some values of M skips those.
    /// </summary>
    public static (long RunId, JsonObject Summary)? FindCompleted(IResultsStore store, IclRunOptions options, bool quick)
    {
        ArgumentNullException.ThrowIfNull(store);
        string config = Config(options, IclExperiment.ParameterCount(options), quick).ToJsonString();
        long seed = unchecked((long)options.Seed);
        foreach (var run in store.ListRuns().Where(r => r.Command == Command && r.Status == RunStatus.Completed && r.Seed == seed && r.ConfigJson == config).OrderByDescending(r => r.Id))
        {
            if (store.Analysis(run.Id, SummaryAnalysis) is { } json && JsonNode.Parse(json) is JsonObject summary)
            {
                return (run.Id, summary);
            }
        }
        return null;
    }

    /// <summary>Everything a run's numbers depend on (the seed is stored beside it).</summary>
    public static JsonObject Config(IclRunOptions o, int parameterCount, bool quick)
    {
        ArgumentNullException.ThrowIfNull(o);
        return new JsonObject
        {
            ["experiment"] = "icl",
            ["m"] = o.TaskCount?.ToString(CultureInfo.InvariantCulture) ?? "inf",
            ["quick"] = quick,
            ["dimension"] = o.Dimension,
            ["pairs"] = o.Pairs,
            ["noise_variance"] = o.NoiseVariance,
            ["model"] = new JsonObject { ["d_model"] = o.Model.ModelDimension, ["heads"] = o.Model.Heads, ["layers"] = o.Model.Layers, ["mlp_hidden"] = o.Model.MlpHidden, ["parameters"] = parameterCount },
            ["steps"] = o.Steps,
            ["batch_size"] = o.BatchSize,
            ["learning_rate"] = o.LearningRate,
            ["llc"] = Sampler(o.Llc),
            ["head_llc"] = o.HeadLlc ? Sampler(o.HeadLlcOptions) : null,
            ["llc_sequences"] = o.LlcSequences,
            ["probe_sequences"] = o.ProbeSequences,
            ["evaluations"] = o.Evaluations,
            ["checkpoints"] = o.Checkpoints,
            ["first_checkpoint"] = o.FirstCheckpoint,
        };
    }

    private static void WriteResults(IResultsStore store, long runId, IclRunResult result)
    {
        var o = result.Options;
        var metrics = new List<MetricPoint>();
        foreach (var e in result.Evaluations)
        {
            metrics.Add(new MetricPoint(e.Step, "distance to dMMSE", e.DistanceDmmse));
            metrics.Add(new MetricPoint(e.Step, "distance to ridge", e.DistanceRidge));
            metrics.Add(new MetricPoint(e.Step, "train loss", e.TrainLoss));
        }
        store.AppendMetrics(runId, metrics);
        foreach (var c in result.Checkpoints)
        {
            var checkpoint = store.AddCheckpoint(runId, c.Step, $"memory:icl/m={result.TaskCountLabel}/step={c.Step}", Hash(c.Parameters));
            SaveJob(store, checkpoint.Id, "sgld", o.Llc, c.Llc);
            foreach (var (head, llc) in c.HeadLlcs)
            {
                SaveJob(store, checkpoint.Id, HeadSampler(head), o.HeadLlcOptions, llc);
            }
        }
        if (result.Stages is { } stages)
        {
            store.SaveStages(runId, [.. stages.Stages.Select((s, i) => new StageRecord(
                (long)Math.Round(s.StartStep), (long)Math.Round(s.EndStep), s.Type.ToString(),
                string.Create(CultureInfo.InvariantCulture, $"{s.Type} (Δλ̂ {s.DeltaLlc:+0.0;-0.0})"),
                s.DeltaLlc, s.DeltaLoss, i < stages.Boundaries.Count ? stages.Boundaries[i].Confidence : null))]);
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
