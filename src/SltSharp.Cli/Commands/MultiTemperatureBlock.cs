using System.Text.Json;
using System.Text.Json.Nodes;
using SltSharp.Estimators;

namespace SltSharp.Cli.Commands;

/// <summary><c>slt llc --temperatures K</c>: the multiplicity-aware estimate, printed or as a <c>multi_temperature</c> JSON object.</summary>
internal static class MultiTemperatureBlock
{
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static int Run(CliContext context, BuiltinModel setup, LlcOptions options, int count, double decades, bool asJson, bool quiet)
    {
        var o = context.Output;
        MultiTemperatureResult result;
        try
        {
            // Every temperature runs the same chains × draws; the chain progress counts each new temperature's draws anew.
            using var progress = ProgressReporter.Start(context, $"{count} temperatures × {options.Chains} chains × {options.Draws} draws", (long)count * options.Chains * options.Draws, quiet);
            result = MultiTemperatureEstimator.Estimate(setup.Loss, setup.WStar, options with { Progress = progress.ForChains(options.Chains) }, new MultiTemperatureOptions
            {
                Temperatures = count, Decades = decades, MinNBeta = options.NBeta,
            });
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }
        var fit = result.Fit;
        if (asJson)
        {
            var perTemperature = new JsonArray([.. result.PerTemperature.Select(e => (JsonNode?)new JsonObject
            {
                ["nbeta"] = e.NBeta,
                ["epsilon"] = e.StepSize,
                ["llc_mean"] = Finite(e.Lambda),
                ["llc_se"] = Finite(e.StandardError),
                ["exact_finite_temperature"] = setup.ExactAtTemperature?.Invoke(e.NBeta, options.Localization),
                ["verdict"] = e.Run.Verdict.ToString().ToLowerInvariant(),
                ["acceptance"] = Finite(e.Run.Diagnostics.MeanAcceptance),
                ["ess"] = Finite(e.Run.Diagnostics.BulkEss),
                ["pilot_steps"] = e.PilotSteps,
                ["replaced_chains"] = new JsonArray([.. e.ReplacedChains.Select(c => (JsonNode?)c)]),
                ["retuned"] = e.Retuned,
            })]);
            var root = new JsonObject
            {
                ["model"] = setup.Description,
                ["exact_lambda"] = setup.Exact is { } x ? x.Lambda : null,
                ["exact_multiplicity"] = setup.Exact is { } y ? y.Multiplicity : null,
                ["multi_temperature"] = new JsonObject
                {
                    ["per_temperature"] = perTemperature,
                    ["lambda"] = Finite(fit.Lambda),
                    ["lambda_se"] = Finite(fit.LambdaStandardError),
                    ["multiplicity"] = fit.Multiplicity,
                    ["multiplicity_real"] = Finite(fit.MultiplicityReal),
                    ["model"] = fit.Correction.ToString().ToLowerInvariant(),
                    ["interval"] = new JsonArray(Finite(fit.IntervalLow), Finite(fit.IntervalHigh)),
                    ["log_fit"] = Fit(fit.Log),
                    ["power_fit"] = Fit(fit.Power),
                    ["message"] = fit.Message,
                    ["decided_by"] = fit.DecidedBy,
                    ["density_of_states"] = fit.DensityOfStates is { } d ? new JsonObject
                    {
                        ["draws"] = d.Draws,
                        ["effective_draws"] = d.EffectiveDraws,
                        ["constant"] = Model(d.Constant),
                        ["logs"] = new JsonArray([.. d.Logs.Select(l => (JsonNode?)Model(l))]),
                        ["log_with_power"] = Model(d.LogWithPower),
                        ["power"] = Model(d.Power),
                    } : null,
                },
            };
            o.WriteLine(root.ToJsonString(JsonOptions));
        }
        else
        {
            o.WriteLine($"model      {setup.Description}");
            foreach (var e in result.PerTemperature)
            {
                string again = (e.Retuned ? "  (sampled again at a smaller ε)" : "") + (e.ReplacedChains.Count > 0 ? $"  (stuck chains sampled again: {string.Join(", ", e.ReplacedChains)})" : "");
                o.WriteLine($"nβ {e.NBeta,10:G4}  ε {e.StepSize:G3}  acceptance {e.Run.Diagnostics.MeanAcceptance:F2}  λ̂ {e.Lambda:F4} ± {e.StandardError:F4}  {e.Run.Verdict.ToString().ToLowerInvariant()}{again}");
            }
            o.WriteLine($"fit        {fit.Correction.ToString().ToLowerInvariant()}: λ = {fit.Lambda:G4} ± {fit.LambdaStandardError:G2}, interval [{fit.IntervalLow:G4}, {fit.IntervalHigh:G4}], m = {(fit.Multiplicity?.ToString() ?? "–")} (fitted {fit.MultiplicityReal:G3})");
            if (setup.Exact is { } exact)
            {
                o.WriteLine($"exact λ    {exact.Lambda:G6} (multiplicity {exact.Multiplicity})");
            }
            o.WriteLine($"decided by {fit.DecidedBy}");
            o.WriteLine($"           {fit.Message}");
        }
        return result.PerTemperature.Any(e => e.Run.Verdict == SltSharp.Diagnostics.Verdict.Fail) ? SltApp.ExitFailure : 0;
    }

    private static JsonObject Fit(CorrectionFit f) => new()
    {
        ["lambda"] = Finite(f.Lambda),
        ["lambda_se"] = Finite(f.LambdaStandardError),
        ["amplitude"] = Finite(f.Amplitude),
        ["shape"] = Finite(f.Shape),
        ["chi_square"] = Finite(f.ChiSquare),
        ["aic"] = Finite(f.Aic),
    };

    private static JsonObject Model(DensityOfStatesModel m) => new()
    {
        ["name"] = m.Name,
        ["lambda"] = Finite(m.Lambda),
        ["interval"] = new JsonArray(Finite(m.LambdaLow), Finite(m.LambdaHigh)),
        ["multiplicity"] = m.Multiplicity,
        ["shape"] = Finite(m.Shape),
        ["amplitude"] = Finite(m.Amplitude),
        ["deviance"] = Finite(m.Deviance),
        ["aic"] = Finite(m.Aic),
    };

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
