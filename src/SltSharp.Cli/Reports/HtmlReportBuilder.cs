using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SltSharp.Store;

namespace SltSharp.Cli.Reports;

/// <summary>
/// Writes one self-contained HTML file per run: the Vega, Vega-Lite and vega-embed bundles are inlined, the chart
/// specifications are inlined JSON, and nothing is fetched when the file is opened (it works offline and as an
/// e-mail attachment). All text from the run is HTML-escaped; the JSON island escapes <c>&lt;</c>, <c>&gt;</c>, <c>&amp;</c>.
/// </summary>
/// <remarks>
/// Each chart container gets <c>data-rendered="true"</c> once Vega has drawn it, or <c>data-rendered="error"</c>
/// and a visible message when it failed; <c>body[data-charts-done]</c> is set when every chart settled, and
/// <c>body[data-page-height]</c> then holds the page height in CSS pixels (used by <see cref="RenderPng"/>).
/// </remarks>
public static class HtmlReportBuilder
{
    private static readonly JsonSerializerOptions SpecJson = new() { WriteIndented = false };

    /// <summary>Builds the HTML text of the report.</summary>
    /// <param name="report">What to show.</param>
    /// <param name="generatedAt">Timestamp printed in the header (now when null; fixed in tests for reproducible output).</param>
    /// <param name="maxPointsPerSeries">Bound on plotted buckets per series (traces are min/max-downsampled).</param>
    public static string Build(RunReport report, DateTimeOffset? generatedAt = null, int maxPointsPerSeries = VegaLiteSpecs.DefaultMaxPoints)
    {
        ArgumentNullException.ThrowIfNull(report);
        var specs = new JsonObject();
        var body = new StringBuilder();
        var chartCount = 0;

        string ChartDiv(string kind, JsonObject spec)
        {
            var id = "chart-" + (++chartCount).ToString(CultureInfo.InvariantCulture);
            specs[id] = spec;
            return $"<div class=\"chart\" id=\"{id}\" data-kind=\"{kind}\"></div>\n";
        }

        body.Append("<section>\n<h2>Run summary</h2>\n<table class=\"summary\">\n");
        foreach (var (label, value) in report.Summary)
        {
            body.Append("<tr><th>").Append(E(label)).Append("</th><td>").Append(E(value)).Append("</td></tr>\n");
        }

        body.Append("</table>\n");
        if (!string.IsNullOrWhiteSpace(report.ConfigJson))
        {
            body.Append("<details><summary>Configuration</summary><pre>").Append(E(PrettyJson(report.ConfigJson))).Append("</pre></details>\n");
        }

        body.Append("</section>\n");

        var verdicts = report.Traces.Where(t => t.Estimate is not null).ToList();
        if (verdicts.Count > 0)
        {
            body.Append("<section>\n<h2>Diagnostics</h2>\n");
            foreach (var t in verdicts)
            {
                body.Append(VerdictCard(t.Title, t.Estimate!));
            }

            body.Append("</section>\n");
        }

        if (report.TmsExperiment is { } tms)
        {
            body.Append(TmsExperimentReport.Html(tms, ChartDiv));
        }

        if (report.TrainingMetrics.Count > 0)
        {
            body.Append("<section>\n<h2>Training</h2>\n")
                .Append(ChartDiv("training-curves", VegaLiteSpecs.TrainingCurves(report.TrainingMetrics, maxPointsPerSeries,
                    logSteps: report.LlcOverTraining.Count > 0 || report.Stages.Count > 0)))
                .Append("</section>\n");
        }

        if (report.LlcOverTraining.Count > 0)
        {
            body.Append("<section>\n<h2>LLC over training</h2>\n");
            if (report.Stages.Any(s => s.DeltaLlc is not null))
            {
                body.Append(StageTable(report.Stages));
            }

            if (report.Stages.Count > 0)
            {
                body.Append("<p class=\"note\">Shaded: developmental stages (type A: λ̂ rises, type B: λ̂ falls); dashed lines: stage boundaries.</p>\n");
            }

            body.Append(ChartDiv("llc-over-training", VegaLiteSpecs.LlcOverTraining(report.LlcOverTraining, report.Stages)))
                .Append("</section>\n");
        }

        if (report.EssentialDynamics is { Projections.Count: > 1 } dynamics && dynamics.Projections[0].Length >= 2)
        {
            body.Append("<section>\n<h2>Essential dynamics</h2>\n<p class=\"note\">The model's outputs on a fixed probe set at every checkpoint, ")
                .Append("projected on their two leading principal components; points are coloured by developmental stage and the ")
                .Append("checkpoints nearest the stage boundaries are marked.</p>\n")
                .Append(ChartDiv("essential-dynamics", VegaLiteSpecs.EssentialDynamics(dynamics, report.Stages)))
                .Append("</section>\n");
        }

        if (report.RefinedLlcOverTraining.Count > 0)
        {
            body.Append("<section>\n<h2>Refined LLC per component</h2>\n")
                .Append("<p class=\"note\">Weight-refined LLC: only the component's weights move (e.g. one attention head's q, k, v rows and output-projection columns), the rest stay at the checkpoint.</p>\n")
                .Append(ChartDiv("refined-llc-over-training", VegaLiteSpecs.LlcOverTraining(report.RefinedLlcOverTraining, report.Stages, "Weight-refined LLC over training", "component")))
                .Append("</section>\n");
        }

        foreach (var section in report.Traces)
        {
            body.Append("<section>\n<h2>Chains</h2>\n<h3>").Append(E(section.Title)).Append("</h3>\n");
            if (section.Chains.Any(c => c.Loss.Length > maxPointsPerSeries))
            {
                body.Append("<p class=\"note\">Long traces are shown as ")
                    .Append(maxPointsPerSeries.ToString(CultureInfo.InvariantCulture))
                    .Append(" buckets per chain: the band is each bucket's min–max, the line its mean. Full traces are in the store.</p>\n");
            }

            body.Append(ChartDiv("chain-loss", VegaLiteSpecs.ChainLoss(section, maxPointsPerSeries)))
                .Append(ChartDiv("running-llc", VegaLiteSpecs.RunningLlc(section, maxPointsPerSeries)))
                .Append("</section>\n");
        }

        if (report.Calibration.Count > 0)
        {
            body.Append("<section>\n<h2>Calibration</h2>\n")
                .Append(ChartDiv("calibration", VegaLiteSpecs.Calibration(report.Calibration)))
                .Append("</section>\n");
        }

        var stamp = (generatedAt ?? DateTimeOffset.UtcNow).ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        var version = typeof(HtmlReportBuilder).Assembly.GetName().Version?.ToString() ?? "?";
        var html = new StringBuilder(1_200_000);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<meta name=\"generator\" content=\"slt ").Append(E(version)).Append("\">\n")
            .Append("<title>").Append(E(report.Title)).Append("</title>\n")
            .Append("<style>\n").Append(Css).Append("</style>\n");
        foreach (var bundle in VegaBundles.All)
        {
            html.Append("<script>\n").Append(bundle).Append("\n</script>\n");
        }

