using System.Globalization;
using SltSharp.Cli.Commands;
using SltSharp.Diagnostics;
using SltSharp.Models.Tms;
using SltSharp.Store;
using SltSharp.Theory;

namespace SltSharp.Cli.Reports;

/// <summary>Fraction of the seeds trained on N samples that are of one k-gon type at one training step.</summary>
/// <param name="N">Training-set size.</param>
/// <param name="Step">Training step.</param>
/// <param name="Type">k-gon type (e.g. "5-gon", "4+-gon") or "other".</param>
/// <param name="Fraction">Fraction of the seeds.</param>
public sealed record KGonFraction(int N, long Step, string Type, double Fraction);

/// <summary>The posterior probability of the lower-loss point (V) within U ∪ V at sample size N.</summary>
/// <param name="N">Sample size.</param>
/// <param name="Source">Which λ the free energies use ("theory λ" or "estimated λ̂").</param>
/// <param name="Probability">p_n(V) / (p_n(U) + p_n(V)).</param>
public sealed record PosteriorPoint(double N, string Source, double Probability);

/// <summary>The LLC measured at one critical point for the Bayesian side of the experiment.</summary>
/// <param name="Init">The point as <c>--init</c> names it (e.g. 5gon).</param>
/// <param name="Type">Its type name (e.g. 5-gon).</param>
/// <param name="Loss">Exact population loss.</param>
/// <param name="TheoryLambda">Published λ, when known.</param>
/// <param name="Mean">λ̂.</param>
/// <param name="StandardError">SE of λ̂ across chains.</param>
/// <param name="Verdict">Diagnostics verdict.</param>
public sealed record KGonLlc(string Init, string Type, double Loss, double? TheoryLambda, double Mean, double StandardError, Verdict Verdict);

/// <summary>What the report shows of an <c>slt experiment tms</c> run.</summary>
/// <param name="Seeds">Seeds per training-set size.</param>
/// <param name="FinalStep">Last training step.</param>
/// <param name="Fractions">k-gon fractions per (n, step).</param>
/// <param name="MedianLosses">Median exact loss per (n, step), as (n, step, loss).</param>
/// <param name="Posterior">Posterior probability of V against n, from theory λ and from λ̂.</param>
/// <param name="Llcs">λ̂ at U and V.</param>
/// <param name="NCritTheory">Critical n from theory λ.</param>
/// <param name="NCritEstimated">Critical n from λ̂.</param>
/// <param name="NCritLow">Lower end of the ±2 SE interval of the estimated critical n.</param>
/// <param name="NCritHigh">Upper end (may be +∞).</param>
public sealed record TmsExperimentSection(
    int Seeds,
    long FinalStep,
    IReadOnlyList<KGonFraction> Fractions,
    IReadOnlyList<(int N, long Step, double Loss)> MedianLosses,
    IReadOnlyList<PosteriorPoint> Posterior,
    IReadOnlyList<KGonLlc> Llcs,
    double? NCritTheory,
    double? NCritEstimated,
    double? NCritLow,
    double? NCritHigh)
{
    /// <summary>Type names in display order (by k, then "+" count, "other" last).</summary>
    public IReadOnlyList<string> Types => [.. Fractions.Select(f => f.Type).Distinct().OrderBy(t => TmsCensus.Order(t)).ThenBy(t => t, StringComparer.Ordinal)];

    /// <summary>The training-set sizes.</summary>
    public IReadOnlyList<int> NValues => [.. Fractions.Select(f => f.N).Distinct().Order()];
}

/// <summary>
/// The TMS experiment's results as store metrics and back, and the Bayesian side (posterior preference against n from
/// theory λ and from λ̂, via <see cref="ModelSelection"/>), so that <c>slt experiment tms</c> and <c>slt report</c> show
/// the same page.
/// </summary>
public static class TmsExperimentReport
{
    /// <summary>The store's command name of an experiment run.</summary>
    public const string Command = "experiment tms";

    /// <summary>The two points compared: U (higher loss, lower λ) and V.</summary>
    public static readonly string[] ComparedInits = ["5gon", "6gon"];

    private const string FractionPrefix = "kgon/";
    private const string LossPrefix = "median_loss/";
    private const string LlcPrefix = "llc/";

