using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SltSharp.Estimators;
using SltSharp.Sampling;

namespace SltSharp.Cli.Commands;

/// <summary>
/// <c>slt llc --auto</c>: calibrate (<see cref="Calibration"/>), then estimate at the chosen ε, nβ, γ; and the advice a
/// failing manual run gets (what <c>--auto</c> would choose).
/// </summary>
internal static class LlcAutoBlock
{
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Hyperparameters the user set by hand (null: not set).</summary>
    public sealed record Hand(double? Epsilon, double? NBeta, double? Gamma);

    /// <summary>The sweep <c>--auto</c> runs: the base nβ only (λ̂ at another nβ is another quantity), cells in parallel over the threads.</summary>
    public static CalibrationOptions SweepFor(LlcOptions options) => new() { Parallelism = Math.Max(1, options.Threads) };

    public static int Run(CliContext context, ParseResult parse, BuiltinModel setup, LlcOptions options, JsonObject modelSpec, Hand hand, string? storePath, string? runName)
    {
        if (hand.Epsilon is not null)
        {
            throw new CliUsageException("--auto chooses the step size: drop --epsilon (or drop --auto to use your own ε). --nbeta and --gamma, when given, are kept fixed.");
        }
        bool asJson = parse.GetValue<bool>("--json");
        string modelName = (string)modelSpec["name"]!;
        var sweep = SweepFor(options);
        long? calibrationRun = null;
        LlcRecordingResult? recorded = null;
        bool quiet = parse.GetValue<bool>("--quiet");
        // Two phases, one bar each: the calibration's cells (their number is known once the step-size probe has run), then
        // the final run (and any extension of it, which EstimateAuto starts when the first run's diagnostics ask for more).
        using var calibrating = ProgressReporter.Start(context, "calibration cells", 1, quiet);
        sweep = sweep with { Progress = calibrating.ForCounts() };
        Func<LlcOptions, DrawObserver<double>?, LlcResult> sample = (o, observer) => LlcEstimator.Estimate(setup.Loss, setup.WStar, o, observer);
        if (storePath is not null)
        {
            sample = (o, observer) =>
            {
                var samplerConfig = new JsonObject
                {
                    ["sampler"] = o.Sampler.ToString().ToLowerInvariant(), ["epsilon"] = o.StepSize, ["nbeta"] = o.NBeta, ["gamma"] = o.Localization,
                    ["chains"] = o.Chains, ["draws"] = o.Draws, ["burnin"] = o.Burnin, ["thinning"] = o.Thinning,
                    ["batch_size"] = o.BatchSize, ["seed"] = o.Seed, ["run_name"] = runName, ["auto"] = true,
                };
                using var results = SltSharp.Store.SqliteResultsStore.Open(storePath);
                recorded = LlcRecording.Run(results, modelSpec, samplerConfig, setup, o, o.Progress, observer);
                return recorded.Result;
            };
        }
        Func<LlcOptions, DrawObserver<double>?, LlcResult> estimate = (o, observer) =>
        {
            calibrating.Dispose();
            using var progress = ProgressReporter.Start(context, $"sampling {o.Chains} chains × {o.Draws} draws", (long)o.Chains * o.Draws, quiet);
            return sample(o with { Progress = progress.ForChains(o.Chains) }, observer);
        };
        var auto = Calibration.EstimateAuto(setup.Loss, setup.WStar, options, sweep, estimate);
        if (storePath is not null)
        {
            var config = new JsonObject { ["sampler"] = options.Sampler.ToString().ToLowerInvariant(), ["batch_size"] = options.BatchSize, ["seed"] = options.Seed, ["auto"] = true, ["run_name"] = runName };
            calibrationRun = CalibrationRecording.Record(storePath, modelSpec, config, setup, auto.Calibration, options, sweep);
        }

        var calibrationJson = CalibrationRecording.ToJson(auto.Calibration);
        calibrationJson["run_id"] = calibrationRun;
        foreach (string reason in auto.Reasons)
        {
            ((JsonArray)calibrationJson["reasons"]!).Add(reason);
        }
        if (auto.Estimate is not { } result || auto.Options is not { } final)
        {
            if (asJson)
            {
                context.Output.WriteLine(new JsonObject { ["model"] = modelName, ["verdict"] = "fail", ["calibration"] = calibrationJson }.ToJsonString(JsonOptions));
            }
            else
            {
                CalibrationRecording.WriteHuman(context.Output, auto.Calibration);
                context.Output.WriteLine("verdict    fail: calibration found no usable setting (see above); no estimate was made");
            }
            return SltApp.ExitFailure;
        }
        double? finiteTemperature = setup.ExactAtTemperature?.Invoke(result.NBeta, final.Localization);
        if (asJson)
        {
            var json = LlcCommand.ToJson(modelName, setup, final, result, finiteTemperature);
            json["run_id"] = recorded?.RunId;
            json["calibration"] = calibrationJson;
            context.Output.WriteLine(json.ToJsonString(JsonOptions));
        }
        else
        {
            CalibrationRecording.WriteHuman(context.Output, auto.Calibration);
            foreach (string reason in auto.Reasons)
            {
                context.Output.WriteLine($"  - {reason}");
            }
            context.Output.WriteLine();
            LlcCommand.WriteHuman(context.Output, setup, final, result, finiteTemperature);
            if (recorded is not null)
            {
                context.Output.WriteLine($"recorded   calibration as run {calibrationRun}, estimate as run {recorded.RunId} in {storePath}; 'slt report {calibrationRun}' shows the grid");
            }
        }
        return result.Verdict == SltSharp.Diagnostics.Verdict.Fail ? SltApp.ExitFailure : 0;
    }

