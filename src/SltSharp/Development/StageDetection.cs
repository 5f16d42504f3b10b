using MathNet.Numerics.LinearAlgebra;
using SltSharp.Engine.Random;

namespace SltSharp.Development;

/// <summary>Direction of a developmental stage (Hoogland et al., arXiv 2402.02364).</summary>
public enum StageType
{
    /// <summary>Type A: the LLC rises over the stage (the model gains effective dimension).</summary>
    A,

    /// <summary>Type B: the LLC falls over the stage (the model simplifies).</summary>
    B,
}

/// <summary>What kind of critical point of the smoothed LLC curve marks a boundary.</summary>
public enum BoundaryKind
{
    /// <summary>dλ̂/d ln t changes sign: a peak or a trough of λ̂.</summary>
    Extremum,

    /// <summary>dλ̂/d ln t dips close to zero without changing sign: a plateau between two stages of the same type.</summary>
    Plateau,
}

/// <summary>A boundary between two stages.</summary>
/// <param name="Step">The boundary in training steps.</param>
/// <param name="LogStep">ln of <paramref name="Step"/>, where the smoothing works.</param>
/// <param name="Kind">Extremum or plateau.</param>
/// <param name="Confidence">
/// Fraction of posterior draws of the smoothed curve in which the same detection finds a boundary within the
/// confidence window of this one (a posterior probability that the boundary exists near here).
/// </param>
public sealed record StageBoundary(double Step, double LogStep, BoundaryKind Kind, double Confidence);

/// <summary>One developmental stage.</summary>
/// <param name="StartStep">First step of the stage (the first checkpoint or a boundary).</param>
/// <param name="EndStep">Last step of the stage (a boundary or the last checkpoint).</param>
/// <param name="Type">A if the smoothed LLC rises over the stage, B if it falls.</param>
/// <param name="DeltaLlc">Change of the smoothed LLC over the stage.</param>
/// <param name="DeltaLlcStandardError">Posterior standard deviation of <paramref name="DeltaLlc"/>.</param>
/// <param name="DeltaLoss">Change of the loss over the stage (linear interpolation in ln t), when losses were given.</param>
public sealed record Stage(double StartStep, double EndStep, StageType Type, double DeltaLlc, double DeltaLlcStandardError, double? DeltaLoss);

/// <summary>Settings of <see cref="StageDetection.Detect"/>.</summary>
public sealed record StageDetectionOptions
{
    /// <summary>Points of the evaluation grid in ln t.</summary>
    public int GridPoints { get; init; } = 200;

    /// <summary>
    /// A dip of |dλ̂/d ln t| between two peaks of the same sign is a plateau when it is below this fraction of the
    /// smaller peak. 0.2 means the LLC grows at most a fifth as fast as in the neighbouring stages.
    /// </summary>
    public double PlateauFraction { get; init; } = 0.2;

    /// <summary>A stage whose |Δλ̂| is below this many posterior standard deviations is merged into its neighbours.</summary>
    public double MinStageSignificance { get; init; } = 3.0;

    /// <summary>A stage whose |Δλ̂| is below this fraction of the largest stage change is merged into its neighbours.</summary>
    public double MinStageFraction { get; init; } = 0.05;

    /// <summary>Number of posterior draws used for the boundary confidences.</summary>
    public int PosteriorDraws { get; init; } = 200;

    /// <summary>Half-width of the window (as a fraction of the ln t range) within which a draw's boundary counts as the same boundary.</summary>
    public double ConfidenceWindow { get; init; } = 0.05;

    /// <summary>Seed of the posterior draws.</summary>
    public ulong Seed { get; init; } = 20240207;
}

/// <summary>The stages, the boundaries and the smoothed curve they were read from.</summary>
/// <param name="Stages">Stages in order; consecutive stages share a boundary.</param>
/// <param name="Boundaries">Interior boundaries in order (one fewer than stages).</param>
/// <param name="LogSteps">The evaluation grid in ln t.</param>
/// <param name="SmoothedLlc">Posterior mean of λ̂ on the grid.</param>
/// <param name="SmoothedDerivative">Posterior mean of dλ̂/d ln t on the grid.</param>
/// <param name="DerivativeStandardError">Posterior standard deviation of dλ̂/d ln t on the grid.</param>
/// <param name="LengthScale">The GP length scale (in ln t) chosen by marginal likelihood.</param>
public sealed record StageDetectionResult(
    IReadOnlyList<Stage> Stages,
    IReadOnlyList<StageBoundary> Boundaries,
    IReadOnlyList<double> LogSteps,
    IReadOnlyList<double> SmoothedLlc,
    IReadOnlyList<double> SmoothedDerivative,
    IReadOnlyList<double> DerivativeStandardError,
    double LengthScale)
{
    /// <summary>Checkpoints left out of the smoothing by <see cref="StageDetection.DetectFromEstimates"/> (failed estimates), with why.</summary>
    public IReadOnlyList<ExcludedCheckpoint> Excluded { get; init; } = [];
}