    /// <summary>Metric points of one training-set size's census: kgon/N/TYPE (fraction) and median_loss/N at each step.</summary>
    public static IReadOnlyList<MetricPoint> CensusMetrics(IReadOnlyList<TmsCensusEntry> census)
    {
        ArgumentNullException.ThrowIfNull(census);
        var points = new List<MetricPoint>();
        foreach (var e in census)
        {
            foreach (var (type, count) in e.Counts)
            {
                points.Add(new MetricPoint(e.Step, string.Create(CultureInfo.InvariantCulture, $"{FractionPrefix}{e.N}/{type}"), count / (double)e.Seeds));
            }
            points.Add(new MetricPoint(e.Step, string.Create(CultureInfo.InvariantCulture, $"{LossPrefix}{e.N}"), e.MedianLoss));
        }
        return points;
    }

    /// <summary>Metric points of one LLC estimate: llc/INIT/mean, /se, /verdict (0 ok, 1 warn, 2 fail) at step 0.</summary>
    public static IReadOnlyList<MetricPoint> LlcMetrics(string init, double mean, double standardError, Verdict verdict) =>
    [
        new(0, $"{LlcPrefix}{init}/mean", mean),
        new(0, $"{LlcPrefix}{init}/se", standardError),
        new(0, $"{LlcPrefix}{init}/verdict", (int)verdict),
    ];

    /// <summary>The report section from census entries and the LLC estimates at U and V (keyed by init name).</summary>
    public static TmsExperimentSection Build(int seeds, long finalStep, IEnumerable<TmsCensusEntry> census,
        IReadOnlyDictionary<string, (double Mean, double StandardError, Verdict Verdict)> llcs)
    {
        ArgumentNullException.ThrowIfNull(census);
        var metrics = census.SelectMany(e => CensusMetrics([e])).ToList();
        foreach (var (init, e) in llcs)
        {
            metrics.AddRange(LlcMetrics(init, e.Mean, e.StandardError, e.Verdict));
        }
        return FromMetrics(seeds, finalStep, metrics);
    }

    /// <summary>The report section from an experiment run's metrics (what <c>slt report</c> reads back).</summary>
    public static TmsExperimentSection FromMetrics(int seeds, long finalStep, IReadOnlyList<MetricPoint> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var fractions = new List<KGonFraction>();
        var losses = new List<(int, long, double)>();
        var llcValues = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var m in metrics)
        {
            if (m.Name.StartsWith(FractionPrefix, StringComparison.Ordinal))
            {
                string[] parts = m.Name[FractionPrefix.Length..].Split('/', 2);
                fractions.Add(new KGonFraction(int.Parse(parts[0], CultureInfo.InvariantCulture), m.Step, parts[1], m.Value));
            }
            else if (m.Name.StartsWith(LossPrefix, StringComparison.Ordinal))
            {
                losses.Add((int.Parse(m.Name[LossPrefix.Length..], CultureInfo.InvariantCulture), m.Step, m.Value));
            }
            else if (m.Name.StartsWith(LlcPrefix, StringComparison.Ordinal))
            {
                llcValues[m.Name[LlcPrefix.Length..]] = m.Value;
            }
        }

        // A type absent at some (n, step) has fraction 0 there: fill the table so that lines drop to 0 instead of breaking.
        var types = fractions.Select(f => f.Type).Distinct().ToList();
        var cells = fractions.Select(f => (f.N, f.Step)).Distinct().ToList();
        var present = fractions.Select(f => (f.N, f.Step, f.Type)).ToHashSet();
        foreach (var (n, step) in cells)
        {
            fractions.AddRange(types.Where(t => !present.Contains((n, step, t))).Select(t => new KGonFraction(n, step, t, 0)));
        }

        var llcs = new List<KGonLlc>();
        var points = new Dictionary<string, TmsCriticalPoint>();
        foreach (string init in ComparedInits)
        {
            var (k, plus) = BuiltinModels.ParseTmsInit(init);
            var point = TmsCriticalPoints.KGon(k, plus);
            points[init] = point;
            if (llcValues.TryGetValue($"{init}/mean", out double mean))
            {
                llcs.Add(new KGonLlc(init, point.Type, point.Loss, TmsCriticalPoint.PublishedLearningCoefficient(k, plus), mean,
                    llcValues.GetValueOrDefault($"{init}/se", double.NaN), (Verdict)(int)llcValues.GetValueOrDefault($"{init}/verdict", (double)Verdict.Fail)));
            }
        }

