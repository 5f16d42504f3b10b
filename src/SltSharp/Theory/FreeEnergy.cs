namespace SltSharp.Theory;

/// <summary>
/// The asymptotic description of one region W of parameter space (a neighbourhood of a local minimum):
/// its loss ℓ at the minimum, learning coefficient λ, multiplicity m and constant c, so that
/// F_n(W) = −ln Z_n(W) ≈ n·ℓ + λ·ln n − (m − 1)·ln ln n + c.
/// </summary>
/// <remarks>
/// The loss is per sample (the empirical negative log-likelihood divided by n, or the population loss).
/// The constant c collects the O(1) term: the prior at the minimum (−ln φ(w*), e.g. ½‖w*‖² for a standard normal
/// prior up to a shared constant) and the volume factor of the singularity. Leave it 0 when it is unknown; it only
/// shifts a critical sample size, it never changes the large-n behaviour.
/// </remarks>
public sealed record FreeEnergyTerms
{
    /// <summary>Describes a region; see the type remarks for the meaning of each term.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When a term is not finite, λ is negative or m &lt; 1.</exception>
    public FreeEnergyTerms(double loss, double learningCoefficient, int multiplicity = 1, double constant = 0.0)
    {
        if (!double.IsFinite(loss))
        {
            throw new ArgumentOutOfRangeException(nameof(loss), loss, "The loss must be finite.");
        }
        if (!double.IsFinite(learningCoefficient) || learningCoefficient < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(learningCoefficient), learningCoefficient, "The learning coefficient λ must be finite and non-negative.");
        }
        if (multiplicity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(multiplicity), multiplicity, "The multiplicity m is at least 1 (1 = no ln ln n term).");
        }
        if (!double.IsFinite(constant))
        {
            throw new ArgumentOutOfRangeException(nameof(constant), constant, "The constant term must be finite.");
        }
        Loss = loss;
        LearningCoefficient = learningCoefficient;
        Multiplicity = multiplicity;
        Constant = constant;
    }

    /// <summary>ℓ, the per-sample loss at the region's minimum.</summary>
    public double Loss { get; init; }

    /// <summary>λ, the (local) learning coefficient of the minimum.</summary>
    public double LearningCoefficient { get; init; }

    /// <summary>m, the multiplicity of λ.</summary>
    public int Multiplicity { get; init; }

    /// <summary>c, the O(1) term of the free energy.</summary>
    public double Constant { get; init; }

    /// <summary>F_n ≈ n·ℓ + λ·ln n − (m − 1)·ln ln n + c at sample size <paramref name="n"/>.</summary>
    public double At(double n) => FreeEnergy.Asymptotic(n, Loss, LearningCoefficient, Multiplicity, Constant);
}

/// <summary>Watanabe's asymptotic expansion of the Bayesian free energy (slt-reference §3).</summary>
public static class FreeEnergy
{
    /// <summary>
    /// F_n ≈ n·ℓ + λ·ln n − (m − 1)·ln ln n + c. Requires n &gt; 1 (and n &gt; e would be needed for ln ln n to be
    /// positive; the formula is still evaluated for 1 &lt; n ≤ e, where it is not meaningful anyway).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">When n ≤ 1 or is not finite.</exception>
    public static double Asymptotic(double n, double loss, double learningCoefficient, int multiplicity = 1, double constant = 0.0)
    {
        if (!(n > 1) || !double.IsFinite(n))
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "The sample size n must be finite and greater than 1 (the expansion uses ln n and ln ln n).");
        }
        double lnN = Math.Log(n);
        double f = (n * loss) + (learningCoefficient * lnN) + constant;
        if (multiplicity > 1)
        {
            f -= (multiplicity - 1) * Math.Log(lnN);
        }
        return f;
    }
}