    /// <summary>
    /// A failed manual run gets one more reason: what <c>--auto</c> would choose (a calibration at the same nβ and γ),
    /// so the fix is one flag away.
    /// </summary>
    public static LlcResult WithAdvice(BuiltinModel setup, LlcOptions options, LlcResult result) =>
        result with { Diagnostics = result.Diagnostics with { Reasons = [.. result.Diagnostics.Reasons, Advice(setup, options with { ReferenceLoss = result.ReferenceLoss })] } };

    /// <summary>The advice sentence: the setting <c>--auto</c> would use, or why calibration found none.</summary>
    public static string Advice(BuiltinModel setup, LlcOptions options)
    {
        try
        {
            var calibration = Calibration.Run(setup.Loss, setup.WStar, options, SweepFor(options));
            return calibration.Choice is { } c
                ? $"Calibration: 'slt llc --auto' would use ε = {c.StepSize:G3} (nβ = {c.NBeta:G6}, γ = {c.Localization:G3}) instead of ε = {options.StepSize:G3}; rerun with --auto, or with --epsilon {c.StepSize:G3}."
                : $"Calibration found no usable step either ({calibration.Reasons.LastOrDefault()}); 'slt calibrate' shows the grid.";
        }
        catch (SamplingDivergedException e)
        {
            return $"Calibration could not run ({e.Message}); 'slt calibrate' shows the grid.";
        }
    }

    /// <summary>
    /// Every chain of a manual run diverged: a <c>fail</c> verdict (one JSON object with <c>--json</c>) whose reasons are
    /// the divergences and the advice, instead of a bare error.
    /// </summary>
    public static int ReportDiverged(CliContext context, string modelName, BuiltinModel setup, LlcOptions options, SamplingDivergedException e, bool asJson)
    {
        string advice = Advice(setup, options);
        if (asJson)
        {
            var json = new JsonObject
            {
                ["model"] = modelName, ["description"] = setup.Description, ["llc_mean"] = null, ["llc_se"] = null,
                ["exact_lambda"] = setup.Exact is { } x ? x.Lambda : null, ["verdict"] = "fail",
                ["reasons"] = new JsonArray(JsonValue.Create(e.Message), JsonValue.Create(advice)),
                ["chains"] = options.Chains, ["surviving_chains"] = 0, ["draws"] = options.Draws, ["params"] = setup.Loss.ParameterCount,
                ["n"] = setup.Loss.SampleCount, ["epsilon"] = options.StepSize, ["nbeta"] = options.NBeta ?? LocalizedPosterior.DefaultNBeta(setup.Loss.SampleCount),
                ["gamma"] = options.Localization,
            };
            context.Output.WriteLine(json.ToJsonString(JsonOptions));
        }
        else
        {
            context.Output.WriteLine($"model      {setup.Description} ({setup.Loss.ParameterCount} parameters, n = {setup.Loss.SampleCount})");
            context.Output.WriteLine("verdict    fail");
            context.Output.WriteLine($"  - {e.Message}");
            context.Output.WriteLine($"  - {advice}");
        }
        return SltApp.ExitFailure;
    }
}