        var posterior = new List<PosteriorPoint>();
        double? nCritTheory = null, nCritEstimated = null, nCritLow = null, nCritHigh = null;
        var nValues = fractions.Select(f => f.N).Distinct().ToList();
        double lo = Math.Max(10, (nValues.Count == 0 ? 100 : nValues.Min()) / 3.0), hi = (nValues.Count == 0 ? 10_000 : nValues.Max()) * 3.0;
        var u = llcs.FirstOrDefault(l => l.Init == ComparedInits[0]);
        var v = llcs.FirstOrDefault(l => l.Init == ComparedInits[1]);
        var pu = points[ComparedInits[0]];
        var pv = points[ComparedInits[1]];
        var (theoryU, theoryV, theory, estimatedU, estimatedV, interval) = SelectCommand.Compare(
            pu, TmsCriticalPoint.PublishedLearningCoefficient(5, 0), u?.Mean ?? double.NaN, u?.StandardError ?? double.NaN,
            pv, TmsCriticalPoint.PublishedLearningCoefficient(6, 0), v?.Mean ?? double.NaN, v?.StandardError ?? double.NaN, 2.0);
        nCritTheory = theory?.First;
        bool haveEstimate = u is not null && v is not null && double.IsFinite(u.Mean) && double.IsFinite(v.Mean);
        if (haveEstimate)
        {
            nCritEstimated = Finite(interval.NCritical);
            nCritLow = Finite(interval.Lower);
            nCritHigh = interval.Upper;
        }
        const int Grid = 80;
        var grid = Enumerable.Range(0, Grid + 1).Select(i => lo * Math.Pow(hi / lo, i / (double)Grid)).Concat(nValues.Select(n => (double)n)).Distinct().Order();
        foreach (double n in grid)
        {
            if (theoryU is not null && theoryV is not null)
            {
                posterior.Add(new PosteriorPoint(n, "posterior, theory λ", ModelSelection.PosteriorProbabilityOfV(theoryU, theoryV, n)));
            }
            if (haveEstimate)
            {
                posterior.Add(new PosteriorPoint(n, "posterior, estimated λ̂", ModelSelection.PosteriorProbabilityOfV(estimatedU, estimatedV, n)));
            }
        }

