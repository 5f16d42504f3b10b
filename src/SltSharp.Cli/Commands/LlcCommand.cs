using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using SltSharp.Engine.Linalg;
using SltSharp.Estimators;
using SltSharp.Models;
using SltSharp.Sampling;
using SltSharp.Theory;

namespace SltSharp.Cli.Commands;

/// <summary>
/// <c>slt llc</c>: the local learning coefficient of a built-in model at its true parameter, with the exact λ where
/// theory gives it and a diagnostics verdict. The option names and the JSON fields are a contract scripts rely on.
/// </summary>
internal static class LlcCommand
{
    /// <summary>Built-in models <c>--model</c> accepts.</summary>
    public static readonly string[] Models = ["dln", "normal-crossing", "normal-crossing-potential", "tms"];

    public static Command Build(CliContext context)
    {
        var modelOptions = ModelOptions.Create();
        var (model, widths, rank, powers, init, seed) = (modelOptions.Model, modelOptions.Widths, modelOptions.Rank, modelOptions.Powers, modelOptions.Init, modelOptions.Seed);
        var chains = OptionParsing.BoundedInt("--chains", "Independent chains.", 4, 1);
        var draws = OptionParsing.OptionalInt("--draws", "Kept draws per chain after burn-in (default 5000).", 2);
        var burnin = OptionParsing.OptionalInt("--burnin", "Burn-in steps per chain, discarded (default 5000).", 0);
        var thinning = OptionParsing.OptionalInt("--thinning", "Sampler steps per kept draw (default 5).", 1);
        var epsilon = OptionParsing.PositiveDouble("--epsilon", "Step size ε (default: per model, see docs).");
        var nbeta = OptionParsing.PositiveDouble("--nbeta", "Inverse temperature nβ (default n/ln n).");
        var gamma = new Option<double?>("--gamma") { Description = "Localization γ ≥ 0 pulling chains towards w* (default 1; tms 10)." };
        gamma.Validators.Add(r => { double? g = r.GetValueOrDefault<double?>(); if (g is { } v && (!(v >= 0) || double.IsInfinity(v))) { r.AddError($"--gamma must be a finite number ≥ 0 (got {v})."); } });
        var (n, batchSize, sampler) = (modelOptions.N, modelOptions.BatchSize, modelOptions.Sampler);
        var threads = OptionParsing.BoundedInt("--threads", "Threads the chains are spread over (results do not depend on it).", Math.Min(Environment.ProcessorCount, 2), 1);
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object on stdout." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress output." };
        var temperatures = OptionParsing.OptionalInt("--temperatures", "Multiplicity-aware estimate: sample at K ≥ 4 values of nβ over --decades decades from --nbeta (ε ∝ 1/nβ; for mala a short pilot tunes ε per temperature to acceptance 0.95) and fit λ − (m−1)/(ln t + c) against λ − a·t^(−δ).", 4);
        var decades = OptionParsing.PositiveDouble("--decades", "With --temperatures: decades spanned above the smallest nβ (default 3).");
        var store = new Option<string>("--store") { Description = "Results store the run is recorded in; re-running the same command resumes it (only missing chains are sampled).", DefaultValueFactory = _ => DefaultStore };
        var noStore = new Option<bool>("--no-store") { Description = "Do not record the run (nothing is written, nothing resumes)." };
        var runName = new Option<string?>("--run-name") { Description = "A label for the run; runs with different labels are separate measurements with their own chains." };
        var checkpointOptions = CheckpointModel.CreateOptions();
        var auto = new Option<bool>("--auto") { Description = "Choose ε, nβ and γ by calibration (see 'slt calibrate') and lengthen the chains for a ~1.5% Monte Carlo error; reports the calibration too." };

