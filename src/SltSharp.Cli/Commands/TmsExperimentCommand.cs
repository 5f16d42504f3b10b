using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SltSharp.Cli.Reports;
using SltSharp.Estimators;
using SltSharp.Models.Tms;
using SltSharp.Store;

namespace SltSharp.Cli.Commands;

/// <summary>
/// <c>slt experiment tms</c>: dynamical versus Bayesian transitions in the toy model of superposition. Trains many seeds
/// at several training-set sizes n from random initialisations, classifies W at log-spaced checkpoints, and sets the
/// k-gon fractions (against n and against the training step) next to the posterior's preference between the 5-gon and
/// the 6-gon against n, from theory λ and from λ̂ measured at both points.
/// </summary>
internal static class TmsExperimentCommand
{
    /// <summary>The settings of a run (defaults, or <c>--quick</c>, then explicit options).</summary>
    internal sealed record Settings(int[] NValues, int Seeds, TmsTrainingOptions Training, int PerDecade, int LlcN, LlcOptions Llc);

    /// <summary>Default n values; the default run needs ≈ 2 minutes of CPU (docs/tms.md, "Run time").</summary>
    internal static readonly int[] DefaultNValues = [100, 200, 400, 800, 1600, 3200, 6400];

    public static Command Build(CliContext context)
    {
        var nValues = OptionParsing.IntList("--n-values", "Training-set sizes n, comma-separated (default 100,200,400,800,1600,3200,6400).", () => [], minimum: 2);
        var seeds = OptionParsing.OptionalInt("--seeds", "Seeds (random initialisations and training sets) per n (default 50).", 1);
        var steps = OptionParsing.OptionalInt("--steps", "Optimizer steps per seed (default 20000).", 1);
        var batch = OptionParsing.OptionalInt("--batch-size", "Minibatch size, drawn with replacement; ≥ n means full batch (default 64).", 1);
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (plain, no momentum) or adam.", DefaultValueFactory = _ => "sgd" };
        optimizer.AcceptOnlyFromAmong("sgd", "adam");
        var lr = OptionParsing.PositiveDouble("--lr", "Learning rate (default 0.1 for sgd, 0.005 for adam).");
        var initScale = OptionParsing.PositiveDouble("--init-scale", "Standard deviation of the initial entries of W (default 0.1; biases start at 0).");
        var perDecade = OptionParsing.OptionalInt("--checkpoints-per-decade", "Log-spaced checkpoints per decade of training steps (default 4).", 1);
        var seed = new Option<ulong>("--seed") { Description = "Master seed of the initialisations, training sets, minibatches and LLC chains.", DefaultValueFactory = _ => 0UL };
        var llcDraws = OptionParsing.OptionalInt("--llc-draws", "Draws per chain of the LLC estimates at the 5-gon and 6-gon (default: slt llc --model tms).", 2);
        var llcBurnin = OptionParsing.OptionalInt("--llc-burnin", "Burn-in steps of the LLC estimates (default: slt llc --model tms).", 0);
        var llcChains = OptionParsing.OptionalInt("--llc-chains", "Chains of the LLC estimates (default 4).", 2);
        var threads = OptionParsing.BoundedInt("--threads", "Threads the seeds and chains are spread over (results do not depend on it).", Math.Min(Environment.ProcessorCount, 2), 1);
        var quick = new Option<bool>("--quick") { Description = "A small run for CI (n 100 and 1600, 8 seeds, 1500 steps, short LLC chains): checks the machinery, not the science." };
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object on stdout." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress output." };
        var store = new Option<string>("--store") { Description = "Results store the run is recorded in.", DefaultValueFactory = _ => LlcCommand.DefaultStore };
        var noStore = new Option<bool>("--no-store") { Description = "Do not record the run (the report is still written)." };
        var output = new Option<string?>("--out") { Description = "HTML report to write (default runs/report-RUN_ID.html next to the store; runs/experiment-tms.html with --no-store)." };

        var command = new Command("tms", "Toy model of superposition: k-gon types reached by SGD/Adam against n and against training time, next to the Bayesian posterior's preference (critical n ≈ 601).")
        {
            nValues, seeds, steps, batch, optimizer, lr, initScale, perDecade, seed, llcDraws, llcBurnin, llcChains, threads, quick, json, quiet, store, noStore, output,
        };
        command.SetAction((parse, cancellationToken) => Task.FromResult(Run(parse, cancellationToken)));
        return command;

