using System.Text;
using System.Text.RegularExpressions;

namespace SltSharp.Cli.Reports;

/// <summary>
/// The Vega, Vega-Lite and vega-embed browser bundles, embedded into this assembly at build time from the npm
/// packages pinned in <c>Reports/js/package-lock.json</c>.
/// </summary>
internal static partial class VegaBundles
{
    /// <summary>Resource names in load order (vega-lite needs vega; vega-embed needs both).</summary>
    internal static readonly string[] ResourceNames =
    [
        "SltSharp.Cli.Reports.vega.min.js",
        "SltSharp.Cli.Reports.vega-lite.min.js",
        "SltSharp.Cli.Reports.vega-embed.min.js",
    ];

    private static readonly Lazy<string[]> Bundles = new(() => ResourceNames.Select(Load).ToArray());

    /// <summary>The three bundles, ready to inline into a &lt;script&gt; element, in load order.</summary>
    internal static IReadOnlyList<string> All => Bundles.Value;

    private static string Load(string name)
    {
        using var stream = typeof(VegaBundles).Assembly.GetManifestResourceStream(name)
            ?? throw new ReportException(
                $"The report bundle {name} is not embedded in slt; rebuild SltSharp.Cli with npm on the PATH (the build runs 'npm ci' in src/SltSharp.Cli/Reports/js).");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = reader.ReadToEnd();

        // Inline scripts: a "</script" inside the code would end the element early, and the source-map comment
        // points at a file the report does not carry.
        text = ScriptClose().Replace(text, "<\\/script");
        return SourceMap().Replace(text, string.Empty);
    }

    [GeneratedRegex("</script", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptClose();

    [GeneratedRegex(@"^//# sourceMappingURL=.*$", RegexOptions.Multiline)]
    private static partial Regex SourceMap();
}