        var command = new Command("llc", "Estimate the local learning coefficient λ̂ of a built-in model at its true parameter, with diagnostics and a verdict.")
        {
            model, widths, rank, powers, init, seed, chains, draws, burnin, thinning, epsilon, nbeta, gamma, n, batchSize, sampler, threads, json, quiet,
            temperatures, decades, store, noStore, runName, auto,
        };
        foreach (var option in checkpointOptions.All)
        {
            command.Options.Add(option);
        }
        command.SetAction(parse =>
        {
            var fromCheckpoint = CheckpointModel.FromCommandLine(parse, checkpointOptions, model, n, rank, out var checkpointDescription);
            string modelName = fromCheckpoint is null ? parse.GetValue(model)! : CheckpointModel.ModelName;
            var (setup, defaults, sampleCount, batch) = fromCheckpoint is null
                ? modelOptions.Resolve(parse)
                : modelOptions.Resolve(parse, fromCheckpoint, CheckpointModel.Defaults(fromCheckpoint.Loss.SampleCount));
            JsonObject ModelSpec()
            {
                if (checkpointDescription is null)
                {
                    return modelOptions.Spec(parse, sampleCount);
                }
                var spec = (JsonObject)checkpointDescription.DeepClone();
                spec["seed"] = parse.GetValue(seed);
                return spec;
            }
            string samplerName = parse.GetValue(sampler)!;
            var options = new LlcOptions
            {
                Sampler = samplerName switch { "psgld" => SamplerKind.PreconditionedSgld, "sgnht" => SamplerKind.Sgnht, "mala" => SamplerKind.Mala, _ => SamplerKind.Sgld },
                StepSize = parse.GetValue(epsilon) ?? setup.DefaultStepSize,
                NBeta = parse.GetValue(nbeta) ?? setup.DefaultNBeta,
                Localization = parse.GetValue(gamma) ?? setup.DefaultLocalization ?? 1.0,
                Chains = parse.GetValue(chains),
                Draws = parse.GetValue(draws) ?? defaults.Draws,
                Burnin = parse.GetValue(burnin) ?? defaults.Burnin,
                Thinning = parse.GetValue(thinning) ?? defaults.Thinning,
                BatchSize = batch == 0 || samplerName == "mala" ? null : batch,
                Seed = parse.GetValue(seed),
                Threads = parse.GetValue(threads),
            };
            bool asJson = parse.GetValue(json);
            if (options.Threads > 1)
            {
                // Chains already occupy the cores; a multi-threaded BLAS underneath them would oversubscribe.
                Engine.Linalg.OpenBlas.SetNumThreads(1);
            }
            if (parse.GetValue(temperatures) is { } count)
            {
                return MultiTemperatureBlock.Run(context, setup, options, count, parse.GetValue(decades) ?? 3.0, asJson, parse.GetValue(quiet));
            }
            if (parse.GetValue(auto))
            {
                return LlcAutoBlock.Run(context, parse, setup, options, ModelSpec(), new LlcAutoBlock.Hand(
                    parse.GetValue(epsilon), parse.GetValue(nbeta), parse.GetValue(gamma)), parse.GetValue(noStore) ? null : parse.GetValue(store), parse.GetValue(runName));
            }
            LlcRecordingResult? recorded = null;
            Func<LlcOptions, LlcResult> estimate = o => LlcEstimator.Estimate(setup.Loss, setup.WStar, o);
            if (!parse.GetValue(noStore))
            {
                var modelSpec = ModelSpec();
                var samplerConfig = new JsonObject
                {
                    ["sampler"] = samplerName, ["epsilon"] = options.StepSize, ["nbeta"] = options.NBeta, ["gamma"] = options.Localization,
                    ["chains"] = options.Chains, ["draws"] = options.Draws, ["burnin"] = options.Burnin, ["thinning"] = options.Thinning,
                    ["batch_size"] = options.BatchSize, ["seed"] = options.Seed, ["run_name"] = parse.GetValue(runName),
                };
                string storePath = parse.GetValue(store)!;
                estimate = o =>
                {
                    using var results = SltSharp.Store.SqliteResultsStore.Open(storePath);
                    recorded = LlcRecording.Run(results, modelSpec, samplerConfig, setup, options, o.Progress);
                    return recorded.Result;
                };
            }
            LlcResult result;
            try
            {
                using var progress = ProgressReporter.Start(context, $"sampling {options.Chains} chains × {options.Draws} draws", (long)options.Chains * options.Draws, parse.GetValue(quiet));
                result = estimate(options with { Progress = progress.ForChains(options.Chains) });
            }
            catch (SamplingDivergedException e)
            {
                return LlcAutoBlock.ReportDiverged(context, modelName, setup, options, e, asJson);
            }
            double? finiteTemperature = setup.ExactAtTemperature?.Invoke(result.NBeta, options.Localization);
            if (result.Verdict == SltSharp.Diagnostics.Verdict.Fail)
            {
                result = LlcAutoBlock.WithAdvice(setup, options, result);
            }
            if (asJson)
            {
                var jsonResult = ToJson(modelName, setup, options, result, finiteTemperature);
                jsonResult["run_id"] = recorded?.RunId;
                jsonResult["chains_computed"] = recorded?.ChainsComputed ?? options.Chains;
                jsonResult["chains_reused"] = recorded?.ChainsReused ?? 0;
                context.Output.WriteLine(jsonResult.ToJsonString(JsonOptions));
            }
            else
            {
                WriteHuman(context.Output, setup, options, result, finiteTemperature);
                if (recorded is not null)
                {
                    context.Output.WriteLine($"recorded   run {recorded.RunId} in {parse.GetValue(store)} ({recorded.ChainsComputed} chains sampled now, {recorded.ChainsReused} from an earlier attempt); 'slt report {recorded.RunId}' shows it");
                }
            }
            return result.Verdict == SltSharp.Diagnostics.Verdict.Fail ? SltApp.ExitFailure : 0;
        });
        return command;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Where runs are recorded unless <c>--store</c> or <c>--no-store</c> says otherwise.</summary>
    public const string DefaultStore = "runs/slt.db";

