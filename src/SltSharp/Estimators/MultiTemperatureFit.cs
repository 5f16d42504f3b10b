using MathNet.Numerics.Distributions;

namespace SltSharp.Estimators;

/// <summary>Which finite-temperature correction the multi-temperature fit found supported by the data.</summary>
public enum TemperatureCorrection
{
    /// <summary>λ − (m−1)/(ln t + c) with integer m ≥ 2 is clearly preferred: the gap is a multiplicity.</summary>
    Multiplicity,

    /// <summary>λ − a·t^(−δ) is clearly preferred: a second, close exponent λ + δ.</summary>
    CloseExponent,

    /// <summary>No correction is needed (m = 1 and no visible power-law term): the estimates agree across temperatures.</summary>
    None,

    /// <summary>Both corrections fit the data and neither is clearly better: λ is only known to an interval.</summary>
    Ambiguous,

    /// <summary>No model fits the residuals within their standard errors.</summary>
    NeitherFits,
}

/// <summary>One fitted correction model y(t) = λ − correction(t) with its goodness of fit.</summary>
/// <param name="Name">Readable form of the model.</param>
/// <param name="Lambda">Fitted asymptotic λ.</param>
/// <param name="LambdaStandardError">Standard error of λ (scaled up by √(χ²/dof) when the fit is worse than the SEs allow).</param>
/// <param name="Amplitude">m − 1 for the log models, a for the power model.</param>
/// <param name="AmplitudeStandardError">Standard error of <paramref name="Amplitude"/> (0 when it was held fixed).</param>
/// <param name="Shape">c for the log models, δ for the power model.</param>
/// <param name="ShapeStandardError">Standard error of <paramref name="Shape"/> (NaN when not identifiable).</param>
/// <param name="ChiSquare">Σ ((y_k − ŷ_k)/se_k)².</param>
/// <param name="Parameters">Number of fitted parameters (for the information criterion and the degrees of freedom).</param>
/// <param name="DegreesOfFreedom">Points minus parameters.</param>
/// <param name="Residuals">y_k − ŷ_k per temperature.</param>
public sealed record CorrectionFit(
    string Name, double Lambda, double LambdaStandardError, double Amplitude, double AmplitudeStandardError,
    double Shape, double ShapeStandardError, double ChiSquare, int Parameters, int DegreesOfFreedom, double[] Residuals)
{
    /// <summary>Akaike's criterion for Gaussian errors with known SE: χ² + 2·parameters.</summary>
    public double Aic => ChiSquare + (2.0 * Parameters);

    /// <summary>P(χ²_dof ≥ observed χ²): small values mean the model does not fit (1 when dof = 0).</summary>
    public double FitProbability => DegreesOfFreedom > 0 ? 1.0 - ChiSquared.CDF(DegreesOfFreedom, ChiSquare) : 1.0;
}

/// <summary>The outcome of <see cref="MultiTemperatureFit.Fit"/>.</summary>
public sealed record MultiTemperatureFitResult
{
    /// <summary>λ − (m−1)/(ln t + c) with m−1 free (real).</summary>
    public required CorrectionFit FreeLog { get; init; }

    /// <summary>λ − (m−1)/(ln t + c) with m the best-fitting integer (m = 1 is the constant model λ).</summary>
    public required CorrectionFit Log { get; init; }

    /// <summary>λ − a·t^(−δ), a second exponent λ + δ close to λ.</summary>
    public required CorrectionFit Power { get; init; }

    /// <summary>The multiplicity as fitted real number (1 + free m−1).</summary>
    public double MultiplicityReal => 1.0 + FreeLog.Amplitude;

    /// <summary>Its standard error.</summary>
    public double MultiplicityRealStandardError => FreeLog.AmplitudeStandardError;

    /// <summary>The best integer multiplicity (the one of <see cref="Log"/>); null when the log model is not supported.</summary>
    public int? Multiplicity { get; init; }

