using System.Globalization;
using System.Text.Json.Nodes;
using SltSharp.Diagnostics;
using SltSharp.Engine.Checkpoints;
using SltSharp.Estimators;
using SltSharp.Store;
using SltSharp.Training;

namespace SltSharp.Development;

/// <summary>How <see cref="LlcTrajectory.Run"/> measures a training run.</summary>
public sealed record TrajectoryOptions
{
    /// <summary>The one sampler configuration used at every checkpoint (Chains = all chains, Threads = chains at once).</summary>
    public required LlcOptions Llc { get; init; }

    /// <summary>The sampler's name in the job key, e.g. <c>sgld</c>.</summary>
    public string SamplerName { get; init; } = "sgld";

    /// <summary>The complete sampler configuration as recorded in the job key (everything the chains depend on).</summary>
    public required JsonObject SamplerConfig { get; init; }

    /// <summary>Leading principal components kept for essential dynamics.</summary>
    public int Components { get; init; } = 3;

    /// <summary>Stage detection settings (defaults when null).</summary>
    public StageDetectionOptions? StageDetection { get; init; }
}

/// <summary>λ̂ at one checkpoint.</summary>
/// <param name="Step">Training step.</param>
/// <param name="LambdaHat">λ̂.</param>
/// <param name="StandardError">Standard error across chains.</param>
/// <param name="Verdict">Diagnostics verdict.</param>
/// <param name="Loss">Training loss at the step (from the run's metrics), when recorded.</param>
/// <param name="ChainsComputed">Chains sampled now (0 when the estimate was read from the store).</param>
/// <param name="MonteCarloStandardError">Monte Carlo standard error from the effective sample size (NaN when unknown).</param>
public sealed record TrajectoryPoint(long Step, double LambdaHat, double StandardError, Verdict Verdict, double? Loss, int ChainsComputed, double MonteCarloStandardError = double.NaN);

/// <summary>The sampler settings <see cref="LlcTrajectory.CalibrateAtLastCheckpoint"/> chose for a trajectory.</summary>
/// <param name="Step">The checkpoint calibrated at.</param>
/// <param name="StepSize">The chosen ε.</param>
/// <param name="Burnin">Burn-in steps per chain for the chosen ε.</param>
/// <param name="Draws">Kept draws per chain.</param>
/// <param name="Thinning">Steps per kept draw.</param>
/// <param name="Reasons">How they were chosen (from the calibration).</param>
/// <param name="Verified">False when the chosen cell had not fully mixed (the choice is then less certain).</param>
/// <param name="FromStore">True when read back from an earlier run of the same trajectory.</param>
public sealed record TrajectoryCalibration(long Step, double StepSize, int Burnin, int Draws, int Thinning, IReadOnlyList<string> Reasons, bool Verified, bool FromStore)
{
    /// <summary>The options with the calibrated settings in place of <paramref name="options"/>' own.</summary>
    public LlcOptions Apply(LlcOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options with { StepSize = StepSize, Burnin = Burnin, Draws = Draws, Thinning = Thinning };
    }
}

/// <summary>What <see cref="LlcTrajectory.Run"/> found.</summary>
/// <param name="Points">λ̂ per checkpoint, by step.</param>
/// <param name="Stages">Detected stages as stored (empty when there were too few checkpoints after step 0).</param>
/// <param name="Detection">The full stage detection (smoothed curve, boundaries), or null.</param>
/// <param name="Dynamics">Essential dynamics over all checkpoints.</param>
/// <param name="DynamicsSteps">The step of each row of <see cref="EssentialDynamicsResult.Projections"/>.</param>
/// <param name="Notes">Things the user should know (e.g. why stages were not detected).</param>
public sealed record TrajectoryResult(
    IReadOnlyList<TrajectoryPoint> Points,
    IReadOnlyList<StageRecord> Stages,
    StageDetectionResult? Detection,
    EssentialDynamicsResult Dynamics,
    IReadOnlyList<long> DynamicsSteps,
    IReadOnlyList<string> Notes);

