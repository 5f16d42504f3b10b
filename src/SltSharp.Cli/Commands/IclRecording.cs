using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Optim;
using SltSharp.Estimators;
using SltSharp.Experiments.Icl;
using SltSharp.Store;
using SltSharp.Training;

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

    private const string DistanceDmmseMetric = "distance to dMMSE", DistanceRidgeMetric = "distance to ridge", TrainLossMetric = "train loss";

    /// <summary>
    /// The training state of one M in progress, kept with its run: at every LLC checkpoint the parameters
    /// (<c>icl-RUNID/checkpoints/step-NNNNNNNNN.safetensors</c> next to the store, <see cref="Checkpoint"/>) and Adam's
    /// state (<see cref="OptimizerCheckpoint"/>, the files <c>slt train</c> resumes from), then the distances so far as
    /// metrics, then the checkpoint record. A killed sweep continues the M from its last checkpoint whose files are
    /// intact; the training sequences of each step depend on (seed, step) alone, so the numbers are the uninterrupted run's.
    /// </summary>
    public sealed class Journal(IResultsStore store, long runId, object storeLock) : IIclTrainingJournal
    {
        /// <inheritdoc/>
        public IclTrainingProgress? Restore(ParameterSet<float> parameters, Optimizer<float> optimizer)
        {
            ArgumentNullException.ThrowIfNull(parameters);
            ArgumentNullException.ThrowIfNull(optimizer);
            List<CheckpointRecord> checkpoints;
            List<MetricPoint> metrics;
            lock (storeLock)
            {
                checkpoints = [.. store.Checkpoints(runId).OrderBy(c => c.Step)];
                metrics = [.. store.Metrics(runId)];
            }
            // The last checkpoint whose files are intact, and every one before it (their parameters are LLC snapshots).
            int last = checkpoints.FindLastIndex(c => Intact(c, withOptimizer: true));
            if (last < 0 || checkpoints.Take(last).Any(c => !Intact(c, withOptimizer: false)))
            {
                return null;
            }
            var snapshots = new List<(int, float[])>();
            foreach (var c in checkpoints.Take(last + 1))
            {
                Checkpoint.Load(TrainingRecorder.ResolvePath(store, c), parameters);
                var w = new float[parameters.CountPerChain];
                parameters.CopyChainTo(0, w);
                snapshots.Add(((int)c.Step, w));
            }
            var resumeAt = checkpoints[last];
            OptimizerCheckpoint.Load(TrainingRecorder.OptimizerPath(TrainingRecorder.ResolvePath(store, resumeAt)), optimizer);
            if (optimizer.StepCount != resumeAt.Step)
            {
                throw new InvalidDataException($"The optimizer state of run {runId} at step {resumeAt.Step} is from step {optimizer.StepCount}; the checkpoint files are mismatched.");
            }
            var byStep = metrics.Where(p => p.Step <= resumeAt.Step).GroupBy(p => p.Step).OrderBy(g => g.Key);
            var evaluations = byStep.Select(g => new IclEvaluation((int)g.Key, Value(g, TrainLossMetric), Value(g, DistanceDmmseMetric), Value(g, DistanceRidgeMetric))).ToList();
            return new IclTrainingProgress((int)resumeAt.Step, evaluations, snapshots);
        }

        /// <inheritdoc/>
        public void Save(int step, ParameterSet<float> parameters, Optimizer<float> optimizer, IReadOnlyList<IclEvaluation> evaluations)
        {
            ArgumentNullException.ThrowIfNull(evaluations);
            string file;
            lock (storeLock)
            {
                file = Path.Combine(TrainingRecorder.StoreFolder(store), $"icl-{runId}", "checkpoints", $"step-{step:D9}.safetensors");
            }
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["step"] = step.ToString(CultureInfo.InvariantCulture) };
            Checkpoint.Save(file, parameters, metadata: metadata);
            OptimizerCheckpoint.Save(TrainingRecorder.OptimizerPath(file), optimizer);
            string hash = TrainingRecorder.Sha256(file);
            lock (storeLock)
            {
                long recordedUpTo = store.Metrics(runId).Select(p => p.Step).DefaultIfEmpty(0).Max();
                store.AppendMetrics(runId, MetricPoints(evaluations.Where(e => e.Step > recordedUpTo)));
                string relative = Path.GetRelativePath(TrainingRecorder.StoreFolder(store), file).Replace('\\', '/');
                if (!store.Checkpoints(runId).Any(c => c.Step == step))
                {
                    store.AddCheckpoint(runId, step, relative, hash);
                }
            }
        }

        private bool Intact(CheckpointRecord c, bool withOptimizer)
        {
            if (c.Path.StartsWith("memory:", StringComparison.Ordinal))
            {
                return false;
            }
            string model = TrainingRecorder.ResolvePath(store, c);
            return File.Exists(model) && (!withOptimizer || File.Exists(TrainingRecorder.OptimizerPath(model))) && TrainingRecorder.Sha256(model) == c.Sha256;
        }

        private static double Value(IEnumerable<MetricPoint> points, string name) =>
            points.FirstOrDefault(p => p.Name == name)?.Value ?? throw new InvalidDataException($"The journal has no '{name}' at a step it recorded distances for.");
    }

    /// <summary>
    /// The run that records these settings: the latest unfinished one with the same configuration and seed (killed or
    /// interrupted; its journal holds the training state to continue from), or a new one.
    /// </summary>
    public static long Begin(IResultsStore store, IclRunOptions options, bool quick)
    {
        ArgumentNullException.ThrowIfNull(store);
        var config = Config(options, IclExperiment.ParameterCount(options), quick).ToJsonString();
        long seed = unchecked((long)options.Seed);
        var unfinished = store.ListRuns().LastOrDefault(r => r.Command == Command && r.Status != RunStatus.Completed && r.Seed == seed && r.ConfigJson == config);
        return unfinished?.Id ?? store.CreateRun(new RunStart(Command, config, seed, LlcRecording.CodeVersion(), Environment.MachineName)).Id;
    }

    /// <summary>
    /// Records a finished run into its run <paramref name="runId"/> (from <see cref="Begin"/>, whose journal wrote the
    /// checkpoints and the distances while training), with <paramref name="summary"/> as its
    /// <see cref="SummaryAnalysis"/>; the run is marked completed only after everything is written, so a run killed
    /// while recording is redone (from its last training checkpoint) by the next sweep.
    /// </summary>
    public static void Record(IResultsStore store, long runId, IclRunResult result, JsonObject summary)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(summary);
        RunStatusScope.Run(store, runId, () =>
        {
            WriteResults(store, runId, result);
            store.SaveAnalysis(runId, SummaryAnalysis, summary.ToJsonString());
            return runId;
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
            ["lr_schedule"] = o.LearningRateSchedule.ToString().ToLowerInvariant(),
            // Runs before this key drew all training sequences from one stream; their numbers differ, so they never match.
            ["training_streams"] = "per-step",
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
        // The journal recorded the distances and the checkpoint files while training; the last step is a checkpoint,
        // so everything is there unless the run trained without a journal.
        long recordedUpTo = store.Metrics(runId).Select(p => p.Step).DefaultIfEmpty(0).Max();
        store.AppendMetrics(runId, MetricPoints(result.Evaluations.Where(e => e.Step > recordedUpTo)));
        var recorded = store.Checkpoints(runId).ToDictionary(c => c.Step);
        foreach (var c in result.Checkpoints)
        {
            var checkpoint = recorded.TryGetValue(c.Step, out var saved) ? saved
                : store.AddCheckpoint(runId, c.Step, $"memory:icl/m={result.TaskCountLabel}/step={c.Step}", Hash(c.Parameters));
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

    private static List<MetricPoint> MetricPoints(IEnumerable<IclEvaluation> evaluations)
    {
        var metrics = new List<MetricPoint>();
        foreach (var e in evaluations)
        {
            metrics.Add(new MetricPoint(e.Step, DistanceDmmseMetric, e.DistanceDmmse));
            metrics.Add(new MetricPoint(e.Step, DistanceRidgeMetric, e.DistanceRidge));
            metrics.Add(new MetricPoint(e.Step, TrainLossMetric, e.TrainLoss));
        }
        return metrics;
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
