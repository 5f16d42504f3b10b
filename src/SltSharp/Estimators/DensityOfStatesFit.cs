namespace SltSharp.Estimators;

/// <summary>
/// The draws of one temperature as a histogram of u = −ln K (K = L − L(w*) &gt; 0) on the grid shared by all
/// temperatures: bin j is [UStart + j·BinWidth, UStart + (j+1)·BinWidth).
/// </summary>
/// <param name="NBeta">t = nβ the draws were taken at.</param>
/// <param name="Counts">Draws per bin (real: exact distributions pass expected counts).</param>
/// <param name="EffectiveSize">How many independent draws the histogram is worth (the bulk ESS of the loss trace); the
/// log-likelihood is scaled by EffectiveSize / ΣCounts so that autocorrelated draws do not overstate the evidence.</param>
public sealed record LossHistogram(double NBeta, double[] Counts, double EffectiveSize);

/// <summary>One density-of-states model fitted to the pooled histograms.</summary>
/// <param name="Name">Readable form of ln ρ(u).</param>
/// <param name="Lambda">Fitted λ (ρ(u) ∝ e^(−λu)·…, i.e. v(K) ∝ K^(λ−1)·…).</param>
/// <param name="LambdaLow">Lower end of the profile-likelihood interval for λ (deviance + 4, ≈ λ − 2 SE).</param>
/// <param name="LambdaHigh">Upper end of that interval.</param>
/// <param name="Multiplicity">m of the log model (1 for the constant and the power model).</param>
/// <param name="Shape">c for the log models, δ for the power model, NaN for the constant.</param>
/// <param name="Amplitude">a of the power model (ρ ∝ e^(−λu)(1 + a·e^(−δ(u − u₀)))), m−1 for the log models.</param>
/// <param name="Deviance">−2 × the ESS-scaled log-likelihood (up to a constant common to all models).</param>
/// <param name="Parameters">Number of fitted parameters.</param>
public sealed record DensityOfStatesModel(
    string Name, double Lambda, double LambdaLow, double LambdaHigh, int Multiplicity, double Shape, double Amplitude,
    double Deviance, int Parameters)
{
    /// <summary>Akaike's criterion: deviance + 2·parameters.</summary>
    public double Aic => Deviance + (2.0 * Parameters);
}

/// <summary>The outcome of <see cref="DensityOfStatesFit.Fit"/>.</summary>
public sealed record DensityOfStatesResult
{
    /// <summary>ρ(u) ∝ e^(−λu): a regular minimum (m = 1, no visible second exponent).</summary>
    public required DensityOfStatesModel Constant { get; init; }

    /// <summary>ρ(u) ∝ e^(−λu)(u + c)^(m−1) for m = 2, 3, 4 (index m − 2).</summary>
    public required IReadOnlyList<DensityOfStatesModel> Logs { get; init; }

    /// <summary>The chosen m's log model times a faster nuisance term (1 + a·e^(−δ'(u − u₀))), δ' ≥ 2λ.</summary>
    public required DensityOfStatesModel LogWithPower { get; init; }

    /// <summary>ρ(u) ∝ e^(−λu)(1 + a·e^(−δ(u − u₀))): a second exponent λ + δ.</summary>
    public required DensityOfStatesModel Power { get; init; }

    /// <summary>The decision (same meaning as in <see cref="MultiTemperatureFit"/>).</summary>
    public TemperatureCorrection Correction { get; init; }

    /// <summary>The integer multiplicity when decided or possible; null for a close exponent or none.</summary>
    public int? Multiplicity { get; init; }

    /// <summary>The best-supported λ.</summary>
    public double Lambda { get; init; }

    /// <summary>Lower end of the interval spanned by every supported model's profile interval.</summary>
    public double IntervalLow { get; init; }

    /// <summary>Upper end of that interval.</summary>
    public double IntervalHigh { get; init; }

    /// <summary>Draws used (all temperatures) and their effective number.</summary>
    public double Draws { get; init; }

    /// <summary>Σ effective sizes.</summary>
    public double EffectiveDraws { get; init; }

    /// <summary>What was decided and why.</summary>
    public string Message { get; init; } = "";
}

