using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SltSharp.Estimators;
using SltSharp.Models.Tms;
using SltSharp.Theory;

namespace SltSharp.Cli.Commands;

/// <summary>
/// <c>slt select</c>: internal model selection between two critical points (slt-reference §3). Estimates the loss
/// (exact population and empirical) and the LLC at both, and reports the posterior log-odds
/// ln p_n(U)/p_n(V) = n·Δℓ + Δλ·ln n + Δc as a function of n, with the critical sample size where the preference flips,
/// from theory λ and from the estimated λ̂ with an interval propagated from the LLC standard errors.
/// </summary>
internal static class SelectCommand
{
    /// <summary>Sample sizes of the log-odds table.</summary>
    private static readonly double[] TableN = [100, 300, 600, 1_000, 3_000, 10_000, 100_000];

    public static Command Build(CliContext context)
    {
        var model = new Option<string>("--model") { Description = "Built-in model with named critical points: tms (toy model of superposition).", DefaultValueFactory = _ => "tms" };
        model.AcceptOnlyFromAmong("tms");
        string inits = string.Join(", ", BuiltinModels.TmsInits.Keys);
        var from = new Option<string>("--from") { Description = $"The region U (higher loss, lower λ): one of {inits}.", DefaultValueFactory = _ => "5gon" };
        from.AcceptOnlyFromAmong([.. BuiltinModels.TmsInits.Keys]);
        var to = new Option<string>("--to") { Description = $"The region V: one of {inits}.", DefaultValueFactory = _ => "6gon" };
        to.AcceptOnlyFromAmong([.. BuiltinModels.TmsInits.Keys]);
        var n = OptionParsing.OptionalInt("--n", "Samples in the dataset the LLC is estimated on (default 5000).", 2);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the data and of every chain.", DefaultValueFactory = _ => 0UL };
        var chains = OptionParsing.BoundedInt("--chains", "Independent chains per point.", 4, 2);
        var draws = OptionParsing.OptionalInt("--draws", "Kept draws per chain (default 3000).", 2);
        var burnin = OptionParsing.OptionalInt("--burnin", "Burn-in steps per chain (default 3000).", 0);
        var epsilon = OptionParsing.PositiveDouble("--epsilon", "SGLD step size ε (default 1e-3).");
        var gamma = OptionParsing.PositiveDouble("--gamma", "Localization γ (default 10).");
        var k = OptionParsing.PositiveDouble("--k", "Standard errors on each side of the n_crit interval (default 2).");
        var threads = OptionParsing.BoundedInt("--threads", "Threads the chains are spread over (results do not depend on it).", Math.Min(Environment.ProcessorCount, 2), 1);
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object on stdout." };
        var output = new Option<string?>("--out") { Description = "HTML report to write (default runs/select-FROM-TO.html)." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress output." };

        var command = new Command("select", "Internal model selection between two critical points: losses, LLCs, posterior log-odds against n and the critical sample size.")
        {
            model, from, to, n, seed, chains, draws, burnin, epsilon, gamma, k, threads, json, output, quiet,
        };
        command.SetAction(parse =>
        {
            string fromName = parse.GetValue(from)!, toName = parse.GetValue(to)!;
            if (fromName == toName)
            {
                throw new CliUsageException($"--from and --to are both '{fromName}'; model selection needs two different critical points, e.g. --from 5gon --to 6gon.");
            }
            var defaults = BuiltinModels.TmsDefaults;
            int sampleCount = parse.GetValue(n) ?? defaults.N;
            double kSe = parse.GetValue(k) ?? 2.0;
            var options = new LlcOptions
            {
                StepSize = parse.GetValue(epsilon) ?? 1e-3,
                Localization = parse.GetValue(gamma) ?? 10.0,
                Chains = parse.GetValue(chains),
                Draws = parse.GetValue(draws) ?? defaults.Draws,
                Burnin = parse.GetValue(burnin) ?? defaults.Burnin,
                Thinning = defaults.Thinning,
                Seed = parse.GetValue(seed),
                Threads = parse.GetValue(threads),
            };
            if (options.Threads > 1)
            {
                Engine.Linalg.OpenBlas.SetNumThreads(1);
            }
            PointEstimate u, v;
            using (var progress = ProgressReporter.Start(context, $"λ̂ at {fromName} and {toName}: 2 × {options.Chains} chains × {options.Draws} draws",
                2L * options.Chains * options.Draws, parse.GetValue(quiet)))
            {
                var sampling = options with { Progress = progress.ForChains(options.Chains) };
                progress.Status = fromName;
                u = Estimate(fromName, sampleCount, sampling);
                progress.AdvanceTo((long)options.Chains * options.Draws);
                progress.Status = toName;
                v = Estimate(toName, sampleCount, sampling);
            }
            var (theoryU, theoryV, theory, estimatedU, estimatedV, interval) =
                Compare(u.Point, u.TheoryLambda, u.Llc.Mean, u.Llc.StandardError, v.Point, v.TheoryLambda, v.Llc.Mean, v.Llc.StandardError, kSe);

            var report = new SelectReport(fromName, toName, sampleCount, options, kSe, u, v, theoryU, theoryV, theory, estimatedU, estimatedV, interval);
            string html = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("runs", $"select-{fromName}-{toName}.html"));
            Reports.HtmlReportBuilder.Write(ToRunReport(report), html);
            if (parse.GetValue(json))
            {
                var o = ToJson(report);
                o["report"] = html;
                context.Output.WriteLine(o.ToJsonString(JsonOptions));
            }
            else
            {
                WriteHuman(context.Output, report);
                context.Output.WriteLine($"report            {html}");
            }
            return u.Llc.Verdict == SltSharp.Diagnostics.Verdict.Fail || v.Llc.Verdict == SltSharp.Diagnostics.Verdict.Fail ? SltApp.ExitFailure : 0;
        });
        return command;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    internal sealed record PointEstimate(string Name, TmsCriticalPoint Point, double? TheoryLambda, LlcResult Llc);

    /// <summary>Free energies of U and V from theory λ (when known) and from λ̂, and both critical sample sizes.</summary>
    internal static (FreeEnergyTerms? TheoryU, FreeEnergyTerms? TheoryV, CriticalSampleSize? Theory, FreeEnergyTerms EstimatedU,
        FreeEnergyTerms EstimatedV, CriticalSampleSizeInterval Interval) Compare(
        TmsCriticalPoint u, double? theoryLambdaU, double llcU, double llcSeU, TmsCriticalPoint v, double? theoryLambdaV, double llcV, double llcSeV, double kSe)
    {
        // Theory: published λ and the prior term ½‖w‖² at the points with off biases exactly 0 (the convention of the
        // published prior terms; the loss is the same for any off bias ≤ 0).
        CriticalSampleSize? theory = null;
        FreeEnergyTerms? theoryU = null, theoryV = null;
        if (theoryLambdaU is { } lu && theoryLambdaV is { } lv)
        {
            theoryU = u.FreeEnergyTerms(lu);
            theoryV = v.FreeEnergyTerms(lv);
            theory = ModelSelection.FindCriticalSampleSize(theoryU, theoryV);
        }
        var estimatedU = new FreeEnergyTerms(u.Loss, Math.Max(0, llcU), 1, u.Parameters.HalfSquaredNorm());
        var estimatedV = new FreeEnergyTerms(v.Loss, Math.Max(0, llcV), 1, v.Parameters.HalfSquaredNorm());
        var interval = ModelSelection.CriticalSampleSizeWithUncertainty(estimatedU, estimatedV,
            new FreeEnergyUncertainty(0, llcSeU), new FreeEnergyUncertainty(0, llcSeV), kSe);
        return (theoryU, theoryV, theory, estimatedU, estimatedV, interval);
    }

    private sealed record SelectReport(
        string From, string To, int N, LlcOptions Options, double K, PointEstimate U, PointEstimate V,
        FreeEnergyTerms? TheoryU, FreeEnergyTerms? TheoryV, CriticalSampleSize? Theory,
        FreeEnergyTerms EstimatedU, FreeEnergyTerms EstimatedV, CriticalSampleSizeInterval Interval);

    internal static PointEstimate Estimate(string init, int n, LlcOptions options)
    {
        var (kGon, plus) = BuiltinModels.ParseTmsInit(init);
        var setup = BuiltinModels.Tms(init, n, options.Seed);
        var result = LlcEstimator.Estimate(setup.Loss, setup.WStar, options);
        return new PointEstimate(init, TmsCriticalPoints.KGon(kGon, plus), TmsCriticalPoint.PublishedLearningCoefficient(kGon, plus), result);
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    private static JsonObject PointJson(PointEstimate p) => new()
    {
        ["type"] = p.Point.Type,
        ["loss_exact"] = p.Point.Loss,
        ["loss_empirical"] = p.Llc.ReferenceLoss,
        ["lambda_theory"] = p.TheoryLambda,
        ["llc_mean"] = Finite(p.Llc.Mean),
        ["llc_se"] = Finite(p.Llc.StandardError),
        ["prior_term"] = p.Point.Parameters.HalfSquaredNorm(),
        ["verdict"] = p.Llc.Verdict.ToString().ToLowerInvariant(),
        ["reasons"] = new JsonArray([.. p.Llc.Diagnostics.Reasons.Select(s => (JsonNode?)JsonValue.Create(s))]),
        ["chain_llcs"] = new JsonArray([.. p.Llc.ChainEstimates.Select(x => (JsonNode?)JsonValue.Create(Finite(x)))]),
    };

    private static JsonObject ToJson(SelectReport r) => new()
    {
        ["model"] = "tms",
        ["from"] = PointJson(r.U),
        ["to"] = PointJson(r.V),
        ["n_crit_theory"] = r.Theory?.First,
        ["n_crit_estimated"] = Finite(r.Interval.NCritical),
        ["n_crit_low"] = Finite(r.Interval.Lower),
        ["n_crit_high"] = r.Interval.Upper is double.PositiveInfinity ? "infinity" : Finite(r.Interval.Upper),
        ["outcome_theory"] = r.Theory?.Outcome.ToString(),
        ["outcome_estimated"] = r.Interval.Outcome.ToString(),
        ["k"] = r.K,
        ["log_odds"] = new JsonArray([.. TableN.Select(nn => (JsonNode)new JsonObject
        {
            ["n"] = nn,
            ["theory"] = r.TheoryU is null ? null : ModelSelection.PosteriorLogOdds(r.TheoryU, r.TheoryV!, nn),
            ["estimated"] = ModelSelection.PosteriorLogOdds(r.EstimatedU, r.EstimatedV, nn),
        })]),
        ["n"] = r.N,
        ["chains"] = r.Options.Chains,
        ["draws"] = r.Options.Draws,
        ["burnin"] = r.Options.Burnin,
        ["epsilon"] = r.Options.StepSize,
        ["gamma"] = r.Options.Localization,
        ["nbeta"] = r.U.Llc.NBeta,
        ["seed"] = r.Options.Seed,
    };

    /// <summary>The HTML report: every number of the human output as summary rows, then both points' chains and verdicts.</summary>
    private static Reports.RunReport ToRunReport(SelectReport r)
    {
        static string F(double v, string format) => double.IsFinite(v) ? v.ToString(format, System.Globalization.CultureInfo.InvariantCulture) : "—";
        var summary = new List<KeyValuePair<string, string>>
        {
            new("Command", $"select --from {r.From} --to {r.To}"),
            new("LLC settings", $"n = {r.N}, nβ = {F(r.U.Llc.NBeta, "G4")}, γ = {F(r.Options.Localization, "G3")}, ε = {F(r.Options.StepSize, "G3")}, {r.Options.Chains} chains × {r.Options.Draws} draws, burn-in {r.Options.Burnin}, seed {r.Options.Seed}"),
        };
        foreach (var p in new[] { r.U, r.V })
        {
            summary.Add(new(p.Point.Type, $"loss {F(p.Point.Loss, "F6")} (L_n {F(p.Llc.ReferenceLoss, "F6")}), λ theory {(p.TheoryLambda is { } l ? F(l, "G3") : "—")}, λ̂ {F(p.Llc.Mean, "F2")} ± {F(p.Llc.StandardError, "F2")}, ½‖w‖² {F(p.Point.Parameters.HalfSquaredNorm(), "F4")}, {p.Llc.Verdict.ToString().ToLowerInvariant()}"));
        }
        foreach (double nn in TableN)
        {
            string theory = r.TheoryU is null ? "—" : F(ModelSelection.PosteriorLogOdds(r.TheoryU, r.TheoryV!, nn), "F2");
            summary.Add(new($"ln p(U)/p(V) at n = {nn:G6}", $"theory {theory}, estimated {F(ModelSelection.PosteriorLogOdds(r.EstimatedU, r.EstimatedV, nn), "F2")}"));
        }
        summary.Add(new("n_crit theory", r.Theory?.First is { } t ? F(t, "F1") : $"none ({r.Theory?.Outcome.ToString() ?? "no theory λ"})"));
        summary.Add(new("n_crit estimated", double.IsFinite(r.Interval.NCritical)
            ? $"{F(r.Interval.NCritical, "F1")} (±{F(r.K, "G3")} SE: {F(r.Interval.Lower, "F1")} – {F(r.Interval.Upper, "F1")})"
            : $"none: {r.Interval.Outcome}"));
        var traces = new[] { r.U, r.V }.Select(p => new Reports.TraceSection(
            $"{p.Point.Type} · sgld ε={F(r.Options.StepSize, "G3")} nβ={F(p.Llc.NBeta, "G4")} γ={F(r.Options.Localization, "G3")} (draws after burn-in)",
            0,
            p.Llc.NBeta,
            [.. p.Llc.Sampling.Losses.Select((loss, c) => new Reports.ChainTrace(c, p.Llc.ReferenceLoss, loss))],
            new Reports.EstimateSummary(p.Llc.Mean, p.Llc.StandardError, p.Llc.Verdict, [.. p.Llc.Diagnostics.Reasons]))).ToList();
        return new Reports.RunReport($"slt select: {r.U.Point.Type} vs {r.V.Point.Type}", summary, ToJson(r).ToJsonString(JsonOptions), [], traces, [], [], []);
    }

    private static void WriteHuman(TextWriter o, SelectReport r)
    {
        o.WriteLine($"U = {r.U.Point.Type}, V = {r.V.Point.Type} (toy model of superposition 2×6); LLCs at n = {r.N}, nβ = {r.U.Llc.NBeta:G4}, γ = {r.Options.Localization:G3}, ε = {r.Options.StepSize:G3}, {r.Options.Chains} chains × {r.Options.Draws} draws");
        o.WriteLine($"{"",-4} {"loss (exact)",13} {"loss (L_n)",11} {"λ theory",9} {"λ̂ ± SE",15} {"½‖w‖²",8}  verdict");
        foreach (var p in new[] { r.U, r.V })
        {
            o.WriteLine($"{p.Point.Type,-6} {p.Point.Loss,11:F6} {p.Llc.ReferenceLoss,11:F6} {(p.TheoryLambda?.ToString("G3") ?? "—"),9} {$"{p.Llc.Mean:F2} ± {p.Llc.StandardError:F2}",15} {p.Point.Parameters.HalfSquaredNorm(),8:F4}  {p.Llc.Verdict.ToString().ToLowerInvariant()}");
        }
        o.WriteLine();
        o.WriteLine("ln p_n(U)/p_n(V) (positive: the posterior prefers U)");
        o.WriteLine($"{"n",8} {"theory",10} {"estimated",10}");
        foreach (double nn in TableN)
        {
            string theory = r.TheoryU is null ? "—" : ModelSelection.PosteriorLogOdds(r.TheoryU, r.TheoryV!, nn).ToString("F2");
            o.WriteLine($"{nn,8:G6} {theory,10} {ModelSelection.PosteriorLogOdds(r.EstimatedU, r.EstimatedV, nn),10:F2}");
        }
        o.WriteLine();
        o.WriteLine($"n_crit theory     {(r.Theory?.First is { } t ? t.ToString("F1") : $"none ({r.Theory?.Outcome.ToString() ?? "no theory λ for these points"})")}");
        o.WriteLine(double.IsFinite(r.Interval.NCritical)
            ? $"n_crit estimated  {r.Interval.NCritical:F1} (±{r.K:G3} SE of the LLCs: {r.Interval.Lower:F1} – {r.Interval.Upper:F1})"
            : $"n_crit estimated  none: {r.Interval.Outcome}");
    }
}
