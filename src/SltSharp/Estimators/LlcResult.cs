using SltSharp.Diagnostics;
using SltSharp.Sampling;

namespace SltSharp.Estimators;

/// <summary>The outcome of an LLC estimate.</summary>
public sealed record LlcResult
{
    /// <summary>The mean of the per-chain estimates over surviving chains.</summary>
    public double Mean { get; init; }

    /// <summary>Standard error across chains, sd(λ̂_c)/√C (NaN with one surviving chain).</summary>
    public double StandardError { get; init; }

    /// <summary>Monte Carlo standard error from the pooled trace and its ESS: nβ·sd(L)/√ESS.</summary>
    public double MonteCarloStandardError { get; init; }

    /// <summary>λ̂_c = nβ·(mean of chain c's draws − L(w*)), one per surviving chain.</summary>
    public double[] ChainEstimates { get; init; } = [];

    /// <summary>Indices of the surviving chains, aligned with <see cref="ChainEstimates"/>.</summary>
    public int[] SurvivingChains { get; init; } = [];

    /// <summary>Running (online) estimate per surviving chain: entry k uses draws 0..k.</summary>
    public double[][] RunningEstimates { get; init; } = [];

    /// <summary>The raw per-draw traces of every chain (diverged chains truncated).</summary>
    public required SamplingResult Sampling { get; init; }

    /// <summary>nβ used.</summary>
    public double NBeta { get; init; }

    /// <summary>L(w*), computed before sampling.</summary>
    public double ReferenceLoss { get; init; }

    /// <summary>Diagnostics and verdict.</summary>
    public required SamplingDiagnostics Diagnostics { get; init; }

    /// <summary>The sampler's name.</summary>
    public string SamplerName { get; init; } = "";

    /// <summary>Chain-steps per second of the sampling loop.</summary>
    public double StepsPerSecond => Sampling.StepsPerSecond;

    /// <summary>The verdict of <see cref="Diagnostics"/>.</summary>
    public Verdict Verdict => Diagnostics.Verdict;

    /// <summary>Messages of diverged chains.</summary>
    public IEnumerable<string> DivergenceMessages => Sampling.DivergenceMessages.OfType<string>();
}

/// <summary>The chains of <see cref="LlcEstimator.Sample{T}"/>, not yet estimated.</summary>
/// <param name="Sampling">Traces of the sampled chains (slot i = i-th requested chain).</param>
/// <param name="NBeta">nβ used.</param>
/// <param name="ReferenceLoss">L(w*), computed before sampling.</param>
/// <param name="SamplerName">The sampler's name.</param>
public sealed record LlcSample(SamplingResult Sampling, double NBeta, double ReferenceLoss, string SamplerName);

/// <summary>WBIC (Watanabe 2013) and the learning coefficient it implies.</summary>
/// <param name="Wbic">E_w^β[n·L_n(w)] at β = 1/ln n (nβ = n/ln n).</param>
/// <param name="Lambda">(WBIC − n·L_n(w*))/ln n.</param>
/// <param name="StandardError">Standard error of <paramref name="Wbic"/> across chains.</param>
/// <param name="Run">The underlying LLC run (its mean equals <paramref name="Lambda"/>).</param>
public sealed record WbicResult(double Wbic, double Lambda, double StandardError, LlcResult Run);