    /// <summary>Which correction the data support.</summary>
    public TemperatureCorrection Correction { get; init; }

    /// <summary>True when the power-law correction (a close second exponent) is among the supported models.</summary>
    public bool PowerLawSupported { get; init; }

    /// <summary>True when the integer-multiplicity log model is among the supported models.</summary>
    public bool LogSupported { get; init; }

    /// <summary>The best-supported value of λ (from the model with the lowest information criterion).</summary>
    public double Lambda { get; init; }

    /// <summary>Its standard error within that model.</summary>
    public double LambdaStandardError { get; init; }

    /// <summary>Lower end of the interval spanned by λ ± 2 SE of every supported model.</summary>
    public double IntervalLow { get; init; }

    /// <summary>Upper end of that interval.</summary>
    public double IntervalHigh { get; init; }

    /// <summary>What was decided and why, in words.</summary>
    public string Message { get; init; } = "";
}

/// <summary>
/// Fits the finite-temperature LLC values y_k ≈ t_k·E_{t_k}[K] (t = nβ) to the asymptotic forms of slt-reference §1b:
/// λ − (m−1)/(ln t + c) when the gap is a multiplicity, and λ − a·t^(−δ) when a second exponent λ + δ is close, then
/// decides from the residuals which one the data support.
/// </summary>
/// <remarks>
/// <para>Both models are linear in (λ, amplitude) once the shape (c or δ) is fixed, so the shape is profiled: weighted
/// least squares on a grid, refined by golden-section search. c is gridded through s = 1/(ln t_min + c) ∈ (0, 4], which
/// keeps ln t + c &gt; 0 and reaches c → ∞ (where the correction degenerates into a constant absorbed by λ); δ is gridded
/// in ln δ over [10⁻³, 3]. Standard errors come from the Gauss–Newton covariance (JᵀWJ)⁻¹ at the optimum, scaled by
/// √(χ²/dof) when that is above 1 (the fit is worse than the SEs claim, so they are too small).</para>
/// <para>Decision. The integer multiplicity is the m ∈ {1..5} with the lowest χ² of the log model with m fixed. A model is
/// <i>supported</i> when its fit probability is at least <see cref="MinimumFitProbability"/> and its AIC is within
/// <see cref="AicMargin"/> of the best one (Burnham–Anderson: beyond ~4 a model has considerably less support). Exactly
/// one supported model is reported as the correction; two give <see cref="TemperatureCorrection.Ambiguous"/>, with the
/// interval spanning both (and the free-m fit's λ when a multiplicity is kept). When neither fits, both are kept, their SEs are inflated by √(χ²/dof) and the interval spans
/// both.</para>
/// </remarks>
public static class MultiTemperatureFit
{
    /// <summary>A model whose χ² is more extreme than this tail probability does not fit.</summary>
    public const double MinimumFitProbability = 1e-3;

    /// <summary>AIC difference above which the worse model is no longer considered supported.</summary>
    public const double AicMargin = 4.0;

    private const int MaxMultiplicity = 5;
    private const double MultiplicityMargin = 2.0;
    private const int GridPoints = 400;