/// <summary>
/// Fits the small-loss tail of the density of states v(K) to the draws of every temperature at once: the draws' whole
/// distribution, not just their mean, carries the multiplicity.
/// </summary>
/// <remarks>
/// <para>Why. Under the tempered posterior at t the loss gap K = L − L(w*) has density ∝ v(K)·e^(−tK), with the same
/// v at every t. Near K = 0, v(K) ∝ K^(λ−1)(−ln K)^(m−1) (multiplicity) or K^(λ−1)(1 + a·K^δ) (a second exponent λ + δ).
/// In u = −ln K the draws at t have density ∝ ρ(u)·exp(−t·e^(−u)) with ρ(u) = K·v(K): one ρ for all temperatures, each
/// temperature a window onto it. A window is wide: t·K is roughly Gamma(λ)-distributed, so ln(tK) spreads over ~1/λ
/// units, mostly towards small K, i.e. towards the high temperatures that were not sampled. The mean t·E[K] keeps
/// only one number per window; the likelihood keeps the shape. On exact distributions at the precision of a 1% mean
/// over 2 decades (docs/sampling-and-llc.md) this separates m = 2 from m = 3 and a close exponent from a log where the
/// fit of the means cannot.</para>
/// <para>How. Histograms of u on one grid, a multinomial likelihood per temperature conditional on the window of the
/// grid (so ρ need not be modelled where no draw falls), scaled by ESS / draws. Models: the constant
/// (ln ρ = −λu), the logs (−λu + (m−1)·ln(u + c), m = 2, 3, 4), the power (−λu + ln(1 + a·e^(−δ(u − u₀))), a &gt; −1).
/// The power model contains the log with m = 2 as its limit a → −1, δ → 0 (two exponents merging is how a multiplicity
/// arises), so a close exponent is only claimed when the power model beats the log by the AIC margin. λ intervals are
/// profile-likelihood intervals (deviance + 4 ≈ ±2 SE).</para>
/// <para>Only meaningful when every draw's loss is the full-data loss at the draw and L(w*) is the minimum (K &gt; 0):
/// minibatch losses add noise that is not part of v(K), and negative gaps have no logarithm.</para>
/// </remarks>
public static class DensityOfStatesFit
{
    /// <summary>Bin width in u = −ln K: fine next to the scale 1 on which e^(−t·e^(−u)) turns on.</summary>
    public const double BinWidth = 0.05;

    /// <summary>ΔAIC beyond which the worse model is no longer supported (as in <see cref="MultiTemperatureFit"/>).</summary>
    public const double AicMargin = MultiTemperatureFit.AicMargin;

    /// <summary>A larger m must lower the deviance by more than this to be chosen over the smallest adequate m.</summary>
    public const double MultiplicityMargin = MultiTemperatureFit.MultiplicityMargin;

    /// <summary>
    /// A multiplicity is only decided when the power model (which contains the m = 2 log as a limit, with one parameter
    /// more) lowers the deviance by less than 2 + this: under a true log its gain is ~χ²₁, which exceeds 3 in 8% of runs
    /// (those then say Ambiguous); a close exponent sampled at 1% gains 3–15 (DensityOfStatesFitTests, the MALA tests).
    /// </summary>
    public const double PowerGainAllowance = 1.0;

    private const int MaxMultiplicity = 4;