        html.Append("</head>\n<body>\n<main>\n<header><h1>").Append(E(report.Title)).Append("</h1>\n")
            .Append("<p class=\"sub\">Report generated ").Append(E(stamp)).Append(" by slt ").Append(E(version)).Append("</p></header>\n")
            .Append(body)
            .Append("</main>\n<script type=\"application/json\" id=\"slt-specs\">")
            .Append(specs.ToJsonString(SpecJson))
            .Append("</script>\n<script>\n").Append(Bootstrap).Append("</script>\n</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>Writes the report to <paramref name="path"/> (creating its folder), via a temporary file so a crash never leaves half a report.</summary>
    /// <param name="report">What to show.</param>
    /// <param name="path">Destination .html file.</param>
    /// <param name="generatedAt">Header timestamp (now when null).</param>
    public static void Write(RunReport report, string path, DateTimeOffset? generatedAt = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var html = Build(report, generatedAt);
        var full = Path.GetFullPath(path);
        var temp = full + ".tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(temp, html, new UTF8Encoding(false));
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReportException($"Cannot write the report '{full}' ({e.Message}); choose a writable output path.", e);
        }
    }

    /// <summary>Loads run <paramref name="runId"/> from the store and writes its report.</summary>
    /// <param name="store">The store.</param>
    /// <param name="runId">The run.</param>
    /// <param name="path">Destination .html file.</param>
    /// <exception cref="RunNotFoundException">The run is not in the store.</exception>
    public static void Write(IResultsStore store, long runId, string path) => Write(ReportLoader.Load(store, runId), path);

