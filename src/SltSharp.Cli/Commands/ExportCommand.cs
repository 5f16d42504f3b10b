using System.CommandLine;
using SltSharp.Store.Export;

namespace SltSharp.Cli.Commands;

/// <summary><c>slt export</c>: a recorded run as CSV, JSON or .npz for analysis elsewhere (numpy, pandas, R).</summary>
internal static class ExportCommand
{
    public static Command Build(CliContext context)
    {
        var runId = StoreAccess.RunArgument();
        var latest = StoreAccess.LatestOption();
        var store = StoreAccess.StoreOption();
        var format = new Option<string>("--format") { Description = "csv (per-draw losses, long form, plus PATH-stem.estimates.csv), json (the whole run) or npz (trace arrays per job).", Required = true };
        format.AcceptOnlyFromAmong("csv", "json", "npz");
        var output = new Option<string>("--out") { Description = "File to write.", Required = true };
        var command = new Command("export", "Export a recorded run as CSV, JSON or numpy .npz.")
        {
            runId, latest, store, format, output,
        };
        command.SetAction(parse =>
        {
            using var results = StoreAccess.OpenExisting(parse.GetValue(store)!);
            var run = StoreAccess.Resolve(results, parse.GetValue(runId), parse.GetValue(latest));
            string path = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var written = new List<string>();
            var jobs = results.Jobs(run.Id);
            switch (parse.GetValue(format))
            {
                case "json":
                    using (var stream = File.Create(path))
                    {
                        ResultsExporter.WriteRunJson(results, run.Id, stream);
                    }
                    written.Add(path);
                    break;
                case "csv":
                    using (var writer = new StreamWriter(path))
                    {
                        // One long table for all jobs: the job_id column tells them apart.
                        bool header = true;
                        foreach (var job in jobs)
                        {
                            var text = new StringWriter();
                            ResultsExporter.WriteTracesCsv(results, job, text);
                            var lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                            foreach (var line in header ? lines : lines.Skip(1))
                            {
                                writer.Write(line.TrimEnd('\r'));
                                writer.Write('\n');
                            }
                            header = false;
                        }
                    }
                    written.Add(path);
                    string estimates = Path.Combine(Path.GetDirectoryName(path)!, Path.GetFileNameWithoutExtension(path) + ".estimates.csv");
                    using (var writer = new StreamWriter(estimates))
                    {
                        ResultsExporter.WriteEstimatesCsv(results, run.Id, writer);
                    }
                    written.Add(estimates);
                    break;
                default:
                    if (jobs.Count == 0)
                    {
                        throw new CliUsageException($"Run {run.Id} has no sampling jobs, so there are no trace arrays to export; use --format json.");
                    }
                    var exporter = new NpzArrayExporter();
                    foreach (var job in jobs)
                    {
                        // One job (the slt llc case) goes to PATH itself; several get PATH-stem.job-ID.npz each.
                        string file = jobs.Count == 1 ? path
                            : Path.Combine(Path.GetDirectoryName(path)!, $"{Path.GetFileNameWithoutExtension(path)}.job-{job.Id}{exporter.FileExtension}");
                        ResultsExporter.ExportTraceArrays(results, job, exporter, file);
                        written.Add(file);
                    }
                    break;
            }
            foreach (string file in written)
            {
                context.Output.WriteLine($"run {run.Id} exported to {file}");
            }
            return 0;
        });
        return command;
    }
}
