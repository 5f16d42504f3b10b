using SltSharp.Sampling;

namespace SltSharp.Estimators;

/// <summary>Which sampler draws from the localized tempered posterior.</summary>
public enum SamplerKind
{
    /// <summary>Stochastic gradient Langevin dynamics (<see cref="Sgld{T}"/>).</summary>
    Sgld,

    /// <summary>RMSprop-preconditioned SGLD (<see cref="PreconditionedSgld{T}"/>).</summary>
    PreconditionedSgld,

    /// <summary>Stochastic gradient Nosé–Hoover thermostat (<see cref="Sgnht{T}"/>).</summary>
    Sgnht,

    /// <summary>Full-batch Metropolis-adjusted Langevin (<see cref="Mala{T}"/>).</summary>
    Mala,
}

/// <summary>Settings of an LLC estimate: the posterior, the sampler and the chain driver.</summary>
public sealed record LlcOptions
{
    /// <summary>The sampler.</summary>
    public SamplerKind Sampler { get; init; } = SamplerKind.Sgld;

    /// <summary>Step size ε (h for SGNHT).</summary>
    public double StepSize { get; init; } = 1e-4;

    /// <summary>nβ; null means n/ln n.</summary>
    public double? NBeta { get; init; }

    /// <summary>γ, the localization strength.</summary>
    public double Localization { get; init; } = 1.0;

    /// <summary>λ_wd, an extra weight decay towards 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>SGLD only: clamp each coordinate to w* ± this radius.</summary>
    public double? BoxRadius { get; init; }

    /// <summary>pSGLD: the RMSprop factor α.</summary>
    public double PreconditionerDecay { get; init; } = 0.99;

    /// <summary>pSGLD: the stabiliser δ.</summary>
    public double PreconditionerStabilizer { get; init; } = 1e-5;

    /// <summary>SGNHT: the diffusion A.</summary>
    public double Diffusion { get; init; } = 1.0;

    /// <summary>Chains.</summary>
    public int Chains { get; init; } = 4;

    /// <summary>Burn-in steps per chain.</summary>
    public int Burnin { get; init; }

    /// <summary>Kept draws per chain.</summary>
    public int Draws { get; init; } = 200;

    /// <summary>Steps per kept draw.</summary>
    public int Thinning { get; init; } = 1;

    /// <summary>Minibatch size; null for the full data.</summary>
    public int? BatchSize { get; init; }

    /// <summary>How minibatches are drawn.</summary>
    public BatchSampling BatchSampling { get; init; } = BatchSampling.WithoutReplacement;

    /// <summary>
    /// SGLD without a parameter mask: after sampling, measure the curvature at three states of each chain (the middle,
    /// three quarters and the last of its draws) so that the verdict judges the step by its predicted bias and stability
    /// edge (<see cref="Diagnostics.StepBiasCheck"/>). Costs at most 10% of the run's gradient work, and at least
    /// 15 full-data gradients per chain (<see cref="StepCurvatureProbe.ProposalsFor"/>). Calibration's short cells turn it
    /// off (they measure the same curvature themselves).
    /// </summary>
    public bool CheckStepBias { get; init; } = true;

    /// <summary>Seed; chain c uses <c>Rng(Seed, c)</c>.</summary>
    public ulong Seed { get; init; }

    /// <summary>Threads (the loss must be an <see cref="IReplicableChainedLoss{T}"/> when &gt; 1).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>
    /// Weight-restricted (weight-refined) LLC: true for the parameters that move; the others stay at w*. Null: all move.
    /// </summary>
    public bool[]? ParameterMask { get; init; }

    /// <summary>
    /// L(w*) if already known; null computes it before sampling on the full data (in chunks of at most 4096 samples).
    /// </summary>
    public double? ReferenceLoss { get; init; }

    /// <summary>Divergence bound on nβ·(L − L(w*)); null for the driver's default.</summary>
    public double? DivergenceBound { get; init; }

    /// <summary>
    /// Null: all chains. Otherwise only these chains (see <see cref="SamplingOptions.ChainIndices"/>); use with
    /// <see cref="LlcEstimator.Sample{T}"/> to compute the missing chains of a resumed job.
    /// </summary>
    public IReadOnlyList<int>? ChainIndices { get; init; }

    /// <summary>Per-draw progress.</summary>
    public IProgress<SamplingProgress>? Progress { get; init; }

    internal SamplingOptions ToSamplingOptions() => new()
    {
        Chains = ChainIndices?.Count ?? Chains,
        ChainIndices = ChainIndices,
        Burnin = Burnin,
        Draws = Draws,
        Thinning = Thinning,
        BatchSize = BatchSize,
        BatchSampling = BatchSampling,
        Seed = Seed,
        Threads = Threads,
        DivergenceBound = DivergenceBound,
        Progress = Progress,
    };
}
