using MathNet.Numerics.LinearAlgebra;

namespace SltSharp.Development;

/// <summary>
/// Gaussian-process regression of noisy observations yᵢ = f(xᵢ) + εᵢ with known per-point noise standard deviations,
/// a squared-exponential kernel σ_f²·exp(−(x − x')²/(2ℓ²)) around a constant mean, and (ℓ, σ_f) chosen by maximising
/// the marginal likelihood. Gives the posterior of f and of f' jointly, so derivative-based quantities come with
/// honest uncertainty.
/// </summary>
/// <remarks>
/// Why a GP and not a smoothing spline with GCV: the standard errors of λ̂ differ between checkpoints and the GP uses
/// them as they are (heteroscedastic noise), its marginal likelihood picks the smoothness without a held-out set, and
/// its posterior over derivatives turns "does dλ̂/d ln t change sign here?" into a probability.
/// </remarks>
public sealed class GaussianProcessSmoother
{
    private readonly double[] _x;
    private readonly double[] _alpha;
    private readonly MathNet.Numerics.LinearAlgebra.Factorization.Cholesky<double> _cholesky;

    private GaussianProcessSmoother(double[] x, double mean, double lengthScale, double signalStd, double[] alpha, MathNet.Numerics.LinearAlgebra.Factorization.Cholesky<double> cholesky, double logMarginalLikelihood)
    {
        _x = x;
        Mean = mean;
        LengthScale = lengthScale;
        SignalStd = signalStd;
        _alpha = alpha;
        _cholesky = cholesky;
        LogMarginalLikelihood = logMarginalLikelihood;
    }

    /// <summary>The constant prior mean (the average of the observations).</summary>
    public double Mean { get; }

    /// <summary>ℓ, the kernel length scale chosen by marginal likelihood.</summary>
    public double LengthScale { get; }

    /// <summary>σ_f, the kernel signal standard deviation chosen by marginal likelihood.</summary>
    public double SignalStd { get; }

    /// <summary>The log marginal likelihood at the chosen hyperparameters.</summary>
    public double LogMarginalLikelihood { get; }

    /// <summary>
    /// Fits the GP: (ℓ, σ_f) maximise the marginal likelihood over a log grid (ℓ from the median spacing of x to the
    /// range of x, σ_f from 0.1 to 10 times the spread of y), then over a finer grid around the best point.
    /// </summary>
    /// <exception cref="ArgumentException">On mismatched lengths, fewer than 4 points, unsorted x, or non-positive noise.</exception>
    public static GaussianProcessSmoother Fit(ReadOnlySpan<double> x, ReadOnlySpan<double> y, ReadOnlySpan<double> noiseStd)
    {
        if (x.Length != y.Length || x.Length != noiseStd.Length)
        {
            throw new ArgumentException($"x, y and noise must have equal lengths; got {x.Length}, {y.Length}, {noiseStd.Length}.");
        }
        if (x.Length < 4)
        {
            throw new ArgumentException($"Smoothing needs at least 4 points; got {x.Length}.", nameof(x));
        }
        for (int i = 0; i < x.Length; i++)
        {
            if (!double.IsFinite(x[i]) || !double.IsFinite(y[i]))
            {
                throw new ArgumentException($"Point {i} is not finite (x = {x[i]}, y = {y[i]}).");
            }
            if (!(noiseStd[i] > 0) || !double.IsFinite(noiseStd[i]))
            {
                throw new ArgumentException($"Noise standard deviations must be positive and finite; point {i} has {noiseStd[i]}. Use the standard error of each λ̂.", nameof(noiseStd));
            }
            if (i > 0 && !(x[i] > x[i - 1]))
            {
                throw new ArgumentException("x must be strictly increasing (sort checkpoints by step and drop duplicates).", nameof(x));
            }
        }

        double[] xs = x.ToArray();
        double[] ys = y.ToArray();
        double[] noiseVar = [.. noiseStd.ToArray().Select(s => s * s)];
        double mean = ys.Average();
        double[] centred = [.. ys.Select(v => v - mean)];
        double spread = Math.Sqrt(centred.Average(v => v * v));
        if (spread == 0)
        {
            spread = Math.Sqrt(noiseVar.Average());
        }
        double range = xs[^1] - xs[0];
        double[] gaps = [.. Enumerable.Range(1, xs.Length - 1).Select(i => xs[i] - xs[i - 1]).Order()];
        double minScale = Math.Max(gaps[gaps.Length / 2], range * 1e-3);

        double bestL = double.NaN, bestS = double.NaN, bestLml = double.NegativeInfinity;
        void Search(double l0, double l1, int nl, double s0, double s1, int ns)
        {
            for (int a = 0; a < nl; a++)
            {
                double l = l0 * Math.Pow(l1 / l0, nl == 1 ? 0 : a / (nl - 1.0));
                for (int b = 0; b < ns; b++)
                {
                    double s = s0 * Math.Pow(s1 / s0, ns == 1 ? 0 : b / (ns - 1.0));
                    double lml = LogMarginal(xs, centred, noiseVar, l, s, out _, out _);
                    if (lml > bestLml)
                    {
                        (bestLml, bestL, bestS) = (lml, l, s);
                    }
                }
            }
        }
        Search(minScale, range, 24, 0.1 * spread, 10 * spread, 16);
        Search(bestL / 1.3, bestL * 1.3, 9, bestS / 1.4, bestS * 1.4, 9);

        LogMarginal(xs, centred, noiseVar, bestL, bestS, out var cholesky, out double[] alpha);
        return new GaussianProcessSmoother(xs, mean, bestL, bestS, alpha, cholesky!, bestLml);
    }