    /// <summary>Builds the histograms from loss gaps K (per temperature) on a common grid and fits.</summary>
    /// <param name="temperatures">t_k.</param>
    /// <param name="gaps">K draws per temperature; every value must be &gt; 0 and finite.</param>
    /// <param name="effectiveSizes">Effective number of independent draws per temperature.</param>
    public static DensityOfStatesResult FitDraws(IReadOnlyList<double> temperatures, IReadOnlyList<double[]> gaps, IReadOnlyList<double> effectiveSizes)
    {
        ArgumentNullException.ThrowIfNull(temperatures);
        ArgumentNullException.ThrowIfNull(gaps);
        ArgumentNullException.ThrowIfNull(effectiveSizes);
        if (gaps.Count != temperatures.Count || effectiveSizes.Count != temperatures.Count)
        {
            throw new ArgumentException($"Got {temperatures.Count} temperatures, {gaps.Count} draw sets and {effectiveSizes.Count} effective sizes; give one of each per temperature.", nameof(gaps));
        }
        double uMin = double.PositiveInfinity, uMax = double.NegativeInfinity;
        for (int k = 0; k < gaps.Count; k++)
        {
            foreach (double g in gaps[k])
            {
                if (!(g > 0) || !double.IsFinite(g))
                {
                    throw new ArgumentException($"Temperature {k} has a loss gap K = {g}: the density-of-states fit needs K = L − L(w*) > 0 at every draw (full-data losses, w* the minimum).", nameof(gaps));
                }
                double u = -Math.Log(g);
                uMin = Math.Min(uMin, u);
                uMax = Math.Max(uMax, u);
            }
        }
        if (double.IsInfinity(uMin))
        {
            throw new ArgumentException("No draws.", nameof(gaps));
        }
        double start = Math.Floor(uMin / BinWidth) * BinWidth;
        int bins = (int)Math.Floor((uMax - start) / BinWidth) + 1;
        var histograms = new List<LossHistogram>(gaps.Count);
        for (int k = 0; k < gaps.Count; k++)
        {
            var counts = new double[bins];
            foreach (double g in gaps[k])
            {
                int j = Math.Clamp((int)Math.Floor((-Math.Log(g) - start) / BinWidth), 0, bins - 1);
                counts[j] += 1;
            }
            histograms.Add(new LossHistogram(temperatures[k], counts, Math.Min(effectiveSizes[k], gaps[k].Length)));
        }
        return Fit(start, BinWidth, histograms);
    }

    /// <summary>Fits every model to histograms on the grid u_j = uStart + (j + ½)·binWidth and decides.</summary>
    public static DensityOfStatesResult Fit(double uStart, double binWidth, IReadOnlyList<LossHistogram> histograms)
    {
        ArgumentNullException.ThrowIfNull(histograms);
        if (histograms.Count < 2)
        {
            throw new ArgumentException("At least 2 temperatures are needed.", nameof(histograms));
        }
        if (!(binWidth > 0) || !double.IsFinite(uStart))
        {
            throw new ArgumentException("The bin width must be > 0 and the grid start finite.", nameof(binWidth));
        }
        int bins = histograms[0].Counts.Length;
        foreach (var h in histograms)
        {
            if (h.Counts.Length != bins)
            {
                throw new ArgumentException("All histograms must share one grid (same number of bins).", nameof(histograms));
            }
            if (!(h.NBeta > 0) || !(h.EffectiveSize > 0))
            {
                throw new ArgumentException($"nβ = {h.NBeta} and effective size {h.EffectiveSize} must be > 0.", nameof(histograms));
            }
        }
        var data = new Data(uStart, binWidth, histograms);
        double u0 = data.U[0];
        double uSpan = data.U[^1] - u0;

        // Starting λ from the constant model; then the shapes from grids of starts (the likelihood is smooth but the
        // shapes trade off against λ along shallow valleys).
        var constant = Optimize(data, [0.3], [0.1], ModelKind.Constant, 1, u0);
        double lambda0 = constant.Parameters[0];
        var logs = new List<Fitted>();
        for (int m = 2; m <= MaxMultiplicity; m++)
        {
            Fitted? best = null;
            foreach (double cStart in new[] { 0.5, 3.0, 10.0, 30.0 })
            {
                var f = Optimize(data, [lambda0 + 0.1, Math.Log(cStart + uSpan)], [0.05, 0.5], ModelKind.Log, m, u0);
                if (best is null || f.Deviance < best.Deviance)
                {
                    best = f;
                }
            }
            logs.Add(best!);
        }
        Fitted? power = null;
        foreach (double delta in new[] { 0.02, 0.05, 0.1, 0.2, 0.5, 1.0 })
        {
            foreach (double alpha in new[] { -2.0, 0.5 })
            {
                var f = Optimize(data, [lambda0, alpha, Math.Log(delta)], [0.05, 0.5, 0.5], ModelKind.Power, 1, u0);
                if (power is null || f.Deviance < power.Deviance)
                {
                    power = f;
                }
            }
        }
        double bestLogDeviance = logs.Min(f => f.Deviance);
        int mIndex = logs.FindIndex(f => f.Deviance <= bestLogDeviance + MultiplicityMargin);
        // The chosen m once more with the next, faster term of the expansion: for powers (k,k) the prior's w² term gives
        // ρ ∝ e^(−λu)(u + c)(1 + a·e^(−2λu)), which at 1% already shifts λ by ~1% for (3,3). δ' ≥ 2λ keeps this nuisance
        // from imitating a close second exponent (δ &lt; λ there: (1,2), (1,3), (2,3) have δ = λ, λ, λ/2).
        Fitted? nuisance = null;
        var chosen = logs[mIndex];
        foreach (double alpha in new[] { -1.0, 0.5 })
        {
            foreach (double extra in new[] { 0.05, 0.5 })
            {
                var f = Optimize(data, [chosen.Parameters[0], chosen.Parameters[1], alpha, Math.Log(extra)], [0.03, 0.3, 0.5, 0.5], ModelKind.LogWithPower, mIndex + 2, u0);
                if (nuisance is null || f.Deviance < nuisance.Deviance)
                {
                    nuisance = f;
                }
            }
        }
        return Decide(data, constant, logs, mIndex, nuisance!, power!, u0, uSpan);
    }