        int Run(ParseResult parse, CancellationToken cancellationToken)
        {
            bool isQuick = parse.GetValue(quick);
            string optimizerName = parse.GetValue(optimizer)!;
            var kind = optimizerName == "sgd" ? TmsOptimizer.Sgd : TmsOptimizer.Adam;
            int stepCount = parse.GetValue(steps) ?? (isQuick ? 1_500 : 20_000);
            int[] ns = parse.GetValue(nValues) is { Length: > 0 } given ? [.. given.Distinct().Order()] : isQuick ? [100, 1600] : DefaultNValues;
            var defaults = BuiltinModels.TmsDefaults;
            int threadCount = parse.GetValue(threads);
            var settings = new Settings(
                ns,
                parse.GetValue(seeds) ?? (isQuick ? 8 : 50),
                new TmsTrainingOptions
                {
                    Steps = stepCount,
                    BatchSize = parse.GetValue(batch) ?? 64,
                    Optimizer = kind,
                    LearningRate = parse.GetValue(lr) ?? (kind == TmsOptimizer.Adam ? 0.005 : 0.1),
                    InitScale = parse.GetValue(initScale) ?? 0.1,
                    Threads = threadCount,
                    Seed = parse.GetValue(seed),
                },
                parse.GetValue(perDecade) ?? 4,
                defaults.N,
                new LlcOptions
                {
                    StepSize = 1e-3,
                    Localization = 10.0,
                    Chains = parse.GetValue(llcChains) ?? (isQuick ? 2 : 4),
                    Draws = parse.GetValue(llcDraws) ?? (isQuick ? 200 : defaults.Draws),
                    Burnin = parse.GetValue(llcBurnin) ?? (isQuick ? 100 : defaults.Burnin),
                    Thinning = defaults.Thinning,
                    Seed = parse.GetValue(seed),
                    Threads = threadCount,
                });
            settings = settings with { Training = settings.Training with { CheckpointSteps = TmsTraining.LogSpacedSteps(stepCount, settings.PerDecade) } };
            if (threadCount > 1)
            {
                // The seeds and chains already occupy the cores; a multi-threaded BLAS underneath would oversubscribe.
                Engine.Linalg.OpenBlas.SetNumThreads(1);
            }

            bool asJson = parse.GetValue(json);
            var stopwatch = Stopwatch.StartNew();
            string storePath = parse.GetValue(store)!;
            using var results = parse.GetValue(noStore) ? null : SqliteResultsStore.Open(storePath);
            var run = results?.CreateRun(new RunStart(TmsExperimentReport.Command, ConfigJson(settings, optimizerName).ToJsonString(),
                unchecked((long)settings.Training.Seed), LlcRecording.CodeVersion(), Environment.MachineName));
            bool quietRun = parse.GetValue(quiet);
            var (census, llcs) = results is null ? Measure() : RunStatusScope.Run(results, run!.Id, Measure);
            var section = TmsExperimentReport.Build(settings.Seeds, settings.Training.Steps, census, llcs);
            string html;
            if (results is not null)
            {
                html = parse.GetValue(output) ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(storePath))!, $"report-{run!.Id}.html");
                HtmlReportBuilder.Write(results, run!.Id, html);
            }
            else
            {
                html = parse.GetValue(output) ?? Path.Combine("runs", "experiment-tms.html");
                var summary = new List<KeyValuePair<string, string>> { new("Command", TmsExperimentReport.Command), new("Seed", settings.Training.Seed.ToString(CultureInfo.InvariantCulture)) };
                HtmlReportBuilder.Write(new RunReport("slt experiment tms", summary, ConfigJson(settings, optimizerName).ToJsonString(), [], [], [], [], [], section), html);
            }

            if (asJson)
            {
                var o = ToJson(settings, optimizerName, section, census);
                o["run_id"] = run?.Id;
                o["report"] = Path.GetFullPath(html);
                o["seconds"] = stopwatch.Elapsed.TotalSeconds;
                context.Output.WriteLine(o.ToJsonString(JsonOptions));
            }
            else
            {
                WriteHuman(context.Output, settings, section, stopwatch.Elapsed);
                context.Output.WriteLine(run is null ? $"report     {Path.GetFullPath(html)}" : $"recorded   run {run.Id} in {storePath}; report {Path.GetFullPath(html)}");
            }
            return section.Llcs.Any(l => l.Verdict == SltSharp.Diagnostics.Verdict.Fail) ? SltApp.ExitFailure : 0;

            // The measurements: training and sampling, under the run's status when there is a run.
            (List<TmsCensusEntry> Census, Dictionary<string, (double Mean, double StandardError, SltSharp.Diagnostics.Verdict Verdict)> Llcs) Measure()
            {
                var census = new List<TmsCensusEntry>();
                using (var progress = ProgressReporter.Start(context, $"training {settings.NValues.Length} n × {settings.Seeds} seeds × {settings.Training.Steps} steps",
                    (long)settings.NValues.Length * settings.Seeds * settings.Training.Steps, quietRun))
                {
                    var training = settings.Training with { Progress = new SynchronousProgress<long>(progress.Advance) };
                    foreach (int n in settings.NValues)
                    {
                        progress.Status = string.Create(CultureInfo.InvariantCulture, $"n = {n}");
                        var sw = Stopwatch.StartNew();
                        var trained = TmsTraining.Train(n, settings.Seeds, training, cancellationToken);
                        var entries = TmsCensus.Tabulate(n, settings.Training.CheckpointSteps!, trained);
                        census.AddRange(entries);
                        if (results is not null)
                        {
                            results.AppendMetrics(run!.Id, TmsExperimentReport.CensusMetrics(entries));
                        }
                        var last = entries[^1];
                        progress.Note(string.Create(CultureInfo.InvariantCulture,
                            $"n = {n}: {settings.Seeds} seeds trained in {sw.Elapsed.TotalSeconds:F1} s; {string.Join(", ", last.Counts.OrderBy(c => TmsCensus.Order(c.Key)).Select(c => $"{c.Key} {c.Value}"))}"));
                    }
                }

                var llcs = new Dictionary<string, (double Mean, double StandardError, SltSharp.Diagnostics.Verdict Verdict)>();
                var inits = TmsExperimentReport.ComparedInits;
                using (var progress = ProgressReporter.Start(context, $"λ̂ at {inits.Length} points × {settings.Llc.Chains} chains × {settings.Llc.Draws} draws",
                    (long)inits.Length * settings.Llc.Chains * settings.Llc.Draws, quietRun))
                {
                    var llcOptions = settings.Llc with { Progress = progress.ForChains(settings.Llc.Chains) };
                    for (int i = 0; i < inits.Length; i++)
                    {
                        string init = inits[i];
                        cancellationToken.ThrowIfCancellationRequested();
                        progress.Status = init;
                        var estimate = SelectCommand.Estimate(init, settings.LlcN, llcOptions);
                        progress.AdvanceTo((i + 1L) * settings.Llc.Chains * settings.Llc.Draws);
                        llcs[init] = (estimate.Llc.Mean, estimate.Llc.StandardError, estimate.Llc.Verdict);
                        if (results is not null)
                        {
                            results.AppendMetrics(run!.Id, TmsExperimentReport.LlcMetrics(init, estimate.Llc.Mean, estimate.Llc.StandardError, estimate.Llc.Verdict));
                        }
                    }
                }
                return (census, llcs);
            }
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static JsonObject ConfigJson(Settings s, string optimizerName) => new()
    {
        ["n_values"] = new JsonArray([.. s.NValues.Select(n => (JsonNode?)n)]),
        ["seeds"] = s.Seeds,
        ["steps"] = s.Training.Steps,
        ["checkpoints"] = new JsonArray([.. s.Training.CheckpointSteps!.Select(n => (JsonNode?)n)]),
        ["batch_size"] = s.Training.BatchSize,
        ["optimizer"] = optimizerName,
        ["lr"] = s.Training.LearningRate,
        ["init_scale"] = s.Training.InitScale,
        ["seed"] = s.Training.Seed,
        ["llc"] = new JsonObject
        {
            ["n"] = s.LlcN, ["epsilon"] = s.Llc.StepSize, ["gamma"] = s.Llc.Localization, ["chains"] = s.Llc.Chains,
            ["draws"] = s.Llc.Draws, ["burnin"] = s.Llc.Burnin,
        },
    };

    private static double? Finite(double? v) => v is { } x && double.IsFinite(x) ? x : null;

    private static JsonObject Fractions(TmsCensusEntry e)
    {
        var o = new JsonObject();
        foreach (var (type, count) in e.Counts.OrderBy(c => TmsCensus.Order(c.Key)))
        {
            o[type] = count / (double)e.Seeds;
        }
        return o;
    }

    private static JsonObject ToJson(Settings s, string optimizerName, TmsExperimentSection section, IReadOnlyList<TmsCensusEntry> census)
    {
        var o = new JsonObject { ["experiment"] = "tms" };
        foreach (var (key, value) in ConfigJson(s, optimizerName))
        {
            o[key] = value?.DeepClone();
        }
        o["final"] = new JsonArray([.. s.NValues.Select(n =>
        {
            var last = census.Last(e => e.N == n);
            return (JsonNode)new JsonObject
            {
                ["n"] = n,
                ["counts"] = new JsonObject(last.Counts.OrderBy(c => TmsCensus.Order(c.Key)).Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Value))),
                ["fractions"] = Fractions(last),
                ["median_loss"] = last.MedianLoss,
                ["posterior_6gon_theory"] = Finite(section.Posterior.FirstOrDefault(p => p.N == n && p.Source.Contains("theory", StringComparison.Ordinal))?.Probability),
                ["posterior_6gon_estimated"] = Finite(section.Posterior.FirstOrDefault(p => p.N == n && p.Source.Contains("λ̂", StringComparison.Ordinal))?.Probability),
            };
        })]);
        o["over_steps"] = new JsonArray([.. census.Select(e => (JsonNode)new JsonObject
        {
            ["n"] = e.N,
            ["step"] = e.Step,
            ["fractions"] = Fractions(e),
            ["median_loss"] = e.MedianLoss,
        })]);
        o["llc"] = new JsonObject(section.Llcs.Select(l => KeyValuePair.Create(l.Init, (JsonNode?)new JsonObject
        {
            ["type"] = l.Type,
            ["loss_exact"] = l.Loss,
            ["lambda_theory"] = l.TheoryLambda,
            ["llc_mean"] = Finite(l.Mean),
            ["llc_se"] = Finite(l.StandardError),
            ["verdict"] = l.Verdict.ToString().ToLowerInvariant(),
        })));
        o["n_crit_theory"] = section.NCritTheory;
        o["n_crit_estimated"] = section.NCritEstimated;
        o["n_crit_low"] = section.NCritLow;
        o["n_crit_high"] = section.NCritHigh is double.PositiveInfinity ? "infinity" : Finite(section.NCritHigh);
        return o;
    }

    private static void WriteHuman(TextWriter o, Settings s, TmsExperimentSection section, TimeSpan elapsed)
    {
        var types = section.Types;
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"toy model of superposition 2×6: {s.Seeds} seeds per n, {s.Training.Optimizer} lr {s.Training.LearningRate:G3}, batch {s.Training.BatchSize}, {s.Training.Steps} steps, init W ~ N(0, {s.Training.InitScale:G3}²)"));
        o.WriteLine("fraction of seeds of each type after training; P(6-gon): posterior probability of the 6-gon within {5-gon, 6-gon}");
        o.WriteLine($"{"n",6} {string.Join(" ", types.Select(t => $"{t,8}"))} {"P theory",9} {"P λ̂",7}");
        foreach (int n in s.NValues)
        {
            string cells = string.Join(" ", types.Select(t => $"{section.Fractions.FirstOrDefault(f => f.N == n && f.Step == section.FinalStep && f.Type == t)?.Fraction ?? 0,8:F2}"));
            double? pt = section.Posterior.FirstOrDefault(p => p.N == n && p.Source.Contains("theory", StringComparison.Ordinal))?.Probability;
            double? pe = section.Posterior.FirstOrDefault(p => p.N == n && p.Source.Contains("λ̂", StringComparison.Ordinal))?.Probability;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n,6} {cells} {pt,9:F2} {pe,7:F2}"));
        }
        foreach (var l in section.Llcs)
        {
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"λ̂ {l.Type}: {l.Mean:F2} ± {l.StandardError:F2} (theory {l.TheoryLambda}), {l.Verdict.ToString().ToLowerInvariant()}"));
        }
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"n_crit theory {section.NCritTheory:F0}, from λ̂ {section.NCritEstimated:F0} (±2 SE {section.NCritLow:F0} – {section.NCritHigh:F0}); {elapsed.TotalSeconds:F0} s"));
    }
}
