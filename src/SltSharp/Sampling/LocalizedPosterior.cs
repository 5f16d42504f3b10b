namespace SltSharp.Sampling;

/// <summary>
/// The localized tempered posterior every sampler targets:
/// p(w) ∝ exp(−nβ·L(w) − (γ/2)·||w − w*||² − (λ_wd/2)·||w||²), with potential
/// U(w) = nβ·L(w) + (γ/2)·||w − w*||² + (λ_wd/2)·||w||² and drift ∇U = nβ·∇L + γ·(w − w*) + λ_wd·w.
/// </summary>
public sealed record LocalizedPosterior
{
    /// <summary>Creates the posterior, validating every hyperparameter.</summary>
    /// <param name="nBeta">nβ, the inverse temperature times the sample size (&gt; 0; the usual default is n/ln n).</param>
    /// <param name="localization">γ ≥ 0, the strength of the pull towards w* (typical 1–1000).</param>
    /// <param name="weightDecay">λ_wd ≥ 0, an extra Gaussian prior centred at 0 (usually 0).</param>
    public LocalizedPosterior(double nBeta, double localization = 1.0, double weightDecay = 0.0)
    {
        SamplerGuards.Positive(nBeta, nameof(nBeta), "nβ must be a finite number > 0; the usual choice is n/ln n (e.g. 145 for n = 1000)");
        SamplerGuards.NonNegative(localization, nameof(localization), "γ must be finite and ≥ 0; typical values are 1 to 1000");
        SamplerGuards.NonNegative(weightDecay, nameof(weightDecay), "the weight decay must be finite and ≥ 0; usually 0");
        NBeta = nBeta;
        Localization = localization;
        WeightDecay = weightDecay;
    }

    /// <summary>nβ.</summary>
    public double NBeta { get; }

    /// <summary>γ.</summary>
    public double Localization { get; }

    /// <summary>λ_wd.</summary>
    public double WeightDecay { get; }

    /// <summary>nβ = n/ln n, the default inverse temperature for a dataset of n samples.</summary>
    public static double DefaultNBeta(int sampleCount)
    {
        if (sampleCount < 3)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleCount), sampleCount,
                "n/ln n needs n ≥ 3; for data-free potentials give nβ explicitly.");
        }
        return sampleCount / Math.Log(sampleCount);
    }
}

internal static class SamplerGuards
{
    public static void Positive(double value, string name, string advice)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentException($"{name} = {value} is invalid: {advice}.", name);
        }
    }

    public static void NonNegative(double value, string name, string advice)
    {
        if (!(value >= 0) || !double.IsFinite(value))
        {
            throw new ArgumentException($"{name} = {value} is invalid: {advice}.", name);
        }
    }
}