        return new TmsExperimentSection(seeds, finalStep, fractions, losses, posterior, llcs, nCritTheory, nCritEstimated, nCritLow, nCritHigh);
    }

    /// <summary>The report of a stored experiment run (seeds and steps come from its configuration).</summary>
    public static RunReport Load(RunRecord run, IReadOnlyList<KeyValuePair<string, string>> summary, IReadOnlyList<MetricPoint> metrics)
    {
        ArgumentNullException.ThrowIfNull(run);
        int seeds = 0;
        long steps = metrics.Count == 0 ? 0 : metrics.Max(m => m.Step);
        try
        {
            var config = System.Text.Json.Nodes.JsonNode.Parse(run.ConfigJson);
            seeds = (int?)config?["seeds"] ?? 0;
            steps = (long?)config?["steps"] ?? steps;
        }
        catch (System.Text.Json.JsonException)
        {
            // An unreadable configuration leaves the defaults from the metrics; the table still shows the fractions.
        }
        return new RunReport($"Run {run.Id}: {run.Command}", summary, run.ConfigJson, [], [], [], [], [], FromMetrics(seeds, steps, metrics));
    }

    /// <summary>The HTML of the experiment's sections; <paramref name="chart"/> places a chart and returns its container.</summary>
    public static string Html(TmsExperimentSection section, Func<string, System.Text.Json.Nodes.JsonObject, string> chart)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(chart);
        static string E(string? text) => HtmlReportBuilder.E(text);
        static string F(double? v, string format) => v is { } x && double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "—";
        var types = section.Types;
        var b = new System.Text.StringBuilder();
        b.Append("<style>table.kgon th, table.kgon td { padding: 3px 16px 3px 0; text-align: right; font-variant-numeric: tabular-nums; }</style>\n")
            .Append("<section>\n<h2>k-gon type after training against n</h2>\n")
            .Append("<p class=\"note\">").Append(E(string.Create(CultureInfo.InvariantCulture,
                $"{section.Seeds} seeds per n, each trained {section.FinalStep} steps on its own n samples and classified by TmsClassifier. Black lines: posterior probability of the 6-gon within {{5-gon, 6-gon}}, ln p(U)/p(V) = n·Δℓ + Δλ·ln n + Δc, from theory λ (7, 8.5) and from λ̂; red rules: the critical n.")))
            .Append("</p>\n")
            .Append(chart("kgon-vs-n", VegaLiteSpecs.KGonFractionsVsN(section)))
            .Append("<table class=\"summary kgon\"><tr><th>n</th>");
        foreach (string t in types)
        {
            b.Append("<th>").Append(E(t)).Append("</th>");
        }
        b.Append("<th>median loss</th><th>P(6-gon), theory λ</th><th>P(6-gon), λ̂</th></tr>\n");
        foreach (int n in section.NValues)
        {
            b.Append("<tr><td>").Append(n.ToString(CultureInfo.InvariantCulture)).Append("</td>");
            foreach (string t in types)
            {
                var f = section.Fractions.FirstOrDefault(x => x.N == n && x.Step == section.FinalStep && x.Type == t);
                b.Append("<td>").Append(F(f?.Fraction, "F2")).Append("</td>");
            }
            var loss = section.MedianLosses.Where(l => l.N == n && l.Step == section.FinalStep).Select(l => (double?)l.Loss).FirstOrDefault();
            b.Append("<td>").Append(F(loss, "F5")).Append("</td>")
                .Append("<td>").Append(F(PosteriorAt(section, "posterior, theory λ", n), "F2")).Append("</td>")
                .Append("<td>").Append(F(PosteriorAt(section, "posterior, estimated λ̂", n), "F2")).Append("</td></tr>\n");
        }
        b.Append("</table>\n</section>\n");

        b.Append("<section>\n<h2>The Bayesian side: losses and LLCs of the compared points</h2>\n<table class=\"summary kgon\">")
            .Append("<tr><th>point</th><th>loss (exact)</th><th>λ theory</th><th>λ̂ ± SE</th><th>verdict</th></tr>\n");
        foreach (var l in section.Llcs)
        {
            b.Append("<tr><td>").Append(E(l.Type)).Append("</td><td>").Append(F(l.Loss, "F6")).Append("</td><td>").Append(F(l.TheoryLambda, "G3"))
                .Append("</td><td>").Append(E($"{F(l.Mean, "F2")} ± {F(l.StandardError, "F2")}")).Append("</td><td>").Append(E(l.Verdict.ToString().ToLowerInvariant())).Append("</td></tr>\n");
        }
        b.Append("</table>\n<p>").Append(E(string.Create(CultureInfo.InvariantCulture,
            $"Critical n (5-gon → 6-gon): theory {F(section.NCritTheory, "F0")}; from λ̂ {F(section.NCritEstimated, "F0")} (±2 SE: {F(section.NCritLow, "F0")} – {(section.NCritHigh is double.PositiveInfinity ? "∞" : F(section.NCritHigh, "F0"))})."))).Append("</p>\n</section>\n");

        b.Append("<section>\n<h2>k-gon type over training</h2>\n<p class=\"note\">Fractions at log-spaced checkpoints. The hypothesis under test: trained longer, SGD moves from simpler, higher-loss k-gons to more complex, lower-loss ones, as the posterior does as n grows.</p>\n")
            .Append(chart("kgon-vs-step", VegaLiteSpecs.KGonFractionsVsStep(section)))
            .Append("</section>\n");
        return b.ToString();
    }

    private static double? PosteriorAt(TmsExperimentSection section, string source, int n)
    {
        // The posterior curves include every n of the experiment exactly (see FromMetrics).
        return section.Posterior.FirstOrDefault(p => p.Source == source && p.N == n)?.Probability;
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
