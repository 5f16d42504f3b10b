using MathNet.Numerics.Distributions;
using MathNet.Numerics.IntegralTransforms;

namespace SltSharp.Diagnostics;

/// <summary>
/// Convergence diagnostics of scalar traces from several chains: split-R̂ (classic and rank-normalised, Vehtari, Gelman,
/// Simpson, Carpenter &amp; Bürkner 2021), effective sample size with Geyer's initial monotone sequence, and a
/// first-half/second-half drift test.
/// </summary>
/// <remarks>
/// Every method takes one array per chain. Chains of unequal length are cut to the shortest. "Split" means each chain
/// is cut into its first and second half (the middle draw of an odd length is dropped), so a trend inside a chain shows
/// up as disagreement between halves.
/// </remarks>
public static class ConvergenceDiagnostics
{
    /// <summary>
    /// Rank-normalised split-R̂: the larger of the R̂ of the rank-normalised draws (bulk) and of the rank-normalised
    /// folded draws |x − median| (tails/scale). ≈ 1 when chains agree; Vehtari et al. recommend &lt; 1.01.
    /// </summary>
    public static double SplitRHat(IReadOnlyList<double[]> chains)
    {
        var split = Split(chains);
        double bulk = RHatOf(RankNormalize(split));
        double median = Median(split);
        var folded = split.Select(c => c.Select(x => Math.Abs(x - median)).ToArray()).ToArray();
        double tail = RHatOf(RankNormalize(folded));
        return Math.Max(bulk, tail);
    }

    /// <summary>Classic split-R̂ (Gelman et al., BDA3): √(var⁺/W) on the split chains, without rank normalisation.</summary>
    public static double ClassicSplitRHat(IReadOnlyList<double[]> chains) => RHatOf(Split(chains));

    /// <summary>Bulk effective sample size: the ESS of the rank-normalised split chains.</summary>
    public static double BulkEffectiveSampleSize(IReadOnlyList<double[]> chains) => EssOf(RankNormalize(Split(chains)));

    /// <summary>Effective sample size of the raw values (split chains), the right one for the standard error of a mean.</summary>
    public static double EffectiveSampleSize(IReadOnlyList<double[]> chains) => EssOf(Split(chains));

    /// <summary>
    /// The drift between the first and second half of the traces, in standard errors: z = mean over chains of
    /// (mean of 2nd half − mean of 1st half), divided by its standard error computed from the pooled variance and the
    /// integrated autocorrelation time τ = draws/ESS. |z| &gt; 3 means the trace is still moving (burn-in too short).
    /// </summary>
    public static double DriftZScore(IReadOnlyList<double[]> chains)
    {
        var equal = Equalize(chains);
        int n = equal[0].Length / 2;
        if (n < 4)
        {
            return double.NaN;
        }
        int m = equal.Length;
        double driftSum = 0, varianceSum = 0;
        foreach (var c in equal)
        {
            driftSum += Mean(c.AsSpan(c.Length - n, n)) - Mean(c.AsSpan(0, n));
            varianceSum += Variance(c);
        }
        double ess = EssOf(equal);
        double tau = equal.Length * equal[0].Length / ess;
        double perHalfVariance = varianceSum / m * tau / n;
        double se = Math.Sqrt(2 * perHalfVariance / m);
        return se > 0 ? driftSum / m / se : double.NaN;
    }

    internal static double[][] Equalize(IReadOnlyList<double[]> chains)
    {
        ArgumentNullException.ThrowIfNull(chains);
        if (chains.Count == 0)
        {
            throw new ArgumentException("At least one chain is needed.", nameof(chains));
        }
        int n = chains.Min(c => c.Length);
        if (n < 4)
        {
            throw new ArgumentException($"Each chain needs at least 4 draws for these diagnostics; the shortest has {n}.", nameof(chains));
        }
        return chains.Select(c => c.Length == n ? c : c[..n]).ToArray();
    }

    private static double[][] Split(IReadOnlyList<double[]> chains)
    {
        var equal = Equalize(chains);
        int half = equal[0].Length / 2;
        var result = new double[2 * equal.Length][];
        for (int i = 0; i < equal.Length; i++)
        {
            result[2 * i] = equal[i][..half];
            result[(2 * i) + 1] = equal[i][^half..];
        }
        return result;
    }

