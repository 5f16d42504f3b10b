namespace SltSharp.Theory;

/// <summary>
/// One region of a low-dimensional (1 or 2 parameters) model whose local evidence
/// Z_n(W) = ∫_W exp(−n·K(w))·φ(w) dw is computed by quadrature, accurately up to n ~ 10⁸.
/// </summary>
/// <remarks>
/// The region is the box centre + [−h, h]^d; on it K(w) = ℓ + K₀(w − centre) with K₀ ≥ 0 minimal (zero) at the centre.
/// The factor exp(−n·ℓ) is kept out of the integral (it would underflow) and ln Z_n is returned directly.
/// The integrand concentrates on the zero set of K₀, which must lie on the coordinate axes through the centre
/// (true for the normal-crossing and regular forms used here); the quadrature splits every coordinate with a
/// geometric ladder of breakpoints towards 0, so that every scale 1/√n, 1/(√n·|x|), … is resolved.
/// </remarks>
public sealed class ExactBasin
{
    private readonly Func<double, double, double> _excessLoss;
    private readonly Func<double, double, double> _prior;

    /// <summary>Defines a basin.</summary>
    /// <param name="centre">The minimum w* (length 1 or 2).</param>
    /// <param name="halfWidth">h, half the side of the box that is the region.</param>
    /// <param name="loss">ℓ, the loss at the minimum.</param>
    /// <param name="excessLoss">K₀(z₁, z₂) ≥ 0 in local coordinates z = w − w* (z₂ = 0 in one dimension).</param>
    /// <param name="prior">The prior density φ(w₁, w₂) in global coordinates (w₂ = 0 in one dimension).</param>
    /// <param name="asymptotic">The theory's (ℓ, λ, m, c) for this basin, used for predictions; ℓ must equal <paramref name="loss"/>.</param>
    public ExactBasin(double[] centre, double halfWidth, double loss, Func<double, double, double> excessLoss, Func<double, double, double> prior, FreeEnergyTerms asymptotic)
    {
        ArgumentNullException.ThrowIfNull(centre);
        ArgumentNullException.ThrowIfNull(excessLoss);
        ArgumentNullException.ThrowIfNull(prior);
        ArgumentNullException.ThrowIfNull(asymptotic);
        if (centre.Length is not (1 or 2))
        {
            throw new ArgumentException($"Exact quadrature supports 1 or 2 parameters; got {centre.Length}.", nameof(centre));
        }
        if (!(halfWidth > 0) || !double.IsFinite(halfWidth))
        {
            throw new ArgumentOutOfRangeException(nameof(halfWidth), halfWidth, "The half-width of the region must be positive and finite.");
        }
        if (asymptotic.Loss != loss)
        {
            throw new ArgumentException("The asymptotic terms must carry the same loss ℓ as the basin.", nameof(asymptotic));
        }
        Centre = [.. centre];
        HalfWidth = halfWidth;
        Loss = loss;
        Asymptotic = asymptotic;
        _excessLoss = excessLoss;
        _prior = prior;
    }

    /// <summary>w*, the centre of the region.</summary>
    public IReadOnlyList<double> Centre { get; }

    /// <summary>h, the half-width of the box.</summary>
    public double HalfWidth { get; }

    /// <summary>ℓ, the loss at the minimum.</summary>
    public double Loss { get; }

    /// <summary>The theory's asymptotic description of this basin.</summary>
    public FreeEnergyTerms Asymptotic { get; }

    /// <summary>Number of parameters (1 or 2).</summary>
    public int Dimension => Centre.Count;

    /// <summary>
    /// A normal-crossing basin K₀ = z₁²·z₂²: λ = 1/2 with multiplicity 2. Its leading term is
    /// Z_n ≈ √π·φ(w*)·n^{−1/2}·ln n·e^{−nℓ}, so c = −ln(√π·φ(w*)) (corrections are O(1/ln n)).
    /// </summary>
    public static ExactBasin NormalCrossing(double[] centre, double halfWidth, double loss, Func<double, double, double> prior)
    {
        ArgumentNullException.ThrowIfNull(centre);
        ArgumentNullException.ThrowIfNull(prior);
        if (centre.Length != 2)
        {
            throw new ArgumentException("The normal-crossing basin z₁²z₂² has two parameters.", nameof(centre));
        }
        double c = -Math.Log(Math.Sqrt(Math.PI) * prior(centre[0], centre[1]));
        return new ExactBasin(centre, halfWidth, loss, static (x, y) => x * x * y * y, prior, new FreeEnergyTerms(loss, 0.5, 2, c));
    }

