using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace SltSharp.Cli.Reports;

/// <summary>Runs a locally installed Chromium headless (never downloads a browser).</summary>
public static partial class HeadlessChromium
{
    /// <summary>Environment variable that overrides the browser path.</summary>
    public const string PathVariable = "SLT_CHROMIUM";

    private static readonly string[] Candidates =
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
        "/usr/bin/google-chrome-stable",
        "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
        @"C:\Program Files\Google\Chrome\Application\chrome.exe",
    ];

    /// <summary>The browser to use: <c>$SLT_CHROMIUM</c> when set, else the first of the usual install paths, else null.</summary>
    public static string? Find()
    {
        var configured = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(configured) ? configured : null;
        }

        return Candidates.FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// Flags that work headless on a CI machine running as root: no sandbox (root), no GPU, no network side traffic,
    /// a fresh profile folder.
    /// </summary>
    /// <param name="profileFolder">A fresh, empty --user-data-dir.</param>
    public static IReadOnlyList<string> BaseArguments(string profileFolder) =>
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--user-data-dir=" + profileFolder,
    ];

    /// <summary>PNG of the whole rendered page of <paramref name="htmlPath"/>.</summary>
    /// <param name="htmlPath">Page to render.</param>
    /// <param name="pngPath">Destination PNG.</param>
    /// <param name="width">Viewport width in CSS pixels.</param>
    /// <exception cref="BrowserNotFoundException">No browser was found.</exception>
    /// <exception cref="ReportException">The browser failed or wrote no PNG.</exception>
    public static void Screenshot(string htmlPath, string pngPath, int width = 1200)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(htmlPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(pngPath);
        var html = Path.GetFullPath(htmlPath);
        if (!File.Exists(html))
        {
            throw new ReportException($"The report '{html}' does not exist; write it first.");
        }

        var browser = Find() ?? throw new BrowserNotFoundException(
            $"No Chromium found (looked at ${PathVariable} and {string.Join(", ", Candidates.Take(4))}); install it with scripts/install-browser-deps.sh or set {PathVariable}.");
        var png = Path.GetFullPath(pngPath);
        Directory.CreateDirectory(Path.GetDirectoryName(png)!);
        var url = new Uri(html).AbsoluteUri;

        // Pass 1: let the charts render and read the page height the report's script wrote into the DOM.
        var dom = Run(browser, ["--virtual-time-budget=10000", "--window-size=" + Size(width, 1000), "--dump-dom", url], html);
        var match = PageHeight().Match(dom);
        var height = match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) + 8 : 3000;
        height = Math.Clamp(height, 200, 30000);

        // Pass 2: a window as tall as the page makes the viewport screenshot a full-page one.
        File.Delete(png);
        Run(browser, ["--virtual-time-budget=10000", "--window-size=" + Size(width, height), "--screenshot=" + png, url], html);
        if (!File.Exists(png) || new FileInfo(png).Length == 0)
        {
            throw new ReportException($"Chromium wrote no screenshot of '{html}' to '{png}'.");
        }
    }

    /// <summary>Runs the browser once with a fresh profile; returns its standard output.</summary>
    /// <param name="browser">Browser executable.</param>
    /// <param name="arguments">Arguments after the base flags.</param>
    /// <param name="subject">File named in error messages.</param>
    /// <param name="timeoutSeconds">Kill the browser after this long.</param>
    public static string Run(string browser, IEnumerable<string> arguments, string subject, int timeoutSeconds = 120)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var profile = Path.Combine(Path.GetTempPath(), "slt-chromium-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profile);
        try
        {
            var info = new ProcessStartInfo(browser)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in BaseArguments(profile).Concat(arguments))
            {
                info.ArgumentList.Add(a);
            }

            using var process = Process.Start(info) ?? throw new ReportException($"Could not start '{browser}'.");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
            {
                process.Kill(entireProcessTree: true);
                throw new ReportException($"Chromium did not finish rendering '{subject}' within {timeoutSeconds} s.");
            }

            if (process.ExitCode != 0)
            {
                var lastLine = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? string.Empty;
                throw new ReportException($"Chromium exited with code {process.ExitCode} rendering '{subject}': {lastLine.Trim()}");
            }

            return stdout.Result;
        }
        finally
        {
            try
            {
                Directory.Delete(profile, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static string Size(int width, int height) =>
        string.Create(CultureInfo.InvariantCulture, $"{width},{height}");

    [GeneratedRegex("data-page-height=\"(\\d+)\"")]
    private static partial Regex PageHeight();
}
