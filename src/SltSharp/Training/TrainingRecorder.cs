using System.Security.Cryptography;
using System.Text.Json.Nodes;
using SltSharp.Store;

namespace SltSharp.Training;

/// <summary>What <see cref="TrainingRecorder.Run"/> did.</summary>
/// <param name="Run">The run in the store.</param>
/// <param name="RunFolder">Absolute folder holding the run's files (<c>checkpoints/step-NNNNNNNNN.safetensors</c>).</param>
/// <param name="ResumedFromStep">The checkpoint step training continued from, or null when it started at step 0.</param>
/// <param name="Checkpoints">All checkpoints of the run, by step.</param>
/// <param name="FinalLoss">Full-data training loss at the last step.</param>
/// <param name="StepsTrained">Updates computed by this call (0 when the run was already complete).</param>
public sealed record TrainingRunResult(
    RunRecord Run, string RunFolder, long? ResumedFromStep, IReadOnlyList<CheckpointRecord> Checkpoints, double FinalLoss, long StepsTrained)
{
    /// <summary>
    /// Set when a resumed run continues with another gradient split than it was recorded with (another <c>--threads</c>):
    /// the steps from here on round differently, so the run is no longer bit-for-bit the uninterrupted one. Null otherwise.
    /// </summary>
    public string? Warning { get; init; }
}

/// <summary>
/// Trains a task and records it: the run (its configuration identifies it), a safetensors checkpoint plus the optimizer
/// state at every scheduled step, and the full-data training loss as the metric <c>train_loss</c>. Re-running with the
/// same configuration after a crash or Ctrl-C resumes from the last checkpoint whose files are intact, and the result is
/// bit-for-bit the uninterrupted run (see <see cref="TrainingSession"/>).
/// </summary>
/// <remarks>
/// Order of writes at a checkpoint: the two files (each atomically replaced), then the metrics up to that step, then the
/// checkpoint record. A crash between them leaves either a file without a record (rewritten identically on resume) or
/// metrics beyond the last checkpoint (skipped on resume, since those steps are recomputed with identical values).
/// Paths in the store are relative to the store's folder, so a store and its run folders can be moved together.
/// </remarks>
public static class TrainingRecorder
{
    /// <summary>The run's command in the store.</summary>
    public const string Command = "train";

    /// <summary>The metric name of the full-data training loss.</summary>
    public const string LossMetric = "train_loss";

