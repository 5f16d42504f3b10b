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

    /// <summary>λ − (m−1)/(ln t + c) with m ≥ 2 the chosen integer, without the nuisance term.</summary>
    public required CorrectionFit Log { get; init; }

    /// <summary>λ − (m−1)/(ln t + c) − a·t^(−δ) with the same integer m and a faster nuisance term (δ bounded below).</summary>
    public required CorrectionFit LogWithPower { get; init; }

    /// <summary>λ − a·t^(−δ), a second exponent λ + δ close to λ.</summary>
    public required CorrectionFit Power { get; init; }

    /// <summary>The multiplicity as fitted real number (1 + free m−1).</summary>
    public double MultiplicityReal => 1.0 + FreeLog.Amplitude;

    /// <summary>Its standard error.</summary>
    public double MultiplicityRealStandardError => FreeLog.AmplitudeStandardError;

    /// <summary>The integer multiplicity (the one of <see cref="Log"/>) when a multiplicity is decided or still possible
    /// (<see cref="TemperatureCorrection.Ambiguous"/>, <see cref="TemperatureCorrection.NeitherFits"/>); null otherwise.</summary>
    public int? Multiplicity { get; init; }

    /// <summary>Which correction the data support.</summary>
    public TemperatureCorrection Correction { get; init; }

    /// <summary>True when the power-law correction (a close second exponent) is among the supported models.</summary>
    public bool PowerLawSupported { get; init; }

    /// <summary>True when a multiplicity m ≥ 2 is decided or among the supported models.</summary>
    public bool LogSupported { get; init; }

    /// <summary>The best-supported value of λ (from the decided model, or the lower-AIC one when ambiguous).</summary>
    public double Lambda { get; init; }

    /// <summary>Its standard error within that model.</summary>
    public double LambdaStandardError { get; init; }

    /// <summary>Lower end of the interval spanned by λ ± 2 SE of every supported model.</summary>
    public double IntervalLow { get; init; }

    /// <summary>Upper end of that interval.</summary>
    public double IntervalHigh { get; init; }

    /// <summary>What was decided and why, in words.</summary>
    public string Message { get; init; } = "";

    /// <summary>
    /// The fit of the loss distributions' shape (<see cref="DensityOfStatesFit"/>) when the draws allowed it (full-data
    /// losses, every gap K &gt; 0); it then decides <see cref="Correction"/>, <see cref="Multiplicity"/>,
    /// <see cref="Lambda"/> and the interval, and the fields above keep the fit of the means for comparison.
    /// </summary>
    public DensityOfStatesResult? DensityOfStates { get; init; }

    /// <summary>"loss distributions" when <see cref="DensityOfStates"/> decided, otherwise "means".</summary>
    public string DecidedBy { get; init; } = "means";
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
/// <para>Decision: two families of models compete. m = 1: the constant λ and the power law λ − a·t^(−δ). m ≥ 2: for each integer
/// m, λ − (m−1)/(ln t + c), alone or plus a faster nuisance term a·t^(−δ) (δ ≥ 3/(ln t_max − ln t_min)) for the next
/// order of the expansion, which for powers (k,k) is t^(−2λ) and at high precision otherwise pushes the data off the
/// pure log form. Within a family only models whose fit probability is at least <see cref="MinimumFitProbability"/>
/// count, ranked by AIC; m is the smallest integer within <see cref="MultiplicityMargin"/> of the best m. The families are
/// compared by ΔAIC = AIC(best m = 1) − AIC(best m ≥ 2): beyond ±<see cref="AicMargin"/> (Burnham–Anderson: "considerably
/// less support", a likelihood ratio of e² ≈ 7.4 after the parameter penalty) the better family is reported
/// (<see cref="TemperatureCorrection.Multiplicity"/>, or <see cref="TemperatureCorrection.CloseExponent"/> /
/// <see cref="TemperatureCorrection.None"/>); within it the answer is <see cref="TemperatureCorrection.Ambiguous"/> (or
/// None when the constant is the best model) and the interval spans both families' λ ± 2 SE.</para>
/// <para>Why the decision can be ambiguous. Over a finite range of u = ln t, 1/(u + c) and e^(−δu) with small δ are
/// nearly the same curve: the log is a power law whose local exponent 1/(u + c) slowly falls. On exact values at 1%
/// precision over t = 10²…10⁸ the power law fits powers (3,3) better than the log (χ² 0.01 vs 2.6) and the log fits
/// (2,3) better than the power law, so no rule can tell them apart there. At 0.2% over 10²…10¹² the evidence is
/// ΔAIC = 61, 30, 6 for (1,1), (2,2), (3,3) (multiplicity, m = 2, λ within 0.2%), −22 and −60 for (1,2), (1,3)
/// (close exponent) and +1 for (2,3), whose δ = 1/12 is too small to separate from a log there (ambiguous, interval
/// holds λ).</para>
/// <para>The draws' loss distributions carry far more of this information than their means: when the draws allow it,
/// <see cref="MultiTemperatureEstimator"/> lets <see cref="DensityOfStatesFit"/> decide, which separates all six cases at
/// 1% over 2 decades.</para>
/// </remarks>
public static class MultiTemperatureFit
{
    /// <summary>A model whose χ² is more extreme than this tail probability does not fit.</summary>
    public const double MinimumFitProbability = 1e-3;

