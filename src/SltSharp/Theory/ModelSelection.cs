namespace SltSharp.Theory;

/// <summary>How the posterior preference between two regions U and V evolves with the sample size n.</summary>
public enum PreferenceOutcome
{
    /// <summary>ln p_n(U)/p_n(V) &gt; 0 over the whole range searched: U is preferred throughout.</summary>
    AlwaysPrefersU,

    /// <summary>ln p_n(U)/p_n(V) &lt; 0 over the whole range searched: V is preferred throughout.</summary>
    AlwaysPrefersV,

    /// <summary>U is preferred at small n, V after a single critical sample size (the phase transition of §3).</summary>
    FlipsToV,

    /// <summary>V is preferred at small n, U after a single critical sample size.</summary>
    FlipsToU,

    /// <summary>The log-odds change sign more than once in the range searched; see the list of crossings.</summary>
    MultipleFlips,

    /// <summary>The two regions have identical asymptotic free energies: the log-odds vanish for every n.</summary>
    Indifferent,
}

/// <summary>The critical sample sizes where the posterior preference between U and V flips.</summary>
/// <param name="Outcome">What happens over the searched range.</param>
/// <param name="Crossings">Every n in the range where ln p_n(U)/p_n(V) changes sign, ascending.</param>
/// <param name="MinN">Lower end of the searched range.</param>
/// <param name="MaxN">Upper end of the searched range.</param>
public sealed record CriticalSampleSize(PreferenceOutcome Outcome, IReadOnlyList<double> Crossings, double MinN, double MaxN)
{
    /// <summary>The first crossing, or null when the preference never flips in the range.</summary>
    public double? First => Crossings.Count > 0 ? Crossings[0] : null;
}

/// <summary>Standard errors of a region's estimated terms.</summary>
/// <param name="LossStandardError">Standard error of ℓ (0 when the loss is known exactly).</param>
/// <param name="LearningCoefficientStandardError">Standard error of λ̂, e.g. the across-chain standard error of an LLC estimate.</param>
public readonly record struct FreeEnergyUncertainty(double LossStandardError, double LearningCoefficientStandardError);

/// <summary>
/// A critical sample size with an uncertainty interval at ±k standard errors, computed two ways.
/// </summary>
/// <param name="Outcome">The outcome at the nominal parameters.</param>
/// <param name="NCritical">The nominal critical n (the first crossing), or NaN when there is none.</param>
/// <param name="Lower">Lower end from re-solving at the k-standard-error point that decreases n_crit most (see remarks of <see cref="ModelSelection.CriticalSampleSizeWithUncertainty"/>).</param>
/// <param name="Upper">Upper end, likewise; +∞ when the shifted problem never flips within the range.</param>
/// <param name="DeltaLower">Lower end from the delta method on ln n_crit: exp(ln n_crit − k·SE).</param>
/// <param name="DeltaUpper">Upper end from the delta method on ln n_crit: exp(ln n_crit + k·SE).</param>
/// <param name="LogNStandardError">The delta-method standard error of ln n_crit.</param>
/// <param name="K">The number of standard errors the interval spans on each side.</param>
public sealed record CriticalSampleSizeInterval(
    PreferenceOutcome Outcome,
    double NCritical,
    double Lower,
    double Upper,
    double DeltaLower,
    double DeltaUpper,
    double LogNStandardError,
    double K);

/// <summary>
/// Internal model selection (slt-reference §3): the posterior log-odds between two regions from their asymptotic
/// free energies, and the critical sample size where the preference flips.
/// </summary>
public static class ModelSelection
{
    private const int ScanPoints = 4096;

