using System.Diagnostics;
using SltSharp.Development;
using SltSharp.Diagnostics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;
using SltSharp.Estimators;
using SltSharp.Models;

namespace SltSharp.Experiments.Icl;

/// <summary>Settings of one in-context regression run (one task diversity M).</summary>
public sealed record IclRunOptions
{
    /// <summary>D.</summary>
    public int Dimension { get; init; } = 4;

    /// <summary>K, pairs per sequence.</summary>
    public int Pairs { get; init; } = 8;

    /// <summary>σ² (Raventós et al.: 0.125).</summary>
    public double NoiseVariance { get; init; } = 0.125;

    /// <summary>M; null for M = ∞.</summary>
    public int? TaskCount { get; init; }

    /// <summary>The transformer.</summary>
    public IclModelShape Model { get; init; } = new();

    /// <summary>Adam steps. 20 000 by default: at 6000 the in-context regression stage is still rising on M = ∞ (no
    /// stage after it) and M = 16 has only just reached ridge (no transient); docs/icl.md has both runs.</summary>
    public int Steps { get; init; } = 20000;

    /// <summary>Fresh sequences per training step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Adam's peak learning rate (reached after a linear warm-up over the first 2% of the steps).</summary>
    public double LearningRate { get; init; } = 3e-3;

    /// <summary>The learning rate after the warm-up: held at the peak, or decayed along a cosine to 0 at the last step.</summary>
    public IclLearningRateSchedule LearningRateSchedule { get; init; } = IclLearningRateSchedule.Constant;

    /// <summary>Seed of everything (tasks, initialisation, data, probe set, samplers).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Sequences of the probe set (tasks fresh from N(0, I)) on which the distances to dMMSE and ridge are taken.</summary>
    public int ProbeSequences { get; init; } = 256;

    /// <summary>Log-spaced evaluation steps of the distances.</summary>
    public int Evaluations { get; init; } = 40;

    /// <summary>Log-spaced checkpoints at which the LLC is estimated (16 over 20–20 000 steps, a factor 1.58 apart: on
    /// M = ∞ the first two fail, the model still descending to the mean predictor; docs/icl.md).</summary>
    public int Checkpoints { get; init; } = 16;

    /// <summary>First checkpoint step (the later ones are log-spaced up to <see cref="Steps"/>).</summary>
    public int FirstCheckpoint { get; init; } = 20;

    /// <summary>Sequences of the fixed dataset (from the training distribution) the LLC is measured on: n.</summary>
    public int LlcSequences { get; init; } = 1024;

    /// <summary>SGLD settings of the whole-model LLC (Seed is replaced per checkpoint).</summary>
    public LlcOptions Llc { get; init; } = new()
    {
        StepSize = 1e-3, NBeta = 60, Localization = 100, Chains = 4, Burnin = 100, Draws = 200, BatchSize = 64,
    };

    /// <summary>Also estimate the weight-refined LLC of every attention head at every checkpoint.</summary>
    public bool HeadLlc { get; init; } = true;

    /// <summary>
    /// SGLD settings of the per-head LLCs (Wang et al. use nβ 30, γ 100–200, batch 32, 4 chains × 200 draws). Eight
    /// heads × 12 checkpoints make these the bulk of the run: at 4 chains × 150 steps × batch 64 they cost 4× the
    /// whole-model LLC and the default sweep ~60 min on 2 cores; 2 chains at batch 32 cost a quarter of that
    /// (docs/icl.md has the CPU-time budget). Burn-in 50 is 2.5 localization times 2/(εγ).
    /// </summary>
    public LlcOptions HeadLlcOptions { get; init; } = new()
    {
        StepSize = 1e-3, NBeta = 60, Localization = 100, Chains = 2, Burnin = 50, Draws = 100, BatchSize = 32,
    };
}

/// <summary>The learning rate after the linear warm-up.</summary>
public enum IclLearningRateSchedule
{
    /// <summary>Held at the peak to the end.</summary>
    Constant,