    private static DensityOfStatesResult Decide(Data data, Fitted constant, List<Fitted> logs, int mIndex, Fitted nuisance, Fitted power, double u0, double uSpan)
    {
        var plainLog = logs[mIndex];
        var log = nuisance.Aic < plainLog.Aic ? nuisance : plainLog;
        var logKind = ReferenceEquals(log, nuisance) ? ModelKind.LogWithPower : ModelKind.Log;
        int m = mIndex + 2;
        double aicConst = constant.Aic, aicLog = log.Aic, aicPower = power.Aic;
        double alpha = power.Parameters[1];
        // The power model in its log limit (a → −1, i.e. α → −∞, δ → 0) is the log with m = 2, not a close exponent.
        bool powerDegenerate = alpha < -4 || Math.Exp(power.Parameters[2]) * uSpan < 0.3;

        TemperatureCorrection correction;
        var kept = new List<(Fitted Fit, ModelKind Kind, int M)>();
        string message;
        int? multiplicity = null;
        (Fitted Fit, ModelKind Kind, int M) best;
        if (aicConst <= Math.Min(aicLog, aicPower) + MultiplicityMargin)
        {
            correction = TemperatureCorrection.None;
            best = (constant, ModelKind.Constant, 1);
            kept.Add(best);
            message = "The loss distributions at all temperatures share one power law v(K) ∝ K^(λ−1): no multiplicity and no close exponent is visible.";
        }
        else if (aicPower < aicLog - AicMargin && !powerDegenerate)
        {
            correction = TemperatureCorrection.CloseExponent;
            best = (power, ModelKind.Power, 1);
            kept.Add(best);
            double delta = Math.Exp(power.Parameters[2]);
            message = $"The density of states bends like K^(λ−1)(1 + a·K^δ) with δ = {delta:G3}: a second exponent λ + δ is close, not a multiplicity (the best log, m = {m}, has ΔAIC = {aicLog - aicPower:G3} > {AicMargin} and would say λ = {log.Parameters[0]:G4}).";
        }
        else if (aicLog < aicConst - AicMargin && aicLog <= aicPower + PowerGainAllowance)
        {
            correction = TemperatureCorrection.Multiplicity;
            multiplicity = m;
            best = (log, logKind, m);
            kept.Add((plainLog, ModelKind.Log, m));
            if (nuisance.Aic <= plainLog.Aic + AicMargin)
            {
                kept.Add((nuisance, ModelKind.LogWithPower, m));
            }
            string next = mIndex + 1 < logs.Count ? $"; m = {m + 1} raises the deviance by {logs[mIndex + 1].Deviance - log.Deviance:G3}" : "";
            message = $"The density of states has a log factor: v(K) ∝ K^(λ−1)(−ln K + c)^(m−1) with m = {m}{next}; a close second exponent does not fit better (ΔAIC = {aicLog - aicPower:G3}) and no correction is far worse (ΔAIC = {aicConst - aicLog:G3}).";
        }
        else
        {
            correction = TemperatureCorrection.Ambiguous;
            multiplicity = m;
            best = aicLog <= aicPower ? (log, logKind, m) : (power, ModelKind.Power, 1);
            kept.Add((log, logKind, m));
            kept.Add((power, ModelKind.Power, 1));
            if (aicConst <= Math.Min(aicLog, aicPower) + AicMargin)
            {
                kept.Add((constant, ModelKind.Constant, 1));
            }
            message = $"A multiplicity m = {m} (λ = {log.Parameters[0]:G4}) and a close second exponent (δ = {Math.Exp(power.Parameters[2]):G3}, λ = {power.Parameters[0]:G4}) describe the loss distributions about equally well (ΔAIC = {aicLog - aicPower:G3}); λ is reported as the interval spanned by both.";
        }
        // Supported models get a profile interval; the others only their point estimate and deviance.
        var described = kept.ToDictionary(k => k.Fit, k => Describe(data, k.Fit, k.Kind, k.M, u0));
        DensityOfStatesModel Of(Fitted f, ModelKind kind, int mm) => described.TryGetValue(f, out var d) ? d : Summary(f, kind, mm, u0, double.NaN, double.NaN);
        var keptModels = described.Values.ToList();
        return new DensityOfStatesResult
        {
            Constant = Of(constant, ModelKind.Constant, 1),
            Logs = logs.Select((f, i) => Of(f, ModelKind.Log, i + 2)).ToList(),
            LogWithPower = Of(nuisance, ModelKind.LogWithPower, m),
            Power = Of(power, ModelKind.Power, 1),
            Correction = correction,
            Multiplicity = multiplicity,
            Lambda = best.Fit.Parameters[0],
            IntervalLow = keptModels.Min(k => k.LambdaLow),
            IntervalHigh = keptModels.Max(k => k.LambdaHigh),
            Draws = data.TotalCounts,
            EffectiveDraws = data.TotalEffective,
            Message = message,
        };
    }

