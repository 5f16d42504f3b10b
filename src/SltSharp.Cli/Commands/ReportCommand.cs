using System.CommandLine;
using SltSharp.Cli.Reports;

namespace SltSharp.Cli.Commands;

/// <summary><c>slt report</c>: a self-contained HTML report (and optionally a PNG) of a recorded run.</summary>
internal static class ReportCommand
{
    public static Command Build(CliContext context)
    {
        var runId = StoreAccess.RunArgument();
        var latest = StoreAccess.LatestOption();
        var store = StoreAccess.StoreOption();
        var output = new Option<string?>("--out") { Description = "HTML file to write (default runs/report-RUN_ID.html next to the store)." };
        var png = new Option<bool>("--png") { Description = "Also write a PNG screenshot (same name, .png) with headless Chromium." };
        var command = new Command("report", "Write a self-contained HTML report of a recorded run: summary, verdicts, traces and charts.")
        {
            runId, latest, store, output, png,
        };
        command.SetAction(parse =>
        {
            string storePath = parse.GetValue(store)!;
            using var results = StoreAccess.OpenExisting(storePath);
            var run = StoreAccess.Resolve(results, parse.GetValue(runId), parse.GetValue(latest));
            string html = parse.GetValue(output)
                ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(storePath))!, $"report-{run.Id}.html");
            string? folder = Path.GetDirectoryName(Path.GetFullPath(html));
            if (folder is not null)
            {
                Directory.CreateDirectory(folder);
            }
            HtmlReportBuilder.Write(results, run.Id, html);
            context.Output.WriteLine($"report of run {run.Id} written to {html}");
            if (parse.GetValue(png))
            {
                string image = Path.ChangeExtension(html, ".png");
                HtmlReportBuilder.RenderPng(html, image);
                context.Output.WriteLine($"screenshot written to {image}");
            }
            return 0;
        });
        return command;
    }
}
