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
        var quiet = new Option<bool>("--quiet") { Description = "No per-checkpoint progress lines." };
        var command = new Command("trajectory", "Estimate the LLC at every checkpoint of a training run, detect developmental stages on λ̂ vs ln t and compute essential dynamics (resumable).")
        {
            runId, latest, store, epsilon, nbeta, gamma, chains, draws, burnin, thinning, batch, seed, threads, components, significance, fraction, json, quiet,
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
            // Hook for calibration (slt calibrate, built separately): a later '--calibrate-at last' picks ε, nβ, γ once at the
            // last checkpoint and passes them here; every checkpoint then uses that one configuration.
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
            var samplerConfig = new JsonObject
            {
                ["sampler"] = "sgld", ["epsilon"] = llc.StepSize, ["nbeta"] = llc.NBeta, ["gamma"] = llc.Localization,
                ["chains"] = llc.Chains, ["draws"] = llc.Draws, ["burnin"] = llc.Burnin, ["thinning"] = llc.Thinning,
                ["batch_size"] = llc.BatchSize, ["seed"] = llc.Seed,
            };
            bool asJson = parse.GetValue(json);
            bool progress = !asJson && !parse.GetValue(quiet);
            var o = context.Output;
            if (progress)
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"run {run.Id}: SGLD ε = {llc.StepSize:G3}, nβ = {llc.NBeta:G4}, γ = {llc.Localization:G3}, {llc.Chains} chains × {llc.Draws} draws (burn-in {llc.Burnin}), batch {(llc.BatchSize?.ToString(CultureInfo.InvariantCulture) ?? "full")}, {llc.Threads} threads"));
                o.WriteLine("      step        loss          λ̂        SE  verdict");
            }
            var stopwatch = Stopwatch.StartNew();
            var result = LlcTrajectory.Run(results, run.Id, new TrajectoryOptions
            {
                Llc = llc, SamplerConfig = samplerConfig, Components = parse.GetValue(components),
                StageDetection = new StageDetectionOptions
                {
                    MinStageSignificance = parse.GetValue(significance) ?? new StageDetectionOptions().MinStageSignificance,
                    MinStageFraction = parse.GetValue(fraction) ?? new StageDetectionOptions().MinStageFraction,
                },
            },
            progress ? (_, _, p) => o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{p.Step,10}  {(p.Loss is { } l ? l.ToString("G4", CultureInfo.InvariantCulture) : "—"),10}  {p.LambdaHat,9:F3}  {p.StandardError,8:F3}  {p.Verdict.ToString().ToLowerInvariant()}{(p.ChainsComputed == 0 ? " (stored)" : "")}"))
            : null,
            cancellationToken);
            double seconds = stopwatch.Elapsed.TotalSeconds;
            if (asJson)
            {
                o.WriteLine(ToJson(run.Id, result, llc, seconds).ToJsonString());
            }
            else
            {
                WriteHuman(o, run.Id, result, seconds);
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

    private static void WriteHuman(TextWriter o, long runId, TrajectoryResult r, double seconds)
    {
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