    /// <summary>Half a cosine from the peak down to 0 at the last step, so the late checkpoints settle into a minimum.</summary>
    Cosine,
}

/// <summary>
/// Keeps the training state of a run in progress outside the process (the CLI writes safetensors checkpoints and the
/// optimizer state next to its results store), so that a killed run continues from its last checkpoint.
/// </summary>
public interface IIclTrainingJournal
{
    /// <summary>
    /// Restores the last saved state into <paramref name="parameters"/> and <paramref name="optimizer"/> and returns
    /// what training had produced up to it; null when nothing was saved (training starts at step 0).
    /// </summary>
    IclTrainingProgress? Restore(ParameterSet<float> parameters, Optimizer<float> optimizer);

    /// <summary>Saves the state after update <paramref name="step"/>, a checkpoint step; <paramref name="evaluations"/>
    /// are all evaluations so far.</summary>
    void Save(int step, ParameterSet<float> parameters, Optimizer<float> optimizer, IReadOnlyList<IclEvaluation> evaluations);
}

/// <summary>What training had produced when its state was saved.</summary>
/// <param name="Step">The last update taken.</param>
/// <param name="Evaluations">Distances at the evaluation steps up to <paramref name="Step"/>.</param>
/// <param name="Snapshots">The parameters at the checkpoint steps up to <paramref name="Step"/> (for the LLC).</param>
public sealed record IclTrainingProgress(int Step, IReadOnlyList<IclEvaluation> Evaluations, IReadOnlyList<(int Step, float[] Parameters)> Snapshots);

/// <summary>Distances of the model from the two Bayes predictors at one training step.</summary>
/// <param name="Step">Training step.</param>
/// <param name="TrainLoss">Training minibatch loss at this step.</param>
/// <param name="DistanceDmmse">Mean squared distance of the model's predictions from dMMSE on the probe set.</param>
/// <param name="DistanceRidge">Mean squared distance from ridge on the probe set.</param>
public sealed record IclEvaluation(int Step, double TrainLoss, double DistanceDmmse, double DistanceRidge);

/// <summary>LLC estimates at one checkpoint.</summary>
/// <param name="Step">Training step.</param>
/// <param name="Parameters">w* (one chain's flat parameters).</param>
/// <param name="Llc">Whole-model LLC.</param>
/// <param name="HeadLlcs">(head label, weight-refined LLC) per attention head; empty when not requested.</param>
public sealed record IclCheckpoint(int Step, float[] Parameters, LlcResult Llc, IReadOnlyList<(string Head, LlcResult Llc)> HeadLlcs);

/// <summary>Everything one run produced.</summary>
/// <param name="Options">The settings.</param>
/// <param name="ParameterCount">Parameters of the model.</param>
/// <param name="Evaluations">Distances over training.</param>
/// <param name="Checkpoints">LLC at the checkpoints.</param>
/// <param name="Stages">Stages detected on λ̂ against ln t (null when too few checkpoints).</param>
/// <param name="BaselineGap">Mean squared distance between dMMSE and ridge themselves on the probe set (the scale of the distances).</param>
/// <param name="TrainingSeconds">Wall time of training.</param>
/// <param name="LlcSeconds">Wall time of all LLC estimates.</param>
public sealed record IclRunResult(
    IclRunOptions Options,
    int ParameterCount,
    IReadOnlyList<IclEvaluation> Evaluations,
    IReadOnlyList<IclCheckpoint> Checkpoints,
    StageDetectionResult? Stages,
    double BaselineGap,
    double TrainingSeconds,
    double LlcSeconds)
{
    /// <summary>"4", "16", ..., or "inf".</summary>
    public string TaskCountLabel => Options.TaskCount?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "inf";

    /// <summary>Distance to dMMSE at the end of training.</summary>
    public double FinalDistanceDmmse => Evaluations[^1].DistanceDmmse;

    /// <summary>Distance to ridge at the end of training.</summary>
    public double FinalDistanceRidge => Evaluations[^1].DistanceRidge;

    /// <summary>Smallest distance to ridge over training.</summary>
    public double MinDistanceRidge => Evaluations.Min(e => e.DistanceRidge);

    /// <summary>Step of the smallest distance to ridge.</summary>
    public int MinDistanceRidgeStep => Evaluations.MinBy(e => e.DistanceRidge)!.Step;
}