    private static DensityOfStatesModel Describe(Data data, Fitted f, ModelKind kind, int m, double u0)
    {
        var (low, high) = ProfileInterval(data, f, kind, m, u0);
        return Summary(f, kind, m, u0, low, high);
    }

    private static DensityOfStatesModel Summary(Fitted f, ModelKind kind, int m, double u0, double low, double high) => kind switch
    {
        ModelKind.Constant => new DensityOfStatesModel("ρ(u) ∝ e^(−λu)", f.Parameters[0], low, high, 1, double.NaN, 0, f.Deviance, 1),
        ModelKind.Log => new DensityOfStatesModel($"ρ(u) ∝ e^(−λu)(u + c)^{m - 1}", f.Parameters[0], low, high, m, Math.Exp(f.Parameters[1]) - u0, m - 1, f.Deviance, 2),
        ModelKind.LogWithPower => new DensityOfStatesModel($"ρ(u) ∝ e^(−λu)(u + c)^{m - 1}(1 + a·e^(−δ'(u − u₀)))", f.Parameters[0], low, high, m, Math.Exp(f.Parameters[1]) - u0, Math.Exp(f.Parameters[2]) - 1, f.Deviance, 4),
        _ => new DensityOfStatesModel("ρ(u) ∝ e^(−λu)(1 + a·e^(−δ(u − u₀)))", f.Parameters[0], low, high, 1, Math.Exp(f.Parameters[2]), Math.Exp(f.Parameters[1]) - 1, f.Deviance, 3),
    };

    // Profile-likelihood interval for λ: the λ at which the deviance, minimised over the other parameters, rises by 4.
    private static (double Low, double High) ProfileInterval(Data data, Fitted f, ModelKind kind, int m, double u0)
    {
        double lambdaHat = f.Parameters[0];
        var rest = f.Parameters[1..];
        double Profile(double lambda)
        {
            if (rest.Length == 0)
            {
                return data.Deviance(kind, m, [lambda], u0);
            }
            var inner = NelderMead(q => data.Deviance(kind, m, [lambda, .. q], u0), rest, rest.Select(_ => 0.3).ToArray(), 400);
            rest = inner.X; // warm start for the next point
            return inner.Value;
        }
        double Edge(double direction)
        {
            double step = Math.Max(0.01 * Math.Abs(lambdaHat), 1e-4);
            double inside = lambdaHat, outside = lambdaHat + (direction * step);
            rest = f.Parameters[1..];
            int guard = 0;
            while (Profile(outside) < f.Deviance + 4 && guard++ < 40)
            {
                inside = outside;
                step *= 2;
                outside = lambdaHat + (direction * step);
            }
            if (guard >= 40)
            {
                return direction > 0 ? double.PositiveInfinity : double.NegativeInfinity;
            }
            // 14 halvings: the edge to ~1e-4 of the bracket, far below the interval's own statistical uncertainty.
            for (int i = 0; i < 14; i++)
            {
                double mid = 0.5 * (inside + outside);
                if (Profile(mid) < f.Deviance + 4)
                {
                    inside = mid;
                }
                else
                {
                    outside = mid;
                }
            }
            return 0.5 * (inside + outside);
        }
        return (Edge(-1), Edge(+1));
    }

