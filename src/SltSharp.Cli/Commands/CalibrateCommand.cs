using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SltSharp.Estimators;

namespace SltSharp.Cli.Commands;

/// <summary>
/// <c>slt calibrate</c>: sweep ε × nβ (× γ) on any model <c>slt llc</c> accepts, classify every cell, recommend a setting
/// with reasons, and record the grid so that <c>slt report</c> draws the heatmap.
/// </summary>
internal static class CalibrateCommand
{
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Build(CliContext context)
    {
        var modelOptions = ModelOptions.Create();
        var epsilons = OptionParsing.DoubleList("--epsilons", "Step sizes of the grid (default: found by a probe, half-decades around the largest step that reaches the target acceptance).");
        var nbeta = OptionParsing.PositiveDouble("--nbeta", "Base inverse temperature nβ the multipliers apply to (default n/ln n).");
        var multipliers = OptionParsing.DoubleList("--nbeta-multipliers", "nβ rows as multiples of the base nβ (default 0.5,1,2).");
        var gammas = OptionParsing.DoubleList("--gammas", "Localizations γ to sweep (default: the model's γ, 1; tms 10). Smaller γ is preferred.");
        var cellChains = OptionParsing.BoundedInt("--cell-chains", "Chains per cell.", 4, 2);
        var cellBurnin = OptionParsing.OptionalInt("--cell-burnin", "Burn-in steps per chain of a cell (default 1000).", 0);
        var cellDraws = OptionParsing.OptionalInt("--cell-draws", "Kept draws per chain of a cell (default 400, thinning 5).", 50);
        var threads = OptionParsing.BoundedInt("--threads", "Cells run in parallel on this many threads (results do not depend on it).", Math.Min(Environment.ProcessorCount, 2), 1);
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object on stdout." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress output." };
        var store = new Option<string>("--store") { Description = "Results store the grid is recorded in ('slt report' draws its heatmap).", DefaultValueFactory = _ => LlcCommand.DefaultStore };
        var noStore = new Option<bool>("--no-store") { Description = "Do not record the grid." };

        var command = new Command("calibrate", "Choose ε, nβ and γ for an LLC estimate: a grid of short runs, each classified (stable, not mixed, spiking, diverged), and a recommendation with reasons.");
        foreach (var option in modelOptions.All)
        {
            command.Options.Add(option);
        }
        foreach (Option option in new Option[] { epsilons, nbeta, multipliers, gammas, cellChains, cellBurnin, cellDraws, threads, json, quiet, store, noStore })
        {
            command.Options.Add(option);
        }
        command.SetAction(parse =>
        {
            var (setup, _, sampleCount, batch) = modelOptions.Resolve(parse);
            var kind = modelOptions.SamplerKind(parse);
            var baseOptions = new LlcOptions
            {
                Sampler = kind,
                NBeta = parse.GetValue(nbeta) ?? setup.DefaultNBeta,
                Localization = setup.DefaultLocalization ?? 1.0,
                BatchSize = batch == 0 || kind == SamplerKind.Mala ? null : batch,
                Seed = parse.GetValue(modelOptions.Seed),
            };
            var defaults = new CalibrationOptions();
            var sweep = defaults with
            {
                StepSizes = NullIfEmpty(parse.GetValue(epsilons)),
                NBetaMultipliers = NullIfEmpty(parse.GetValue(multipliers)) ?? [0.5, 1, 2],
                Localizations = NullIfEmpty(parse.GetValue(gammas)),
                CellChains = parse.GetValue(cellChains),
                CellBurnin = parse.GetValue(cellBurnin) ?? defaults.CellBurnin,
                CellDraws = parse.GetValue(cellDraws) ?? defaults.CellDraws,
                Parallelism = parse.GetValue(threads),
            };
            if (sweep.Parallelism > 1)
            {
                // Cells already occupy the cores; a multi-threaded BLAS underneath them would oversubscribe.
                Engine.Linalg.OpenBlas.SetNumThreads(1);
            }
            CalibrationResult result;
            try
            {
                // The grid's size is known once the step-size probe has run; until then the bar shows no total.
                using var progress = ProgressReporter.Start(context, "calibration cells", 1, parse.GetValue(quiet));
                result = Calibration.Run(setup.Loss, setup.WStar, baseOptions, sweep with { Progress = progress.ForCounts() });
            }
            catch (ArgumentException e)
            {
                throw new CliUsageException(e.Message);
            }
            long? runId = null;
            if (!parse.GetValue(noStore))
            {
                var config = new JsonObject
                {
                    ["sampler"] = parse.GetValue(modelOptions.Sampler), ["batch_size"] = baseOptions.BatchSize, ["seed"] = baseOptions.Seed,
                    ["nbeta"] = baseOptions.NBeta, ["gammas"] = Array(sweep.Localizations), ["epsilons"] = Array(sweep.StepSizes),
                    ["nbeta_multipliers"] = Array(sweep.NBetaMultipliers), ["cell_chains"] = sweep.CellChains, ["cell_burnin"] = sweep.CellBurnin,
                    ["cell_draws"] = sweep.CellDraws,
                };
                runId = CalibrationRecording.Record(parse.GetValue(store)!, modelOptions.Spec(parse, sampleCount), config, setup, result, baseOptions, sweep);
            }
            if (parse.GetValue(json))
            {
                var root = new JsonObject
                {
                    ["model"] = parse.GetValue(modelOptions.Model),
                    ["description"] = setup.Description,
                    ["params"] = setup.Loss.ParameterCount,
                    ["n"] = setup.Loss.SampleCount,
                    ["sampler"] = parse.GetValue(modelOptions.Sampler),
                    ["exact_lambda"] = setup.Exact is { } e ? e.Lambda : null,
                    ["exact_finite_temperature"] = result.Choice is { } c ? setup.ExactAtTemperature?.Invoke(c.NBeta, c.Localization) : null,
                    ["run_id"] = runId,
                    ["calibration"] = CalibrationRecording.ToJson(result),
                };
                context.Output.WriteLine(root.ToJsonString(JsonOptions));
            }
            else
            {
                context.Output.WriteLine($"model      {setup.Description} ({setup.Loss.ParameterCount} parameters, n = {setup.Loss.SampleCount}), sampler {parse.GetValue(modelOptions.Sampler)}");
                CalibrationRecording.WriteHuman(context.Output, result);
                if (result.Choice is { } c)
                {
                    context.Output.WriteLine($"next       slt llc ... --epsilon {c.StepSize:G3} --nbeta {c.NBeta:G6} --gamma {c.Localization:G3}   (or slt llc --auto)");
                }
                if (runId is not null)
                {
                    context.Output.WriteLine($"recorded   run {runId} in {parse.GetValue(store)}; 'slt report {runId}' shows the heatmap");
                }
            }
            return result.Choice is null ? SltApp.ExitFailure : 0;
        });
        return command;
    }

    private static double[]? NullIfEmpty(double[]? values) => values is { Length: > 0 } ? values : null;

    private static JsonArray? Array(IReadOnlyList<double>? values) => values is null ? null : new JsonArray([.. values.Select(v => (JsonNode?)v)]);
}