    /// <summary>
    /// ln p_n(U)/p_n(V) = F_n(V) − F_n(U) = n·Δℓ + Δλ·ln n − Δm·ln ln n + Δc with Δx = x(V) − x(U) and Δm = m(V) − m(U).
    /// Positive: the posterior puts more mass on U.
    /// </summary>
    public static double PosteriorLogOdds(FreeEnergyTerms u, FreeEnergyTerms v, double n)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(v);
        // Differences first: n·ℓ is huge at large n and the two regions' values nearly cancel.
        return LogOddsAtLogN(u, v, LogN(n));
    }

    /// <summary>
    /// The posterior probability of V within U ∪ V, p_n(V)/(p_n(U) + p_n(V)) = 1/(1 + exp(ln p_n(U)/p_n(V))), from the
    /// asymptotic free energies: the preference the dynamics of SGD are compared with (0.5 at the critical n).
    /// </summary>
    public static double PosteriorProbabilityOfV(FreeEnergyTerms u, FreeEnergyTerms v, double n)
    {
        double logOdds = PosteriorLogOdds(u, v, n);
        // Written so that exp never overflows: for large positive log-odds exp(−x) is tiny, and vice versa.
        return logOdds >= 0 ? Math.Exp(-logOdds) / (1 + Math.Exp(-logOdds)) : 1 / (1 + Math.Exp(logOdds));
    }

    /// <summary>
    /// Every sign change of the log-odds for n in [<paramref name="minN"/>, <paramref name="maxN"/>], found by scanning
    /// ln n on a fine grid and refining each bracket by bisection to machine precision in ln n.
    /// </summary>
    /// <remarks>
    /// Never throws for "no flip": the outcome says which region wins throughout. A tangency (a double root, where the
    /// log-odds touch zero without changing sign) is not a flip and is not reported.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">When the range is not 1 &lt; minN &lt; maxN (finite).</exception>
    public static CriticalSampleSize FindCriticalSampleSize(FreeEnergyTerms u, FreeEnergyTerms v, double minN = 2.0, double maxN = 1e15)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(v);
        if (!(minN > 1) || !(maxN > minN) || !double.IsFinite(maxN))
        {
            throw new ArgumentOutOfRangeException(nameof(minN), $"Need 1 < minN < maxN < ∞; got [{minN}, {maxN}].");
        }
        if (u.Loss == v.Loss && u.LearningCoefficient == v.LearningCoefficient && u.Multiplicity == v.Multiplicity && u.Constant == v.Constant)
        {
            return new CriticalSampleSize(PreferenceOutcome.Indifferent, [], minN, maxN);
        }

        var roots = FindRootsInLogN(x => LogOddsAtLogN(u, v, x), Math.Log(minN), Math.Log(maxN), out int firstSign);
        var crossings = roots.Select(Math.Exp).ToArray();
        PreferenceOutcome outcome = crossings.Length switch
        {
            0 => firstSign > 0 ? PreferenceOutcome.AlwaysPrefersU : PreferenceOutcome.AlwaysPrefersV,
            1 => firstSign > 0 ? PreferenceOutcome.FlipsToV : PreferenceOutcome.FlipsToU,
            _ => PreferenceOutcome.MultipleFlips,
        };
        return new CriticalSampleSize(outcome, crossings, minN, maxN);
    }

    /// <summary>
    /// The first critical sample size with an interval at ±<paramref name="k"/> standard errors of the estimated
    /// losses and learning coefficients (errors of U and V assumed independent and Gaussian).
    /// </summary>
    /// <remarks>
    /// Two intervals are returned. The delta method linearises ln n_crit(θ) through the implicit function theorem,
    /// d ln n/dθ = −(∂g/∂θ)/(∂g/∂ln n) for the log-odds g, and reports exp(ln n_crit ± k·SE). Linearising in ln n (not n)
    /// matters: n_crit depends roughly exponentially on Δλ/Δℓ. The evaluated interval (Lower, Upper) re-solves the
    /// crossing exactly at the two points θ ± k·Σ∇/√(∇ᵀΣ∇) of the k-standard-error ellipsoid along which the linearised
    /// ln n_crit changes fastest; for a linear dependence this equals the delta method, and where the dependence is
    /// curved (small |Δℓ|, where n_crit can run to infinity) it gives the honest, asymmetric answer. Prefer the
    /// evaluated interval; the delta interval is kept as a check. When the shifted problem never flips, the bound is
    /// +∞ (or <paramref name="minN"/> for the lower end).
    /// </remarks>
    public static CriticalSampleSizeInterval CriticalSampleSizeWithUncertainty(
        FreeEnergyTerms u,
        FreeEnergyTerms v,
        FreeEnergyUncertainty uncertaintyU,
        FreeEnergyUncertainty uncertaintyV,
        double k = 2.0,
        double minN = 2.0,
        double maxN = 1e15)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(v);
        if (!(k >= 0) || !double.IsFinite(k))
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, "k (standard errors per side) must be finite and non-negative.");
        }
        double[] se = [uncertaintyU.LossStandardError, uncertaintyU.LearningCoefficientStandardError, uncertaintyV.LossStandardError, uncertaintyV.LearningCoefficientStandardError];
        if (se.Any(s => !(s >= 0) || !double.IsFinite(s)))
        {
            throw new ArgumentOutOfRangeException(nameof(uncertaintyU), "Standard errors must be finite and non-negative.");
        }

        var nominal = FindCriticalSampleSize(u, v, minN, maxN);
        if (nominal.First is not double nCrit)
        {
            return new CriticalSampleSizeInterval(nominal.Outcome, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, k);
        }

        double x = Math.Log(nCrit);
        double en = Math.Exp(x);
        double dgdx = (en * (v.Loss - u.Loss)) + (v.LearningCoefficient - u.LearningCoefficient) - ((v.Multiplicity - u.Multiplicity) / x);
        // ∂g/∂θ for θ = (ℓ_U, λ_U, ℓ_V, λ_V); g = F(V) − F(U).
        double[] dgdTheta = [-en, -x, en, x];
        double[] dxdTheta = [.. dgdTheta.Select(d => -d / dgdx)];
        double variance = 0;
        for (int i = 0; i < 4; i++)
        {
            variance += dxdTheta[i] * dxdTheta[i] * se[i] * se[i];
        }
        double sx = Math.Sqrt(variance);
        if (sx == 0)
        {
            return new CriticalSampleSizeInterval(nominal.Outcome, nCrit, nCrit, nCrit, nCrit, nCrit, 0, k);
        }

        double[] direction = new double[4];
        for (int i = 0; i < 4; i++)
        {
            direction[i] = se[i] * se[i] * dxdTheta[i] / sx;
        }
        double upper = ShiftedCrossing(u, v, direction, +k, x, minN, maxN);
        double lower = ShiftedCrossing(u, v, direction, -k, x, minN, maxN);
        return new CriticalSampleSizeInterval(nominal.Outcome, nCrit, lower, upper, Math.Exp(x - (k * sx)), Math.Exp(x + (k * sx)), sx, k);
    }

    /// <summary>The crossing of the problem shifted by s·direction that lies nearest (in ln n) to the nominal one.</summary>
    private static double ShiftedCrossing(FreeEnergyTerms u, FreeEnergyTerms v, double[] direction, double s, double nominalLogN, double minN, double maxN)
    {
        var us = u with { Loss = u.Loss + (s * direction[0]), LearningCoefficient = Math.Max(0, u.LearningCoefficient + (s * direction[1])) };
        var vs = v with { Loss = v.Loss + (s * direction[2]), LearningCoefficient = Math.Max(0, v.LearningCoefficient + (s * direction[3])) };
        var shifted = FindCriticalSampleSize(us, vs, minN, maxN);
        if (shifted.Crossings.Count == 0)
        {
            // The shift moves the crossing out of range; on which side follows from the sign of the move.
            return s > 0 ? double.PositiveInfinity : minN;
        }
        return shifted.Crossings.MinBy(c => Math.Abs(Math.Log(c) - nominalLogN));
    }

    private static double LogN(double n)
    {
        if (!(n > 1) || !double.IsFinite(n))
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "The sample size n must be finite and greater than 1.");
        }
        return Math.Log(n);
    }

    private static double LogOddsAtLogN(FreeEnergyTerms u, FreeEnergyTerms v, double x)
    {
        double g = (Math.Exp(x) * (v.Loss - u.Loss)) + ((v.LearningCoefficient - u.LearningCoefficient) * x) + (v.Constant - u.Constant);
        int dm = v.Multiplicity - u.Multiplicity;
        if (dm != 0)
        {
            g -= dm * Math.Log(x);
        }
        return g;
    }

    /// <summary>Sign changes of g on [x0, x1]: a uniform scan, then bisection of each bracket.</summary>
    /// <remarks>Exact zeros carry no sign: a root is reported only between two non-zero values of opposite sign.</remarks>
    internal static List<double> FindRootsInLogN(Func<double, double> g, double x0, double x1, out int firstSign)
    {
        var roots = new List<double>();
        double lastX = double.NaN, lastG = 0;
        firstSign = 0;
        for (int i = 0; i <= ScanPoints; i++)
        {
            double xi = x0 + ((x1 - x0) * i / ScanPoints);
            double gi = g(xi);
            if (gi == 0 || double.IsNaN(gi))
            {
                continue;
            }
            if (firstSign == 0)
            {
                firstSign = Math.Sign(gi);
            }
            else if (Math.Sign(gi) != Math.Sign(lastG))
            {
                roots.Add(Bisect(g, lastX, xi, lastG));
            }
            lastX = xi;
            lastG = gi;
        }
        return roots;
    }

    private static double Bisect(Func<double, double> g, double a, double b, double ga)
    {
        for (int iter = 0; iter < 200; iter++)
        {
            double m = 0.5 * (a + b);
            if (m <= a || m >= b)
            {
                break;
            }
            double gm = g(m);
            if (gm == 0)
            {
                return m;
            }
            if (Math.Sign(gm) == Math.Sign(ga))
            {
                a = m;
                ga = gm;
            }
            else
            {
                b = m;
            }
        }
        return 0.5 * (a + b);
    }
}
