using System.Buffers.Binary;
using Microsoft.Playwright;
using SltSharp.Cli.Reports;
using SltSharp.Cli.Tests.Reports;
using SltSharp.Store;
using Xunit.Abstractions;

namespace SltSharp.Browser.Tests;

/// <summary>
/// Opens a report covering every chart type in the system's headless Chromium and checks that each chart drew
/// marks, that no JavaScript error was logged and that the page fetched nothing from the network. The PNG
/// screenshot is kept under the test output folder (artifacts/) for a person to look at.
/// </summary>
public sealed class ReportRenderingTests
{
    private static readonly string Artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
    private readonly ITestOutputHelper _output;

    public ReportRenderingTests(ITestOutputHelper output) => _output = output;

    [ChromiumFact]
    public async Task Every_chart_renders_without_javascript_errors()
    {
        var html = WriteSyntheticReport("report.html");
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        using var playwright = await Playwright.CreateAsync();
        var profile = string.Empty;
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = HeadlessChromium.Find(),
            Headless = true,
            // Playwright manages the profile folder itself and sets headless mode from Headless.
            Args = HeadlessChromium.BaseArguments(profile).Where(a => a != "--headless" && !a.StartsWith("--user-data-dir=", StringComparison.Ordinal)).ToArray(),
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1200, Height = 900 } });
        var errors = new List<string>();
        var requests = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                errors.Add($"console.{message.Type}: {message.Text}");
            }
        };
        page.PageError += (_, error) => errors.Add("page error: " + error);
        page.Request += (_, request) => requests.Add(request.Url);

        await page.GotoAsync(new Uri(html).AbsoluteUri);
        await page.WaitForSelectorAsync("body[data-charts-done='true']", new PageWaitForSelectorOptions { Timeout = 60_000 });

        var charts = await page.QuerySelectorAllAsync("div.chart");
        Assert.Equal(1 + 1 + 1 + 4 + 4 + 1, charts.Count);
        foreach (var chart in charts)
        {
            var kind = await chart.GetAttributeAsync("data-kind");
            Assert.Equal("true", await chart.GetAttributeAsync("data-rendered"));
            int Count(string selector) => chart.EvalOnSelectorAllAsync<int>(selector, "els => els.length").GetAwaiter().GetResult();
            var lines = Count("svg g.mark-line.role-mark > path");
            var areas = Count("svg g.mark-area.role-mark > path");
            var rects = Count("svg g.mark-rect.role-mark > path");
            var rules = Count("svg g.mark-rule.role-mark > line");
            var texts = Count("svg g.mark-text.role-mark > text");
            var symbols = Count("svg g.mark-symbol.role-mark > path");
            var axisTitles = await chart.EvalOnSelectorAllAsync<string[]>("svg g.role-axis-title text", "els => els.map(e => e.textContent)");
            _output.WriteLine($"{kind}: {lines} lines, {areas} areas, {rects} rects, {rules} rules, {texts} texts, {symbols} symbols; axes: {string.Join(" | ", axisTitles)}");
            switch (kind)
            {
                case "training-curves":
                    Assert.Equal(2, lines); // train_loss and test_loss
                    Assert.Contains("training step", axisTitles);
                    break;
                case "llc-over-training":
                    Assert.Equal(2, lines); // two sampler configurations
                    Assert.True(rects >= 4, "one shaded area per stage");
                    Assert.True(rules >= 4 + (2 * SyntheticRun.CheckpointSteps.Length), "stage boundaries and SE bars");
                    Assert.True(symbols >= 2 * SyntheticRun.CheckpointSteps.Length, "a point per estimate");
                    Assert.Contains("training step", axisTitles);
                    break;
                case "essential-dynamics":
                    Assert.True(lines >= 1, "the path through the checkpoints");
                    Assert.True(symbols >= SyntheticRun.CheckpointSteps.Length + 3, "a point per checkpoint and a marker per stage boundary");
                    Assert.True(texts >= 3, "boundary labels");
                    Assert.Contains(axisTitles, t => t.StartsWith("PC1", StringComparison.Ordinal));
                    Assert.Contains(axisTitles, t => t.StartsWith("PC2", StringComparison.Ordinal));
                    break;
                case "chain-loss":
                    Assert.True(lines >= 2, "a line per chain");
                    Assert.True(rules >= 1, "the burn-in rule");
                    Assert.True(rects >= 1, "the burn-in band");
                    Assert.Contains("draw", axisTitles);
                    break;
                case "running-llc":
                    Assert.True(lines >= 2);
                    Assert.True(rules >= 1);
                    Assert.Contains("running λ̂", axisTitles);
                    break;
                case "calibration":
                    // Two 5 × 4 grids, each cell on a grey base; the λ̂ grid leaves diverged (NaN) cells grey.
                    var cells = SyntheticRun.CalibrationStepSizes.Length * SyntheticRun.CalibrationNBetas.Length;
                    var diverged = SyntheticRun.CalibrationStepSizes.Sum(e => SyntheticRun.CalibrationNBetas.Count(b => SyntheticRun.Diverges(e, b)));
                    Assert.True(diverged > 0);
                    Assert.Equal((4 * cells) - diverged, rects);
                    Assert.Equal(2 * cells, texts);
                    Assert.Contains("step size ε", axisTitles);
                    break;
                default:
                    Assert.Fail($"unexpected chart kind {kind}");
                    break;
            }
        }

        Assert.Empty(errors);
        Assert.All(requests, url => Assert.StartsWith("file://", url));
        Assert.False(await page.EvaluateAsync<bool>("() => window.__pwned === 1"), "escaped text must not run");

        Directory.CreateDirectory(Artifacts);
        var png = Path.Combine(Artifacts, "report-playwright.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = png, FullPage = true });
        _output.WriteLine("screenshot: " + png);
        var (width, height) = PngSize(png);
        Assert.Equal(1200, width);
        Assert.True(height > 2000, $"full-page screenshot is only {height} px tall");
    }

    [ChromiumFact]
    public void RenderPng_writes_a_full_page_screenshot()
    {
        var html = WriteSyntheticReport("report-cli.html");
        var png = Path.Combine(Artifacts, "report-cli.png");
        HtmlReportBuilder.RenderPng(html, png);
        var (width, height) = PngSize(png);
        _output.WriteLine($"{png}: {width} × {height}");
        Assert.Equal(1200, width);
        Assert.True(height > 2000, $"the page height was not measured: {height} px");
        Assert.True(new FileInfo(png).Length > 50_000, "a PNG of drawn charts is not tiny");
    }

    [Fact]
    public void RenderPng_of_a_missing_report_names_the_file()
    {
        var missing = Path.Combine(Artifacts, "does-not-exist.html");
        var e = Assert.Throws<ReportException>(() => HtmlReportBuilder.RenderPng(missing, Path.Combine(Artifacts, "x.png")));
        Assert.Contains(missing, e.Message);
    }

    private static string WriteSyntheticReport(string name)
    {
        Directory.CreateDirectory(Artifacts);
        var db = Path.Combine(Artifacts, Path.ChangeExtension(name, ".db"));
        foreach (var f in new[] { db, db + "-wal", db + "-shm" })
        {
            File.Delete(f);
        }

        var html = Path.Combine(Artifacts, name);
        using var store = SqliteResultsStore.Open(db);
        var runId = SyntheticRun.Populate(store);
        HtmlReportBuilder.Write(store, runId, html);
        return html;
    }

    private static (int Width, int Height) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "not a PNG");
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
