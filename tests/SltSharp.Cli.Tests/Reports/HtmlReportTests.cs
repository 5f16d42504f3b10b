using System.Text.Json;
using System.Text.RegularExpressions;
using SltSharp.Cli.Reports;
using SltSharp.Store;

namespace SltSharp.Cli.Tests.Reports;

public sealed class HtmlReportTests : IDisposable
{
    private static readonly DateTimeOffset Fixed = new(2025, 1, 2, 3, 4, 0, TimeSpan.Zero);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "slt-report-tests", Guid.NewGuid().ToString("N"));

    public HtmlReportTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void The_three_pinned_bundles_are_embedded()
    {
        var bundles = VegaBundles.All;
        Assert.Equal(3, bundles.Count);
        Assert.Contains("vega={}", bundles[0][..400]);
        Assert.Contains("\"6.4.0\"", bundles[0]);
        Assert.Contains("var n=\"6.5.0\"", bundles[1][..600]);
        Assert.Contains(".vegaEmbed=", bundles[2][..500]);
        Assert.Contains("7.3.0", bundles[2]);
        Assert.All(bundles, b => Assert.DoesNotMatch(new Regex("</script", RegexOptions.IgnoreCase), b));
        Assert.All(bundles, b => Assert.DoesNotContain("sourceMappingURL", b));
    }

    [Fact]
    public void Every_chart_of_a_full_run_is_in_the_report_with_bounded_data()
    {
        var (report, html) = BuildSynthetic();
        var specs = Specs(html);
        var kinds = Regex.Matches(html, "<div class=\"chart\" id=\"(chart-\\d+)\" data-kind=\"([a-z-]+)\"")
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Equal(kinds.Keys.Order(), specs.Keys.Order());
        Assert.Equal(1, kinds.Values.Count(k => k == "training-curves"));
        Assert.Equal(1, kinds.Values.Count(k => k == "llc-over-training"));
        Assert.Equal(1, kinds.Values.Count(k => k == "calibration"));
        Assert.Equal(1, kinds.Values.Count(k => k == "essential-dynamics"));
        Assert.Equal(report.Traces.Count, kinds.Values.Count(k => k == "chain-loss"));
        Assert.Equal(report.Traces.Count, kinds.Values.Count(k => k == "running-llc"));
        Assert.Equal(4, report.Traces.Count);

        foreach (var (id, spec) in specs)
        {
            Assert.Equal(VegaLiteSpecs.Schema, spec.GetProperty("$schema").GetString());
            var rows = spec.GetProperty("data").GetProperty("values").GetArrayLength();
            // Each series is cut to at most DefaultMaxPoints buckets: 4 chains, or 2 training metrics.
            Assert.True(rows <= 4 * VegaLiteSpecs.DefaultMaxPoints, $"{kinds[id]} has {rows} rows");
            Assert.True(rows > 0, $"{kinds[id]} has no data");
        }

        // Essential dynamics: one row per checkpoint, coloured by the stage it falls in; a marker per interior boundary
        // at the checkpoint nearest to it in ln t (LS1 ends at 300, a checkpoint; LS3 ends at 20000, between 10000 and 30000).
        var ed = specs[kinds.First(k => k.Value == "essential-dynamics").Key];
        var edRows = ed.GetProperty("data").GetProperty("values").EnumerateArray().ToList();
        Assert.Equal(SyntheticRun.CheckpointSteps.Length, edRows.Count);
        Assert.Equal(["LS1", "LS1", "LS1", "LS1", "LS2", "LS2", "LS3", "LS4", "LS4"], edRows.Select(r => r.GetProperty("stage").GetString()));
        var markers = ed.GetProperty("layer")[2].GetProperty("data").GetProperty("values").EnumerateArray().Select(r => r.GetProperty("step").GetInt64()).ToList();
        Assert.Equal([300L, 3000, 30000], markers);
        Assert.Contains("PC1 (70.0", ed.GetProperty("layer")[0].GetProperty("encoding").GetProperty("x").GetProperty("title").GetString());
        Assert.Contains("Boundary confidence", html);

        // 3000 draws × 4 chains are shown as 600 buckets per chain.
        var loss = specs[kinds.First(k => k.Value == "chain-loss").Key];
        Assert.Equal(4 * VegaLiteSpecs.DefaultMaxPoints, loss.GetProperty("data").GetProperty("values").GetArrayLength());
        Assert.True(html.Length < 2_000_000, $"report is {html.Length} characters");
    }

    [Fact]
    public void Text_from_the_run_is_escaped_everywhere()
    {
        var (_, html) = BuildSynthetic();
        Assert.DoesNotContain("<script>window.__pwned", html);
        Assert.DoesNotContain("<img src=x", html);
        Assert.DoesNotContain("<em>(pseudo-MALA)</em>", html);
        Assert.Contains("&lt;/script&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;", html);
        Assert.Contains("&lt;em&gt;(pseudo-MALA)&lt;/em&gt;", html);
        // Three bundles, the JSON island and the bootstrap: nothing else opens a script element.
        Assert.Equal(5, Regex.Matches(html, "<script", RegexOptions.IgnoreCase).Count);
        Assert.Equal(5, Regex.Matches(html, "</script>", RegexOptions.IgnoreCase).Count);
    }

    [Fact]
    public void The_loader_shows_only_curves_over_training_and_the_richest_calibration_grid()
    {
        var (report, _) = BuildSynthetic();
        var series = report.LlcOverTraining.GroupBy(p => p.Series).ToList();
        Assert.Equal(2, series.Count);
        Assert.All(series, s => Assert.Equal(SyntheticRun.CheckpointSteps, s.Select(p => p.Step).Order()));
        Assert.Equal(20, report.Calibration.Count);
        Assert.Contains(report.Calibration, c => c.Class == "Fail" && double.IsNaN(c.LambdaHat));
        Assert.Equal(4, report.Stages.Count);
        Assert.Contains(report.Summary, kv => kv.Key == "Command" && kv.Value == SyntheticRun.HostileCommand);
        Assert.Equal(3000, report.Traces[0].Chains[0].Loss.Length);
    }

    [Fact]
    public void A_report_for_a_missing_run_names_the_run_and_the_store()
    {
        var path = Path.Combine(_folder, "slt.db");
        using var store = SqliteResultsStore.Open(path);
        store.CreateRun(new RunStart("llc", "{}", 1, "v", "h"));
        var e = Assert.Throws<RunNotFoundException>(() => HtmlReportBuilder.Write(store, 42, Path.Combine(_folder, "r.html")));
        Assert.Contains("Run 42", e.Message);
        Assert.Contains(path, e.Message);
        Assert.False(File.Exists(Path.Combine(_folder, "r.html")));
    }

    [Fact]
    public void A_report_that_cannot_be_written_says_where_and_what_to_do()
    {
        var (report, _) = BuildSynthetic(draws: 100);
        var e = Assert.Throws<ReportException>(() => HtmlReportBuilder.Write(report, "/sys/slt-report.html"));
        Assert.Contains("/sys/slt-report.html", e.Message);
        Assert.Contains("writable", e.Message);
    }

    [Fact]
    public void Write_produces_the_file_that_Build_describes()
    {
        var (report, html) = BuildSynthetic(draws: 100);
        var path = Path.Combine(_folder, "out", "report.html");
        HtmlReportBuilder.Write(report, path, Fixed);
        Assert.Equal(html, File.ReadAllText(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    private static readonly Lazy<(RunReport Report, string Html)> FullSynthetic = new(() =>
    {
        var folder = Path.Combine(Path.GetTempPath(), "slt-report-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            using var store = SqliteResultsStore.Open(Path.Combine(folder, "slt.db"));
            var report = ReportLoader.Load(store, SyntheticRun.Populate(store));
            return (report, HtmlReportBuilder.Build(report, Fixed));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    });

    private (RunReport Report, string Html) BuildSynthetic(int draws = 3000)
    {
        if (draws == 3000)
        {
            return FullSynthetic.Value;
        }

        using var store = SqliteResultsStore.Open(Path.Combine(_folder, Guid.NewGuid().ToString("N") + ".db"));
        var runId = SyntheticRun.Populate(store, draws);
        var report = ReportLoader.Load(store, runId);
        return (report, HtmlReportBuilder.Build(report, Fixed));
    }

    private static Dictionary<string, JsonElement> Specs(string html)
    {
        var match = Regex.Match(html, "<script type=\"application/json\" id=\"slt-specs\">(.*?)</script>", RegexOptions.Singleline);
        Assert.True(match.Success);
        using var doc = JsonDocument.Parse(match.Groups[1].Value);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
    }
}