/// <summary>One checkpoint's LLC estimate as <see cref="StageDetection.DetectFromEstimates"/> reads it.</summary>
/// <param name="Step">Training step of the checkpoint.</param>
/// <param name="Llc">λ̂ (NaN when the estimate diverged).</param>
/// <param name="StandardError">Between-chain standard error of λ̂.</param>
/// <param name="MonteCarloStandardError">Monte Carlo standard error from the effective sample size (NaN when unknown).</param>
/// <param name="Failed">True when the estimate's diagnostics said not to trust it (verdict fail).</param>
/// <param name="Loss">Training (or reference) loss at the checkpoint, for Δloss; null when unknown.</param>
public sealed record LlcAtCheckpoint(double Step, double Llc, double StandardError, double MonteCarloStandardError, bool Failed, double? Loss);

/// <summary>A checkpoint stage detection left out, and why.</summary>
public sealed record ExcludedCheckpoint(double Step, double Llc, string Reason);

/// <summary>
/// Developmental stages from LLC estimates at checkpoints (Hoogland et al., arXiv 2402.02364; slt-reference §4):
/// smooth λ̂ against ln t, find the critical points of the smoothed curve (sign changes of dλ̂/d ln t, and plateaus
/// where the derivative dips near zero between two stages of the same type), and read off the stages between them.
/// </summary>
/// <remarks>
/// Smoothing is Gaussian-process regression with the standard errors as heteroscedastic noise and hyperparameters by
/// marginal likelihood (<see cref="GaussianProcessSmoother"/>). Noise makes |dλ̂/d ln t| wiggle around zero inside a
/// plateau, which would create spurious short stages; every stage whose LLC change is not significant (fewer than
/// <see cref="StageDetectionOptions.MinStageSignificance"/> posterior standard deviations, or a tiny fraction of the
/// largest change) is therefore collapsed: at either end of the run it joins its neighbour, in the interior its two
/// boundaries become one at the flattest point inside it. A stage is also collapsed when no two raw checkpoints in it
/// (widened by one checkpoint on each side) differ in its direction by that many standard errors: the smoother's
/// overshoot after a sharp step is not a stage. Confidences rerun the same procedure on posterior draws of
/// (λ̂, dλ̂/d ln t) and report how often a boundary appears near each detected one.
/// </remarks>
public static class StageDetection
{
    /// <summary>Fewer usable checkpoints than this and <see cref="DetectFromEstimates"/> detects no stages: a Gaussian
    /// process with its own length scale needs a few points per feature to say anything.</summary>
    public const int MinimumCheckpoints = 5;