    internal static JsonObject ToJson(string modelName, BuiltinModel setup, LlcOptions options, LlcResult r, double? finiteTemperature) => new()
    {
        ["model"] = modelName,
        ["description"] = setup.Description,
        ["llc_mean"] = Finite(r.Mean),
        ["llc_se"] = Finite(r.StandardError),
        ["llc_mcse"] = Finite(r.MonteCarloStandardError),
        ["exact_lambda"] = setup.Exact is { } e ? e.Lambda : null,
        ["exact_multiplicity"] = setup.Exact is { } m && setup.MultiplicityKnown ? m.Multiplicity : null,
        ["exact_finite_temperature"] = finiteTemperature,
        ["verdict"] = r.Verdict.ToString().ToLowerInvariant(),
        ["reasons"] = new JsonArray([.. r.Diagnostics.Reasons.Select(s => (JsonNode?)JsonValue.Create(s))]),
        ["chains"] = options.Chains,
        ["surviving_chains"] = r.Sampling.SurvivingChains,
        ["draws"] = options.Draws,
        ["burnin"] = options.Burnin,
        ["thinning"] = options.Thinning,
        ["params"] = setup.Loss.ParameterCount,
        ["n"] = setup.Loss.SampleCount,
        ["sampler"] = r.SamplerName,
        ["epsilon"] = options.StepSize,
        ["nbeta"] = r.NBeta,
        ["gamma"] = options.Localization,
        ["batch_size"] = options.BatchSize,
        ["reference_loss"] = r.ReferenceLoss,
        ["chain_llcs"] = new JsonArray([.. r.ChainEstimates.Select(v => (JsonNode?)JsonValue.Create(Finite(v)))]),
        ["r_hat"] = Finite(r.Diagnostics.RHat),
        ["ess"] = Finite(r.Diagnostics.BulkEss),
        ["acceptance"] = Finite(r.Diagnostics.MeanAcceptance),
        ["negative_fraction"] = Finite(r.Diagnostics.NegativeFraction),
        ["step_bias"] = r.Diagnostics.StepBias is { } b ? new JsonObject
        {
            ["bias"] = Finite(b.Bias), ["relative"] = Finite(b.RelativeBias), ["curvature_trace"] = Finite(b.Trace),
            ["top_curvature"] = Finite(b.TopCurvature), ["edge_ratio"] = Finite(b.EdgeRatio), ["advised_epsilon"] = Finite(b.AdvisedStep),
            ["minibatch_noise"] = Finite(b.MinibatchNoise),
        } : null,
        ["divergences"] = new JsonArray([.. r.DivergenceMessages.Select(s => (JsonNode?)JsonValue.Create(s))]),
        ["seconds"] = r.Sampling.Elapsed.TotalSeconds,
        ["steps_per_second"] = r.StepsPerSecond,
        ["gemm_backend"] = Gemm.BackendDescription,
    };

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    internal static void WriteHuman(TextWriter o, BuiltinModel setup, LlcOptions options, LlcResult r, double? finiteTemperature)
    {
        o.WriteLine($"model      {setup.Description} ({setup.Loss.ParameterCount} parameters, n = {setup.Loss.SampleCount})");
        o.WriteLine($"sampler    {r.SamplerName}: ε = {options.StepSize:G3}, nβ = {r.NBeta:G4}, γ = {options.Localization:G3}, {options.Chains} chains × {options.Draws} draws (burn-in {options.Burnin}, thinning {options.Thinning}), batch {(options.BatchSize?.ToString() ?? "full")}");
        o.WriteLine($"λ̂          {r.Mean:F3} ± {r.StandardError:F3} (SE across chains; Monte Carlo SE {r.MonteCarloStandardError:F3})");
        o.WriteLine($"per chain  {string.Join("  ", r.ChainEstimates.Select(v => v.ToString("F3")))}");
        if (setup.Exact is { } exact)
        {
            o.WriteLine($"exact λ    {exact.Lambda:G6} ({(setup.MultiplicityKnown ? $"multiplicity {exact.Multiplicity}; " : "")}asymptotic value as n → ∞)");
        }
        if (finiteTemperature is { } ft)
        {
            o.WriteLine($"exact at nβ {ft:F4} (what λ̂ estimates at this nβ and γ, by quadrature)");
        }
        o.WriteLine($"diagnostics R-hat {r.Diagnostics.RHat:F3}, bulk ESS {r.Diagnostics.BulkEss:F0}, acceptance {r.Diagnostics.MeanAcceptance:F2}, negative draws {r.Diagnostics.NegativeFraction:P0}, surviving chains {r.Sampling.SurvivingChains}/{options.Chains}");
        if (r.Diagnostics.StepBias is { } b)
        {
            o.WriteLine($"step       predicted bias ε·(tr(nβ∇²L) + minibatch noise)/8 = {b.Bias:G3} ({b.RelativeBias:P1} of λ̂; minibatch share {(b.MinibatchNoise > 0 ? b.MinibatchNoise / (b.Trace + b.MinibatchNoise) : 0):P0}), stability ε·q_max/4 = {b.EdgeRatio:F2} (from the chains' states)");
        }
        o.WriteLine($"verdict    {r.Verdict.ToString().ToLowerInvariant()}");
        foreach (string reason in r.Diagnostics.Reasons)
        {
            o.WriteLine($"  - {reason}");
        }
        foreach (string message in r.DivergenceMessages)
        {
            o.WriteLine($"  ! {message}");
        }
        o.WriteLine($"speed      {r.StepsPerSecond:N0} SGLD steps/s over all chains, {r.Sampling.Elapsed.TotalSeconds:F1} s of sampling ({Gemm.BackendDescription})");
    }

}
