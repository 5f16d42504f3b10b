using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;
using SltSharp.Cli;
using SltSharp.Cli.Reports;
using Xunit.Abstractions;

namespace SltSharp.Browser.Tests;

/// <summary>
/// The report a user gets from <c>slt llc</c> then <c>slt report</c> (not a synthetic store) opens in headless Chromium
/// with every chart drawn and no JavaScript error.
/// </summary>
public sealed class CliReportRenderingTests
{
    private static readonly string Artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
    private readonly ITestOutputHelper _output;

    public CliReportRenderingTests(ITestOutputHelper output) => _output = output;

    [ChromiumFact]
    public async Task The_report_of_a_recorded_llc_run_renders_every_chart()
    {
        Directory.CreateDirectory(Artifacts);
        string store = Path.Combine(Artifacts, "cli-report.db");
        foreach (var f in new[] { store, store + "-wal", store + "-shm" })
        {
            File.Delete(f);
        }
        var (exit, stdout, stderr) = await Slt("llc", "--model", "normal-crossing", "--chains", "3", "--draws", "300", "--burnin", "200",
            "--threads", "1", "--json", "--store", store);
        Assert.True(exit is 0 or 1, stderr);
        var llc = JsonDocument.Parse(stdout).RootElement;
        string html = Path.Combine(Artifacts, "cli-report.html");
        (exit, _, stderr) = await Slt("report", llc.GetProperty("run_id").GetInt64().ToString(CultureInfo.InvariantCulture), "--store", store, "--out", html);
        Assert.True(exit == 0, stderr);

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

        var charts = await page.QuerySelectorAllAsync("div.chart");
        var kinds = new List<string?>();
        foreach (var chart in charts)
        {
            string? kind = await chart.GetAttributeAsync("data-kind");
            kinds.Add(kind);
            Assert.Equal("true", await chart.GetAttributeAsync("data-rendered"));
            int lines = await chart.EvalOnSelectorAllAsync<int>("svg g.mark-line.role-mark > path", "els => els.length");
            _output.WriteLine($"{kind}: {lines} lines");
            if (kind is "chain-loss" or "running-llc")
            {
                Assert.True(lines >= 3, $"{kind}: a line per chain (3 chains), drew {lines}");
            }
        }
        Assert.Contains("chain-loss", kinds);
        Assert.Contains("running-llc", kinds);
        Assert.Empty(errors);
        string lambda = llc.GetProperty("llc_mean").GetDouble().ToString("G4", CultureInfo.InvariantCulture);
        Assert.Contains($"λ̂ = {lambda}", await page.InnerTextAsync("body"));
    }

    private static async Task<(int Exit, string Out, string Err)> Slt(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await SltApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }
}