    /// <summary>Fits both corrections and decides between them.</summary>
    /// <param name="temperatures">t_k = nβ_k, distinct, &gt; 1 (so that ln t &gt; 0).</param>
    /// <param name="values">y_k, the LLC estimates (or exact values) at t_k.</param>
    /// <param name="standardErrors">se_k &gt; 0 of y_k; for exact values pass the precision you want the decision made at.</param>
    public static MultiTemperatureFitResult Fit(ReadOnlySpan<double> temperatures, ReadOnlySpan<double> values, ReadOnlySpan<double> standardErrors)
    {
        int k = temperatures.Length;
        if (values.Length != k || standardErrors.Length != k)
        {
            throw new ArgumentException($"Got {k} temperatures, {values.Length} values and {standardErrors.Length} standard errors; give one of each per temperature.", nameof(values));
        }
        if (k < 4)
        {
            throw new ArgumentException($"The fit has 3 parameters and needs at least 4 temperatures to judge residuals; got {k}.", nameof(temperatures));
        }
        for (int i = 0; i < k; i++)
        {
            if (!(temperatures[i] > 1) || double.IsInfinity(temperatures[i]))
            {
                throw new ArgumentException($"Temperature t[{i}] = {temperatures[i]} must be finite and > 1 (the log model needs ln t > 0).", nameof(temperatures));
            }
            if (!double.IsFinite(values[i]))
            {
                throw new ArgumentException($"Value y[{i}] = {values[i]} is not finite; drop that temperature or rerun it.", nameof(values));
            }
            if (!(standardErrors[i] > 0) || double.IsInfinity(standardErrors[i]))
            {
                throw new ArgumentException($"Standard error se[{i}] = {standardErrors[i]} must be finite and > 0; for exact values pass a small positive precision.", nameof(standardErrors));
            }
        }
        var t = temperatures.ToArray();
        var y = values.ToArray();
        var se = standardErrors.ToArray();
        var lnT = t.Select(x => Math.Log(x)).ToArray();
        if (lnT.Max() - lnT.Min() < 1e-9)
        {
            throw new ArgumentException("All temperatures are equal; spread them (e.g. over decades) to separate λ from the correction.", nameof(temperatures));
        }

        var freeLog = FitLog(lnT, y, se, fixedAmplitude: null);
        var candidates = Enumerable.Range(1, MaxMultiplicity).Select(m => FitLog(lnT, y, se, fixedAmplitude: m - 1)).ToArray();
        double bestChi = candidates.Min(f => f.ChiSquare);
        // The smallest m whose fit is within MultiplicityMargin of the best: a larger m with a larger c mimics a
        // smaller one over a finite range of t, so the extra multiplicity must earn its place.
        int multiplicity = 1 + Array.FindIndex(candidates, f => f.ChiSquare <= bestChi + MultiplicityMargin);
        CorrectionFit log = candidates[multiplicity - 1];
        var power = FitPower(t, lnT, y, se);
        return Decide(freeLog, log, multiplicity, power);
    }