    /// <summary>
    /// A regular basin K₀ = z₁² + z₂²: λ = d/2 = 1, m = 1; Laplace's method gives Z_n ≈ π·φ(w*)/n·e^{−nℓ},
    /// so c = −ln(π·φ(w*)) (corrections are O(1/n)).
    /// </summary>
    public static ExactBasin Regular(double[] centre, double halfWidth, double loss, Func<double, double, double> prior)
    {
        ArgumentNullException.ThrowIfNull(centre);
        ArgumentNullException.ThrowIfNull(prior);
        if (centre.Length != 2)
        {
            throw new ArgumentException("This regular basin z₁² + z₂² has two parameters.", nameof(centre));
        }
        double c = -Math.Log(Math.PI * prior(centre[0], centre[1]));
        return new ExactBasin(centre, halfWidth, loss, static (x, y) => (x * x) + (y * y), prior, new FreeEnergyTerms(loss, 1.0, 1, c));
    }

    /// <summary>ln Z_n(W) = −n·ℓ + ln ∫_box exp(−n·K₀(w − w*))·φ(w) dw, by nested adaptive Gauss–Kronrod quadrature.</summary>
    /// <param name="n">Sample size (any positive value; it acts as an inverse temperature).</param>
    /// <param name="relativeTolerance">Target relative error of the integral (hence absolute error of ln Z).</param>
    public double LogEvidence(double n, double relativeTolerance = 1e-10)
    {
        if (!(n > 0) || !double.IsFinite(n))
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "n must be positive and finite.");
        }
        double h = HalfWidth;
        double[] ladder = GaussKronrod.GeometricBreakpoints(-h, h, 0.0, floor: 1e-10 * h);
        double c0 = Centre[0];
        double integral;
        if (Dimension == 1)
        {
            integral = GaussKronrod.Integrate(z => Math.Exp(-n * _excessLoss(z, 0.0)) * _prior(c0 + z, 0.0), -h, h, ladder, relativeTolerance).Value;
        }
        else
        {
            double c1 = Centre[1];
            // The inner integral is computed to a tighter tolerance so that its noise does not stall the outer refinement.
            double inner = relativeTolerance * 0.01;
            integral = GaussKronrod.Integrate(
                z1 => GaussKronrod.Integrate(z2 => Math.Exp(-n * _excessLoss(z1, z2)) * _prior(c0 + z1, c1 + z2), -h, h, ladder, inner).Value,
                -h,
                h,
                ladder,
                relativeTolerance).Value;
        }
        if (!(integral > 0))
        {
            throw new ArithmeticException($"The evidence integral underflowed to {integral} at n = {n}; the prior has no mass in the region.");
        }
        return (-n * Loss) + Math.Log(integral);
    }

    /// <summary>F_n(W) = −ln Z_n(W), the exact local free energy.</summary>
    public double FreeEnergy(double n, double relativeTolerance = 1e-10) => -LogEvidence(n, relativeTolerance);

    /// <summary>
    /// The exact posterior log-odds ln Z_n(U)/Z_n(V) of two basins under the same prior; positive favours U.
    /// </summary>
    public static double LogOdds(ExactBasin u, ExactBasin v, double n, double relativeTolerance = 1e-10)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(v);
        // Subtract the loss terms analytically: −n·ℓ is huge and nearly cancels between the basins.
        double lu = u.LogEvidence(n, relativeTolerance) + (n * u.Loss);
        double lv = v.LogEvidence(n, relativeTolerance) + (n * v.Loss);
        return (n * (v.Loss - u.Loss)) + lu - lv;
    }

    /// <summary>
    /// Sign changes of the exact log-odds for n in [minN, maxN]: a scan on <paramref name="scanPoints"/> values
    /// of ln n followed by bisection in ln n down to a relative width <paramref name="relativeWidth"/> of n.
    /// </summary>
    public static IReadOnlyList<double> ExactCriticalSampleSizes(
        ExactBasin u, ExactBasin v, double minN, double maxN, int scanPoints = 48, double relativeWidth = 1e-6, double relativeTolerance = 1e-10)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(v);
        if (!(minN > 0) || !(maxN > minN) || scanPoints < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(minN), "Need 0 < minN < maxN and at least two scan points.");
        }
        var roots = new List<double>();
        double x0 = Math.Log(minN), x1 = Math.Log(maxN);
        double prevX = x0, prevG = LogOdds(u, v, minN, relativeTolerance);
        for (int i = 1; i <= scanPoints; i++)
        {
            double x = x0 + ((x1 - x0) * i / scanPoints);
            double g = LogOdds(u, v, Math.Exp(x), relativeTolerance);
            if (Math.Sign(g) != Math.Sign(prevG) && g != 0 && prevG != 0)
            {
                double a = prevX, b = x, ga = prevG;
                while (b - a > relativeWidth)
                {
                    double m = 0.5 * (a + b);
                    double gm = LogOdds(u, v, Math.Exp(m), relativeTolerance);
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
                roots.Add(Math.Exp(0.5 * (a + b)));
            }
            prevX = x;
            prevG = g;
        }
        return roots;
    }
}