    private static double[][] RankNormalize(double[][] chains)
    {
        int n = chains[0].Length, m = chains.Length, total = n * m;
        var order = new int[total];
        var values = new double[total];
        for (int c = 0; c < m; c++)
        {
            chains[c].CopyTo(values, c * n);
        }
        for (int i = 0; i < total; i++)
        {
            order[i] = i;
        }
        Array.Sort((double[])values.Clone(), order);
        var z = new double[total];
        // Average ranks for ties, then Blom's offset: z = Φ⁻¹((r − 3/8)/(S + 1/4)).
        for (int i = 0; i < total;)
        {
            int j = i;
            while (j + 1 < total && values[order[j + 1]] == values[order[i]])
            {
                j++;
            }
            double rank = ((i + j) / 2.0) + 1;
            double score = Normal.InvCDF(0, 1, (rank - 0.375) / (total + 0.25));
            for (int k = i; k <= j; k++)
            {
                z[order[k]] = score;
            }
            i = j + 1;
        }
        var result = new double[m][];
        for (int c = 0; c < m; c++)
        {
            result[c] = z.AsSpan(c * n, n).ToArray();
        }
        return result;
    }

    private static double RHatOf(double[][] chains)
    {
        int m = chains.Length, n = chains[0].Length;
        var means = chains.Select(c => Mean(c)).ToArray();
        double w = chains.Average(c => Variance(c));
        double b = n * Variance(means);
        double varPlus = (((n - 1.0) / n) * w) + (b / n);
        if (w == 0)
        {
            return b == 0 ? 1.0 : double.PositiveInfinity;
        }
        return m < 2 ? double.NaN : Math.Sqrt(varPlus / w);
    }

    // Stan's multi-chain ESS: ρ_t = 1 − (W − mean_m acov_m(t))/var⁺, Geyer's initial positive sequence of pair sums
    // made monotone, τ = −1 + 2·Σ pairs, ESS = M·N/τ, with τ ≥ 1/log10(M·N) as in Stan to bound antithetic chains.
    private static double EssOf(double[][] chains)
    {
        int m = chains.Length, n = chains[0].Length;
        var centered = chains.Select(c =>
        {
            double mu = Mean(c);
            return c.Select(x => x - mu).ToArray();
        }).ToArray();
        var means = chains.Select(c => Mean(c)).ToArray();
        double w = chains.Average(c => Variance(c));
        double varPlus = (((n - 1.0) / n) * w) + (m > 1 ? Variance(means) : 0.0);
        if (!(varPlus > 0))
        {
            return double.NaN;
        }

        // Autocovariances of every chain at all lags by FFT (zero-padded to avoid circular wrap), O(M·N log N).
        var meanAcov = new double[n];
        foreach (var c in centered)
        {
            var acov = Autocovariance(c);
            for (int t = 0; t < n; t++)
            {
                meanAcov[t] += acov[t] / m;
            }
        }
        double Rho(int lag) => 1 - ((w - meanAcov[lag]) / varPlus);

        double tau = -1;
        double previousPair = double.PositiveInfinity;
        for (int t = 0; t + 1 < n - 2; t += 2)
        {
            double pair = (t == 0 ? 1.0 : Rho(t)) + Rho(t + 1);
            if (pair <= 0)
            {
                break;
            }
            pair = Math.Min(pair, previousPair);
            previousPair = pair;
            tau += 2 * pair;
        }
        double total = (double)m * n;
        tau = Math.Max(tau, 1 / Math.Log10(total));
        return total / tau;
    }

    // acov(t) = (1/n)·Σ_{i<n−t} x_i·x_{i+t} for a centred series.
    private static double[] Autocovariance(double[] x)
    {
        int n = x.Length;
        int size = 1;
        while (size < 2 * n)
        {
            size <<= 1;
        }
        var buffer = new System.Numerics.Complex[size];
        for (int i = 0; i < n; i++)
        {
            buffer[i] = x[i];
        }
        Fourier.Forward(buffer, FourierOptions.NoScaling);
        for (int i = 0; i < size; i++)
        {
            double re = buffer[i].Real, im = buffer[i].Imaginary;
            buffer[i] = (re * re) + (im * im);
        }
        Fourier.Inverse(buffer, FourierOptions.NoScaling);
        var result = new double[n];
        for (int t = 0; t < n; t++)
        {
            result[t] = buffer[t].Real / size / n;
        }
        return result;
    }

    private static double Median(double[][] chains)
    {
        var all = chains.SelectMany(c => c).Order().ToArray();
        int k = all.Length;
        return k % 2 == 1 ? all[k / 2] : 0.5 * (all[(k / 2) - 1] + all[k / 2]);
    }

    internal static double Mean(ReadOnlySpan<double> x)
    {
        double s = 0;
        foreach (double v in x)
        {
            s += v;
        }
        return s / x.Length;
    }

    internal static double Variance(ReadOnlySpan<double> x)
    {
        double mu = Mean(x), s = 0;
        foreach (double v in x)
        {
            s += (v - mu) * (v - mu);
        }
        return s / (x.Length - 1);
    }
}
