using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using SltSharp.Development;
using SltSharp.Estimators;
using SltSharp.Sampling;
using SltSharp.Store;
using SltSharp.Training;

namespace SltSharp.Cli.Commands;

/// <summary>
/// <c>slt trajectory</c>: λ̂ at every checkpoint of a training run with one sampler configuration (chains in parallel,
/// resumable per checkpoint), stage detection on λ̂ against ln t, and essential dynamics; all written to the store so
/// that <c>slt report</c> draws them.
/// </summary>
internal static class TrajectoryCommand
{
    public static Command Build(CliContext context)
    {
        var runId = StoreAccess.RunArgument();
        var latest = new Option<bool>("--latest") { Description = "Use the most recent training run instead of RUN_ID." };
        var store = StoreAccess.StoreOption();
        var epsilon = OptionParsing.PositiveDouble("--epsilon", "SGLD step size ε (default per model).");
        var nbeta = OptionParsing.PositiveDouble("--nbeta", "Inverse temperature nβ (default n/ln n).");
        var gamma = OptionParsing.PositiveDouble("--gamma", "Localization γ (default per model).");
        var chains = OptionParsing.OptionalInt("--chains", "Chains per checkpoint (default 4).", 2);
        var draws = OptionParsing.OptionalInt("--draws", "Kept draws per chain (default per model).", 2);
        var burnin = OptionParsing.OptionalInt("--burnin", "Burn-in steps per chain (default per model).", 0);
        var thinning = OptionParsing.OptionalInt("--thinning", "Sampler steps per kept draw (default 1).", 1);
        var batch = OptionParsing.OptionalInt("--batch-size", "SGLD minibatch size, 0 for full batch (default per model).", 0);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the chains (chain c uses stream c at every checkpoint).", DefaultValueFactory = _ => 0UL };
        var threads = OptionParsing.BoundedInt("--threads", "Threads the chains are spread over (results do not depend on it).", Math.Min(Environment.ProcessorCount, 2), 1);
        var components = OptionParsing.BoundedInt("--components", "Principal components kept for essential dynamics.", 3, 1);
        var significance = OptionParsing.PositiveDouble("--min-stage-significance", "Stage detection: a stage whose Δλ̂ is below this many posterior SDs is merged into its neighbours (default 3).");
        var fraction = OptionParsing.PositiveDouble("--min-stage-fraction", "Stage detection: a stage whose |Δλ̂| is below this fraction of the largest stage change is merged (default 0.05).");
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object on stdout." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress output." };
        var calibrateAt = new Option<string?>("--calibrate-at")
        {
            Description = "Where the step size ε is chosen: 'last' calibrates once at the last checkpoint and uses that ε at every checkpoint (the default unless --epsilon is given); 'none' keeps the model's default ε.",
        };
        calibrateAt.AcceptOnlyFromAmong("last", "none");
        var command = new Command("trajectory", "Estimate the LLC at every checkpoint of a training run, detect developmental stages on λ̂ vs ln t and compute essential dynamics (resumable).")
        {
            runId, latest, store, epsilon, nbeta, gamma, chains, draws, burnin, thinning, batch, seed, threads, components, significance, fraction, json, quiet, calibrateAt,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            using var results = StoreAccess.OpenExisting(parse.GetValue(store)!);
            var run = ResolveTrainingRun(results, parse.GetValue(runId), parse.GetValue(latest));
            var (taskConfig, _, _) = TrainingRecorder.ReadConfig(run);
            var defaults = TrainingTasks.DefaultLlcOptions(taskConfig);
            int batchSize = parse.GetValue(batch) ?? defaults.BatchSize ?? 0;
            if (batchSize > taskConfig.SampleCount)
            {
                throw new CliUsageException($"--batch-size {batchSize} is larger than the run's dataset (n = {taskConfig.SampleCount}); use at most {taskConfig.SampleCount}, or 0 for full batch.");
            }
            var llc = defaults with
            {
                StepSize = parse.GetValue(epsilon) ?? defaults.StepSize,
                NBeta = parse.GetValue(nbeta) ?? defaults.NBeta ?? LocalizedPosterior.DefaultNBeta(taskConfig.SampleCount),
                Localization = parse.GetValue(gamma) ?? defaults.Localization,
                Chains = parse.GetValue(chains) ?? defaults.Chains,
                Draws = parse.GetValue(draws) ?? defaults.Draws,
                Burnin = parse.GetValue(burnin) ?? defaults.Burnin,
                Thinning = parse.GetValue(thinning) ?? defaults.Thinning,
                BatchSize = batchSize == 0 ? null : batchSize,
                Seed = parse.GetValue(seed),
                Threads = parse.GetValue(threads),
            };
            if (llc.Threads > 1)
            {
                // Chains already occupy the cores; a multi-threaded BLAS underneath them would oversubscribe.
                Engine.Linalg.OpenBlas.SetNumThreads(1);
            }
            bool asJson = parse.GetValue(json);
            bool quietRun = parse.GetValue(quiet);
            string? calibrateWhere = parse.GetValue(calibrateAt);
            if (calibrateWhere == "last" && parse.GetValue(epsilon) is not null)
            {
                throw new CliUsageException("--epsilon and --calibrate-at last both set the step size; give one of them.");
            }
            TrajectoryCalibration? calibration = null;
            var stopwatch = Stopwatch.StartNew();
            if ((calibrateWhere ?? (parse.GetValue(epsilon) is null ? "last" : "none")) == "last")
            {
                using (var calibrating = ProgressReporter.Start(context, "calibrating ε at the last checkpoint", 1, quietRun))
                {
                    // The model's default chain length is the calibration's minimum, so the stored choice does not depend on
                    // --draws/--burnin/--thinning, which override the calibrated length below.
                    calibration = LlcTrajectory.CalibrateAtLastCheckpoint(results, run.Id,
                        llc with { Draws = defaults.Draws, Burnin = defaults.Burnin, Thinning = defaults.Thinning },
                        new CalibrationOptions
                        {
                            Parallelism = llc.Threads, Progress = calibrating.ForCounts(), TargetRelativeError = LlcTrajectory.TrajectoryTargetRelativeError,
                            MaxStepsPerChain = LlcTrajectory.TrajectoryMaxStepsPerChain,
                        });
                    calibrating.AdvanceTo(calibrating.Total);
                }
                if (calibration is not null)
                {
                    var calibrated = calibration.Apply(llc);
                    llc = calibrated with
                    {
                        Draws = parse.GetValue(draws) ?? calibrated.Draws,
                        Burnin = parse.GetValue(burnin) ?? calibrated.Burnin,
                        Thinning = parse.GetValue(thinning) ?? calibrated.Thinning,
                    };
                }
            }
            var samplerConfig = new JsonObject
            {
                ["sampler"] = "sgld", ["epsilon"] = llc.StepSize, ["nbeta"] = llc.NBeta, ["gamma"] = llc.Localization,
                ["chains"] = llc.Chains, ["draws"] = llc.Draws, ["burnin"] = llc.Burnin, ["thinning"] = llc.Thinning,
                ["batch_size"] = llc.BatchSize, ["seed"] = llc.Seed,
            };
            var o = context.Output;
            if (!asJson)
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"run {run.Id}: SGLD ε = {llc.StepSize:G3}{CalibrationSource(calibration, calibrateWhere)}, nβ = {llc.NBeta:G4}, γ = {llc.Localization:G3}, {llc.Chains} chains × {llc.Draws} draws (burn-in {llc.Burnin}), batch {(llc.BatchSize?.ToString(CultureInfo.InvariantCulture) ?? "full")}, {llc.Threads} threads"));
            }
            int checkpointCount = results.Checkpoints(run.Id).Count;
            long perCheckpoint = (long)llc.Chains * llc.Draws;
            TrajectoryResult result;
            using (var progress = ProgressReporter.Start(context, $"λ̂ at {checkpointCount} checkpoints × {llc.Chains} chains × {llc.Draws} draws", checkpointCount * perCheckpoint, quietRun))
            {
                progress.Note("      step        loss          λ̂        SE  verdict");
                result = LlcTrajectory.Run(results, run.Id, new TrajectoryOptions
                {
                    Llc = llc with { Progress = progress.ForChains(llc.Chains) }, SamplerConfig = samplerConfig, Components = parse.GetValue(components),
                    StageDetection = new StageDetectionOptions
                    {
                        MinStageSignificance = parse.GetValue(significance) ?? new StageDetectionOptions().MinStageSignificance,
                        MinStageFraction = parse.GetValue(fraction) ?? new StageDetectionOptions().MinStageFraction,
                    },
                },
                (i, count, p) =>
                {
                    // Stored checkpoints report no draws: count them whole.
                    progress.AdvanceTo((i + 1) * perCheckpoint);
                    progress.Status = string.Create(CultureInfo.InvariantCulture, $"checkpoint {i + 1}/{count}");
                    progress.Note(PointLine(p));
                },
                cancellationToken);
            }
            double seconds = stopwatch.Elapsed.TotalSeconds;
            if (asJson)
            {
                var root = ToJson(run.Id, result, llc, seconds);
                root["calibration"] = calibration is null ? null : new JsonObject
                {
                    ["step"] = calibration.Step, ["epsilon"] = calibration.StepSize, ["burnin"] = calibration.Burnin, ["draws"] = calibration.Draws,
                    ["thinning"] = calibration.Thinning, ["verified"] = calibration.Verified,
                    ["from_store"] = calibration.FromStore, ["reasons"] = new JsonArray([.. calibration.Reasons.Select(r => (JsonNode?)r)]),
                };
                o.WriteLine(root.ToJsonString());
            }
            else
            {
                WriteHuman(o, run.Id, result, calibration, seconds);
            }
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>The run named by RUN_ID, or the most recent training run for --latest.</summary>
    private static RunRecord ResolveTrainingRun(IResultsStore store, long? runId, bool latest)
    {
        if (runId is not null || !latest)
        {
            var run = StoreAccess.Resolve(store, runId, latest);
            return run.Command == TrainingRecorder.Command ? run
                : throw new CliUsageException($"Run {run.Id} is a '{run.Command}' run, not a training run; give the id printed by 'slt train' (or --latest).");
        }
        return store.ListRuns().LastOrDefault(r => r.Command == TrainingRecorder.Command)
            ?? throw new RunNotFoundException($"The results store '{store.Location}' holds no training runs yet: run 'slt train' first.");
    }

    private static JsonObject ToJson(long runId, TrajectoryResult r, LlcOptions llc, double seconds) => new()
    {
        ["run_id"] = runId,
        ["epsilon"] = llc.StepSize,
        ["nbeta"] = llc.NBeta,
        ["gamma"] = llc.Localization,
        ["chains"] = llc.Chains,
        ["draws"] = llc.Draws,
        ["checkpoints"] = new JsonArray([.. r.Points.Select(p => (JsonNode?)new JsonObject
        {
            ["step"] = p.Step,
            ["llc_mean"] = Finite(p.LambdaHat),
            ["llc_se"] = Finite(p.StandardError),
            ["loss"] = p.Loss is { } l ? Finite(l) : null,
            ["verdict"] = p.Verdict.ToString().ToLowerInvariant(),
            ["chains_computed"] = p.ChainsComputed,
        })]),
        ["stages"] = new JsonArray([.. r.Stages.Select(s => (JsonNode?)new JsonObject
        {
            ["start"] = s.StartStep,
            ["end"] = s.EndStep,
            ["type"] = s.Kind,
            ["delta_llc"] = s.DeltaLlc is { } d ? Finite(d) : null,
            ["delta_loss"] = s.DeltaLoss is { } dl ? Finite(dl) : null,
            ["confidence"] = s.Confidence,
        })]),
        ["essential_dynamics"] = new JsonObject
        {
            ["explained_variance_ratio"] = new JsonArray([.. r.Dynamics.ExplainedVarianceRatio.Select(v => (JsonNode?)v)]),
            ["steps"] = new JsonArray([.. r.DynamicsSteps.Select(s => (JsonNode?)s)]),
            ["projections"] = new JsonArray([.. r.Dynamics.Projections.Select(p => (JsonNode?)new JsonArray([.. p.Select(v => (JsonNode?)v)]))]),
        },
        ["notes"] = new JsonArray([.. r.Notes.Select(n => (JsonNode?)n)]),
        ["seconds"] = seconds,
    };

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    private static string CalibrationSource(TrajectoryCalibration? c, string? requested) => c switch
    {
        { FromStore: true } => string.Create(CultureInfo.InvariantCulture, $" (calibrated at step {c.Step}, stored)"),
        not null => string.Create(CultureInfo.InvariantCulture, $" (calibrated at step {c.Step}{(c.Verified ? "" : ", not fully verified")})"),
        null when requested != "none" && requested is not null => " (calibration found no usable step: model default)",
        _ => "",
    };

    private static string PointLine(TrajectoryPoint p) => string.Create(CultureInfo.InvariantCulture,
        $"{p.Step,10}  {(p.Loss is { } l ? l.ToString("G4", CultureInfo.InvariantCulture) : "—"),10}  {p.LambdaHat,9:F3}  {p.StandardError,8:F3}  {p.Verdict.ToString().ToLowerInvariant()}{(p.ChainsComputed == 0 ? " (stored)" : "")}");

    private static void WriteHuman(TextWriter o, long runId, TrajectoryResult r, TrajectoryCalibration? calibration, double seconds)
    {
        if (calibration is { FromStore: false })
        {
            foreach (string reason in calibration.Reasons)
            {
                o.WriteLine($"calibration: {reason}");
            }
        }
        o.WriteLine("      step        loss          λ̂        SE  verdict");
        foreach (var p in r.Points)
        {
            o.WriteLine(PointLine(p));
        }
        if (r.Stages.Count > 0)
        {
            o.WriteLine("stages (λ̂ smoothed against ln t; A: λ̂ rises, B: λ̂ falls; confidence of the boundary ending the stage)");
            foreach (var s in r.Stages)
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {s.Label,-4} {s.Kind}  steps {s.StartStep,8} → {s.EndStep,-8}  Δλ̂ {s.DeltaLlc,8:+0.000;-0.000}  Δloss {(s.DeltaLoss is { } dl ? dl.ToString("+0.0000;-0.0000", CultureInfo.InvariantCulture) : "—"),9}  confidence {(s.Confidence is { } c ? c.ToString("P0", CultureInfo.InvariantCulture) : "—")}"));
            }
        }
        foreach (string note in r.Notes)
        {
            o.WriteLine($"note: {note}");
        }
        o.WriteLine("essential dynamics: explained variance " + string.Join(", ",
            r.Dynamics.ExplainedVarianceRatio.Select((v, i) => string.Create(CultureInfo.InvariantCulture, $"PC{i + 1} {v:P1}"))));
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"recorded in run {runId} ({seconds:F1} s); 'slt report {runId}' draws the loss, λ̂ over training with the stages, and essential dynamics"));
    }
}