    /// <summary>Posterior means of f and f' at the given points.</summary>
    public (double[] Value, double[] Derivative) PosteriorMean(ReadOnlySpan<double> at)
    {
        double[] f = new double[at.Length], d = new double[at.Length];
        double inv = 1.0 / (LengthScale * LengthScale);
        for (int g = 0; g < at.Length; g++)
        {
            double sf = 0, sd = 0;
            for (int i = 0; i < _x.Length; i++)
            {
                double r = at[g] - _x[i];
                double k = SignalStd * SignalStd * Math.Exp(-0.5 * r * r * inv);
                sf += k * _alpha[i];
                sd += -r * inv * k * _alpha[i];
            }
            f[g] = Mean + sf;
            d[g] = sd;
        }
        return (f, d);
    }

    /// <summary>
    /// The joint posterior covariance of (f(a₁..a_G), f'(a₁..a_G)) as a 2G×2G matrix (values first, then derivatives).
    /// </summary>
    public Matrix<double> PosteriorCovariance(ReadOnlySpan<double> at)
    {
        int g = at.Length, n = _x.Length;
        double l2 = LengthScale * LengthScale, s2 = SignalStd * SignalStd;
        var prior = Matrix<double>.Build.Dense(2 * g, 2 * g);
        var cross = Matrix<double>.Build.Dense(n, 2 * g);
        for (int a = 0; a < g; a++)
        {
            for (int b = 0; b < g; b++)
            {
                double r = at[a] - at[b];
                double k = s2 * Math.Exp(-0.5 * r * r / l2);
                prior[a, b] = k;
                prior[g + a, b] = -r / l2 * k;       // cov(f'(a), f(b))
                prior[a, g + b] = r / l2 * k;        // cov(f(a), f'(b))
                prior[g + a, g + b] = ((1 / l2) - (r * r / (l2 * l2))) * k;
            }
            for (int i = 0; i < n; i++)
            {
                double r = at[a] - _x[i];
                double k = s2 * Math.Exp(-0.5 * r * r / l2);
                cross[i, a] = k;
                cross[i, g + a] = -r / l2 * k;
            }
        }
        var solved = _cholesky.Solve(cross);
        return prior - (cross.TransposeThisAndMultiply(solved));
    }

    private static double LogMarginal(double[] x, double[] y, double[] noiseVar, double l, double s, out MathNet.Numerics.LinearAlgebra.Factorization.Cholesky<double>? cholesky, out double[] alpha)
    {
        int n = x.Length;
        var k = Matrix<double>.Build.Dense(n, n);
        double s2 = s * s, inv = 1.0 / (l * l);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double r = x[i] - x[j];
                double v = s2 * Math.Exp(-0.5 * r * r * inv);
                k[i, j] = v;
                k[j, i] = v;
            }
            k[i, i] += noiseVar[i];
        }
        try
        {
            cholesky = k.Cholesky();
        }
        catch (ArgumentException)
        {
            cholesky = null;
            alpha = [];
            return double.NegativeInfinity;
        }
        var a = cholesky.Solve(Vector<double>.Build.DenseOfArray(y));
        alpha = a.ToArray();
        double quad = 0;
        for (int i = 0; i < n; i++)
        {
            quad += y[i] * alpha[i];
        }
        return (-0.5 * quad) - (0.5 * cholesky.DeterminantLn) - (0.5 * n * Math.Log(2 * Math.PI));
    }
}