    private static MultiTemperatureFitResult Decide(CorrectionFit freeLog, CorrectionFit log, int multiplicity, CorrectionFit power)
    {
        double bestAic = Math.Min(log.Aic, power.Aic);
        bool logFits = log.FitProbability >= MinimumFitProbability;
        bool powerFits = power.FitProbability >= MinimumFitProbability;
        bool logSupported = logFits && log.Aic - bestAic <= AicMargin;
        bool powerSupported = powerFits && power.Aic - bestAic <= AicMargin;
        // A power law with a negligible amplitude (or the m = 1 constant) says "no correction"; it is no evidence
        // of a close exponent.
        bool powerTrivial = Math.Abs(power.Amplitude) <= 2 * power.AmplitudeStandardError || !double.IsFinite(power.AmplitudeStandardError);
        var best = log.Aic <= power.Aic ? log : power;

        TemperatureCorrection correction;
        string message;
        List<CorrectionFit> kept;
        if (!logFits && !powerFits)
        {
            correction = TemperatureCorrection.NeitherFits;
            kept = [log, power];
            message = $"Neither λ − (m−1)/(ln t + c) (χ² = {log.ChiSquare:G3}, dof {log.DegreesOfFreedom}) nor λ − a·t^(−δ) (χ² = {power.ChiSquare:G3}, dof {power.DegreesOfFreedom}) fits within the standard errors: the estimates may be biased (check each temperature's diagnostics) or the range of t is too wide for either form; the interval spans both fits with inflated errors.";
        }
        else if (logSupported && powerSupported)
        {
            kept = [log, power];
            if (multiplicity == 1 && powerTrivial)
            {
                kept = [log];
                correction = TemperatureCorrection.None;
                message = "The estimates do not drift with t beyond their errors: no multiplicity and no close exponent is visible, λ is their common value.";
            }
            else
            {
                correction = TemperatureCorrection.Ambiguous;
                message = $"Both a multiplicity m = {multiplicity} (λ = {log.Lambda:G4}) and a close second exponent (δ = {power.Shape:G3}, λ = {power.Lambda:G4}) fit the residuals (ΔAIC = {log.Aic - power.Aic:G3}); they cannot be told apart at this precision and range of t, so λ is reported as the interval spanned by both.";
            }
        }
        else if (logSupported)
        {
            kept = [log];
            correction = multiplicity >= 2 ? TemperatureCorrection.Multiplicity : TemperatureCorrection.None;
            message = multiplicity >= 2
                ? $"The gap closes like (m−1)/(ln t + c) with m = {multiplicity} (fitted m = {1 + freeLog.Amplitude:G3} ± {freeLog.AmplitudeStandardError:G2}); a power law t^(−δ) fits worse (ΔAIC = {power.Aic - log.Aic:G3})."
                : "The estimates do not drift with t beyond their errors: λ is their common value.";
        }
        else
        {
            kept = [powerTrivial && logFits ? log : power];
            correction = powerTrivial ? TemperatureCorrection.None : TemperatureCorrection.CloseExponent;
            message = powerTrivial
                ? "The estimates do not drift with t beyond their errors: λ is their common value."
                : $"The gap closes like a power t^(−δ) with δ = {power.Shape:G3}: a second exponent λ + δ is close, not a multiplicity. The log fit would say λ = {log.Lambda:G4} (m = {multiplicity}), which is rejected (ΔAIC = {log.Aic - power.Aic:G3}); the reported interval is the power fit's λ ± 2 SE.";
        }
        // The integer-m fit's SE ignores the faster terms the form leaves out (t^(−1/3) for powers (3,3) pulls the real
        // m up); the free-m fit of the same family is as much a candidate, so its λ point joins the interval.
        if (kept.Contains(log) && multiplicity >= 2)
        {
            kept.Add(freeLog with { LambdaStandardError = 0 });
        }
        // An unidentifiable SE (NaN) makes the interval unbounded rather than silently narrow.
        static double Half(CorrectionFit f) => double.IsFinite(f.LambdaStandardError) ? 2 * f.LambdaStandardError : double.PositiveInfinity;
        double low = kept.Min(f => f.Lambda - Half(f));
        double high = kept.Max(f => f.Lambda + Half(f));
        if (high - low > Math.Abs(best.Lambda))
        {
            message += " The interval is wider than λ itself: a correction that decays this slowly over the sampled range of t cannot pin λ down; sample over more decades or to smaller standard errors.";
        }
        return new MultiTemperatureFitResult
        {
            FreeLog = freeLog,
            Log = log,
            Power = power,
            Multiplicity = logSupported || correction == TemperatureCorrection.NeitherFits ? multiplicity : null,
            Correction = correction,
            PowerLawSupported = powerSupported && !powerTrivial,
            LogSupported = logSupported,
            Lambda = best.Lambda,
            LambdaStandardError = best.LambdaStandardError,
            IntervalLow = low,
            IntervalHigh = high,
            Message = message,
        };
    }

