using System.Text.Json;
using Microsoft.Playwright;
using SltSharp.Cli;
using SltSharp.Cli.Reports;
using Xunit.Abstractions;

namespace SltSharp.Browser.Tests;

/// <summary>The report of <c>slt experiment tms --quick</c> opens in headless Chromium with its k-gon charts drawn.</summary>
public sealed class TmsExperimentReportRenderingTests
{
    private static readonly string Artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
    private readonly ITestOutputHelper _output;

    public TmsExperimentReportRenderingTests(ITestOutputHelper output) => _output = output;

    [ChromiumFact]
    public async Task The_tms_experiment_report_draws_the_kgon_charts()
    {
        Directory.CreateDirectory(Artifacts);
        string html = Path.Combine(Artifacts, "tms-experiment.html");
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exit = await SltApp.RunAsync(["experiment", "tms", "--quick", "--no-store", "--json", "--out", html], stdout, stderr);
        Assert.True(exit is 0 or 1, stderr.ToString());
        var root = JsonDocument.Parse(stdout.ToString()).RootElement;
        int nValues = root.GetProperty("n_values").GetArrayLength();
        int types = root.GetProperty("over_steps").EnumerateArray().SelectMany(e => e.GetProperty("fractions").EnumerateObject().Select(p => p.Name)).Distinct().Count();

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = HeadlessChromium.Find(),
            Headless = true,
            Args = HeadlessChromium.BaseArguments(string.Empty).Where(a => a != "--headless" && !a.StartsWith("--user-data-dir=", StringComparison.Ordinal)).ToArray(),
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1200, Height = 900 } });
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                errors.Add($"console.{message.Type}: {message.Text}");
            }
        };
        page.PageError += (_, error) => errors.Add("page error: " + error);
        await page.GotoAsync(new Uri(html).AbsoluteUri);
        await page.WaitForSelectorAsync("body[data-charts-done='true']", new PageWaitForSelectorOptions { Timeout = 60_000 });
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Artifacts, "tms-experiment.png"), FullPage = true });

        var kinds = new List<string?>();
        foreach (var chart in await page.QuerySelectorAllAsync("div.chart"))
        {
            string? kind = await chart.GetAttributeAsync("data-kind");
            kinds.Add(kind);
            Assert.Equal("true", await chart.GetAttributeAsync("data-rendered"));
            int lines = await chart.EvalOnSelectorAllAsync<int>("svg g.mark-line.role-mark > path", "els => els.length");
            int rules = await chart.EvalOnSelectorAllAsync<int>("svg g.mark-rule.role-mark > line", "els => els.length");
            var axisTitles = await chart.EvalOnSelectorAllAsync<string[]>("svg g.role-axis-title text", "els => els.map(e => e.textContent)");
            _output.WriteLine($"{kind}: {lines} lines, {rules} rules; axes: {string.Join(" | ", axisTitles)}");
            if (kind == "kgon-vs-n")
            {
                // One line per type seen after training (≥ 1) plus the two posterior curves (theory λ and λ̂).
                Assert.True(lines >= 3, $"kgon-vs-n drew {lines} lines");
                Assert.True(rules >= 1, "the theory critical n is marked");
                Assert.Contains("training-set size n", axisTitles);
            }
            else if (kind == "kgon-vs-step")
            {
                // One panel per n, a line per type in each panel.
                Assert.True(lines >= nValues, $"kgon-vs-step drew {lines} lines for {nValues} panels and {types} types");
                Assert.Contains("training step", axisTitles);
            }
        }
        Assert.Contains("kgon-vs-n", kinds);
        Assert.Contains("kgon-vs-step", kinds);
        Assert.Empty(errors);
        Assert.Contains("Critical n (5-gon → 6-gon): theory 601", await page.InnerTextAsync("body"));
    }
}