    /// <summary>
    /// Screenshots a report with headless Chromium (for <c>slt report --png</c>): a first pass measures the rendered
    /// page height, a second takes a PNG of the whole page.
    /// </summary>
    /// <param name="htmlPath">The report.</param>
    /// <param name="pngPath">Destination PNG.</param>
    /// <param name="width">Viewport width in CSS pixels.</param>
    /// <exception cref="BrowserNotFoundException">No Chromium was found.</exception>
    /// <exception cref="ReportException">Chromium failed or produced no PNG.</exception>
    public static void RenderPng(string htmlPath, string pngPath, int width = 1200) =>
        HeadlessChromium.Screenshot(htmlPath, pngPath, width);

    private static string StageTable(IReadOnlyList<StageRecord> stages)
    {
        var sb = new StringBuilder("<table class=\"summary stages\">\n<tr><th>Stage</th><th>Type</th><th>Steps</th><th>Δλ̂</th><th>Δloss</th><th>Boundary confidence</th></tr>\n");
        foreach (var s in stages)
        {
            sb.Append("<tr><td>").Append(E(s.Label)).Append("</td><td>").Append(E(s.Kind)).Append("</td><td>")
                .Append(s.StartStep.ToString(CultureInfo.InvariantCulture)).Append(" → ").Append(s.EndStep.ToString(CultureInfo.InvariantCulture))
                .Append("</td><td>").Append(E(s.DeltaLlc is { } d ? Format(d) : "—"))
                .Append("</td><td>").Append(E(s.DeltaLoss is { } l ? Format(l) : "—"))
                .Append("</td><td>").Append(E(s.Confidence is { } c ? c.ToString("P0", CultureInfo.InvariantCulture) : "—"))
                .Append("</td></tr>\n");
        }

        return sb.Append("</table>\n").ToString();
    }

    private static string VerdictCard(string title, EstimateSummary e)
    {
        var cls = e.Verdict switch
        {
            SltSharp.Diagnostics.Verdict.Ok => "pass",
            SltSharp.Diagnostics.Verdict.Warn => "warn",
            _ => "fail",
        };
        var sb = new StringBuilder();
        sb.Append("<div class=\"verdict ").Append(cls).Append("\"><div class=\"badge\">").Append(E(e.Verdict.ToString())).Append("</div><div>")
            .Append("<div class=\"value\">λ̂ = ").Append(E(Format(e.LambdaHat))).Append(" ± ").Append(E(Format(e.StandardError)))
            .Append(" <span class=\"muted\">(SE)</span></div><div class=\"muted\">").Append(E(title)).Append("</div>");
        if (e.Reasons.Count > 0)
        {
            sb.Append("<ul>");
            foreach (var r in e.Reasons)
            {
                sb.Append("<li>").Append(E(r)).Append("</li>");
            }

            sb.Append("</ul>");
        }

        sb.Append("</div></div>\n");
        return sb.ToString();
    }