    // y = λ − b/(ln t + c); b free when fixedAmplitude is null. c = 1/s − ln t_min with s ∈ (0, 4].
    private static CorrectionFit FitLog(double[] lnT, double[] y, double[] se, double? fixedAmplitude)
    {
        double lnMin = lnT.Min();
        if (fixedAmplitude == 0.0)
        {
            // The constant model: c plays no role.
            var (lambda, _, chi) = Linear(lnT, y, se, _ => 0.0);
            double sw = se.Sum(s => 1 / (s * s));
            int dof0 = y.Length - 1;
            double scale0 = Math.Sqrt(Math.Max(1, dof0 > 0 ? chi / dof0 : 1));
            return new CorrectionFit("λ (constant, m = 1)", lambda, scale0 / Math.Sqrt(sw), 0, 0, double.NaN, double.NaN, chi, 1, dof0,
                Residuals(y, i => lambda));
        }
        Func<double, Func<int, double>> basis = s => i => -1.0 / (lnT[i] - lnMin + (1.0 / s));
        double Objective(double s) => fixedAmplitude is { } b
            ? Linear(lnT, Shift(y, basis(s), b), se, _ => 0.0).Chi
            : Linear(lnT, y, se, basis(s)).Chi;
        // c ≤ ln t_max: a larger c puts the correction's scale e^c beyond every sampled t, where it is only a constant
        // offset that trades against λ.
        double sMin = 1.0 / (lnT.Max() + lnT.Max() - lnMin);
        double sBest = ProfileMinimum(Objective, sMin, 4.0, logarithmic: true);
        double c = (1.0 / sBest) - lnMin;
        double lambdaHat, amplitude, chiSquare;
        if (fixedAmplitude is { } fixedB)
        {
            (lambdaHat, _, chiSquare) = Linear(lnT, Shift(y, basis(sBest), fixedB), se, _ => 0.0);
            amplitude = fixedB;
        }
        else
        {
            (lambdaHat, amplitude, chiSquare) = Linear(lnT, y, se, basis(sBest));
        }
        double[] Model(int i) => [1.0, -1.0 / (lnT[i] + c), amplitude / ((lnT[i] + c) * (lnT[i] + c))];
        bool free = fixedAmplitude is null;
        int parameters = free ? 3 : 2;
        var errors = StandardErrors(y.Length, se, i => free ? Model(i) : [Model(i)[0], Model(i)[2]], chiSquare, parameters);
        return new CorrectionFit(free ? "λ − (m−1)/(ln t + c), m real" : $"λ − {fixedAmplitude}/(ln t + c)",
            lambdaHat, errors[0], amplitude, free ? errors[1] : 0.0, c, errors[^1], chiSquare, parameters, y.Length - parameters,
            Residuals(y, i => lambdaHat - (amplitude / (lnT[i] + c))));
    }

    // y = λ − a·t^(−δ), δ ∈ [1e-3, 3].
    private static CorrectionFit FitPower(double[] t, double[] lnT, double[] y, double[] se)
    {
        Func<int, double> Basis(double delta) => i => -Math.Exp(-delta * lnT[i]);
        double delta = ProfileMinimum(d => Linear(lnT, y, se, Basis(d)).Chi, 1e-3, 3.0, logarithmic: true);
        var (lambda, a, chi) = Linear(lnT, y, se, Basis(delta));
        var errors = StandardErrors(y.Length, se, i => [1.0, -Math.Exp(-delta * lnT[i]), a * lnT[i] * Math.Exp(-delta * lnT[i])], chi, 3);
        _ = t;
        return new CorrectionFit("λ − a·t^(−δ)", lambda, errors[0], a, errors[1], delta, errors[2], chi, 3, y.Length - 3,
            Residuals(y, i => lambda + (a * Basis(delta)(i))));
    }

    private static double[] Shift(double[] y, Func<int, double> basis, double amplitude)
    {
        var shifted = new double[y.Length];
        for (int i = 0; i < y.Length; i++)
        {
            shifted[i] = y[i] - (amplitude * basis(i)); // y − b·(−1/(ln t + c)) = λ
        }
        return shifted;
    }

    private static double[] Residuals(double[] y, Func<int, double> model)
    {
        var r = new double[y.Length];
        for (int i = 0; i < y.Length; i++)
        {
            r[i] = y[i] - model(i);
        }
        return r;
    }

