namespace SltSharp.Theory;

/// <summary>
/// Exact finite-temperature values of the LLC estimator's target, t·(E[L] − L(0)), for normal-crossing models under
/// the localized tempered posterior p(w) ∝ exp(−t·L(w) − (γ/2)·||w||²), by numerical quadrature. These are the oracles
/// the samplers are tested against; they share no code with the samplers.
/// </summary>
/// <remarks>
/// <para>Both models depend on w only through f(w) = Π_j w_j^{p_j} (and L − L(0) = a·f² − 2b·f):</para>
/// <list type="bullet">
/// <item>potential K(w) = Π w_j^{2p_j}: a = 1, b = 0;</item>
/// <item>data model y = x·f(w) fitted by MSE: L_n(w) − L_n(0) = Sxx·f² − 2·Sxy·f with Sxx = (1/n)Σx², Sxy = (1/n)Σxy.</item>
/// </list>
/// <para>Method. Coordinates with p_j = 0 factor out of both integrals and cancel. The integrand depends on the signs of
/// the w_j only through sign(f), so each orthant is mapped to the positive one; when some p_j is odd half of the orthants
/// have f &lt; 0, otherwise all have f &gt; 0. On the positive orthant substitute w_j = e^{u_j}: the measure
/// e^{−γw²/2}dw becomes μ(u) = exp(u − (γ/2)e^{2u}) du, which is smooth, has O(1) features and decays exponentially as
/// u → −∞ and doubly exponentially as u → +∞. With v_j = p_j·u_j, ln|f| = s = Σ_j v_j, whose density ρ(s) is the
/// convolution of the densities μ(v/p_j)/p_j. Both integrals then become one-dimensional in s:
/// Z = ∫ Σ_± c_± e^{−t·E_±(s)} ρ(s) ds and t·E[L − L(0)] = ∫ Σ_± c_± t·E_±(s) e^{−t·E_±(s)} ρ(s) ds / Z with
/// E_±(s) = a·e^{2s} ∓ 2b·e^{s}.</para>
/// <para>All integrals (the convolutions and the final one) use the trapezoid rule on one uniform grid of spacing h.
/// For functions analytic in a strip |Im s| &lt; d and decaying at both ends its error is O(e^{−2πd/h}); here
/// d = π/4 (where Re e^{2u} stays positive), so h = 0.05 gives an error far below double precision. The grid spans
/// from 40·p_max below the point where t·a·f² = 1 (the slowest tail, ρ(s) ~ e^{s/p_max}, is then below e^{−40})
/// up to where γw²/2 = 50.</para>
/// </remarks>
public static class NormalCrossingExact
{
    private const double GridSpacing = 0.05;

    /// <summary>
    /// t·E[K] for K(w) = Π_j w_j^{2p_j} under p(w) ∝ exp(−t·K(w) − (γ/2)·||w||²): the exact value the LLC estimator with
    /// nβ = t, localization γ at w* = 0 converges to (K(0) = 0).
    /// </summary>
    /// <param name="powers">The powers p_j (≥ 0, at least one positive).</param>
    /// <param name="nBeta">The inverse temperature t = nβ (&gt; 0).</param>
    /// <param name="localization">γ &gt; 0 (weight decay at w* = 0 simply adds to γ).</param>
    public static double PotentialLlc(ReadOnlySpan<int> powers, double nBeta, double localization = 1.0)
        => DataModelLlc(powers, 1.0, 0.0, nBeta, localization);

    /// <summary>
    /// t·E[L_n(w) − L_n(0)] for the normal-crossing data model L_n(w) = (1/n)Σ_i (y_i − x_i·Π_j w_j^{p_j})², whose
    /// posterior depends on the data only through <paramref name="sxx"/> = (1/n)Σx_i² and <paramref name="sxy"/> =
    /// (1/n)Σx_i·y_i.
    /// </summary>
    public static double DataModelLlc(ReadOnlySpan<int> powers, double sxx, double sxy, double nBeta, double localization = 1.0)
    {
        if (!(nBeta > 0) || double.IsInfinity(nBeta))
        {
            throw new ArgumentOutOfRangeException(nameof(nBeta), nBeta, "nβ must be a finite positive number.");
        }
        if (!(localization > 0) || double.IsInfinity(localization))
        {
            throw new ArgumentOutOfRangeException(nameof(localization), localization,
                "The localization γ must be finite and > 0 for the posterior to be proper (use e.g. 1).");
        }
        if (!(sxx > 0) || !double.IsFinite(sxy))
        {
            throw new ArgumentOutOfRangeException(nameof(sxx), sxx, "Sxx must be > 0 and Sxy finite.");
        }
        var active = ActivePowers(powers);
        if (active.Count == 0)
        {
            return 0.0; // f ≡ 1, so L − L(0) ≡ 0
        }
        int maxPower = active.Max();
        bool anyOdd = active.Any(p => (p & 1) == 1);

        double h = GridSpacing;
        var (sStart, density) = LogProductDensity(active, maxPower, nBeta * sxx, localization);
        // Signs of f: with an odd power half of the orthants have f < 0.
        ReadOnlySpan<double> signs = anyOdd ? [1.0, -1.0] : [1.0];
        double weight = 1.0 / signs.Length;

        // Shift the exponent by its minimum so that a negative energy (b ≠ 0) cannot overflow.
        double minEnergy = 0.0;
        for (int i = 0; i < density.Length; i++)
        {
            double f = Math.Exp(sStart + (i * h));
            foreach (double sign in signs)
            {
                minEnergy = Math.Min(minEnergy, nBeta * ((sxx * f * f) - (2.0 * sign * sxy * f)));
            }
        }

        double z = 0.0, numerator = 0.0;
        for (int i = 0; i < density.Length; i++)
        {
            if (density[i] == 0.0)
            {
                continue;
            }
            double f = Math.Exp(sStart + (i * h));
            foreach (double sign in signs)
            {
                double energy = nBeta * ((sxx * f * f) - (2.0 * sign * sxy * f));
                double shifted = energy - minEnergy;
                if (shifted > 745.0)
                {
                    continue; // e^{−shifted} underflows
                }
                double boltzmann = weight * density[i] * Math.Exp(-shifted);
                z += boltzmann;
                numerator += energy * boltzmann;
            }
        }
        return numerator / z;
    }