    private static string Format(double v) => double.IsFinite(v) ? v.ToString("G4", CultureInfo.InvariantCulture) : "NaN";

    private static string PrettyJson(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return JsonSerializer.Serialize(doc.RootElement, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        }
        catch (JsonException)
        {
            return json;
        }
    }

    /// <summary>HTML-escapes text for element content and double-quoted attributes.</summary>
    /// <param name="text">Any text.</param>
    internal static string E(string? text) => WebUtility.HtmlEncode(text ?? string.Empty);

    private const string Css = """
        :root { color-scheme: light; }
        body { margin: 0; background: #f6f7f9; color: #1d2330; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
        main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
        header h1 { margin: 0 0 4px; font-size: 24px; }
        .sub, .muted, .note { color: #5d6675; }
        .note { font-size: 12.5px; margin: 4px 0 8px; }
        section { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; padding: 16px 20px; margin: 18px 0; }
        h2 { font-size: 17px; margin: 0 0 10px; }
        h3 { font-size: 14px; margin: 0 0 8px; font-weight: 600; color: #374151; }
        table.summary { border-collapse: collapse; }
        table.summary th { text-align: left; font-weight: 600; padding: 3px 18px 3px 0; color: #4b5563; vertical-align: top; }
        table.summary td { padding: 3px 0; font-variant-numeric: tabular-nums; }
        details { margin-top: 10px; }
        pre { background: #f3f4f6; padding: 10px; border-radius: 6px; overflow-x: auto; font-size: 12.5px; }
        .chart { width: 100%; min-height: 60px; margin: 10px 0 18px; }
        .chart[data-rendered="error"] { color: #b42318; background: #fef3f2; padding: 10px; border-radius: 6px; }
        .verdict { display: flex; gap: 14px; align-items: flex-start; border-radius: 8px; padding: 10px 14px; margin: 8px 0; border: 1px solid; }
        .verdict .badge { font-weight: 700; min-width: 48px; text-align: center; padding: 2px 8px; border-radius: 4px; color: #fff; }
        .verdict .value { font-size: 15px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .verdict ul { margin: 6px 0 0; padding-left: 18px; }
        .verdict.pass { background: #ecfdf3; border-color: #a6e3bd; } .verdict.pass .badge { background: #2e9e55; }
        .verdict.warn { background: #fffaeb; border-color: #f5d48b; } .verdict.warn .badge { background: #d9891c; }
        .verdict.fail { background: #fef3f2; border-color: #f4b4ae; } .verdict.fail .badge { background: #d64541; }

        """;

    private const string Bootstrap = """
        (function () {
          "use strict";
          var specs = JSON.parse(document.getElementById("slt-specs").textContent);
          var jobs = Object.keys(specs).map(function (id) {
            var el = document.getElementById(id);
            return vegaEmbed(el, specs[id], { actions: false, renderer: "svg" }).then(function () {
              el.setAttribute("data-rendered", "true");
            }, function (err) {
              el.setAttribute("data-rendered", "error");
              el.textContent = "This chart could not be drawn: " + err;
              console.error("chart " + id + ": " + err);
            });
          });
          Promise.all(jobs).then(function () {
            document.body.setAttribute("data-page-height", String(document.documentElement.scrollHeight));
            document.body.setAttribute("data-charts-done", "true");
          });
        })();

        """;
}

/// <summary>The report could not be built, written or rendered; the message names the file and what to do.</summary>
public class ReportException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ReportException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">One line: what failed and what to do.</param>
    public ReportException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">One line: what failed and what to do.</param>
    /// <param name="innerException">The underlying error.</param>
    public ReportException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>No Chromium/Chrome executable was found for rendering.</summary>
public sealed class BrowserNotFoundException : ReportException
{
    /// <summary>Creates the exception.</summary>
    public BrowserNotFoundException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public BrowserNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error.</param>
    public BrowserNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