    // Weighted least squares of y = λ + b·basis(i) (b = 0 when basis ≡ 0): closed-form 2×2 normal equations.
    private static (double Lambda, double B, double Chi) Linear(double[] lnT, double[] y, double[] se, Func<int, double> basis)
    {
        double s0 = 0, s1 = 0, s11 = 0, sy = 0, s1y = 0;
        for (int i = 0; i < lnT.Length; i++)
        {
            double w = 1.0 / (se[i] * se[i]);
            double x = basis(i);
            s0 += w;
            s1 += w * x;
            s11 += w * x * x;
            sy += w * y[i];
            s1y += w * x * y[i];
        }
        double det = (s0 * s11) - (s1 * s1);
        double lambda, b;
        if (s11 == 0 || Math.Abs(det) <= 1e-14 * s0 * s11)
        {
            // Basis constant or zero: only λ is identifiable.
            lambda = sy / s0;
            b = 0;
        }
        else
        {
            lambda = ((s11 * sy) - (s1 * s1y)) / det;
            b = ((s0 * s1y) - (s1 * sy)) / det;
        }
        double chi = 0;
        for (int i = 0; i < lnT.Length; i++)
        {
            double r = (y[i] - lambda - (b * basis(i))) / se[i];
            chi += r * r;
        }
        return (lambda, b, chi);
    }

    // Grid search then golden-section refinement of a 1-d profile objective.
    private static double ProfileMinimum(Func<double, double> objective, double low, double high, bool logarithmic)
    {
        double To(double x) => logarithmic ? Math.Log(x) : x;
        double From(double u) => logarithmic ? Math.Exp(u) : u;
        double uLow = To(low), uHigh = To(high), step = (uHigh - uLow) / (GridPoints - 1);
        int bestIndex = 0;
        double bestValue = double.PositiveInfinity;
        for (int i = 0; i < GridPoints; i++)
        {
            double v = objective(From(uLow + (i * step)));
            if (v < bestValue)
            {
                bestValue = v;
                bestIndex = i;
            }
        }
        double a = uLow + (Math.Max(0, bestIndex - 1) * step), b = uLow + (Math.Min(GridPoints - 1, bestIndex + 1) * step);
        double ratio = (Math.Sqrt(5) - 1) / 2;
        double x1 = b - (ratio * (b - a)), x2 = a + (ratio * (b - a));
        double f1 = objective(From(x1)), f2 = objective(From(x2));
        for (int iteration = 0; iteration < 60; iteration++)
        {
            if (f1 < f2)
            {
                b = x2;
                x2 = x1;
                f2 = f1;
                x1 = b - (ratio * (b - a));
                f1 = objective(From(x1));
            }
            else
            {
                a = x1;
                x1 = x2;
                f1 = f2;
                x2 = a + (ratio * (b - a));
                f2 = objective(From(x2));
            }
        }
        double u = f1 < f2 ? x1 : x2;
        return objective(From(u)) <= bestValue ? From(u) : From(uLow + (bestIndex * step));
    }

    // Gauss–Newton covariance (JᵀWJ)⁻¹, scaled by max(1, χ²/dof); NaN where the matrix is singular.
    private static double[] StandardErrors(int count, double[] se, Func<int, double[]> jacobianRow, double chi, int parameters)
    {
        var normal = new double[parameters, parameters];
        for (int i = 0; i < count; i++)
        {
            var row = jacobianRow(i);
            double w = 1.0 / (se[i] * se[i]);
            for (int p = 0; p < parameters; p++)
            {
                for (int q = 0; q < parameters; q++)
                {
                    normal[p, q] += w * row[p] * row[q];
                }
            }
        }
        int dof = count - parameters;
        double scale = dof > 0 ? Math.Max(1.0, chi / dof) : 1.0;
        var result = new double[parameters];
        try
        {
            var matrix = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(normal);
            var inverse = matrix.Inverse();
            for (int p = 0; p < parameters; p++)
            {
                double v = inverse[p, p];
                result[p] = v > 0 && double.IsFinite(v) ? Math.Sqrt(v * scale) : double.NaN;
            }
        }
        catch (ArgumentException)
        {
            Array.Fill(result, double.NaN);
        }
        return result;
    }
}