    /// <summary>The positive powers, in order (a zero power leaves its weight out of the model); throws on a negative one.</summary>
    private static List<int> ActivePowers(ReadOnlySpan<int> powers)
    {
        var active = new List<int>();
        foreach (int p in powers)
        {
            if (p < 0)
            {
                throw new ArgumentException("Powers must be ≥ 0.", nameof(powers));
            }
            if (p > 0)
            {
                active.Add(p);
            }
        }
        return active;
    }

    /// <summary>
    /// The exact distribution of u = −ln K under p(w) ∝ exp(−t·K(w) − (γ/2)·||w||²) for K(w) = Π_j w_j^{2p_j}: the
    /// oracle for fits of the loss distribution's shape (<see cref="Estimators.DensityOfStatesFit"/>). Returns the
    /// quadrature grid of u (ascending, spacing 2·0.05) and the probability of each grid cell (summing to 1).
    /// </summary>
    public static (double[] U, double[] Probability) PotentialLogGapDistribution(ReadOnlySpan<int> powers, double nBeta, double localization = 1.0)
    {
        if (!(nBeta > 0) || double.IsInfinity(nBeta) || !(localization > 0) || double.IsInfinity(localization))
        {
            throw new ArgumentOutOfRangeException(nameof(nBeta), nBeta, "nβ and γ must be finite and > 0.");
        }
        var active = ActivePowers(powers);
        if (active.Count == 0)
        {
            throw new ArgumentException("At least one power must be positive (otherwise K ≡ 1).", nameof(powers));
        }
        var (sStart, density) = LogProductDensity(active, active.Max(), nBeta, localization);
        int n = density.Length;
        var u = new double[n];
        var probability = new double[n];
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            // Grid point i of s = ln|f| becomes u = −2s; reversed so that u ascends.
            double s = sStart + (i * GridSpacing);
            double weight = density[i] * Math.Exp(-nBeta * Math.Exp(2 * s));
            u[n - 1 - i] = -2 * s;
            probability[n - 1 - i] = weight;
            total += weight;
        }
        for (int i = 0; i < n; i++)
        {
            probability[i] /= total;
        }
        return (u, probability);
    }

    // The density of s = ln|f| = Σ_j p_j·ln|w_j| on the positive orthant (see the remarks): grid start and values.
    // scale = t·a sets where the posterior's cut-off t·a·f² = 1 lies, and so how far down the grid must reach.
    private static (double Start, double[] Density) LogProductDensity(List<int> active, int maxPower, double scale, double localization)
    {
        double h = GridSpacing;
        double uMax = 0.5 * Math.Log(100.0 / localization);
        double s0 = Math.Min(0.0, -0.5 * Math.Log(scale));
        double vLow = s0 - (40.0 * maxPower) - (active.Count * Math.Abs(uMax) * maxPower) - 5.0;
        double[] density = CoordinateDensity(active[0], vLow, uMax, localization, h);
        for (int j = 1; j < active.Count; j++)
        {
            density = Convolve(density, CoordinateDensity(active[j], vLow, uMax, localization, h), h);
        }
        return (active.Count * vLow, density);
    }

    // Density of v = p·u on the grid v_k = vLow + k·h, up to v = p·uMax, with μ(u) = exp(u − (γ/2)e^{2u}).
    private static double[] CoordinateDensity(int power, double vLow, double uMax, double gamma, double h)
    {
        int count = (int)Math.Ceiling(((power * uMax) - vLow) / h) + 1;
        var result = new double[count];
        for (int k = 0; k < count; k++)
        {
            double u = (vLow + (k * h)) / power;
            result[k] = Math.Exp(u - (0.5 * gamma * Math.Exp(2.0 * u))) / power;
        }
        return result;
    }

    // Trapezoid-rule convolution on a common grid: the result lives on the grid starting at the sum of both starts.
    private static double[] Convolve(double[] a, double[] b, double h)
    {
        var result = new double[a.Length + b.Length - 1];
        for (int i = 0; i < a.Length; i++)
        {
            double ai = a[i] * h;
            if (ai == 0.0)
            {
                continue;
            }
            for (int j = 0; j < b.Length; j++)
            {
                result[i + j] += ai * b[j];
            }
        }
        return result;
    }
}