    private enum ModelKind { Constant, Log, LogWithPower, Power }

    private sealed record Fitted(double[] Parameters, double Deviance, int Count)
    {
        public double Aic => Deviance + (2.0 * Count);
    }

    private static Fitted Optimize(Data data, double[] start, double[] scale, ModelKind kind, int m, double u0)
    {
        var r = NelderMead(p => data.Deviance(kind, m, p, u0), start, scale, 4000);
        // A restart from the optimum escapes Nelder–Mead's occasional premature collapse.
        r = NelderMead(p => data.Deviance(kind, m, p, u0), r.X, scale.Select(s => s * 0.2).ToArray(), 4000);
        return new Fitted(r.X, r.Value, start.Length);
    }

    private static (double[] X, double Value) NelderMead(Func<double[], double> f, double[] start, double[] scale, int maxEvaluations)
    {
        int n = start.Length;
        var simplex = new double[n + 1][];
        var values = new double[n + 1];
        simplex[0] = (double[])start.Clone();
        for (int i = 0; i < n; i++)
        {
            simplex[i + 1] = (double[])start.Clone();
            simplex[i + 1][i] += scale[i];
        }
        for (int i = 0; i <= n; i++)
        {
            values[i] = f(simplex[i]);
        }
        int evaluations = n + 1;
        while (evaluations < maxEvaluations)
        {
            var order = Enumerable.Range(0, n + 1).OrderBy(i => values[i]).ToArray();
            simplex = order.Select(i => simplex[i]).ToArray();
            values = order.Select(i => values[i]).ToArray();
            if (Math.Abs(values[n] - values[0]) < 1e-9 * (1 + Math.Abs(values[0])))
            {
                break;
            }
            var centroid = new double[n];
            for (int i = 0; i < n; i++)
            {
                for (int d = 0; d < n; d++)
                {
                    centroid[d] += simplex[i][d] / n;
                }
            }
            double[] Along(double factor) => centroid.Select((c, d) => c + (factor * (c - simplex[n][d]))).ToArray();
            var reflected = Along(1);
            double fr = f(reflected);
            evaluations++;
            if (fr < values[0])
            {
                var expanded = Along(2);
                double fe = f(expanded);
                evaluations++;
                (simplex[n], values[n]) = fe < fr ? (expanded, fe) : (reflected, fr);
            }
            else if (fr < values[n - 1])
            {
                (simplex[n], values[n]) = (reflected, fr);
            }
            else
            {
                var contracted = Along(-0.5);
                double fc = f(contracted);
                evaluations++;
                if (fc < values[n])
                {
                    (simplex[n], values[n]) = (contracted, fc);
                }
                else
                {
                    for (int i = 1; i <= n; i++)
                    {
                        simplex[i] = simplex[i].Select((x, d) => simplex[0][d] + (0.5 * (x - simplex[0][d]))).ToArray();
                        values[i] = f(simplex[i]);
                        evaluations++;
                    }
                }
            }
        }
        int best = Array.IndexOf(values, values.Min());
        return (simplex[best], values[best]);
    }

    // The pooled histograms with per-temperature weights; Deviance evaluates −2·Σ_k w_k Σ_j n_kj ln q_kj.
    private sealed class Data
    {
        public readonly double[] U;
        private readonly double[] _t;
        private readonly double[][] _counts;
        private readonly double[] _weights;
        private readonly double[][] _boltzmann;
        private readonly int _first;
        private readonly int _last;

