using SltSharp.Diagnostics;

namespace SltSharp.Store;

/// <summary>Lifecycle of a run or a sampling job as recorded in the store.</summary>
public enum RunStatus
{
    /// <summary>Started and not finished; after a crash a run stays in this state.</summary>
    Running,

    /// <summary>Finished normally.</summary>
    Completed,

    /// <summary>Stopped by an error.</summary>
    Failed,

    /// <summary>Stopped by the user (Ctrl-C) before finishing.</summary>
    Interrupted,
}

/// <summary>What a caller supplies to start a run.</summary>
/// <param name="Command">The command or recipe that produced the run, e.g. <c>train dln</c> or <c>llc</c>.</param>
/// <param name="ConfigJson">The full configuration as JSON (stored verbatim).</param>
/// <param name="Seed">The master seed every random draw of the run flows from.</param>
/// <param name="CodeVersion">Version of the code (assembly informational version or git commit).</param>
/// <param name="Host">Machine name (and anything else that identifies where the run happened).</param>
public sealed record RunStart(string Command, string ConfigJson, long Seed, string CodeVersion, string Host);

/// <summary>One run: a training trajectory, an LLC measurement, a calibration sweep...</summary>
/// <param name="Id">Store-assigned identifier.</param>
/// <param name="Command">The command or recipe that produced the run.</param>
/// <param name="ConfigJson">The full configuration as JSON.</param>
/// <param name="Seed">The master seed.</param>
/// <param name="CodeVersion">Version of the code that produced the run.</param>
/// <param name="Host">Where the run happened.</param>
/// <param name="StartedAt">Start time (UTC).</param>
/// <param name="EndedAt">End time (UTC); null while running or after a crash.</param>
/// <param name="Status">Lifecycle state.</param>
public sealed record RunRecord(
    long Id,
    string Command,
    string ConfigJson,
    long Seed,
    string CodeVersion,
    string Host,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    RunStatus Status);

/// <summary>A saved parameter vector w* of a run at a training step.</summary>
/// <param name="Id">Store-assigned identifier (0 when not yet stored).</param>
/// <param name="RunId">The run the checkpoint belongs to.</param>
/// <param name="Step">Training step (0 for an initialisation or a model given from outside).</param>
/// <param name="Path">Where the parameter file lives (relative to the store's folder or absolute).</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the parameter file: identifies w* across runs.</param>
public sealed record CheckpointRecord(long Id, long RunId, long Step, string Path, string Sha256);

/// <summary>One scalar training metric at one step (loss, test loss, accuracy...).</summary>
/// <param name="Step">Training step.</param>
/// <param name="Name">Metric name, e.g. <c>train_loss</c>.</param>
/// <param name="Value">Metric value (may be NaN).</param>
public sealed record MetricPoint(long Step, string Name, double Value);

/// <summary>A developmental stage on the training axis (Hoogland et al.).</summary>
/// <param name="StartStep">First step of the stage.</param>
/// <param name="EndStep">Last step of the stage (a critical point of the smoothed LLC curve).</param>
/// <param name="Kind">Stage type: <c>A</c> if λ̂ rises over the stage, <c>B</c> if it falls (free text allowed).</param>
/// <param name="Label">Optional human label, e.g. <c>LS1</c>.</param>
/// <param name="DeltaLlc">Change of the smoothed λ̂ over the stage, when measured.</param>
/// <param name="DeltaLoss">Change of the training loss over the stage, when measured.</param>
/// <param name="Confidence">Confidence (0..1) of the boundary that ends the stage; null for the last stage.</param>
public sealed record StageRecord(long StartStep, long EndStep, string Kind, string Label,
    double? DeltaLlc = null, double? DeltaLoss = null, double? Confidence = null);

