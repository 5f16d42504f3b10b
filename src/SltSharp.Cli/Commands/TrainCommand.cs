using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using SltSharp.Store;
using SltSharp.Training;

namespace SltSharp.Cli.Commands;

/// <summary>
/// <c>slt train</c>: trains a built-in model on its synthetic task with a checkpoint schedule, writing safetensors
/// checkpoints (and optimizer state) into a run folder next to the store and the run, checkpoints and training loss into
/// the store. Re-running the same command resumes from the last checkpoint, bit for bit.
/// </summary>
internal static class TrainCommand
{
    /// <summary>Per-model defaults: a run that shows its stages within seconds.</summary>
    private sealed record TrainDefaults(int[] Widths, double InitScale, long Steps, double LearningRate, int BatchSize, int N);

    // dln: Saxe et al.'s saddle-to-saddle setting; with init scale 0.01 and lr 0.01 (full batch) the three teacher modes
    // (singular values 4, 1, 0.25) are learned around steps 50, 250 and 1200 — one stage per mode on a log axis.
    private static readonly Dictionary<string, TrainDefaults> Defaults = new()
    {
        ["dln"] = new([5, 5, 5], 0.01, 3000, 0.01, 0, 1000),
        ["mlp"] = new([2, 16, 1], 1.0, 2000, 0.01, 64, 1000),
        ["tms"] = new([6, 2, 6], 1.0, 3000, 0.01, 64, 5000),
    };

    public static Command Build(CliContext context)
    {
        var model = new Option<string>("--model") { Description = "Model: dln (deep linear network learning a teacher of given singular values), mlp (ReLU teacher–student regression) or tms (toy model of superposition).", DefaultValueFactory = _ => "dln" };
        model.AcceptOnlyFromAmong([.. TrainingTasks.Models]);
        var widths = new Option<int[]?>("--widths") { Description = "Layer widths, input first (default dln 5,5,5; mlp 2,16,1).", CustomParser = ParseInts };
        var singular = new Option<string>("--singular-values") { Description = "dln: the teacher's singular values, largest first (their count is the teacher's rank).", DefaultValueFactory = _ => "4,1,0.25" };
        var n = OptionParsing.OptionalInt("--n", "Training samples (default dln/mlp 1000, tms 5000).", 1);
        var dataSeed = new Option<ulong>("--data-seed") { Description = "Seed of the data and teacher.", DefaultValueFactory = _ => 0UL };
        var initScale = OptionParsing.PositiveDouble("--init-scale", "Factor on the default initial weights (default dln 0.01: small init gives saddle-to-saddle stages; others 1).");
        var steps = new Option<long?>("--steps") { Description = "Optimizer steps (default dln 3000, mlp 2000, tms 3000)." };
        var checkpoints = new Option<string>("--checkpoints") { Description = "Checkpoint schedule: linear:K or log:K (K checkpoints from step 0 to the last step, both included).", DefaultValueFactory = _ => "log:25" };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd or adam.", DefaultValueFactory = _ => "sgd" };
        optimizer.AcceptOnlyFromAmong("sgd", "adam");
        var lr = OptimizerOption("--lr", "Learning rate (default 0.01).");
        var momentum = new Option<double>("--momentum") { Description = "SGD momentum.", DefaultValueFactory = _ => 0.0 };
        var batch = OptionParsing.OptionalInt("--batch-size", "Minibatch size, 0 for full batch (default dln 0, mlp/tms 64).", 0);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initialisation and the minibatches.", DefaultValueFactory = _ => 0UL };
        var logEvery = new Option<long>("--log-every") { Description = "Log the full-data training loss every this many steps (0: about 200 points).", DefaultValueFactory = _ => 0L };
        var store = new Option<string>("--store") { Description = "Results store; run folders go next to it. Re-running the same command resumes the run.", DefaultValueFactory = _ => LlcCommand.DefaultStore };
        var runName = new Option<string?>("--run-name") { Description = "Names the run folder (default train-RUNID) and separates otherwise identical runs." };
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object on stdout." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress output." };
        var threads = OptionParsing.BoundedInt("--threads", "Data-parallel workers per training step (default: one per core); models of fewer than ~2.6e5 parameters × batch rows stay on one thread. Another count changes the results at float rounding only.", Environment.ProcessorCount, 1);

