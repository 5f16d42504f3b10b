using SltSharp.Cli.Reports;

namespace SltSharp.Browser.Tests;

/// <summary>
/// A fact that is reported as skipped, with the reason, when no Chromium is installed: a missing browser must be
/// visible in the test summary, never a silent pass.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (HeadlessChromium.Find() is null)
        {
            Skip = $"SKIPPED: no Chromium at /usr/bin/chromium (or ${HeadlessChromium.PathVariable}); run scripts/install-browser-deps.sh to enable the browser tests.";
        }
    }
}
