using System.Globalization;
using SltSharp.Store;

namespace SltSharp.Cli.Reports;

/// <summary>Options for <see cref="ReportLoader.Load"/>.</summary>
/// <param name="MaxTraceSections">At most this many jobs get per-chain trace charts (those of the last checkpoint
/// that has jobs): a long trajectory has hundreds of jobs and their traces would drown the page.</param>
public sealed record ReportOptions(int MaxTraceSections = 4);

/// <summary>Reads what a report shows about one run from a results store.</summary>
public static class ReportLoader
{
    /// <summary>Builds the report model of run <paramref name="runId"/>.</summary>
    /// <param name="store">The store.</param>
    /// <param name="runId">The run.</param>
    /// <param name="options">What to include (defaults when null).</param>
    /// <exception cref="RunNotFoundException">The run is not in the store (the message names the run and the store).</exception>
    public static RunReport Load(IResultsStore store, long runId, ReportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new ReportOptions();
        var run = store.GetRun(runId);
        var checkpoints = store.Checkpoints(runId);
        var stepOf = checkpoints.ToDictionary(c => c.Id, c => c.Step);
        var jobs = store.Jobs(runId);
        var estimates = jobs.Select(j => (Job: j, Estimate: store.Estimate(j.Id))).ToList();

        var summary = new List<KeyValuePair<string, string>>
        {
            new("Run", run.Id.ToString(CultureInfo.InvariantCulture)),
            new("Command", run.Command),
            new("Status", run.Status.ToString()),
            new("Seed", run.Seed.ToString(CultureInfo.InvariantCulture)),
            new("Code version", run.CodeVersion),
            new("Host", run.Host),
            new("Started (UTC)", run.StartedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)),
            new("Ended (UTC)", run.EndedAt?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "—"),
            new("Checkpoints", checkpoints.Count.ToString(CultureInfo.InvariantCulture)),
            new("Sampling jobs", jobs.Count.ToString(CultureInfo.InvariantCulture)),
        };
        if (run.EndedAt is { } end)
        {
            summary.Insert(8, new("Duration", FormatDuration(end - run.StartedAt)));
        }

        var traces = new List<TraceSection>();
        var lastStepWithJobs = jobs.Count == 0 ? (long?)null : jobs.Max(j => stepOf[j.Spec.CheckpointId]);
        foreach (var (job, estimate) in estimates.Where(e => stepOf[e.Job.Spec.CheckpointId] == lastStepWithJobs).Take(options.MaxTraceSections))
        {
            var chains = store.Chains(job.Id);
            if (chains.Count == 0)
            {
                continue;
            }

            traces.Add(new TraceSection(
                $"Checkpoint step {stepOf[job.Spec.CheckpointId]} · {SeriesLabel(job.Spec)} · {chains.Count} of {job.Spec.Chains} chains",
                job.Spec.Burnin,
                job.Spec.NBeta,
                chains.Select(c => new ChainTrace(c.ChainIndex, c.InitialLoss, c.LossTrace)).ToList(),
                estimate is null ? null : new EstimateSummary(estimate.LambdaHat, estimate.StandardError, estimate.Verdict, estimate.Reasons)));
        }

        var completed = estimates.Where(e => e.Estimate is not null).ToList();
        // Weight-refined jobs (sampler "<sampler> head <label>", see slt experiment icl) get their own chart, one line
        // per component: on the whole-model chart they would squash its scale.
        var refined = completed.Where(e => IsRefined(e.Job.Spec))
            .Select(e => new LlcPoint(stepOf[e.Job.Spec.CheckpointId], e.Estimate!.LambdaHat, e.Estimate.StandardError,
                e.Job.Spec.Sampler[(e.Job.Spec.Sampler.IndexOf(RefinedMarker, StringComparison.Ordinal) + 1)..], e.Estimate.Verdict))
            .ToList();
        completed = [.. completed.Where(e => !IsRefined(e.Job.Spec))];
        var llc = new List<LlcPoint>();
        // A sampler configuration used at one checkpoint only (e.g. a calibration sweep) is not a curve over training.
        foreach (var series in completed.GroupBy(e => SeriesLabel(e.Job.Spec)))
        {
            if (series.Select(e => stepOf[e.Job.Spec.CheckpointId]).Distinct().Count() > 1)
            {
                llc.AddRange(series.Select(e => new LlcPoint(
                    stepOf[e.Job.Spec.CheckpointId], e.Estimate!.LambdaHat, e.Estimate.StandardError, series.Key, e.Estimate.Verdict)));
            }
        }

        // A calibration sweep: several (ε, nβ) at one checkpoint. Show the checkpoint with the richest grid.
        var calibration = completed
            .GroupBy(e => e.Job.Spec.CheckpointId)
            .Select(g => g.GroupBy(e => (e.Job.Spec.StepSize, e.Job.Spec.NBeta)).Select(cell => cell.Last()).ToList())
            .Where(cells => cells.Count > 1)
            .OrderByDescending(cells => cells.Count)
            .FirstOrDefault()
            ?.Select(e => new CalibrationCell(e.Job.Spec.StepSize, e.Job.Spec.NBeta, e.Estimate!.LambdaHat, CalibrationClass(e.Estimate)))
            .ToList() ?? [];

        if (run.Command == TmsExperimentReport.Command)
        {
            // Its metrics are k-gon fractions and LLCs, not training curves: they get their own section.
            return TmsExperimentReport.Load(run, summary, store.Metrics(runId));
        }

        EssentialDynamicsView? dynamics = null;
        if (store.Analysis(runId, SltSharp.Development.LlcTrajectory.EssentialDynamicsAnalysis) is { } edJson)
        {
            var (steps, projections, ratios) = SltSharp.Development.LlcTrajectory.ReadEssentialDynamics(edJson);
            dynamics = new EssentialDynamicsView(steps, projections, ratios);
        }

        return new RunReport(
            $"Run {run.Id}: {run.Command}",
            summary,
            run.ConfigJson,
            store.Metrics(runId),
            traces,
            llc,
            store.Stages(runId),
            calibration,
            EssentialDynamics: dynamics)
        {
            RefinedLlcOverTraining = refined,
        };
    }

    private const string RefinedMarker = " head ";

    private static bool IsRefined(SamplingJobSpec spec) => spec.Sampler.Contains(RefinedMarker, StringComparison.Ordinal);

    /// <summary>Short label of a sampler configuration, e.g. <c>sgld ε=0.001 nβ=100 γ=1</c>.</summary>
    /// <param name="spec">The job.</param>
    public static string SeriesLabel(SamplingJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return string.Create(CultureInfo.InvariantCulture, $"{spec.Sampler} ε={VegaLiteSpecs.Short(spec.StepSize)} nβ={VegaLiteSpecs.Short(spec.NBeta)} γ={VegaLiteSpecs.Short(spec.Localization)}");
    }

    // slt calibrate stores each cell's class (stable, not mixed, spiking, diverged) with its diagnostics; other sweeps show the verdict.
    private static string CalibrationClass(EstimateRecord estimate)
    {
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(estimate.DiagnosticsJson)?["calibration_class"]?.GetValue<string>() ?? estimate.Verdict.ToString();
        }
        catch (System.Text.Json.JsonException)
        {
            return estimate.Verdict.ToString();
        }
    }

    private static string FormatDuration(TimeSpan d) =>
        d.TotalHours >= 1 ? d.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : d.TotalMinutes >= 1 ? d.ToString(@"m\:ss", CultureInfo.InvariantCulture) + " min"
        : d.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
}