        var command = new Command("train", "Train a built-in model with a checkpoint schedule; checkpoints, optimizer state and the loss curve are recorded and the run resumes when re-run.")
        {
            model, widths, singular, n, dataSeed, initScale, steps, checkpoints, optimizer, lr, momentum, batch, seed, logEvery, store, runName, json, quiet, threads,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            string name = parse.GetValue(model)!;
            var d = Defaults[name];
            CheckpointSchedule schedule;
            try
            {
                schedule = CheckpointSchedule.Parse(parse.GetValue(checkpoints)!);
            }
            catch (FormatException e)
            {
                throw new CliUsageException($"--checkpoints: {e.Message}");
            }
            double[] singularValues = name == "dln" ? ParseDoubles(parse.GetValue(singular)!, "--singular-values") : [];
            var taskConfig = new TrainingTaskConfig
            {
                Model = name,
                Widths = name == "tms" ? [] : parse.GetValue(widths) is { Length: > 0 } given ? given : d.Widths,
                SingularValues = singularValues,
                SampleCount = parse.GetValue(n) ?? d.N,
                DataSeed = parse.GetValue(dataSeed),
                InitScale = parse.GetValue(initScale) ?? d.InitScale,
            };
            var options = new TrainingOptions
            {
                Steps = parse.GetValue(steps) ?? d.Steps,
                Schedule = schedule,
                Optimizer = parse.GetValue(optimizer) == "adam" ? OptimizerKind.Adam : OptimizerKind.Sgd,
                LearningRate = parse.GetValue(lr) ?? d.LearningRate,
                Momentum = parse.GetValue(momentum),
                BatchSize = parse.GetValue(batch) ?? Math.Min(d.BatchSize, taskConfig.SampleCount),
                Seed = parse.GetValue(seed),
                LogEvery = parse.GetValue(logEvery),
                Threads = parse.GetValue(threads),
            };
            Validate(options, taskConfig);
            bool asJson = parse.GetValue(json);
            string storePath = parse.GetValue(store)!;
            using var results = SqliteResultsStore.Open(storePath);
            var stopwatch = Stopwatch.StartNew();
            // About ten points of the loss curve: noted while training (stderr) and summarised at the end (stdout).
            var curve = new List<(long Step, double Loss)>();
            long printEvery = Math.Max(1, options.Steps / 10);
            TrainingRunResult result;
            using (var progress = ProgressReporter.Start(context, $"training {name} for {options.Steps} steps", options.Steps, parse.GetValue(quiet)))
            {
                result = TrainingRecorder.Run(results, taskConfig, options, parse.GetValue(runName), CodeVersion(),
                    (step, loss) =>
                    {
                        progress.Status = string.Create(CultureInfo.InvariantCulture, $"loss {loss:G4}");
                        progress.AdvanceTo(step);
                        if (curve.Count == 0 || step / printEvery != curve[^1].Step / printEvery || step == options.Steps)
                        {
                            curve.Add((step, loss));
                            progress.Note(string.Create(CultureInfo.InvariantCulture, $"step {step,8}  loss {loss:G6}"));
                        }
                    },
                    cancellationToken);
                // A resumed run that was already complete trains nothing: the bar still ends full.
                progress.AdvanceTo(options.Steps);
            }
            if (result.Warning is { } warning)
            {
                context.Error.WriteLine($"warning: {warning}");
            }
            double seconds = stopwatch.Elapsed.TotalSeconds;
            var task = TrainingTasks.Create(taskConfig);
            if (asJson)
            {
                var o = new JsonObject
                {
                    ["run_id"] = result.Run.Id,
                    ["model"] = name,
                    ["description"] = task.Description,
                    ["run_folder"] = result.RunFolder,
                    ["steps"] = options.Steps,
                    ["steps_trained"] = result.StepsTrained,
                    ["resumed_from_step"] = result.ResumedFromStep,
                    ["warning"] = result.Warning,
                    ["final_loss"] = double.IsFinite(result.FinalLoss) ? result.FinalLoss : null,
                    ["checkpoints"] = new JsonArray([.. result.Checkpoints.Select(c => (JsonNode?)new JsonObject
                    {
                        ["step"] = c.Step, ["path"] = c.Path, ["sha256"] = c.Sha256,
                    })]),
                    ["seconds"] = seconds,
                };
                context.Output.WriteLine(o.ToJsonString());
            }
            else
            {
                context.Output.WriteLine($"model      {task.Description}");
                context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"training   {options.Optimizer.ToString().ToLowerInvariant()} lr {options.LearningRate:G3}, {options.Steps} steps, batch {(options.BatchSize == 0 ? "full" : options.BatchSize.ToString(CultureInfo.InvariantCulture))}, seed {options.Seed}{(result.ResumedFromStep is { } r ? $" (resumed from step {r})" : "")}"));
                if (curve.Count > 0)
                {
                    context.Output.WriteLine("loss curve " + string.Join("  ", curve.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Step}: {p.Loss:G4}"))));
                }
                context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"final loss {result.FinalLoss:G6} ({result.StepsTrained} steps trained now, {seconds:F1} s)"));
                context.Output.WriteLine($"recorded   run {result.Run.Id}: {result.Checkpoints.Count} checkpoints ({schedule}) in {result.RunFolder}; 'slt trajectory {result.Run.Id}' measures the LLC over training");
            }
            return Task.FromResult(0);
        });
        return command;
    }

    private static void Validate(TrainingOptions options, TrainingTaskConfig task)
    {
        if (options.Steps < 1)
        {
            throw new CliUsageException($"--steps must be ≥ 1 (got {options.Steps}).");
        }
        if (options.Schedule.Count > options.Steps + 1)
        {
            throw new CliUsageException($"--checkpoints {options.Schedule} asks for more checkpoints than there are steps (at most {options.Steps + 1}); use fewer or more --steps.");
        }
        if (options.BatchSize > task.SampleCount)
        {
            throw new CliUsageException($"--batch-size {options.BatchSize} is larger than the dataset (--n {task.SampleCount}); use at most {task.SampleCount}, or 0 for full batch.");
        }
        if (options.Momentum < 0 || options.Momentum >= 1)
        {
            throw new CliUsageException($"--momentum must lie in [0, 1) (got {options.Momentum}).");
        }
        if (options.LogEvery < 0)
        {
            throw new CliUsageException($"--log-every must be ≥ 0 (got {options.LogEvery}).");
        }
        if (task.Model == "dln" && task.SingularValues.Count > task.Widths.Min())
        {
            throw new CliUsageException($"--singular-values gives {task.SingularValues.Count} values but the narrowest width is {task.Widths.Min()}; the teacher's rank cannot exceed it.");
        }
    }

    private static Option<double?> OptimizerOption(string name, string description) => OptionParsing.PositiveDouble(name, description);

    private static int[]? ParseInts(System.CommandLine.Parsing.ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        string text = string.Join(",", result.Tokens.Select(t => t.Value));
        var values = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < 1)
            {
                result.AddError($"--widths takes a comma-separated list of integers ≥ 1, e.g. --widths 5,5,5; '{part}' is not one.");
                return null;
            }
            values.Add(v);
        }
        if (values.Count < 2)
        {
            result.AddError("--widths needs at least an input and an output width, e.g. --widths 5,5,5.");
        }
        return [.. values];
    }

    private static double[] ParseDoubles(string text, string name)
    {
        var values = new List<double>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v > 0) || double.IsInfinity(v))
            {
                throw new CliUsageException($"{name} takes a comma-separated list of finite numbers > 0, e.g. {name} 4,1,0.25; '{part}' is not one.");
            }
            values.Add(v);
        }
        return [.. values];
    }

    internal static string CodeVersion() =>
        typeof(TrainCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(TrainCommand).Assembly.GetName().Version?.ToString() ?? "unknown";
}
