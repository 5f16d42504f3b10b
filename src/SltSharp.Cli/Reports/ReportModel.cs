using SltSharp.Store;

namespace SltSharp.Cli.Reports;

/// <summary>Everything one HTML report shows. Built by <see cref="ReportLoader"/> from a store, or by hand.</summary>
/// <param name="Title">Page title.</param>
/// <param name="Summary">Run summary rows (label, value), shown as a table.</param>
/// <param name="ConfigJson">The run's configuration (shown pretty-printed; may be empty).</param>
/// <param name="TrainingMetrics">Training curves (loss per step...); empty when the run did not train.</param>
/// <param name="Traces">Per-chain traces of some sampling jobs.</param>
/// <param name="LlcOverTraining">λ̂ at checkpoints along training; empty when there is one checkpoint.</param>
/// <param name="Stages">Developmental stages drawn on the LLC-over-training chart.</param>
/// <param name="Calibration">ε × nβ grid of estimates; empty when there was no sweep.</param>
/// <param name="TmsExperiment">k-gon census and Bayesian prediction of an <c>slt experiment tms</c> run, else null.</param>
/// <param name="EssentialDynamics">The trajectory of the outputs in their leading principal components, or null.</param>
public sealed record RunReport(
    string Title,
    IReadOnlyList<KeyValuePair<string, string>> Summary,
    string ConfigJson,
    IReadOnlyList<MetricPoint> TrainingMetrics,
    IReadOnlyList<TraceSection> Traces,
    IReadOnlyList<LlcPoint> LlcOverTraining,
    IReadOnlyList<StageRecord> Stages,
    IReadOnlyList<CalibrationCell> Calibration,
    TmsExperimentSection? TmsExperiment = null,
    EssentialDynamicsView? EssentialDynamics = null)
{
    /// <summary>Weight-refined LLCs over training, one series per model component (e.g. attention head); empty when none.</summary>
    public IReadOnlyList<LlcPoint> RefinedLlcOverTraining { get; init; } = [];
}

/// <summary>Essential dynamics for the report: checkpoint steps and their coordinates in the leading components.</summary>
/// <param name="Steps">Checkpoint steps, one per row of <paramref name="Projections"/>.</param>
/// <param name="Projections">Coordinates per checkpoint (column k = PC k+1); at least two columns are drawn.</param>
/// <param name="ExplainedVarianceRatio">Share of the variance per component.</param>
public sealed record EssentialDynamicsView(IReadOnlyList<long> Steps, IReadOnlyList<double[]> Projections, IReadOnlyList<double> ExplainedVarianceRatio);

/// <summary>One chain's trace for the report.</summary>
/// <param name="Chain">Chain index.</param>
/// <param name="InitialLoss">L_n(w*).</param>
/// <param name="Loss">Per-draw loss (full length; the report downsamples).</param>
public sealed record ChainTrace(int Chain, double InitialLoss, double[] Loss);

/// <summary>The estimate shown with a trace section.</summary>
/// <param name="LambdaHat">λ̂.</param>
/// <param name="StandardError">Its standard error.</param>
/// <param name="Verdict">Diagnostics verdict.</param>
/// <param name="Reasons">Reasons behind the verdict.</param>
public sealed record EstimateSummary(double LambdaHat, double StandardError, SltSharp.Diagnostics.Verdict Verdict, IReadOnlyList<string> Reasons);

/// <summary>The chains of one sampling job.</summary>
/// <param name="Title">Heading, e.g. <c>Checkpoint 1000 · SGLD ε = 1e-3, nβ = 100</c>.</param>
/// <param name="Burnin">Burn-in draws (marked on the charts).</param>
/// <param name="NBeta">nβ, for the running λ̂.</param>
/// <param name="Chains">The chains.</param>
/// <param name="Estimate">The job's estimate, when it completed.</param>
public sealed record TraceSection(string Title, int Burnin, double NBeta, IReadOnlyList<ChainTrace> Chains, EstimateSummary? Estimate);

/// <summary>λ̂ at one checkpoint.</summary>
/// <param name="Step">Training step.</param>
/// <param name="LambdaHat">λ̂.</param>
/// <param name="StandardError">Standard error.</param>
/// <param name="Series">Which sampler configuration (one line per series).</param>
/// <param name="Verdict">Diagnostics verdict.</param>
public sealed record LlcPoint(long Step, double LambdaHat, double StandardError, string Series, SltSharp.Diagnostics.Verdict Verdict);

/// <summary>One cell of a calibration sweep.</summary>
/// <param name="StepSize">ε.</param>
/// <param name="NBeta">nβ.</param>
/// <param name="LambdaHat">λ̂ (NaN when the job diverged).</param>
/// <param name="Class">Classification of the cell (the verdict, or a calibration label such as <c>diverged</c>).</param>
public sealed record CalibrationCell(double StepSize, double NBeta, double LambdaHat, string Class);