/// <summary>
/// The developmental analysis of a recorded training run (Hoogland et al., arXiv 2402.02364): λ̂ at every checkpoint with
/// one sampler configuration (resumable: each checkpoint is one store-keyed <see cref="LlcJob"/>, so estimates already
/// stored are read back, not resampled), stages from the smoothed λ̂ against ln t, and essential dynamics of the outputs
/// on the task's probe set. Stages and essential dynamics are written to the store with the run.
/// </summary>
public static class LlcTrajectory
{
    /// <summary>The store analysis name of the step size chosen by <see cref="CalibrateAtLastCheckpoint"/>.</summary>
    public const string CalibrationAnalysis = "trajectory_calibration";

    /// <summary>The store analysis name of the essential dynamics.</summary>
    public const string EssentialDynamicsAnalysis = "essential_dynamics";

    /// <summary>Fewer usable checkpoints than this and stages are not detected (<see cref="StageDetection.MinimumCheckpoints"/>).</summary>
    public const int MinimumCheckpointsForStages = StageDetection.MinimumCheckpoints;

    /// <summary>Measures (or resumes measuring) the run.</summary>
    /// <param name="store">The store holding the training run.</param>
    /// <param name="runId">A run recorded by <see cref="TrainingRecorder"/>.</param>
    /// <param name="options">The sampler configuration and analysis settings.</param>
    /// <param name="onPoint">Called after each checkpoint with (index, count, point); may be null.</param>
    /// <param name="cancellationToken">Checked between checkpoints; finished estimates stay stored.</param>
    /// <exception cref="ArgumentException">The run is not a training run or has fewer than two checkpoints.</exception>
    /// <exception cref="InvalidDataException">A checkpoint file is missing or changed since training.</exception>
    public static TrajectoryResult Run(IResultsStore store, long runId, TrajectoryOptions options,
        Action<int, int, TrajectoryPoint>? onPoint = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        var (task, checkpoints) = OpenRun(store, runId);
        if (checkpoints.Count < 2)
        {
            throw new ArgumentException($"Run {runId} has {checkpoints.Count} checkpoint(s); a trajectory needs at least two. Finish training first (re-run the same 'slt train' command to resume it).", nameof(runId));
        }
        var losses = store.Metrics(runId).Where(m => m.Name == TrainingRecorder.LossMetric)
            .GroupBy(m => m.Step).ToDictionary(g => g.Key, g => g.Last().Value);

        var loss = task.CreateSamplingLoss();
        var model = task.CreateModel();
        model.Build(1, new Engine.Random.Rng(0));
        var points = new List<TrajectoryPoint>();
        var outputs = new List<double[]>();
        var notes = new List<string>();
        for (int i = 0; i < checkpoints.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var c = checkpoints[i];
            double[] w = LoadCheckpoint(store, model, c);
            outputs.Add(task.ProbeOutputs(w));
            double? stepLoss = losses.TryGetValue(c.Step, out double l) ? l : null;
            TrajectoryPoint point;
            try
            {
                var job = LlcJob.Run(store, c.Id, options.SamplerName, options.SamplerConfig, loss, w, options.Llc, options.Llc.Progress);
                point = new TrajectoryPoint(c.Step, job.Result.Mean, job.Result.StandardError, job.Result.Verdict, stepLoss, job.ChainsComputed, job.Result.MonteCarloStandardError);
            }
            catch (Sampling.SamplingDivergedException e)
            {
                // One bad checkpoint must not cost the whole trajectory: it has no λ̂ and is left out of stage detection.
                notes.Add($"Step {c.Step}: {e.Message}");
                point = new TrajectoryPoint(c.Step, double.NaN, double.NaN, Verdict.Fail, stepLoss, 0);
            }
            points.Add(point);
            onPoint?.Invoke(i, checkpoints.Count, point);
        }

        var (stages, detection) = DetectStages(points, options.StageDetection, notes);
        store.SaveStages(runId, stages);

        int components = Math.Min(options.Components, Math.Min(outputs.Count, outputs[0].Length));
        var dynamics = EssentialDynamics.Fit([.. outputs], components);
        long[] steps = [.. checkpoints.Select(c => c.Step)];
        store.SaveAnalysis(runId, EssentialDynamicsAnalysis, EssentialDynamicsJson(steps, dynamics, task.ProbeCount).ToJsonString());
        return new TrajectoryResult(points, stages, detection, dynamics, steps, notes);
    }

    /// <summary>Relative Monte Carlo error a calibrated trajectory aims for at its last checkpoint: looser than a single
    /// estimate's because stage detection smooths over many checkpoints and weighs each by its standard error.</summary>
    public const double TrajectoryTargetRelativeError = 0.03;