    /// <summary>
    /// Stages from LLC estimates at checkpoints, with the one noise-and-exclusion rule every caller (slt trajectory,
    /// slt experiment icl) uses:
    /// <list type="bullet">
    /// <item>Checkpoints at step 0 (ln t undefined) or without a finite λ̂ (diverged) are dropped.</item>
    /// <item>A failed estimate (verdict fail, or λ̂ below 0 by more than two standard errors: the chains found lower loss than w*, so w* is not a local
    /// minimum and λ̂ measures the slide downhill, not a complexity) is left out of the smoothing and listed in
    /// <see cref="StageDetectionResult.Excluded"/>. Kept in, such a dip (λ̂ = −3.1 on the default DLN run where chains
    /// slide off the first saddle, against SEs of 0.01–0.02 on the plateaus) dominates the marginal likelihood, sets the
    /// GP's one length scale and merges the real stages after it; it would also be reported as a type-B stage that is a
    /// sampler artefact. When fewer than <see cref="MinimumCheckpoints"/> estimates pass, all finite ones are used and a
    /// note says the stages rest on failed estimates.</item>
    /// <item>The noise of each λ̂ is the larger of the between-chain standard error and the Monte Carlo standard error:
    /// with 4 chains the between-chain spread is a 3-degree-of-freedom guess (up to 4× below the MCSE on the ICL curve,
    /// docs/icl.md), and taking it alone lets chain-to-chain luck pass for a stage. It is floored at 10⁻³ of the curve's
    /// range (a zero would make the GP interpolate exactly); with neither error known, 5% of the range is used.</item>
    /// </list>
    /// </summary>
    /// <param name="estimates">The estimates, in any order.</param>
    /// <param name="options">Detection settings; defaults when null.</param>
    /// <param name="notes">Receives what the user should know (exclusions, fallbacks); may be null.</param>
    /// <returns>The detection, or null when fewer than <see cref="MinimumCheckpoints"/> checkpoints are usable.</returns>
    public static StageDetectionResult? DetectFromEstimates(IReadOnlyList<LlcAtCheckpoint> estimates, StageDetectionOptions? options = null, ICollection<string>? notes = null)
    {
        ArgumentNullException.ThrowIfNull(estimates);
        var finite = estimates.Where(e => e.Step > 0 && double.IsFinite(e.Llc)).OrderBy(e => e.Step).ToList();
        var used = new List<LlcAtCheckpoint>();
        var failedPositive = new List<LlcAtCheckpoint>();
        var negative = new List<LlcAtCheckpoint>();
        foreach (var e in finite)
        {
            // Negative beyond its own noise (2 SE): a λ̂ of −0.01 ± 0.05 near a true 0 is an estimate, −0.4 ± 0.04 is not.
            double known = Math.Max(double.IsFinite(e.StandardError) ? e.StandardError : 0, double.IsFinite(e.MonteCarloStandardError) ? e.MonteCarloStandardError : 0);
            (e.Llc < -2 * known ? negative : e.Failed ? failedPositive : used).Add(e);
        }
        // Too few trustworthy estimates: fall back to those that failed on their diagnostics (a biased step, chains that
        // disagree), which still carry the curve's shape, but never to a negative λ̂: that is not an estimate of anything
        // (the ICL run of docs/icl.md: with the step-bias check 12 of 16 checkpoints fail at ε = 1e-3, and taking the
        // two negative ones back in turned the descent to the mean predictor into a stage of its own).
        if (used.Count < MinimumCheckpoints && used.Count + failedPositive.Count >= MinimumCheckpoints)
        {
            notes?.Add($"Only {used.Count} checkpoint(s) have a trustworthy λ̂; stages were detected on {used.Count + failedPositive.Count} estimates including {failedPositive.Count} whose verdict is fail: read them with care (a smaller ε with longer chains, a larger γ or more checkpoints help).");
            used = [.. finite.Where(e => !negative.Contains(e))];
            failedPositive.Clear();
        }
        else if (used.Count < MinimumCheckpoints && finite.Count >= MinimumCheckpoints)
        {
            // Last resort (e.g. the few short chains of `slt experiment icl --quick`): every finite estimate, negative ones
            // included, so that a sketch of the curve's shape is still drawn, with a warning that says what it rests on.
            notes?.Add($"Only {used.Count + failedPositive.Count} checkpoint(s) have a positive λ̂; stages were detected on all {finite.Count} finite estimates, including {failedPositive.Count + negative.Count} failed one(s) of which {negative.Count} negative: a sketch, not a measurement (longer chains, a larger γ or more checkpoints help).");
            used = finite;
            failedPositive.Clear();
            negative.Clear();
        }
        var excluded = negative.Select(e => new ExcludedCheckpoint(e.Step, e.Llc, "λ̂ < 0 (chains found lower loss than w*: not at a local minimum)"))
            .Concat(failedPositive.Select(e => new ExcludedCheckpoint(e.Step, e.Llc, "verdict fail (diagnostics say not to trust λ̂)")))
            .OrderBy(x => x.Step).ToList();
        if (used.Count < MinimumCheckpoints)
        {
            notes?.Add($"Stages not detected: {used.Count} checkpoint(s) after step 0 with a finite λ̂, at least {MinimumCheckpoints} are needed (use more checkpoints, e.g. --checkpoints log:20).");
            return null;
        }
        if (excluded.Count > 0)
        {
            notes?.Add($"Stage detection left out {excluded.Count} failed estimate(s): " + string.Join("; ", excluded.GroupBy(x => x.Reason).Select(g =>
                $"{g.Key} at step(s) " + string.Join(", ", g.Select(x => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{x.Step:0.###} (λ̂ {x.Llc:0.###})"))))) + ".");
        }
        double spread = used.Max(e => e.Llc) - used.Min(e => e.Llc);
        double floor = Math.Max(1e-6, 1e-3 * spread);
        static double OrZero(double v) => double.IsFinite(v) && v > 0 ? v : 0;
        if (used.Any(e => OrZero(e.StandardError) == 0 && OrZero(e.MonteCarloStandardError) == 0))
        {
            notes?.Add("Some λ̂ have no standard error (one surviving chain); 5% of the curve's range was used as their noise. Use more chains.");
        }
        double[] noise = [.. used.Select(e =>
        {
            double n = Math.Max(OrZero(e.StandardError), OrZero(e.MonteCarloStandardError));
            return n > 0 ? Math.Max(n, floor) : Math.Max(floor, 0.05 * spread);
        })];
        double[] losses = used.All(e => e.Loss is { } l && double.IsFinite(l)) ? [.. used.Select(e => e.Loss!.Value)] : [];
        var result = Detect([.. used.Select(e => e.Step)], [.. used.Select(e => e.Llc)], noise, losses, options);
        return result with { Excluded = excluded };
    }

    /// <summary>Detects stages.</summary>
    /// <param name="steps">Checkpoint steps t_k, strictly increasing and positive.</param>
    /// <param name="llc">λ̂ at each checkpoint.</param>
    /// <param name="standardErrors">Standard error of each λ̂ (e.g. across chains), positive.</param>
    /// <param name="losses">Optional training (or test) loss at each checkpoint, for Δloss per stage.</param>
    /// <param name="options">Settings; defaults when null.</param>
    public static StageDetectionResult Detect(
        ReadOnlySpan<double> steps,
        ReadOnlySpan<double> llc,
        ReadOnlySpan<double> standardErrors,
        ReadOnlySpan<double> losses = default,
        StageDetectionOptions? options = null)
    {
        options ??= new StageDetectionOptions();
        if (options.GridPoints < 10)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "GridPoints must be at least 10.");
        }
        if (!losses.IsEmpty && losses.Length != steps.Length)
        {
            throw new ArgumentException($"Give one loss per checkpoint ({steps.Length}) or none; got {losses.Length}.", nameof(losses));
        }
        double[] x = new double[steps.Length];
        for (int i = 0; i < steps.Length; i++)
        {
            if (!(steps[i] > 0))
            {
                throw new ArgumentException($"Checkpoint steps must be positive (stages live in ln t); step {i} is {steps[i]}. Drop step 0 or shift by one.", nameof(steps));
            }
            x[i] = Math.Log(steps[i]);
        }
        var gp = GaussianProcessSmoother.Fit(x, llc, standardErrors);

        int g = options.GridPoints;
        double[] grid = [.. Enumerable.Range(0, g).Select(i => x[0] + ((x[^1] - x[0]) * i / (g - 1.0)))];
        var (f, d) = gp.PosteriorMean(grid);
        var cov = gp.PosteriorCovariance(grid);
        double[] dStd = [.. Enumerable.Range(0, g).Select(i => Math.Sqrt(Math.Max(0, cov[g + i, g + i])))];

        var data = new Observations(x, llc.ToArray(), standardErrors.ToArray());
        var boundaries = FindBoundaries(grid, f, d, cov, data, options);

        // Confidence: the same procedure on posterior draws of (f, f').
        var draws = PosteriorDraws(f, d, cov, options.PosteriorDraws, options.Seed);
        double window = options.ConfidenceWindow * (grid[^1] - grid[0]);
        int[] hits = new int[boundaries.Count];
        foreach (var (fd, dd) in draws)
        {
            var found = FindBoundaries(grid, fd, dd, cov, data, options);
            for (int b = 0; b < boundaries.Count; b++)
            {
                if (found.Any(o => Math.Abs(grid[o.Index] - grid[boundaries[b].Index]) <= window))
                {
                    hits[b]++;
                }
            }
        }

        double[] loss = losses.ToArray();
        var stages = new List<Stage>();
        var result = new List<StageBoundary>();
        int[] cuts = [0, .. boundaries.Select(b => b.Index), g - 1];
        for (int s = 0; s + 1 < cuts.Length; s++)
        {
            int i0 = cuts[s], i1 = cuts[s + 1];
            double delta = f[i1] - f[i0];
            double se = Math.Sqrt(Math.Max(0, cov[i1, i1] + cov[i0, i0] - (2 * cov[i0, i1])));
            double? dLoss = loss.Length > 0 ? Interpolate(x, loss, grid[i1]) - Interpolate(x, loss, grid[i0]) : null;
            stages.Add(new Stage(Math.Exp(grid[i0]), Math.Exp(grid[i1]), delta >= 0 ? StageType.A : StageType.B, delta, se, dLoss));
        }
        for (int b = 0; b < boundaries.Count; b++)
        {
            double xb = grid[boundaries[b].Index];
            result.Add(new StageBoundary(Math.Exp(xb), xb, boundaries[b].Kind, hits[b] / (double)Math.Max(1, draws.Count)));
        }
        return new StageDetectionResult(stages, result, grid, f, d, dStd, gp.LengthScale);
    }

    private readonly record struct Cut(int Index, BoundaryKind Kind);

    /// <summary>The checkpoints the curve was smoothed from: ln t, λ̂ and noise.</summary>
    private sealed record Observations(double[] X, double[] Y, double[] Noise)
    {
        /// <summary>
        /// How strongly the raw estimates themselves show a change of sign <paramref name="sign"/> over [xa, xb]: the
        /// largest (y_j − y_i)·sign / √(σ_i² + σ_j²) over pairs i &lt; j of checkpoints inside it, widened by the nearest
        /// checkpoint on either side (a stage between two checkpoints still has those two to show its change).
        /// </summary>
        public double Support(double xa, double xb, int sign)
        {
            int first = 0, last = X.Length - 1;
            while (first + 1 < X.Length && X[first + 1] <= xa)
            {
                first++;
            }
            while (last - 1 >= 0 && X[last - 1] >= xb)
            {
                last--;
            }
            double best = double.NegativeInfinity;
            for (int i = first; i <= last; i++)
            {
                for (int j = i + 1; j <= last; j++)
                {
                    best = Math.Max(best, sign * (Y[j] - Y[i]) / Math.Sqrt((Noise[i] * Noise[i]) + (Noise[j] * Noise[j])));
                }
            }
            return best;
        }
    }

    /// <summary>Candidate critical points of the derivative, then merging of insignificant stages.</summary>
    private static List<Cut> FindBoundaries(double[] grid, double[] f, double[] d, Matrix<double> cov, Observations data, StageDetectionOptions options)
    {
        int g = grid.Length;
        var cuts = new List<Cut>();
        // Sign changes of the derivative: the grid point with the smaller |d| of the two around the zero.
        for (int i = 1; i < g; i++)
        {
            if (Math.Sign(d[i]) != Math.Sign(d[i - 1]) && d[i] != 0 && d[i - 1] != 0)
            {
                cuts.Add(new Cut(Math.Abs(d[i]) < Math.Abs(d[i - 1]) ? i : i - 1, BoundaryKind.Extremum));
            }
        }
        // Plateaus: interior local minima of |d| that stay on one side of zero and sit well below both neighbouring peaks.
        for (int i = 1; i + 1 < g; i++)
        {
            double a = Math.Abs(d[i]);
            if (!(a <= Math.Abs(d[i - 1]) && a < Math.Abs(d[i + 1])))
            {
                continue;
            }
            int sign = Math.Sign(d[i]);
            double left = PeakWithinSign(d, i, -1, sign), right = PeakWithinSign(d, i, +1, sign);
            if (a < options.PlateauFraction * Math.Min(left, right))
            {
                cuts.Add(new Cut(i, BoundaryKind.Plateau));
            }
        }
        cuts.Sort((p, q) => p.Index.CompareTo(q.Index));
        cuts = [.. cuts.Where((c, k) => k == 0 || c.Index != cuts[k - 1].Index)];

        // Merge the least significant stage until every stage is significant.
        while (cuts.Count > 0)
        {
            int[] ends = [0, .. cuts.Select(c => c.Index), g - 1];
            int stages = ends.Length - 1;
            double[] delta = new double[stages], z = new double[stages];
            for (int s = 0; s < stages; s++)
            {
                int i0 = ends[s], i1 = ends[s + 1];
                delta[s] = f[i1] - f[i0];
                double var = cov[i1, i1] + cov[i0, i0] - (2 * cov[i0, i1]);
                z[s] = Math.Abs(delta[s]) / Math.Sqrt(Math.Max(var, 1e-300));
            }
            double maxDelta = delta.Max(Math.Abs);
            int worst = -1;
            for (int s = 0; s < stages; s++)
            {
                // A stage must also be seen in the raw estimates, not only in the smoothed curve: a stationary kernel
                // overshoots after a sharp rise into a plateau (on the default DLN run a B "stage" of −0.10 ± 0.024
                // where the two checkpoints inside read 1.2675 and 1.2654), and its posterior SD, computed as if the
                // kernel were right, calls that overshoot significant.
                bool weak = z[s] < options.MinStageSignificance || Math.Abs(delta[s]) < options.MinStageFraction * maxDelta
                    || data.Support(grid[ends[s]], grid[ends[s + 1]], Math.Sign(delta[s])) < options.MinStageSignificance;
                if (weak && (worst < 0 || Math.Abs(delta[s]) < Math.Abs(delta[worst])))
                {
                    worst = s;
                }
            }
            if (worst < 0)
            {
                break;
            }
            if (worst == 0)
            {
                cuts.RemoveAt(0);
            }
            else if (worst == stages - 1)
            {
                cuts.RemoveAt(cuts.Count - 1);
            }
            else
            {
                // Interior: the stage's two boundaries become one, at its flattest point.
                int i0 = ends[worst], i1 = ends[worst + 1];
                int flat = i0;
                for (int i = i0; i <= i1; i++)
                {
                    if (Math.Abs(d[i]) < Math.Abs(d[flat]))
                    {
                        flat = i;
                    }
                }
                var kind = Math.Sign(delta[worst - 1]) == Math.Sign(delta[worst + 1]) ? BoundaryKind.Plateau : BoundaryKind.Extremum;
                cuts.RemoveAt(worst);
                cuts[worst - 1] = new Cut(flat, kind);
            }
        }
        return cuts;
    }

    /// <summary>The largest |d| reached from index i in one direction before the derivative changes sign.</summary>
    private static double PeakWithinSign(double[] d, int i, int direction, int sign)
    {
        double peak = 0;
        for (int j = i; j >= 0 && j < d.Length && (sign == 0 || Math.Sign(d[j]) == sign); j += direction)
        {
            peak = Math.Max(peak, Math.Abs(d[j]));
        }
        return peak;
    }

    private static List<(double[] F, double[] D)> PosteriorDraws(double[] f, double[] d, Matrix<double> cov, int count, ulong seed)
    {
        int g = f.Length;
        var result = new List<(double[], double[])>(count);
        if (count <= 0)
        {
            return result;
        }
        // Posterior covariances of a smooth GP are numerically rank-deficient: a small diagonal jitter, relative to
        // the largest variance, keeps the Cholesky factorisation defined without visibly changing the draws.
        double scale = 0;
        for (int i = 0; i < 2 * g; i++)
        {
            scale = Math.Max(scale, cov[i, i]);
        }
        Matrix<double> lower = null!;
        for (double jitter = 1e-10; ; jitter *= 10)
        {
            try
            {
                lower = (cov + (Matrix<double>.Build.DenseIdentity(2 * g) * (jitter * scale))).Cholesky().Factor;
                break;
            }
            catch (ArgumentException) when (jitter < 1e-2)
            {
            }
        }
        var rng = new Rng(seed);
        var z = Vector<double>.Build.Dense(2 * g);
        for (int m = 0; m < count; m++)
        {
            for (int i = 0; i < 2 * g; i++)
            {
                z[i] = rng.NextGaussian();
            }
            var sample = lower * z;
            double[] fd = new double[g], dd = new double[g];
            for (int i = 0; i < g; i++)
            {
                fd[i] = f[i] + sample[i];
                dd[i] = d[i] + sample[g + i];
            }
            result.Add((fd, dd));
        }
        return result;
    }

    private static double Interpolate(double[] x, double[] y, double at)
    {
        if (at <= x[0])
        {
            return y[0];
        }
        if (at >= x[^1])
        {
            return y[^1];
        }
        int hi = Array.BinarySearch(x, at);
        if (hi >= 0)
        {
            return y[hi];
        }
        hi = ~hi;
        int lo = hi - 1;
        double w = (at - x[lo]) / (x[hi] - x[lo]);
        return y[lo] + (w * (y[hi] - y[lo]));
    }
}