/// <summary>
/// What identifies a sampling job: one checkpoint × one sampler configuration. Two specs with the same
/// key (<see cref="ComputeKey"/>) are the same job, so re-running a command finds (and resumes) the job it started before.
/// </summary>
/// <param name="CheckpointId">The checkpoint w* the chains are localized at.</param>
/// <param name="Sampler">Sampler name, e.g. <c>sgld</c>.</param>
/// <param name="StepSize">ε.</param>
/// <param name="NBeta">nβ, the inverse temperature times n.</param>
/// <param name="Localization">γ, the strength of the pull towards w*.</param>
/// <param name="Chains">Number of chains the job runs.</param>
/// <param name="Draws">Draws per chain (after thinning), burn-in included.</param>
/// <param name="Burnin">Leading draws discarded by the estimate.</param>
/// <param name="SamplerConfigJson">The complete sampler configuration as JSON (batch size, seed, thinning...).</param>
public sealed record SamplingJobSpec(
    long CheckpointId,
    string Sampler,
    double StepSize,
    double NBeta,
    double Localization,
    int Chains,
    int Draws,
    int Burnin,
    string SamplerConfigJson)
{
    /// <summary>
    /// The unique key of the job: SHA-256 of the checkpoint's content hash and the canonical form of the sampler
    /// configuration (object keys sorted, no whitespace), so that key order or formatting of the JSON do not matter.
    /// </summary>
    /// <param name="checkpointSha256">The checkpoint's content hash.</param>
    public string ComputeKey(string checkpointSha256) =>
        SamplingJobKey.Compute(checkpointSha256, this);
}

/// <summary>A sampling job as stored.</summary>
/// <param name="Id">Store-assigned identifier.</param>
/// <param name="Key">Unique key (see <see cref="SamplingJobSpec.ComputeKey"/>).</param>
/// <param name="Spec">What the job runs.</param>
/// <param name="Status"><see cref="RunStatus.Running"/> until an estimate has been saved.</param>
/// <param name="CreatedAt">When the job was first created.</param>
public sealed record SamplingJobRecord(long Id, string Key, SamplingJobSpec Spec, RunStatus Status, DateTimeOffset CreatedAt);

/// <summary>One finished chain of a sampling job.</summary>
/// <param name="JobId">The job.</param>
/// <param name="ChainIndex">0-based chain index; each chain's randomness must depend only on (seed, index) so that a
/// resumed job gives the same chains as an uninterrupted one.</param>
/// <param name="InitialLoss">L_n(w*), the full-data loss at the anchor, taken before sampling.</param>
/// <param name="LossTrace">L_B(w_t) per draw (burn-in included), full precision.</param>
/// <param name="StepInfo">Per-step diagnostics by name (e.g. <c>grad_norm</c>, <c>acceptance</c>, <c>divergent</c>), single
/// precision; each array may have its own length (steps rather than draws when thinning).</param>
/// <param name="LambdaHat">This chain's λ̂ = nβ·(mean post-burn-in loss − L_n(w*)).</param>
/// <param name="ElapsedSeconds">The chain's share of the wall time of sampling: chains sampled together split their batch's
/// wall time equally, so the shares of a job's chains add up to its wall time of sampling.</param>
public sealed record ChainRecord(
    long JobId,
    int ChainIndex,
    double InitialLoss,
    double[] LossTrace,
    IReadOnlyDictionary<string, float[]> StepInfo,
    double LambdaHat,
    double ElapsedSeconds);

/// <summary>The LLC estimate of a sampling job with its diagnostics.</summary>
/// <param name="JobId">The job.</param>
/// <param name="LambdaHat">λ̂, the mean of the per-chain estimates.</param>
/// <param name="StandardError">Standard error of λ̂ across chains.</param>
/// <param name="DiagnosticsJson">Diagnostics as JSON (R-hat, ESS, acceptance, divergences...).</param>
/// <param name="Verdict">Overall judgement (the diagnostics' <see cref="SltSharp.Diagnostics.Verdict"/>).</param>
/// <param name="Reasons">Human-readable reasons behind the verdict (may be empty when it passed).</param>
public sealed record EstimateRecord(
    long JobId,
    double LambdaHat,
    double StandardError,
    string DiagnosticsJson,
    Verdict Verdict,
    IReadOnlyList<string> Reasons);