    /// <summary>The most steps per chain (burn-in included) a calibrated trajectory takes at each checkpoint: it pays that
    /// at every checkpoint, so it is capped well below a single estimate's <see cref="CalibrationOptions.MaxStepsPerChain"/>.</summary>
    public const long TrajectoryMaxStepsPerChain = 25_000;

    /// <summary>
    /// Chooses the step size ε of a trajectory, and the chain length that goes with it, once, at the run's last checkpoint,
    /// with <see cref="Calibration"/> at the trajectory's own nβ and γ (only ε varies: λ̂ at another nβ or γ is another
    /// quantity, and every checkpoint must be measured with one configuration for λ̂ to be comparable across training).
    /// The last checkpoint is where the model is most developed and its posterior narrowest, so the step found there is the
    /// cautious one for the earlier, flatter checkpoints. The chain length follows <see cref="Calibration.FinalOptions"/>
    /// aiming at <see cref="TrajectoryTargetRelativeError"/>. The choice is stored with the run and read back on a re-run,
    /// so a resumed trajectory keeps its sampler configuration (and with it the estimates already stored).
    /// </summary>
    /// <param name="store">The store holding the training run.</param>
    /// <param name="runId">A run recorded by <see cref="TrainingRecorder"/>.</param>
    /// <param name="baseOptions">The trajectory's sampler settings; its step size and chain length are the ones chosen anew (its
    /// draws, burn-in and thinning are the minimum the chain length may take).</param>
    /// <param name="sweep">Calibration settings; its nβ multipliers and localizations are overridden as said above.</param>
    /// <returns>The chosen ε with how it was chosen, or null when no step was usable (then the caller keeps its own).</returns>
    public static TrajectoryCalibration? CalibrateAtLastCheckpoint(IResultsStore store, long runId, LlcOptions baseOptions, CalibrationOptions? sweep = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(baseOptions);
        var (task, checkpoints) = OpenRun(store, runId);
        if (checkpoints.Count == 0)
        {
            throw new ArgumentException($"Run {runId} has no checkpoints to calibrate at. Finish training first (re-run the same 'slt train' command to resume it).", nameof(runId));
        }
        var last = checkpoints[^1];
        var key = new JsonObject
        {
            ["step"] = last.Step, ["nbeta"] = baseOptions.NBeta, ["gamma"] = baseOptions.Localization,
            ["batch_size"] = baseOptions.BatchSize, ["seed"] = baseOptions.Seed, ["sampler"] = baseOptions.Sampler.ToString(),
        };
        if (store.Analysis(runId, CalibrationAnalysis) is { } stored && JsonNode.Parse(stored) is JsonObject previous
            && JsonNode.DeepEquals(previous["key"], key))
        {
            return new TrajectoryCalibration(last.Step, (double)previous["epsilon"]!, (int)previous["burnin"]!, (int)previous["draws"]!,
                (int)previous["thinning"]!, [.. previous["reasons"]!.AsArray().Select(r => (string)r!)], (bool)previous["verified"]!, FromStore: true);
        }

        var model = task.CreateModel();
        model.Build(1, new Engine.Random.Rng(0));
        double[] w = LoadCheckpoint(store, model, last);
        var settings = (sweep ?? new CalibrationOptions { TargetRelativeError = TrajectoryTargetRelativeError, MaxStepsPerChain = TrajectoryMaxStepsPerChain }) with
        {
            NBetaMultipliers = [1.0],
            Localizations = [baseOptions.Localization],
        };
        var result = Calibration.Run(task.CreateSamplingLoss(), w, baseOptions, settings);
        if (result.Choice is not { } choice)
        {
            return null;
        }
        var (final, lengthReasons) = Calibration.FinalOptions(result, baseOptions, settings);
        var calibration = new TrajectoryCalibration(last.Step, choice.StepSize, final.Burnin, final.Draws, final.Thinning,
            [.. result.Reasons, .. lengthReasons], choice.Verified, FromStore: false);
        store.SaveAnalysis(runId, CalibrationAnalysis, new JsonObject
        {
            ["key"] = key, ["epsilon"] = choice.StepSize, ["burnin"] = final.Burnin, ["draws"] = final.Draws, ["thinning"] = final.Thinning,
            ["verified"] = choice.Verified,
            ["reasons"] = new JsonArray([.. calibration.Reasons.Select(r => (JsonNode?)r)]),
            ["seconds"] = result.Elapsed.TotalSeconds,
        }.ToJsonString());
        return calibration;
    }