/// <summary>
/// The in-context linear regression experiment (Raventós et al.; Hoogland et al., arXiv 2402.02364; Carroll et al.,
/// arXiv 2501.17745; slt-reference §4): train a small transformer with Adam on task diversity M, track its distance
/// from the dMMSE and ridge predictors on a probe set, estimate the LLC (and the weight-refined LLC of every attention
/// head) at log-spaced checkpoints, and detect developmental stages on λ̂ against ln t.
/// </summary>
public static class IclExperiment
{
    /// <summary>Stream of training step t is this plus t (streams 11–14 are the probe set, initialisation and LLC data).</summary>
    private const ulong TrainingStreamBase = 1UL << 32;

    /// <summary>Runs one task diversity.</summary>
    /// <param name="options">Settings.</param>
    /// <param name="log">Optional progress lines.</param>
    /// <param name="cancellationToken">Checked between training steps and between LLC estimates.</param>
    /// <param name="journal">Saves the training state at every checkpoint and restores the last one at the start, so
    /// a killed run continues where it stopped with the numbers of an uninterrupted run; null keeps it in memory.</param>
    public static IclRunResult Run(IclRunOptions options, Action<string>? log = null, CancellationToken cancellationToken = default, IIclTrainingJournal? journal = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        var task = new IclTaskDistribution(options.Dimension, options.Pairs, options.NoiseVariance, options.TaskCount, options.Seed);
        string label = task.TaskCountLabel;
        int k = options.Pairs, rowWidth = task.RowWidth;

        // Probe set: tasks fresh from N(0, I), where dMMSE (which snaps to the M training tasks) and ridge disagree.
        // For M = ∞ the training prior is N(0, I), whose posterior mean is ridge: then dMMSE is ridge.
        var probe = task.Sample(options.ProbeSequences, new Rng(options.Seed, 11), gaussianTasks: true);
        var (probeTokens, _) = IclTaskDistribution.Encode<float>(probe);
        double[] ridge = IclBaselines.Ridge(probe, options.NoiseVariance);
        double[] dmmse = task.Tasks is { } tasks ? IclBaselines.Dmmse(probe, tasks, options.NoiseVariance) : ridge;
        double gap = IclBaselines.MeanSquaredDistance(ridge, dmmse);

        var model = new IclTransformer<float>(options.Dimension, k, options.Model);
        var set = model.Build(1, new Rng(options.Seed, 12));
        var adam = new Adam<float>(set, options.LearningRate);
        var tape = new Tape<float>();
        var probeTape = new Tape<float>();
        var batch = new IclBatch(options.BatchSize, options.Dimension, k);
        var tokens = new float[options.BatchSize * rowWidth];
        var targets = new float[options.BatchSize * k];
        var evalSteps = LogSpacedSteps(1, options.Steps, options.Evaluations);
        var checkpointSteps = LogSpacedSteps(Math.Min(options.FirstCheckpoint, options.Steps), options.Steps, options.Checkpoints);
        var evaluations = new List<IclEvaluation>();
        var snapshots = new List<(int Step, float[] W)>();
        var predictions = new double[probe.Count * k];
        int firstStep = 1;
        if (journal?.Restore(set, adam) is { } progress)
        {
            if (progress.Step > options.Steps || progress.Snapshots.Any(s => !checkpointSteps.Contains(s.Step)))
            {
                throw new InvalidDataException($"The saved training state (step {progress.Step}) does not belong to a {options.Steps}-step run with these checkpoints (M = {label}).");
            }
            firstStep = progress.Step + 1;
            evaluations.AddRange(progress.Evaluations);
            snapshots.AddRange(progress.Snapshots);
            log?.Invoke($"M = {label}: resumed from the saved state at step {progress.Step}");
        }
        var clock = Stopwatch.StartNew();
        for (int step = firstStep; step <= options.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Each step's sequences come from their own stream, a function of (seed, step) alone: training resumed
            // from a checkpoint draws exactly the sequences the uninterrupted run would have (TrainingSession does the same).
            task.Fill(batch, new Rng(options.Seed, TrainingStreamBase + (ulong)step));
            IclTaskDistribution.EncodeInto<float>(batch, tokens, targets);
            tape.Reset();
            var loss = tape.MseLoss(
                model.Forward(tape, tape.Input(tokens, 1, options.BatchSize, rowWidth)),
                tape.Input(targets, 1, options.BatchSize, k));
            adam.ZeroGrad();
            tape.Backward(loss);
            adam.LearningRate = LearningRateAt(options, step);
            adam.Step();
            if (evalSteps.Contains(step))
            {
                probeTape.Reset();
                var output = model.Forward(probeTape, probeTape.Input(probeTokens, 1, probe.Count, rowWidth)).Value;
                for (int i = 0; i < predictions.Length; i++)
                {
                    predictions[i] = output[i];
                }
                var e = new IclEvaluation(step, loss.Value[0], IclBaselines.MeanSquaredDistance(predictions, dmmse), IclBaselines.MeanSquaredDistance(predictions, ridge));
                evaluations.Add(e);
                if (!double.IsFinite(e.TrainLoss))
                {
                    throw new InvalidOperationException($"Training diverged at step {step} (M = {label}): lower --lr or raise the warm-up.");
                }
            }
            if (checkpointSteps.Contains(step))
            {
                var w = new float[set.CountPerChain];
                set.CopyChainTo(0, w);
                snapshots.Add((step, w));
                journal?.Save(step, set, adam, evaluations);
            }
        }
        double trainingSeconds = clock.Elapsed.TotalSeconds;
        var closest = evaluations.MinBy(e => e.DistanceRidge)!;
        log?.Invoke($"M = {label}: trained {options.Steps} steps in {trainingSeconds:0.0} s; distance to dMMSE {evaluations[^1].DistanceDmmse:0.0000}, to ridge {evaluations[^1].DistanceRidge:0.0000} (closest {closest.DistanceRidge:0.0000} at step {closest.Step}; dMMSE–ridge {gap:0.0000})");
        log?.Invoke($"M = {label}: step: distance to dMMSE / to ridge: " + string.Join("  ", evaluations.Select(e => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{e.Step}: {e.DistanceDmmse:0.000}/{e.DistanceRidge:0.000}"))));

        // LLC: a fixed dataset of n sequences from the training distribution (the data the model was trained on).
        var llcData = task.Sample(options.LlcSequences, new Rng(options.Seed, 14));
        var (llcTokens, llcTargets) = IclTaskDistribution.Encode<float>(llcData);
        var shape = options.Model;
        var llcLoss = new EngineChainedLoss<float>(() => new IclTransformer<float>(options.Dimension, k, shape), llcTokens, rowWidth, llcTargets, k,
            (t, prediction, target, chains) => t.MseLoss(prediction, target, chains));
        var heads = options.HeadLlc ? IclTransformer<float>.HeadMasks(llcLoss.ParameterLayout, shape) : [];
        var checkpoints = new List<IclCheckpoint>();
        clock.Restart();
        for (int c = 0; c < snapshots.Count; c++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (step, w) = snapshots[c];
            ulong seed = options.Seed * 1_000_003UL + (ulong)step;
            var llc = LlcEstimator.Estimate<float>(llcLoss, w, options.Llc with { Seed = seed });
            var headResults = new List<(string, LlcResult)>();
            foreach (var (head, mask) in heads)
            {
                headResults.Add((head, LlcEstimator.EstimateWeightRefined<float>(llcLoss, w, mask,
                    options.HeadLlcOptions with { Seed = seed, ReferenceLoss = llc.ReferenceLoss })));
            }
            checkpoints.Add(new IclCheckpoint(step, w, llc, headResults));
            log?.Invoke($"M = {label}: step {step}: λ̂ = {llc.Mean:0.00} ± {llc.StandardError:0.00} ({llc.Verdict})"
                + (headResults.Count > 0 ? "; heads " + string.Join(" ", headResults.Select(h => $"{h.Item1}={h.Item2.Mean:0.0}")) : ""));
        }
        double llcSeconds = clock.Elapsed.TotalSeconds;
        var stageNotes = new List<string>();
        var stages = DetectStages(checkpoints, stageNotes);
        foreach (string note in stageNotes)
        {
            log?.Invoke($"M = {label}: {note}");
        }
        return new IclRunResult(options, set.CountPerChain, evaluations, checkpoints, stages, gap, trainingSeconds, llcSeconds);
    }

    /// <summary>
    /// Adam's learning rate for update <paramref name="step"/> (1-based): a linear warm-up over the first 2% of the
    /// steps to the peak, then the peak (<see cref="IclLearningRateSchedule.Constant"/>) or half a cosine down to 0 at
    /// the last step (<see cref="IclLearningRateSchedule.Cosine"/>).
    /// </summary>
    public static double LearningRateAt(IclRunOptions options, int step)
    {
        ArgumentNullException.ThrowIfNull(options);
        int warmup = Math.Max(1, options.Steps / 50);
        if (step <= warmup || options.LearningRateSchedule == IclLearningRateSchedule.Constant)
        {
            return options.LearningRate * Math.Min(1.0, step / (double)warmup);
        }
        double progress = (step - warmup) / (double)(options.Steps - warmup);
        return options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>Parameters of the transformer these settings train (without training it).</summary>
    public static int ParameterCount(IclRunOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new IclTransformer<float>(options.Dimension, options.Pairs, options.Model).Build(1, new Rng(0, 0)).CountPerChain;
    }

    /// <summary>Stages on λ̂ against ln t with <see cref="StageDetection.DetectFromEstimates"/>'s rule (failed estimates
    /// left out, noise max(SE, MCSE)), the reference loss L(w*) for Δloss; null with too few usable checkpoints.</summary>
    public static StageDetectionResult? DetectStages(IReadOnlyList<IclCheckpoint> checkpoints, ICollection<string>? notes = null)
    {
        ArgumentNullException.ThrowIfNull(checkpoints);
        return StageDetection.DetectFromEstimates(
            [.. checkpoints.Select(c => new LlcAtCheckpoint(c.Step, c.Llc.Mean, c.Llc.StandardError, c.Llc.MonteCarloStandardError, c.Llc.Verdict == Verdict.Fail, c.Llc.ReferenceLoss))],
            notes: notes);
    }

    /// <summary><paramref name="count"/> distinct integer steps from <paramref name="first"/> to <paramref name="last"/>, log-spaced, always including both ends.</summary>
    public static SortedSet<int> LogSpacedSteps(int first, int last, int count)
    {
        var steps = new SortedSet<int> { first, last };
        for (int i = 0; i < count; i++)
        {
            double f = count == 1 ? 1 : i / (double)(count - 1);
            steps.Add((int)Math.Round(Math.Exp(Math.Log(first) + (f * (Math.Log(last) - Math.Log(first))))));
        }
        return steps;
    }

    private static void Validate(IclRunOptions o)
    {
        if (o.Steps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(o), o.Steps, "Training needs at least one step (--steps ≥ 1).");
        }
        if (o.BatchSize < 1 || o.ProbeSequences < 1 || o.LlcSequences < 1 || o.Evaluations < 1 || o.Checkpoints < 1 || o.FirstCheckpoint < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(o), "Batch size, probe and LLC sequence counts, evaluations, checkpoints and the first checkpoint must be at least 1.");
        }
        if (!(o.LearningRate > 0) || !double.IsFinite(o.LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(o), o.LearningRate, "The learning rate must be a positive finite number (e.g. 1e-3).");
        }
        if (o.Model.ModelDimension % o.Model.Heads != 0)
        {
            throw new ArgumentException($"d_model {o.Model.ModelDimension} must be divisible by the number of heads {o.Model.Heads}.", nameof(o));
        }
    }
}