    /// <summary>AIC difference above which the worse model is no longer considered supported.</summary>
    public const double AicMargin = 4.0;

    private const int MaxMultiplicity = 5;
    /// <summary>A larger integer m must beat the smallest adequate one by more than this AIC difference to be chosen.</summary>
    public const double MultiplicityMargin = 2.0;
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
        var plainLogs = Enumerable.Range(1, MaxMultiplicity).Select(m => FitLog(lnT, y, se, fixedAmplitude: m - 1)).ToArray();
        // Index m−2: the log model with m ≥ 2 plus the faster power term it leaves out.
        var logsWithPower = Enumerable.Range(2, MaxMultiplicity - 1).Select(m => FitLogPower(lnT, y, se, m)).ToArray();
        var power = FitPower(t, lnT, y, se);
        return Decide(freeLog, plainLogs, logsWithPower, power);
    }

    private static bool Fits(CorrectionFit f) => f.FitProbability >= MinimumFitProbability;

    private static MultiTemperatureFitResult Decide(CorrectionFit freeLog, CorrectionFit[] plainLogs, CorrectionFit[] logsWithPower, CorrectionFit power)
    {
        // The best model of each m ≥ 2 (plain log or log plus the faster power term, by AIC among those that fit), then
        // the smallest m within MultiplicityMargin of the best of them: a larger m with a larger c mimics a smaller one
        // over a finite range of t, so the extra multiplicity must earn its place.
        var perM = new CorrectionFit?[MaxMultiplicity + 1];
        for (int m = 2; m <= MaxMultiplicity; m++)
        {
            perM[m] = new[] { plainLogs[m - 1], logsWithPower[m - 2] }.Where(Fits).OrderBy(f => f.Aic).FirstOrDefault();
        }
        double bestMultiAic = perM.Where(f => f is not null).Select(f => f!.Aic).DefaultIfEmpty(double.PositiveInfinity).Min();
        int multiplicity = 2;
        for (int m = 2; m <= MaxMultiplicity; m++)
        {
            if (perM[m] is { } f && f.Aic <= bestMultiAic + MultiplicityMargin)
            {
                multiplicity = m;
                break;
            }
        }
        CorrectionFit? multi = perM[multiplicity];
        // Every model of the chosen m that fits and is within AicMargin of the best: the reported interval spans them all,
        // because one model's SE ignores the error of its own form (the plain log's neglected t^(−2λ) terms).
        var multiSupported = new[] { plainLogs[multiplicity - 1], logsWithPower[multiplicity - 2] }
            .Where(f => Fits(f) && f.Aic <= bestMultiAic + AicMargin).ToList();
        // Best plain log (for the record and for the "would have said" message): the same m.
        CorrectionFit log = plainLogs[multiplicity - 1];

        // m = 1: the constant, or a power law (a close second exponent).
        CorrectionFit constant = plainLogs[0];
        bool powerTrivial = Math.Abs(power.Amplitude) <= 2 * power.AmplitudeStandardError || !double.IsFinite(power.AmplitudeStandardError);
        CorrectionFit? single = new[] { constant, power }.Where(Fits).OrderBy(f => f.Aic).FirstOrDefault();

        TemperatureCorrection correction;
        string message;
        List<CorrectionFit> kept;
        int? reportedMultiplicity = null;
        CorrectionFit best;
        if (multi is null && single is null)
        {
            correction = TemperatureCorrection.NeitherFits;
            var bestLog = new[] { plainLogs[multiplicity - 1], logsWithPower[multiplicity - 2] }.OrderBy(f => f.Aic).First();
            kept = [bestLog, power];
            best = bestLog.Aic <= power.Aic ? bestLog : power;
            reportedMultiplicity = multiplicity;
            message = $"Neither λ − (m−1)/(ln t + c) (with or without a faster t^(−δ) term; best χ² = {bestLog.ChiSquare:G3}, dof {bestLog.DegreesOfFreedom}) nor λ − a·t^(−δ) (χ² = {power.ChiSquare:G3}, dof {power.DegreesOfFreedom}) fits within the standard errors: the estimates may be biased (check each temperature's diagnostics) or the range of t is too wide for either form; the interval spans both fits with inflated errors.";
        }
        else
        {
            double evidence = (single?.Aic ?? double.PositiveInfinity) - (multi?.Aic ?? double.PositiveInfinity);
            if (evidence > AicMargin)
            {
                correction = TemperatureCorrection.Multiplicity;
                best = multi!;
                kept = multiSupported;
                reportedMultiplicity = multiplicity;
                message = $"The gap closes like (m−1)/(ln t + c) with m = {multiplicity} ({multi!.Name}; fitted real m = {1 + freeLog.Amplitude:G3} ± {freeLog.AmplitudeStandardError:G2}); the best model without a multiplicity {(single is null ? "does not fit" : $"({single.Name}) has less support (ΔAIC = {evidence:G3} > {AicMargin})")}.";
            }
            else if (evidence < -AicMargin)
            {
                best = single!;
                kept = [single!];
                bool close = ReferenceEquals(single, power) && !powerTrivial;
                correction = close ? TemperatureCorrection.CloseExponent : TemperatureCorrection.None;
                message = close
                    ? $"The gap closes like a power t^(−δ) with δ = {power.Shape:G3}: a second exponent λ + δ is close, not a multiplicity. A multiplicity m = {multiplicity} would say λ = {(multi ?? log).Lambda:G4}, which has less support ({(multi is null ? "no multiplicity model fits" : $"ΔAIC = {-evidence:G3} > {AicMargin}")}); the reported interval is the power fit's λ ± 2 SE."
                    : "The estimates do not drift with t beyond their errors: no multiplicity and no close exponent is visible, λ is their common value.";
            }
            else if (single is not null && (ReferenceEquals(single, constant) || powerTrivial) && (multi is null || constant.Aic <= multi.Aic))
            {
                best = constant;
                kept = [constant];
                correction = TemperatureCorrection.None;
                message = "The estimates do not drift with t beyond their errors: no multiplicity and no close exponent is visible, λ is their common value.";
            }
            else
            {
                correction = TemperatureCorrection.Ambiguous;
                reportedMultiplicity = multiplicity;
                best = multi is not null && (single is null || multi.Aic <= single.Aic) ? multi : single!;
                kept = [.. multiSupported];
                if (single is not null)
                {
                    kept.Add(single);
                }
                message = $"Both a multiplicity m = {multiplicity} (λ = {multi?.Lambda:G4}) and a close second exponent (δ = {power.Shape:G3}, λ = {power.Lambda:G4}) fit the residuals (ΔAIC = {evidence:G3}, within ±{AicMargin}); they cannot be told apart at this precision and range of t, so λ is reported as the interval spanned by both. More decades of t or smaller standard errors separate them: a logarithm keeps slowing down where a power law does not.";
            }
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
            LogWithPower = logsWithPower[multiplicity - 2],
            Power = power,
            Multiplicity = reportedMultiplicity,
            Correction = correction,
            PowerLawSupported = correction is TemperatureCorrection.CloseExponent or TemperatureCorrection.Ambiguous && !powerTrivial && Fits(power),
            LogSupported = correction is TemperatureCorrection.Multiplicity or TemperatureCorrection.Ambiguous && multi is not null,
            Lambda = best.Lambda,
            LambdaStandardError = best.LambdaStandardError,
            IntervalLow = low,
            IntervalHigh = high,
            Message = message,
        };
    }

    // y = λ − (m−1)/(ln t + c) − a·t^(−δ): the log model plus the next, faster term of the expansion (for powers (k,k)
    // the prior's next even moment gives t^(−2λ)·(log terms)). δ ≥ 3/(ln t_max − ln t_min): the nuisance term must
    // decay by at least e³ over the sampled range, so it corrects the curvature the log form misses and cannot act as a
    // second slow correction (the power model's role), which would make the two families unidentifiable.
    private static CorrectionFit FitLogPower(double[] lnT, double[] y, double[] se, int multiplicity)
    {
        double b = multiplicity - 1;
        double lnMin = lnT.Min(), lnMax = lnT.Max();
        double sMin = 1.0 / (lnMax + lnMax - lnMin);
        double deltaMin = Math.Min(3.0 / (lnMax - lnMin), 1.0);
        Func<int, double> PowerBasis(double delta) => i => -Math.Exp(-delta * lnT[i]);
        double Chi(double s, double delta)
        {
            double c = (1.0 / s) - lnMin;
            var shifted = new double[y.Length];
            for (int i = 0; i < y.Length; i++)
            {
                shifted[i] = y[i] + (b / (lnT[i] + c));
            }
            return Linear(lnT, shifted, se, PowerBasis(delta)).Chi;
        }
        // Coarse grid in (ln s, ln δ), then a finer grid around the best cell.
        double us0 = Math.Log(sMin), us1 = Math.Log(4.0), ud0 = Math.Log(deltaMin), ud1 = Math.Log(3.0);
        double bestUs = us0, bestUd = ud0, bestChi = double.PositiveInfinity;
        for (int pass = 0; pass < 3; pass++)
        {
            const int n = 40;
            double hs = (us1 - us0) / (n - 1), hd = (ud1 - ud0) / (n - 1);
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double us = us0 + (i * hs), ud = ud0 + (j * hd);
                    double chi = Chi(Math.Exp(us), Math.Exp(ud));
                    if (chi < bestChi)
                    {
                        (bestChi, bestUs, bestUd) = (chi, us, ud);
                    }
                }
            }
            (us0, us1) = (Math.Max(Math.Log(sMin), bestUs - (2 * hs)), Math.Min(Math.Log(4.0), bestUs + (2 * hs)));
            (ud0, ud1) = (Math.Max(Math.Log(deltaMin), bestUd - (2 * hd)), Math.Min(Math.Log(3.0), bestUd + (2 * hd)));
        }
        double cBest = (1.0 / Math.Exp(bestUs)) - lnMin, deltaBest = Math.Exp(bestUd);
        var shiftedBest = new double[y.Length];
        for (int i = 0; i < y.Length; i++)
        {
            shiftedBest[i] = y[i] + (b / (lnT[i] + cBest));
        }
        var (lambda, a, chiSquare) = Linear(lnT, shiftedBest, se, PowerBasis(deltaBest));
        double[] Row(int i)
        {
            double e = Math.Exp(-deltaBest * lnT[i]), g = lnT[i] + cBest;
            return [1.0, b / (g * g), -e, a * lnT[i] * e];
        }
        var errors = StandardErrors(y.Length, se, Row, chiSquare, 4);
        return new CorrectionFit($"λ − {b}/(ln t + c) − a·t^(−δ)", lambda, errors[0], b, 0.0, cBest, errors[1], chiSquare, 4, y.Length - 4,
            Residuals(y, i => lambda - (b / (lnT[i] + cBest)) - (a * Math.Exp(-deltaBest * lnT[i]))));
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