        public double TotalCounts { get; }

        public double TotalEffective { get; }

        public Data(double uStart, double binWidth, IReadOnlyList<LossHistogram> histograms)
        {
            int bins = histograms[0].Counts.Length;
            // The window: from the first to the last bin any temperature fills (the likelihood is conditional on it).
            _first = Enumerable.Range(0, bins).First(j => histograms.Any(h => h.Counts[j] > 0));
            _last = Enumerable.Range(0, bins).Last(j => histograms.Any(h => h.Counts[j] > 0));
            int width = _last - _first + 1;
            U = Enumerable.Range(_first, width).Select(j => uStart + ((j + 0.5) * binWidth)).ToArray();
            _t = histograms.Select(h => h.NBeta).ToArray();
            _counts = histograms.Select(h => h.Counts.AsSpan(_first, width).ToArray()).ToArray();
            _weights = histograms.Select(h => h.EffectiveSize / h.Counts.Sum()).ToArray();
            _boltzmann = _t.Select(t => U.Select(u => -t * Math.Exp(-u)).ToArray()).ToArray();
            TotalCounts = histograms.Sum(h => h.Counts.Sum());
            TotalEffective = histograms.Sum(h => h.EffectiveSize);
        }

        public double Deviance(ModelKind kind, int m, double[] p, double u0)
        {
            int n = U.Length;
            Span<double> lnRho = n <= 4096 ? stackalloc double[n] : new double[n];
            double lambda = p[0];
            switch (kind)
            {
                case ModelKind.Constant:
                    for (int j = 0; j < n; j++)
                    {
                        lnRho[j] = -lambda * U[j];
                    }
                    break;
                case ModelKind.Log:
                {
                    // c + u₀ = e^(p₁) > 0 keeps u + c > 0 over the whole window.
                    double shift = Math.Exp(p[1]) - u0;
                    for (int j = 0; j < n; j++)
                    {
                        lnRho[j] = (-lambda * U[j]) + ((m - 1) * Math.Log(U[j] + shift));
                    }
                    break;
                }
                case ModelKind.LogWithPower:
                {
                    double shift = Math.Exp(p[1]) - u0, a = Math.Exp(p[2]) - 1, delta = (2 * Math.Max(lambda, 0)) + Math.Exp(p[3]);
                    if (!double.IsFinite(a) || !double.IsFinite(delta))
                    {
                        return double.PositiveInfinity;
                    }
                    for (int j = 0; j < n; j++)
                    {
                        lnRho[j] = (-lambda * U[j]) + ((m - 1) * Math.Log(U[j] + shift)) + Math.Log(1 + (a * Math.Exp(-delta * (U[j] - u0))));
                    }
                    break;
                }
                default:
                {
                    // a = e^α − 1 > −1 keeps ρ positive; δ = e^(p₂).
                    double a = Math.Exp(p[1]) - 1, delta = Math.Exp(p[2]);
                    if (!double.IsFinite(a) || delta > 5)
                    {
                        return double.PositiveInfinity;
                    }
                    for (int j = 0; j < n; j++)
                    {
                        lnRho[j] = (-lambda * U[j]) + Math.Log(1 + (a * Math.Exp(-delta * (U[j] - u0))));
                    }
                    break;
                }
            }
            double total = 0;
            for (int k = 0; k < _t.Length; k++)
            {
                var counts = _counts[k];
                var boltzmann = _boltzmann[k];
                double max = double.NegativeInfinity;
                for (int j = 0; j < n; j++)
                {
                    max = Math.Max(max, lnRho[j] + boltzmann[j]);
                }
                double z = 0, dot = 0, sum = 0;
                for (int j = 0; j < n; j++)
                {
                    double lq = lnRho[j] + boltzmann[j] - max;
                    z += Math.Exp(lq);
                    if (counts[j] > 0)
                    {
                        dot += counts[j] * lq;
                        sum += counts[j];
                    }
                }
                double logLikelihood = dot - (sum * Math.Log(z));
                total += _weights[k] * logLikelihood;
            }
            double deviance = -2 * total;
            return double.IsFinite(deviance) ? deviance : double.PositiveInfinity;
        }
    }
}