    /// <summary>The run configuration as stored (and as compared when looking for a run to resume).</summary>
    public static JsonObject RunConfig(TrainingTaskConfig task, TrainingOptions options, string? runName)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(options);
        return new JsonObject
        {
            ["task"] = task.ToJson(),
            ["training"] = new JsonObject
            {
                ["steps"] = options.Steps,
                ["checkpoints"] = options.Schedule.ToString(),
                ["optimizer"] = options.Optimizer.ToString().ToLowerInvariant(),
                ["lr"] = options.LearningRate,
                ["momentum"] = options.Momentum,
                ["batch_size"] = options.BatchSize,
                ["seed"] = options.Seed,
                ["log_every"] = options.EffectiveLogEvery,
            },
            ["run_name"] = runName,
        };
    }

    /// <summary>The task and the training options a recorded training run used.</summary>
    /// <exception cref="ArgumentException">The run is not a training run.</exception>
    public static (TrainingTaskConfig Task, TrainingOptions Options, string? RunName) ReadConfig(RunRecord run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (run.Command != Command)
        {
            throw new ArgumentException($"Run {run.Id} is a '{run.Command}' run, not a training run; pick a run recorded by 'slt train'.", nameof(run));
        }
        var json = JsonNode.Parse(run.ConfigJson)?.AsObject() ?? throw new FormatException($"Run {run.Id} has an empty configuration.");
        var t = json["training"]!.AsObject();
        var options = new TrainingOptions
        {
            Steps = (long)t["steps"]!,
            Schedule = CheckpointSchedule.Parse((string)t["checkpoints"]!),
            Optimizer = Enum.Parse<OptimizerKind>((string)t["optimizer"]!, ignoreCase: true),
            LearningRate = (double)t["lr"]!,
            Momentum = (double)t["momentum"]!,
            BatchSize = (int)t["batch_size"]!,
            Seed = (ulong)t["seed"]!,
            LogEvery = (long)t["log_every"]!,
        };
        return (TrainingTaskConfig.FromJson(json["task"]!.AsObject()), options, (string?)json["run_name"]);
    }

    /// <summary>Trains (or resumes, or just returns) the run with this configuration.</summary>
    /// <param name="store">The results store; run folders go next to it.</param>
    /// <param name="taskConfig">The task.</param>
    /// <param name="options">Training settings.</param>
    /// <param name="runName">Names the run folder (default <c>train-RUNID</c>) and separates otherwise identical runs.</param>
    /// <param name="codeVersion">Recorded with a new run.</param>
    /// <param name="onLoss">Progress: (step, full-data loss) at every logged step; may be null.</param>
    /// <param name="cancellationToken">Stops between updates; every checkpoint so far is kept.</param>
    public static TrainingRunResult Run(IResultsStore store, TrainingTaskConfig taskConfig, TrainingOptions options, string? runName,
        string codeVersion, Action<long, double>? onLoss = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var task = TrainingTasks.Create(taskConfig);
        using var session = new TrainingSession(task, options);
        // The configuration identifies the run; the gradient split (from --threads) is stored with it but is not part of
        // the identity, so that a resume with another thread count continues the same run, with a warning.
        string configJson = RunConfig(taskConfig, options, runName).ToJsonString();
        var found = store.ListRuns().LastOrDefault(r => r.Command == Command && Identity(r.ConfigJson) == configJson);
        string? warning = null;
        if (found is not null && StoredShards(found.ConfigJson) is { } stored && stored != session.GradientShards)
        {
            warning = $"Run {found.Id} was trained with its gradient split over {stored} shard(s) and now continues with {session.GradientShards} (another --threads): " +
                $"the steps from here on differ from an uninterrupted run at float rounding. Rerun with --threads {stored} to resume bit for bit.";
        }
        var recorded = RunConfig(taskConfig, options, runName);
        recorded[GradientShardsKey] = session.GradientShards;
        var run = found
            ?? store.CreateRun(new RunStart(Command, recorded.ToJsonString(), unchecked((long)options.Seed), codeVersion, Environment.MachineName));
        string storeFolder = StoreFolder(store);
        string relativeFolder = runName ?? $"train-{run.Id}";
        string runFolder = Path.GetFullPath(Path.Combine(storeFolder, relativeFolder));
        Directory.CreateDirectory(Path.Combine(runFolder, "checkpoints"));

        long? resumedFrom = null;
        foreach (var c in store.Checkpoints(run.Id).Reverse())
        {
            string model = ResolvePath(store, c);
            string optimizer = OptimizerPath(model);
            if (File.Exists(model) && File.Exists(optimizer) && Sha256(model) == c.Sha256)
            {
                session.Restore(c.Step, model, optimizer);
                resumedFrom = c.Step;
                break;
            }
        }

        long storedUpTo = store.Metrics(run.Id).Where(m => m.Name == LossMetric).Select(m => m.Step).DefaultIfEmpty(-1).Max();
        var pending = new List<MetricPoint>();
        double lastLoss = double.NaN;
        long startStep = session.Step;
        double finalLoss = RunStatusScope.Run(store, run.Id, () =>
        {
            session.Run(
                (step, loss) =>
                {
                    lastLoss = loss;
                    if (step > storedUpTo)
                    {
                        pending.Add(new MetricPoint(step, LossMetric, loss));
                    }
                    onLoss?.Invoke(step, loss);
                },
                step =>
                {
                    string file = Path.Combine(runFolder, "checkpoints", $"step-{step:D9}.safetensors");
                    session.SaveCheckpoint(file, OptimizerPath(file));
                    if (pending.Count > 0)
                    {
                        store.AppendMetrics(run.Id, pending);
                        storedUpTo = pending[^1].Step;
                        pending.Clear();
                    }
                    string relative = Path.GetRelativePath(storeFolder, file).Replace('\\', '/');
                    store.AddCheckpoint(run.Id, step, relative, Sha256(file));
                },
                cancellationToken);
            // A resumed run that had nothing left to train reported no loss.
            return double.IsNaN(lastLoss) ? session.FullLoss() : lastLoss;
        });
        return new TrainingRunResult(store.GetRun(run.Id), runFolder, resumedFrom, store.Checkpoints(run.Id), finalLoss, session.Step - startStep)
        {
            Warning = resumedFrom is null ? null : warning,
        };
    }

    /// <summary>The key of the stored configuration that records the gradient split (not part of the run's identity).</summary>
    public const string GradientShardsKey = "gradient_shards";

    // A stored configuration without the gradient split: what identifies the run.
    private static string Identity(string configJson)
    {
        if (JsonNode.Parse(configJson) is not JsonObject json || !json.ContainsKey(GradientShardsKey))
        {
            return configJson;
        }
        json.Remove(GradientShardsKey);
        return json.ToJsonString();
    }

    private static int? StoredShards(string configJson) =>
        JsonNode.Parse(configJson) is JsonObject json && json[GradientShardsKey] is JsonValue v && v.TryGetValue<int>(out int shards) ? shards : null;

    /// <summary>The absolute path of a checkpoint file (paths are stored relative to the store's folder).</summary>
    public static string ResolvePath(IResultsStore store, CheckpointRecord checkpoint)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(checkpoint);
        return Path.IsPathRooted(checkpoint.Path) ? checkpoint.Path : Path.GetFullPath(Path.Combine(StoreFolder(store), checkpoint.Path));
    }

    /// <summary>The optimizer-state file that belongs to a model checkpoint file.</summary>
    public static string OptimizerPath(string modelCheckpoint) =>
        Path.ChangeExtension(modelCheckpoint, null) + ".optim.safetensors";

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>The folder of the store's file: run folders go here, and checkpoint paths are stored relative to it.</summary>
    public static string StoreFolder(IResultsStore store) =>
        Path.GetDirectoryName(Path.GetFullPath(store.Location)) ?? Directory.GetCurrentDirectory();
}
