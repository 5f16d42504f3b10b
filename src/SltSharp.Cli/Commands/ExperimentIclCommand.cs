using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SltSharp.Estimators;
using SltSharp.Experiments.Icl;

namespace SltSharp.Cli.Commands;

/// <summary>
/// <c>slt experiment icl</c>: in-context linear regression over a sweep of task diversities M (slt-reference §4):
/// distances to dMMSE and ridge over training, LLC and per-head refined LLC at checkpoints, stages. The JSON fields
/// (<c>runs[].m</c>, <c>final_distance_dmmse</c>, <c>final_distance_ridge</c>, <c>min_distance_ridge</c>,
/// <c>stages[].start/end/type</c>) are a contract scripts rely on.
/// </summary>
internal static class ExperimentIclCommand
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Build(CliContext context)
    {
        var quick = new Option<bool>("--quick") { Description = "Reduced version for CI (tiny model, few steps, short chains): checks the pipeline, not the science." };
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object on stdout: { \"runs\": [ one entry per M ] }." };
        var m = new Option<string>("--m") { Description = "Task diversities M to sweep, comma-separated; 'inf' for fresh Gaussian tasks.", DefaultValueFactory = _ => "4,16,64,inf" };
        var steps = OptionParsing.OptionalInt("--steps", "Adam steps per run (default 20000; --quick 300).", 10);
        var checkpoints = OptionParsing.OptionalInt("--checkpoints", "Log-spaced checkpoints at which the LLC is estimated (default 16; --quick 5).", 1);
        var schedule = new Option<string>("--lr-schedule") { Description = "Learning rate after the warm-up: constant, or cosine (decays to 0 at the last step).", DefaultValueFactory = _ => "constant" };
        schedule.AcceptOnlyFromAmong("constant", "cosine");
        var seed = new Option<ulong>("--seed") { Description = "Seed of tasks, initialisation, data and samplers.", DefaultValueFactory = _ => 1UL };
        var noHeads = new Option<bool>("--no-head-llc") { Description = "Skip the weight-refined LLC of each attention head (about halves the time)." };
        var threads = OptionParsing.BoundedInt("--threads", "Runs (values of M) trained in parallel; results do not depend on it.", Math.Min(Environment.ProcessorCount, 2), 1);
        var store = new Option<string>("--store") { Description = "Results store each M's run is recorded in (see slt report).", DefaultValueFactory = _ => LlcCommand.DefaultStore };
        var noStore = new Option<bool>("--no-store") { Description = "Do not record the runs." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress output." };
        var command = new Command("icl", "In-context linear regression transformer over task diversities M: distances to dMMSE/ridge, LLC over training, stages, per-head LLC.")
        {
            quick, json, m, steps, checkpoints, schedule, seed, noHeads, threads, store, noStore, quiet,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var diversities = ParseDiversities(parse.GetValue(m)!);
            bool isQuick = parse.GetValue(quick), asJson = parse.GetValue(json);
            var template = isQuick ? QuickOptions() : new IclRunOptions();
            template = template with
            {
                Steps = parse.GetValue(steps) ?? template.Steps,
                Checkpoints = parse.GetValue(checkpoints) ?? template.Checkpoints,
                Seed = parse.GetValue(seed),
                HeadLlc = !parse.GetValue(noHeads),
                LearningRateSchedule = parse.GetValue(schedule) == "cosine" ? IclLearningRateSchedule.Cosine : IclLearningRateSchedule.Constant,
            };
            int parallel = Math.Min(parse.GetValue(threads), diversities.Count);
            // Runs and their LLC chains use the cores themselves, and the matrices are small: a multi-threaded BLAS
            // underneath only spins (measured: half the wall time of a --quick run went to BLAS threads' system time).
            Engine.Linalg.OpenBlas.SetNumThreads(1);
            // Training and checkpoint events are progress notes on stderr; stdout keeps the summary (or the one JSON object).
            using var progress = ProgressReporter.Start(context, $"in-context regression over {diversities.Count} task diversities", diversities.Count, parse.GetValue(quiet));
            var log = new Action<string>(progress.Note);
            // Each M is recorded as soon as it finishes, and M values whose run with these exact settings is already
            // complete in the store are read back instead of rerun: an interrupted sweep resumes where it stopped.
            using var resultsStore = parse.GetValue(noStore) ? null : Store.SqliteResultsStore.Open(parse.GetValue(store)!);
            var storeLock = new object();
            var entries = new JsonObject[diversities.Count];
            var pending = new List<int>();
            for (int i = 0; i < diversities.Count; i++)
            {
                var runOptions = template with { TaskCount = diversities[i] };
                if (resultsStore is not null && IclRecording.FindCompleted(resultsStore, runOptions, isQuick) is { } done)
                {
                    entries[i] = done.Summary;
                    entries[i]["run_id"] = done.RunId;
                    entries[i]["resumed"] = true;
                    log?.Invoke($"M = {runOptions.TaskCount?.ToString(CultureInfo.InvariantCulture) ?? "inf"}: already complete in run {done.RunId}, not rerun");
                }
                else
                {
                    pending.Add(i);
                }
            }
            progress.Advance(diversities.Count - pending.Count);
            try
            {
                Parallel.For(0, pending.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Math.Min(parallel, pending.Count)), CancellationToken = cancellationToken },
                    j =>
                    {
                        int i = pending[j];
                        var runOptions = template with { TaskCount = diversities[i] };
                        // The M's run exists from the start: its journal keeps the training state at every checkpoint,
                        // so a killed sweep continues this M from its last checkpoint rather than from step 0.
                        long? runId = null;
                        IclRecording.Journal? journal = null;
                        if (resultsStore is not null)
                        {
                            lock (storeLock)
                            {
                                runId = IclRecording.Begin(resultsStore, runOptions, isQuick);
                            }
                            journal = new IclRecording.Journal(resultsStore, runId.Value, storeLock);
                        }
                        IclRunResult result;
                        try
                        {
                            result = IclExperiment.Run(runOptions, log, cancellationToken, journal);
                        }
                        catch (Exception ex) when (resultsStore is not null && ex is not Store.ResultsStoreException)
                        {
                            lock (storeLock)
                            {
                                resultsStore.FinishRun(runId!.Value, ex is OperationCanceledException ? Store.RunStatus.Interrupted : Store.RunStatus.Failed);
                            }
                            throw;
                        }
                        var entry = ToJson(result);
                        if (resultsStore is not null)
                        {
                            lock (storeLock)
                            {
                                IclRecording.Record(resultsStore, runId!.Value, result, (JsonObject)entry.DeepClone());
                            }
                        }
                        entry["run_id"] = runId;
                        entry["resumed"] = false;
                        entries[i] = entry;
                        progress.Advance();
                    });
            }
            catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
            {
                // Show the first run's error as the command's own (the top level turns it into a one-line message).
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
            }
            if (asJson)
            {
                context.Output.WriteLine(new JsonObject { ["quick"] = isQuick, ["runs"] = new JsonArray([.. entries]) }.ToJsonString(JsonOptions));
            }
            else
            {
                PrintSummary(context.Output, entries);
            }
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>The CI version: a tiny transformer, few steps, short chains (seconds per M).</summary>
    internal static IclRunOptions QuickOptions() => new()
    {
        Model = new IclModelShape(ModelDimension: 16, Heads: 2, Layers: 2, MlpHidden: 32),
        Steps = 300,
        BatchSize = 32,
        ProbeSequences = 64,
        Evaluations = 12,
        Checkpoints = 5,
        FirstCheckpoint = 10,
        LlcSequences = 256,
        Llc = new IclRunOptions().Llc with { Chains = 2, Burnin = 20, Draws = 40, BatchSize = 32 },
        HeadLlcOptions = new IclRunOptions().HeadLlcOptions with { Chains = 2, Burnin = 10, Draws = 20, BatchSize = 32 },
    };

    internal static List<int?> ParseDiversities(string text)
    {
        var list = new List<int?>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part is "inf" or "∞" or "infinity")
            {
                list.Add(null);
            }
            else if (int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 1)
            {
                list.Add(v);
            }
            else
            {
                throw new CliUsageException($"--m takes task diversities M ≥ 1 or 'inf', comma-separated (e.g. --m 4,16,64,inf); '{part}' is not one.");
            }
        }
        if (list.Count == 0)
        {
            throw new CliUsageException("--m needs at least one task diversity, e.g. --m 4,16,64,inf.");
        }
        if (list.Distinct().Count() != list.Count)
        {
            throw new CliUsageException($"--m lists a task diversity twice ('{text}'); give each M once.");
        }
        return list;
    }

    private static JsonObject ToJson(IclRunResult r)
    {
        var stages = new JsonArray();
        var stageList = r.Stages?.Stages ?? [];
        for (int i = 0; i < stageList.Count; i++)
        {
            var s = stageList[i];
            stages.Add(new JsonObject
            {
                ["start"] = s.StartStep,
                ["end"] = s.EndStep,
                ["type"] = s.Type.ToString(),
                ["delta_llc"] = Finite(s.DeltaLlc),
                ["delta_loss"] = s.DeltaLoss is { } dl ? Finite(dl) : null,
                ["delta_llc_se"] = Finite(s.DeltaLlcStandardError),
                // Fraction of posterior draws of the smoothed curve that put a boundary here (null for the last stage).
                ["end_confidence"] = i < r.Stages!.Boundaries.Count ? Finite(r.Stages.Boundaries[i].Confidence) : null,
            });
        }
        var o = r.Options;
        return new JsonObject
        {
            ["m"] = o.TaskCount is { } count ? JsonValue.Create(count) : JsonValue.Create("inf"),
            ["final_distance_dmmse"] = Finite(r.FinalDistanceDmmse),
            ["final_distance_ridge"] = Finite(r.FinalDistanceRidge),
            ["min_distance_ridge"] = Finite(r.MinDistanceRidge),
            ["min_distance_ridge_step"] = r.MinDistanceRidgeStep,
            ["dmmse_ridge_distance"] = Finite(r.BaselineGap),
            ["final_train_loss"] = Finite(r.Evaluations[^1].TrainLoss),
            ["stages"] = stages,
            ["llc"] = new JsonArray([.. r.Checkpoints.Select(c => (JsonNode?)new JsonObject
            {
                ["step"] = c.Step,
                ["mean"] = Finite(c.Llc.Mean),
                ["se"] = Finite(c.Llc.StandardError),
                ["verdict"] = c.Llc.Verdict.ToString().ToLowerInvariant(),
                ["heads"] = new JsonObject([.. c.HeadLlcs.Select(h => KeyValuePair.Create(h.Head, (JsonNode?)JsonValue.Create(Finite(h.Llc.Mean))))]),
            })]),
            ["parameters"] = r.ParameterCount,
            ["steps"] = o.Steps,
            ["dimension"] = o.Dimension,
            ["pairs"] = o.Pairs,
            ["noise_variance"] = o.NoiseVariance,
            ["training_seconds"] = Math.Round(r.TrainingSeconds, 2),
            ["llc_seconds"] = Math.Round(r.LlcSeconds, 2),
        };
    }

    private static void PrintSummary(TextWriter output, IReadOnlyList<JsonObject> entries)
    {
        output.WriteLine();
        output.WriteLine("   M   dist→dMMSE  dist→ridge  min dist→ridge (step)   final λ̂   stages");
        static double Number(JsonNode? node) => node is null ? double.NaN : node.GetValue<double>();
        foreach (var e in entries)
        {
            string stages = e["stages"] is JsonArray { Count: > 0 } list
                ? string.Join(" ", list.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s!["type"]}[{Number(s["start"]):0}–{Number(s["end"]):0}]")))
                : "—";
            double finalLlc = e["llc"] is JsonArray { Count: > 0 } llc ? Number(llc[^1]!["mean"]) : double.NaN;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{e["m"],4}   {Number(e["final_distance_dmmse"]),10:0.0000}  {Number(e["final_distance_ridge"]),10:0.0000}  {Number(e["min_distance_ridge"]),10:0.0000} ({e["min_distance_ridge_step"],6})   {finalLlc,7:0.0}   {stages}"));
        }
        output.WriteLine("Distances: mean squared difference of predictions on probe sequences with tasks from N(0, I); for M = inf dMMSE is ridge.");
        var ids = entries.Select(e => e["run_id"]).Where(id => id is not null).ToList();
        if (ids.Count > 0)
        {
            output.WriteLine($"recorded runs {string.Join(", ", ids)}: slt report {ids[0]}");
        }
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