    /// <summary>The training task a run was recorded with and its checkpoints, by step.</summary>
    private static (TrainingTask Task, IReadOnlyList<CheckpointRecord> Checkpoints) OpenRun(IResultsStore store, long runId)
    {
        var (taskConfig, _, _) = TrainingRecorder.ReadConfig(store.GetRun(runId));
        return (TrainingTasks.Create(taskConfig), store.Checkpoints(runId));
    }

    /// <summary>Loads a checkpoint of the run into <paramref name="model"/> after checking it is the one recorded.</summary>
    private static double[] LoadCheckpoint(IResultsStore store, Engine.Layers.Layer<double> model, CheckpointRecord c)
    {
        string path = TrainingRecorder.ResolvePath(store, c);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"The checkpoint of step {c.Step} is missing: '{path}'. Restore the run folder next to the store, or re-run 'slt train' with the same options to rewrite it.");
        }
        if (TrainingRecorder.Sha256(path) != c.Sha256)
        {
            throw new InvalidDataException($"The checkpoint '{path}' (step {c.Step}) changed since training (its SHA-256 differs from the store's); its estimates would not describe the recorded run. Re-train into a new run.");
        }
        Checkpoint.Load(path, model.Parameters);
        var w = new double[model.Parameters.CountPerChain];
        model.Parameters.CopyChainTo(0, w);
        return w;
    }

    /// <summary>Stage detection on λ̂ against ln t with <see cref="StageDetection.DetectFromEstimates"/>'s rule (failed
    /// estimates left out, noise max(SE, MCSE)).</summary>
    private static (List<StageRecord> Stages, StageDetectionResult? Detection) DetectStages(
        List<TrajectoryPoint> points, StageDetectionOptions? options, List<string> notes)
    {
        var detection = StageDetection.DetectFromEstimates(
            [.. points.Select(p => new LlcAtCheckpoint(p.Step, p.LambdaHat, p.StandardError, p.MonteCarloStandardError, p.Verdict == Verdict.Fail, p.Loss))],
            options, notes);
        if (detection is null)
        {
            return ([], null);
        }
        var stages = new List<StageRecord>();
        for (int s = 0; s < detection.Stages.Count; s++)
        {
            var st = detection.Stages[s];
            double? confidence = s < detection.Boundaries.Count ? detection.Boundaries[s].Confidence : null;
            stages.Add(new StageRecord((long)Math.Round(st.StartStep), (long)Math.Round(st.EndStep), st.Type.ToString(),
                string.Create(CultureInfo.InvariantCulture, $"S{s + 1}"), st.DeltaLlc, st.DeltaLoss, confidence));
        }
        return (stages, detection);
    }

    /// <summary>The stored form of essential dynamics.</summary>
    public static JsonObject EssentialDynamicsJson(IReadOnlyList<long> steps, EssentialDynamicsResult dynamics, int probeCount)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(dynamics);
        return new JsonObject
        {
            ["steps"] = new JsonArray([.. steps.Select(s => (JsonNode?)s)]),
            ["projections"] = new JsonArray([.. dynamics.Projections.Select(row => (JsonNode?)new JsonArray([.. row.Select(v => (JsonNode?)v)]))]),
            ["explained_variance_ratio"] = new JsonArray([.. dynamics.ExplainedVarianceRatio.Select(v => (JsonNode?)v)]),
            ["probe_count"] = probeCount,
            ["output_length"] = dynamics.Mean.Length,
        };
    }

    /// <summary>Reads the stored form back as (steps, projections, explained variance ratios).</summary>
    public static (long[] Steps, double[][] Projections, double[] ExplainedVarianceRatio) ReadEssentialDynamics(string json)
    {
        var o = JsonNode.Parse(json)!.AsObject();
        long[] steps = [.. o["steps"]!.AsArray().Select(s => (long)s!)];
        double[][] projections = [.. o["projections"]!.AsArray().Select(r => r!.AsArray().Select(v => (double)v!).ToArray())];
        double[] ratios = [.. o["explained_variance_ratio"]!.AsArray().Select(v => (double)v!)];
        return (steps, projections, ratios);
    }
}
