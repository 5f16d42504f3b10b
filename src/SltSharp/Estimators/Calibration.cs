using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using SltSharp.Diagnostics;
using SltSharp.Sampling;

namespace SltSharp.Estimators;

/// <summary>How a calibration cell behaved.</summary>
public enum CellClass
{
    /// <summary>Every diagnostic is in range: usable.</summary>
    Stable,

    /// <summary>No blow-up, but the chains have not mixed within the cell (R-hat, ESS or drift): ε is small for this budget.</summary>
    NotMixed,

    /// <summary>No chain diverged, but the step is too large: low acceptance, loss spikes or a negative chain λ̂.</summary>
    Spiking,

    /// <summary>At least one chain diverged (NaN, ∞ or a runaway loss).</summary>
    Diverged,
}

/// <summary>One (ε, nβ, γ) cell of a calibration sweep: a short multi-chain run and its classification.</summary>
public sealed record CalibrationCell
{
    /// <summary>ε.</summary>
    public double StepSize { get; init; }

    /// <summary>nβ.</summary>
    public double NBeta { get; init; }

    /// <summary>γ.</summary>
    public double Localization { get; init; }

    /// <summary>The class.</summary>
    public CellClass Class { get; init; }

    /// <summary>λ̂ of the cell (NaN when every chain diverged).</summary>
    public double Lambda { get; init; } = double.NaN;

    /// <summary>max(SE across chains, MCSE) of λ̂.</summary>
    public double StandardError { get; init; } = double.NaN;

    /// <summary>Mean acceptance estimate.</summary>
    public double Acceptance { get; init; } = double.NaN;

    /// <summary>
    /// The 10% quantile of the per-draw acceptance over all surviving chains: what the worst-served tenth of the states
    /// gets (a MALA step can suit the bulk and stick elsewhere; see <see cref="CalibrationOptions.MalaWorstDecileAcceptance"/>).
    /// </summary>
    public double AcceptanceWorstDecile { get; init; } = double.NaN;

    /// <summary>Rank-normalised split-R̂ of the loss traces.</summary>
    public double RHat { get; init; } = double.NaN;

    /// <summary>Bulk ESS, all chains.</summary>
    public double BulkEss { get; init; } = double.NaN;

    /// <summary>Drift z-score between trace halves.</summary>
    public double DriftZScore { get; init; } = double.NaN;

    /// <summary>Chains that diverged.</summary>
    public int DivergedChains { get; init; }

    /// <summary>
    /// Exact (full-data) Metropolis rejection of this ε at the states the cell's chains reached (NaN for MALA, masked runs
    /// and cells that blew up): the step's discretisation error free of minibatch noise.
    /// </summary>
    public double ExactRejection { get; init; } = double.NaN;

    /// <summary>
    /// Mean over the same states of tr(nβ·∇²L_n), the loss part of the curvature of U (Hutchinson estimate from the exact
    /// rejection's own proposals; NaN where that is not measured): SGLD's first-order bias of λ̂ is ε·tr/8.
    /// </summary>
    public double CurvatureTrace { get; init; } = double.NaN;

    /// <summary>Why the cell got its class (empty for a stable cell).</summary>
    public IReadOnlyList<string> Reasons { get; init; } = [];

    /// <summary>The cell's run (null when every chain diverged).</summary>
    public LlcResult? Run { get; init; }
}

/// <summary>One rung of the step-size probe.</summary>
/// <param name="StepSize">ε.</param>
/// <param name="Acceptance">Mean acceptance of the surviving chains (NaN when all diverged).</param>
/// <param name="Diverged">True when any chain diverged.</param>
public sealed record ProbeRung(double StepSize, double Acceptance, bool Diverged);

/// <summary>The recommended setting.</summary>
/// <param name="StepSize">ε.</param>
/// <param name="NBeta">nβ.</param>
/// <param name="Localization">γ.</param>
/// <param name="Cell">The cell it comes from.</param>
/// <param name="Verified">True when the chosen cell was stable (mixed within its budget), not merely non-diverging.</param>
public sealed record CalibrationChoice(double StepSize, double NBeta, double Localization, CalibrationCell Cell, bool Verified);

/// <summary>The outcome of <see cref="Calibration.Run{T}"/>.</summary>
public sealed record CalibrationResult
{
    /// <summary>The grid, row by row (γ, then nβ), ε descending within a row.</summary>
    public required IReadOnlyList<CalibrationCell> Cells { get; init; }

    /// <summary>The probe's rungs (empty when the step sizes were given).</summary>
    public IReadOnlyList<ProbeRung> Probe { get; init; } = [];

    /// <summary>The recommendation, or null when no cell is usable.</summary>
    public CalibrationChoice? Choice { get; init; }

    /// <summary>Sentences a person can act on: how the choice was made, or what to change when there is none.</summary>
    public required IReadOnlyList<string> Reasons { get; init; }

    /// <summary>The base nβ the multipliers apply to.</summary>
    public double BaseNBeta { get; init; }

    /// <summary>L(w*), computed once for every cell.</summary>
    public double ReferenceLoss { get; init; }

    /// <summary>Wall time of the sweep.</summary>
    public TimeSpan Elapsed { get; init; }
}

/// <summary>Calibration followed by the estimate at the chosen setting.</summary>
/// <param name="Calibration">The sweep.</param>
/// <param name="Options">The options of the final run (null when calibration found nothing usable).</param>
/// <param name="Estimate">The final estimate (null when calibration found nothing usable).</param>
/// <param name="Reasons">How the final run's length was chosen.</param>
public sealed record AutoLlcResult(CalibrationResult Calibration, LlcOptions? Options, LlcResult? Estimate, IReadOnlyList<string> Reasons);

/// <summary>
/// Chooses ε, nβ and γ for an LLC estimate: a cheap step-size probe finds the scale, a grid of short multi-chain runs
/// around it is classified (diverged, spiking, not mixed, stable) from the sampling diagnostics, and a documented rule
/// picks the cell. See docs/sampling-and-llc.md, "Calibration", for the rule and why.
/// </summary>
/// <remarks>
/// Cheapness: L(w*) is computed once; every cell uses the same seed, so cells share their noise and minibatch streams
/// (common random numbers make λ̂ differences between neighbouring ε far less noisy than independent runs would);
/// a divergence bound of 100·(P + 1) on nβ·(L − L(w*)) stops runaway chains within a few steps; cells run in parallel.
/// </remarks>
public static class Calibration
{
    private const double HalfDecade = 3.1622776601683795;

    /// <summary>Runs the sweep and recommends a setting.</summary>
    /// <param name="loss">The loss (replicable when <see cref="CalibrationOptions.Parallelism"/> &gt; 1).</param>
    /// <param name="wStar">w*.</param>
    /// <param name="baseOptions">Sampler, batch size, seed and (as the defaults the sweep varies) nβ and γ.</param>
    /// <param name="options">The sweep; null for the defaults.</param>
    public static CalibrationResult Run<T>(IChainedLoss<T> loss, ReadOnlySpan<T> wStar, LlcOptions baseOptions, CalibrationOptions? options = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(baseOptions);
        options ??= new CalibrationOptions();
        options.Validate();
        if (wStar.Length != loss.ParameterCount)
        {
            throw new ArgumentException($"w* has {wStar.Length} values but the model has {loss.ParameterCount} parameters.", nameof(wStar));
        }
        if (options.Parallelism > 1 && loss is not IReplicableChainedLoss<T>)
        {
            throw new ArgumentException($"Parallelism = {options.Parallelism} needs a loss that implements IReplicableChainedLoss; {loss.GetType().Name} does not. Use Parallelism = 1.", nameof(options));
        }
        var stopwatch = Stopwatch.StartNew();
        var anchor = wStar.ToArray();
        double reference = baseOptions.ReferenceLoss ?? LlcEstimator.FullDataLoss(loss, wStar);
        if (!double.IsFinite(reference))
        {
            throw new ArgumentException($"L(w*) = {reference} is not finite: check w* and the data.", nameof(wStar));
        }
        double baseNBeta = baseOptions.NBeta ?? LocalizedPosterior.DefaultNBeta(loss.SampleCount);
        var gammas = (options.Localizations ?? [baseOptions.Localization]).Distinct().Order().ToArray();
        bool mala = baseOptions.Sampler == SamplerKind.Mala;
        double bound = 100.0 * (loss.ParameterCount + 1);
        var cellBase = baseOptions with
        {
            Chains = options.CellChains, Burnin = options.CellBurnin, Draws = options.CellDraws, Thinning = options.CellThinning,
            ReferenceLoss = reference, DivergenceBound = bound, Threads = 1, Progress = null, ChainIndices = null,
            // Cells measure the same curvature themselves (ExactRejectionAndCurvature below, with the rejection).
            CheckStepBias = false,
        };
        var reasons = new List<string>();

        // 1. The probe: a half-decade ladder downwards at the base (nβ, γ) to the first step at which no chain diverges.
        var probe = new List<ProbeRung>();
        double[] steps;
        if (options.StepSizes is { } given)
        {
            steps = given.Distinct().OrderDescending().ToArray();
        }
        else
        {
            double? found = null;
            var probeOptions = cellBase with { NBeta = baseNBeta, Localization = baseOptions.Localization, Burnin = 0, Draws = options.ProbeSteps, Thinning = 1 };
            for (double eps = options.ProbeStart; eps >= options.ProbeEnd * 0.999; eps /= HalfDecade)
            {
                var rung = ProbeAt(loss, anchor, probeOptions with { StepSize = eps });
                probe.Add(rung);
                // MALA never diverges at a step that is too large: it rejects every proposal and stays at w*. Its probe also
                // needs the acceptance that keeps a cell from being classed spiking (normal-crossing (0,1): acceptance 0
                // at ε = 1, and every cell of the grid built on it was spiking).
                if (!rung.Diverged && !double.IsNaN(rung.Acceptance) && (!mala || rung.Acceptance >= DiagnosticThresholds.MalaAcceptanceWarn))
                {
                    found = eps;
                    reasons.Add($"Probe: ε = {Fmt(eps)} is the largest step of a half-decade ladder from {Fmt(options.ProbeStart)} at which no chain diverged in {options.ProbeSteps} steps (acceptance {rung.Acceptance:F2}{(mala ? $", MALA needs ≥ {DiagnosticThresholds.MalaAcceptanceWarn:F2}" : "")}).");
                    break;
                }
            }
            if (found is null)
            {
                reasons.Add($"Every probed step from ε = {Fmt(options.ProbeStart)} to {Fmt(options.ProbeEnd)} diverged: w* is probably not a minimum of this loss (check it), or raise the localization γ.");
                return new CalibrationResult { Cells = [], Probe = probe, Choice = null, Reasons = reasons, BaseNBeta = baseNBeta, ReferenceLoss = reference, Elapsed = stopwatch.Elapsed };
            }
            steps = Enumerable.Range(-options.GridAbove, options.GridAbove + options.GridBelow + 1)
                .Select(k => Round3(found.Value * Math.Pow(HalfDecade, -k))).ToArray();
        }

        // 2. The grid: rows (γ ascending, then nβ), ε descending within a row; every cell the same seed.
        var specs = new List<(double Eps, double NBeta, double Gamma)>();
        foreach (double g in gammas)
        {
            foreach (double m in options.NBetaMultipliers.Distinct().Order())
            {
                foreach (double eps in steps)
                {
                    specs.Add((eps, baseNBeta * m, g));
                }
            }
        }
        var cells = new CalibrationCell[specs.Count];
        int done = 0;
        bool measureExact = !mala && baseOptions.ParameterMask is null;
        void RunCell(IChainedLoss<T> cellLoss, int i)
        {
            var (eps, nBeta, g) = specs[i];
            var ends = new T[options.CellChains][];
            var run = RunCellAt(cellLoss, anchor, cellBase with { StepSize = eps, NBeta = nBeta, Localization = g }, (chain, draw, position) =>
            {
                if (draw == options.CellDraws - 1)
                {
                    ends[chain] = position.ToArray();
                }
            });
            var cell = Classify(run, eps, nBeta, g, mala);
            if (measureExact && cell.Class is CellClass.Stable or CellClass.NotMixed)
            {
                // The exact (full-data) Metropolis rejection of this ε at the states the chains reached: the discretisation
                // error of the step without the minibatch noise that pollutes the pseudo-MALA estimate.
                var states = ends.Where(e => e is not null).ToArray();
                var (rejection, trace) = ExactRejectionAndCurvature(cellLoss, anchor, states!, eps, nBeta, g, baseOptions.Seed);
                cell = cell with { ExactRejection = rejection, CurvatureTrace = trace };
            }
            cells[i] = cell;
            options.Progress?.Report((Interlocked.Increment(ref done), specs.Count));
        }
        if (options.Parallelism == 1)
        {
            for (int i = 0; i < specs.Count; i++)
            {
                RunCell(loss, i);
            }
        }
        else
        {
            var replicable = (IReplicableChainedLoss<T>)loss;
            // Largest ε first: those cells diverge fast, so the expensive ones spread evenly over the workers.
            Parallel.ForEach(
                Enumerable.Range(0, specs.Count).OrderByDescending(i => specs[i].Eps),
                new ParallelOptions { MaxDegreeOfParallelism = options.Parallelism },
                () => replicable.CreateReplica(),
                (i, _, replica) =>
                {
                    RunCell(replica, i);
                    return replica;
                },
                _ => { });
        }

        // 3. The rule.
        var choice = Select(cells, baseNBeta, mala, options, reasons);
        return new CalibrationResult
        {
            Cells = cells, Probe = probe, Choice = choice, Reasons = reasons, BaseNBeta = baseNBeta, ReferenceLoss = reference, Elapsed = stopwatch.Elapsed,
        };
    }

    /// <summary>
    /// Calibrates, then estimates at the chosen (ε, nβ, γ) with a run long enough for the target Monte Carlo error
    /// (from the chosen cell's effective sample size), never shorter than <paramref name="baseOptions"/> asks.
    /// </summary>
    /// <param name="loss">The loss.</param>
    /// <param name="wStar">w*.</param>
    /// <param name="baseOptions">Everything but ε, nβ and γ (which calibration chooses); its burn-in, draws and thinning are minimums.</param>
    /// <param name="options">The sweep; null for the defaults.</param>
    /// <param name="estimate">
    /// How to run the final estimate (default <see cref="LlcEstimator.Estimate{T}"/>); the CLI records it in the store. The
    /// step's bias is checked from the result's <see cref="SamplingDiagnostics.StepBias"/> (measured by
    /// <see cref="LlcEstimator.Sample{T}"/> at the chains' states); the observer argument is null (kept for callers that watch draws).
    /// </param>
    public static AutoLlcResult EstimateAuto<T>(IChainedLoss<T> loss, ReadOnlySpan<T> wStar, LlcOptions baseOptions, CalibrationOptions? options = null,
        Func<LlcOptions, DrawObserver<T>?, LlcResult>? estimate = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(baseOptions);
        options ??= new CalibrationOptions();
        var calibration = Run(loss, wStar, baseOptions, options);
        if (calibration.Choice is not { } choice)
        {
            return new AutoLlcResult(calibration, null, null, ["No usable setting: see the calibration's reasons."]);
        }
        var (final, firstReasons) = FinalOptions(calibration, baseOptions, options);
        var reasons = firstReasons.ToList();
        var anchor = wStar.ToArray();
        // The final run's own verdict measures the curvature at three states of each chain (LlcOptions.CheckStepBias):
        // the curvature varies several-fold between states of one posterior, so a dozen states say more than four.
        LlcResult RunFinal(LlcOptions o) => estimate is null ? LlcEstimator.Estimate(loss, anchor, o) : estimate(o, null);
        bool mala = baseOptions.Sampler == SamplerKind.Mala;
        bool checkBias = !mala && baseOptions.ParameterMask is null && final.Localization > 0;
        // The run repeated at a smaller step. Unadjusted samplers: the burn-in covers the Langevin time BurninLangevinTime/γ
        // for the new step, in the room the kept steps leave under the cap. Then, for every sampler, the kept steps grow
        // with the step's shrink into what room the cap leaves: the run was sized for the larger step's autocorrelation,
        // and a step k times smaller covers k times less Langevin time per step (normal-crossing data (1,2): ε cut 12.6×
        // with the kept steps unchanged left the halves drifting by 2.3 SE). More thinning rather than more draws:
        // FinalOptions bounds the draws per chain for memory.
        LlcOptions AtStep(LlcOptions o, double step)
        {
            long current = (long)o.Draws * o.Thinning;
            int burnin = o.Burnin;
            if (!mala && o.Localization > 0)
            {
                double langevin = options.BurninLangevinTime / (o.Localization * step);
                burnin = (int)Math.Max(o.Burnin, Math.Min(langevin, options.MaxStepsPerChain - current));
            }
            long kept = (long)Math.Max(current, Math.Min(current * (o.StepSize / step), options.MaxStepsPerChain - burnin));
            return o with { StepSize = step, Burnin = burnin, Thinning = (int)Math.Max(o.Thinning, kept / o.Draws) };
        }
        string Length(LlcOptions o) => $"{o.Burnin} burn-in steps and {(long)o.Draws * o.Thinning} kept steps per chain";
        // The final run is its own pilot. (a) Its chains must not diverge: the cells are short, and a long run can reach
        // regions where the chosen step is unstable (normal-crossing data (2,3), SGLD, seed 6: every chain of the final
        // run at ε = 2.9e-3 diverged, and EstimateAuto used to throw). (b) MALA's worst decile of acceptance, and (c) for
        // unadjusted samplers the step's bias, both measured where its chains went: the calibration cells are too short
        // to reach the flat arms of a singular valley, and out there the curvature (hence the bias ε·tr(nβ∇²L)/8) can be
        // many times what the cells saw (DLN 5×3×5, r = 0: the cells' trace asked for ε = 3.6e-5, which landed 23% high).
        // A step too large by any of these is shrunk and the run repeated (at most MaxStepCorrections times in all).
        // (d) While its diagnostics say it has not converged, it is run again with twice the burn-in and kept steps.
        int corrections = 0, extensions = 0;
        LlcResult? result = null;
        while (true)
        {
            if (result is null)
            {
                try
                {
                    result = RunFinal(final);
                }
                catch (SamplingDivergedException e) when (corrections < options.MaxStepCorrections)
                {
                    corrections++;
                    final = AtStep(final, Round3(final.StepSize / HalfDecade));
                    reasons.Add($"Every chain of the final run diverged ({e.Message.Split('.')[0]}): rerun at ε = {Fmt(final.StepSize)}, a half-decade smaller, with {Length(final)}.");
                    continue;
                }
            }
            if (result.Diagnostics.DivergedChains > 0 && corrections < options.MaxStepCorrections)
            {
                corrections++;
                reasons.Add($"{result.Diagnostics.DivergedChains} chain(s) of the final run diverged at ε = {Fmt(final.StepSize)}: the step is unstable somewhere the chains went.");
                final = AtStep(final, Round3(final.StepSize / HalfDecade));
                reasons.Add($"Rerun at ε = {Fmt(final.StepSize)}, a half-decade smaller, with {Length(final)}.");
                result = null;
                continue;
            }
            if (mala && corrections < options.MaxStepCorrections && WorstDecileAcceptance(result.Sampling) is var worst && worst < options.MalaWorstDecileAcceptance)
            {
                // The regions where a step sticks (large curvature far along a valley) may only be reached by the long run.
                corrections++;
                final = AtStep(final, Round3(final.StepSize / HalfDecade));
                reasons.Add($"The worst 10% of the final run's draws have acceptance ≤ {worst:F2} (< {options.MalaWorstDecileAcceptance:F2}): the step sticks where the chains went. Rerun at ε = {Fmt(final.StepSize)} with {Length(final)}.");
                result = null;
                continue;
            }
            if (checkBias && corrections < options.MaxStepCorrections && EquilibriumStep(result, final.Localization, options) is { } step)
            {
                corrections++;
                final = AtStep(final, step.StepSize);
                reasons.Add(step.Reason + $" Rerun at ε = {Fmt(step.StepSize)} with {Length(final)}.");
                result = null;
                continue;
            }
            if (extensions >= options.MaxExtensions || NotConverged(result, options) is not { } why)
            {
                break;
            }
            extensions++;
            long total = (2L * final.Burnin) + (2L * final.Draws * final.Thinning);
            if (total > options.MaxStepsPerChain)
            {
                reasons.Add($"The final run has not converged ({why}), but twice its length would exceed MaxStepsPerChain = {options.MaxStepsPerChain}; its verdict stands.");
                break;
            }
            final = final with { Burnin = 2 * final.Burnin, Draws = 2 * final.Draws };
            reasons.Add($"Extended: the run had not converged ({why}); rerun with {Length(final)}.");
            result = null;
        }
        return new AutoLlcResult(calibration, final, result, reasons);
    }

    /// <summary>
    /// The bias check of a final run, from its verdict's <see cref="StepBiasCheck"/> (the curvature where its chains ended
    /// up): null when the predicted bias ε·tr/8 is within <see cref="CalibrationOptions.EquilibriumBiasTolerance"/> × the
    /// budget and the step is clear of the stability edge; otherwise the check's advised step (the same rule as the
    /// verdict's advice, at this budget) and why.
    /// </summary>
    internal static (double StepSize, string Reason)? EquilibriumStep(LlcResult result, double gamma, CalibrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(options);
        var measured = result.Diagnostics.StepBias;
        if (measured is null || StepCurvatureOf(measured) is not { } curvature || StepBiasCheck.Assess(curvature, measured.StepSize, result.Mean, gamma, options.BiasBudget) is not { } check)
        {
            return null;
        }
        bool tooBiased = check.RelativeBias > options.EquilibriumBiasTolerance * options.BiasBudget;
        bool nearEdge = check.EdgeRatio > DiagnosticThresholds.EdgeRatioWarn;
        if ((!tooBiased && !nearEdge) || !(check.AdvisedStep < check.StepSize))
        {
            return null;
        }
        return (check.AdvisedStep, $"Where the chains ended up, tr(nβ∇²L) ≈ {check.Trace:G3}: the step's bias ε·tr/8 ≈ {check.Bias:G3} is {check.RelativeBias:P0} of λ̂ ≈ {check.Lambda:G3}" +
            (nearEdge ? $" and ε·q_max/4 = {check.EdgeRatio:F2} is near the stability edge" : "") +
            $" (the calibration cells, too short to reach the flat directions, saw less); a bias of {options.BiasBudget:P0} needs ε ≈ {Fmt(check.AdvisedStep)}.");
    }

    private static StepCurvature StepCurvatureOf(StepBiasCheck check) => new(check.Trace, check.Probes, check.TopCurvature);

    // Why a final run should be lengthened: its halves disagree, its chains disagree, or its Monte Carlo error is more than
    // twice the target. Null when none holds.
    private static string? NotConverged(LlcResult result, CalibrationOptions options)
    {
        var d = result.Diagnostics;
        if (Math.Abs(d.DriftZScore) > 2)
        {
            return $"drift between halves {d.DriftZScore:F1} SE";
        }
        if (d.RHat > 1.05)
        {
            return $"R-hat {d.RHat:F3}";
        }
        double relative = result.MonteCarloStandardError / Math.Abs(result.Mean);
        return relative > 2 * options.TargetRelativeError ? $"Monte Carlo error {relative:P1} of λ̂" : null;
    }

    /// <summary>
    /// The options of the run that follows a calibration: the chosen (ε, nβ, γ); burn-in the larger of twice a cell's
    /// length and a quarter of the kept steps; enough steps for <see cref="CalibrationOptions.TargetRelativeError"/>
    /// from the chosen cell's error, doubled because a short run underestimates the autocorrelation time.
    /// </summary>
    public static (LlcOptions Options, IReadOnlyList<string> Reasons) FinalOptions(CalibrationResult calibration, LlcOptions baseOptions, CalibrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        ArgumentNullException.ThrowIfNull(baseOptions);
        ArgumentNullException.ThrowIfNull(options);
        var choice = calibration.Choice ?? throw new ArgumentException("The calibration has no recommendation.", nameof(calibration));
        var cell = choice.Cell;
        long cellSteps = options.CellBurnin + ((long)options.CellDraws * options.CellThinning);
        long minimum = (long)baseOptions.Draws * baseOptions.Thinning;
        long sampleSteps = (long)options.CellDraws * options.CellThinning;
        double relative = cell.StandardError / Math.Abs(cell.Lambda);
        double needed = double.IsFinite(relative) ? 2.0 * sampleSteps * Math.Pow(relative / options.TargetRelativeError, 2) : double.PositiveInfinity;
        // A quarter of the kept steps again as burn-in (at least twice a cell and the caller's burn-in): the slow relaxation
        // from w* scales with the run's own time scale, which a fixed burn-in would not follow.
        long cap = Math.Max(minimum, options.MaxStepsPerChain * 4 / 5);
        long steps = (long)Math.Clamp(needed, minimum, cap);
        long burnin = Math.Max(Math.Max(baseOptions.Burnin, 2 * cellSteps), steps / 4);
        // Relaxation from w*: on singular models the valleys' flat arms are held only by the localization, so the chains
        // need a Langevin time (ε × steps) of order 1/γ to fill them, whatever ε is; short cells cannot see this (on the DLN
        // (5,5,5,5) r = 2 a time of 0.05 leaves λ̂ 17% low, 0.2 about 5%). Unadjusted samplers get BurninLangevinTime/γ as
        // burn-in, within MaxStepsPerChain.
        if (baseOptions.Sampler != SamplerKind.Mala && choice.Localization > 0)
        {
            double langevin = options.BurninLangevinTime / (choice.Localization * choice.StepSize);
            burnin = (long)Math.Max(burnin, Math.Min(langevin, options.MaxStepsPerChain - steps));
        }
        // Keep many draws: the precision estimate came from a cell thinned by CellThinning, and thinning far beyond the
        // autocorrelation time throws information away (at most 20 000 draws per chain, to bound memory).
        int thinning = (int)Math.Max(Math.Max(baseOptions.Thinning, options.CellThinning), Math.Ceiling(steps / 20_000.0));
        int draws = (int)Math.Max(baseOptions.Draws, steps / thinning);
        var reasons = new List<string>
        {
            needed > cap
                ? $"Chain length: {burnin} burn-in steps and {(long)draws * thinning} steps per chain, the cap MaxStepsPerChain; the cell's error ({relative:P1} of λ̂) asked for {needed:G3} steps to reach {options.TargetRelativeError:P1}."
                : $"Chain length: {burnin} burn-in steps and {(long)draws * thinning} steps per chain, aiming at a Monte Carlo error of {options.TargetRelativeError:P1} of λ̂ from the chosen cell's {relative:P1}.",
        };
        var final = baseOptions with
        {
            StepSize = choice.StepSize, NBeta = choice.NBeta, Localization = choice.Localization,
            Burnin = (int)Math.Min(burnin, int.MaxValue), Draws = draws, Thinning = thinning, ReferenceLoss = calibration.ReferenceLoss,
        };
        return (final, reasons);
    }

    private static ProbeRung ProbeAt<T>(IChainedLoss<T> loss, T[] anchor, LlcOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        try
        {
            var sample = LlcEstimator.Sample(loss, anchor, options);
            var s = sample.Sampling;
            bool diverged = s.Diverged.Any(d => d);
            var acc = Enumerable.Range(0, s.Losses.Length).Where(c => !s.Diverged[c]).SelectMany(c => s.Acceptances[c]).Where(a => !double.IsNaN(a)).ToArray();
            return new ProbeRung(options.StepSize, acc.Length > 0 ? acc.Average() : double.NaN, diverged);
        }
        catch (SamplingDivergedException)
        {
            return new ProbeRung(options.StepSize, double.NaN, true);
        }
    }

    private static (LlcResult? Result, string? Divergence) RunCellAt<T>(IChainedLoss<T> loss, T[] anchor, LlcOptions options, DrawObserver<T> observer)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        try
        {
            return (LlcEstimator.Estimate(loss, anchor, options, observer), null);
        }
        catch (SamplingDivergedException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>
    /// Mean Metropolis rejection 1 − E[min(1, α)] of the Langevin proposal w' = w − (ε/2)∇U(w) + √ε·ξ for the exact
    /// U = nβ·L_n + (γ/2)||w − w*||² on the full data, averaged over proposals from the given states.
    /// </summary>
    internal static double ExactRejection<T>(IChainedLoss<T> loss, T[] anchor, T[][] states, double eps, double nBeta, double gamma, ulong seed)
        where T : unmanaged, IFloatingPointIeee754<T>
        => ExactRejectionAndCurvature(loss, anchor, states, eps, nBeta, gamma, seed).Rejection;

    /// <summary>
    /// <see cref="ExactRejection{T}"/> and, from the same proposals, a Hutchinson estimate of tr(nβ·∇²L_n)
    /// (<see cref="StepCurvatureProbe.ExactRejectionAndCurvature{T}"/>, <see cref="StepCurvatureProbe.MaxProposalsPerState"/> proposals per state).
    /// </summary>
    internal static (double Rejection, double Trace) ExactRejectionAndCurvature<T>(IChainedLoss<T> loss, T[] anchor, T[][] states, double eps, double nBeta, double gamma, ulong seed)
        where T : unmanaged, IFloatingPointIeee754<T>
        => StepCurvatureProbe.ExactRejectionAndCurvature(loss, anchor, states, eps, nBeta, gamma, new Engine.Random.Rng(seed, 0x5EED_CA1Bul), StepCurvatureProbe.MaxProposalsPerState);

    private static CalibrationCell Classify((LlcResult? Result, string? Divergence) run, double eps, double nBeta, double gamma, bool mala)
    {
        var cell = new CalibrationCell { StepSize = eps, NBeta = nBeta, Localization = gamma };
        if (run.Result is not { } r)
        {
            return cell with { Class = CellClass.Diverged, DivergedChains = -1, Reasons = [$"Every chain diverged at ε = {Fmt(eps)}."] };
        }
        var d = r.Diagnostics;
        double se = Math.Max(Finite(r.StandardError), Finite(r.MonteCarloStandardError));
        cell = cell with
        {
            Lambda = r.Mean, StandardError = se, Acceptance = d.MeanAcceptance, AcceptanceWorstDecile = WorstDecileAcceptance(r.Sampling), RHat = d.RHat, BulkEss = d.BulkEss,
            DriftZScore = d.DriftZScore, DivergedChains = d.DivergedChains, Run = r,
        };
        var reasons = new List<string>();
        if (d.DivergedChains > 0)
        {
            reasons.Add($"{d.DivergedChains} of {r.Sampling.Losses.Length} chains diverged at ε = {Fmt(eps)}: {r.DivergenceMessages.FirstOrDefault()}");
            return cell with { Class = CellClass.Diverged, Reasons = reasons };
        }
        double acceptanceFloor = mala ? DiagnosticThresholds.MalaAcceptanceWarn : DiagnosticThresholds.AcceptanceFail;
        if (d.MeanAcceptance < acceptanceFloor)
        {
            reasons.Add($"Acceptance {d.MeanAcceptance:F2} < {acceptanceFloor:F2}: the step dominates the result.");
        }
        if (r.ChainEstimates.Min() < 0)
        {
            reasons.Add($"A chain's λ̂ is negative ({r.ChainEstimates.Min():G3}): chains leave the basin of w*.");
        }
        if (Spikes(r) is { } spike)
        {
            reasons.Add(spike);
        }
        if (reasons.Count > 0)
        {
            return cell with { Class = CellClass.Spiking, Reasons = reasons };
        }
        if (d.RHat > DiagnosticThresholds.RHatFail)
        {
            reasons.Add($"R-hat {d.RHat:F3} > {DiagnosticThresholds.RHatFail}: chains disagree within the cell.");
        }
        if (d.BulkEss < 2 * DiagnosticThresholds.EssTotalFail)
        {
            reasons.Add($"Bulk ESS {d.BulkEss:F0} < {2 * DiagnosticThresholds.EssTotalFail:F0}: the draws are almost all correlated.");
        }
        if (Math.Abs(d.DriftZScore) > DiagnosticThresholds.DriftWarn)
        {
            reasons.Add($"The loss still drifts ({d.DriftZScore:F1} SE between halves): not yet relaxed from w*.");
        }
        return reasons.Count > 0 ? cell with { Class = CellClass.NotMixed, Reasons = reasons } : cell;
    }

    /// <summary>
    /// The 10% quantile of the per-draw acceptance over the chains that did not diverge (NaN entries, e.g. SGLD draws
    /// between acceptance probes, are skipped); NaN when there is none.
    /// </summary>
    internal static double WorstDecileAcceptance(SamplingResult sampling)
    {
        var a = sampling.Acceptances.Where((_, c) => !sampling.Diverged[c]).SelectMany(t => t).Where(v => !double.IsNaN(v)).Order().ToArray();
        return a.Length == 0 ? double.NaN : a[(int)(0.1 * (a.Length - 1))];
    }

    // A spike is a draw far outside the bulk of the excess-loss distribution: beyond q99 + 10·(q99 − q50). A Gamma(λ)
    // excess (the posterior law of nβ(L − L*) near a minimum) never gets there in a few thousand draws for any λ.
    private static string? Spikes(LlcResult r)
    {
        var excess = r.Sampling.Losses.Where((_, c) => !r.Sampling.Diverged[c]).SelectMany(t => t).Select(v => r.NBeta * (v - r.ReferenceLoss)).Order().ToArray();
        if (excess.Length < 100)
        {
            return null;
        }
        double q50 = excess[excess.Length / 2], q99 = excess[(int)(0.99 * (excess.Length - 1))], max = excess[^1];
        double limit = q99 + (10 * Math.Max(q99 - q50, 1e-12));
        return max > limit ? $"The loss spikes: nβ·(L − L*) reaches {max:G3}, beyond the bulk (99th percentile {q99:G3})." : null;
    }

    private static CalibrationChoice? Select(CalibrationCell[] cells, double baseNBeta, bool mala, CalibrationOptions options, List<string> reasons)
    {
        // Rows by preference: the smallest γ (localization biases λ̂ low), then nβ closest to the base nβ.
        var rows = cells.GroupBy(c => (c.Localization, c.NBeta))
            .OrderBy(g => g.Key.Localization).ThenBy(g => Math.Abs(Math.Log(g.Key.NBeta / baseNBeta)))
            .Select(g => g.OrderByDescending(c => c.StepSize).ToArray()).ToList();
        foreach (var row in rows)
        {
            var how = new List<string>();
            if (SelectInRow(row, mala, options, how) is { } choice)
            {
                Explain(choice, rows, baseNBeta, how, reasons);
                return choice;
            }
        }
        var classes = cells.GroupBy(c => c.Class).ToDictionary(g => g.Key, g => g.Count());
        reasons.Add($"No usable cell ({string.Join(", ", classes.Select(kv => $"{kv.Value} {Label(kv.Key)}"))}): every cell diverged or spiked. " +
            "Check that w* is a minimum of the loss, widen the grid towards smaller ε, or raise γ (add larger values to the localization list).");
        return null;
    }

    // The rule within one (γ, nβ) row, ε descending. The stability edge is the largest ε whose cell neither diverged nor
    // spiked. MALA: the largest such ε with acceptance ≥ the MALA target (exact sampler: ε sets only efficiency).
    // Unadjusted samplers: from the largest usable cell with rejection ≤ MaxRejection (the most mixed, hence most
    // representative, where the first-order model holds) the curvature trace
    // gives the step of bias ≈ b, ε = 8bλ̂/tr(nβ∇²L), capped where the exact rejection (∝ ε^{3/2}) reaches MaxRejection.
    // Where neither was measured (masked runs): ε* = EdgeFraction·edge. Then the grid cell
    // at or below ε*; if it and the next smaller cell are both stable and their λ̂ differ beyond the tolerance, one more
    // half-decade down.
    private static CalibrationChoice? SelectInRow(CalibrationCell[] row, bool mala, CalibrationOptions options, List<string> how)
    {
        var live = row.Where(c => c.Class is CellClass.Stable or CellClass.NotMixed && double.IsFinite(c.Lambda)).ToArray();
        if (live.Length == 0)
        {
            return null;
        }
        double edge = live[0].StepSize;
        double target;
        bool biasModel = false;
        if (mala)
        {
            // Both the mean and the worst decile: a step that suits the bulk can stick where the curvature is larger (the far
            // ends of a singular valley), which the mean hides (CalibrationOptions.MalaWorstDecileAcceptance).
            var fine = live.FirstOrDefault(c => c.Acceptance >= options.MalaTargetAcceptance && !(c.AcceptanceWorstDecile < options.MalaWorstDecileAcceptance)) ?? live[^1];
            target = fine.StepSize;
            how.Add($"MALA is exact, so ε only sets efficiency: the largest non-diverging step with acceptance ≥ {options.MalaTargetAcceptance:F2} on average and ≥ {options.MalaWorstDecileAcceptance:F2} in the worst 10% of draws (here {fine.Acceptance:F2} and {fine.AcceptanceWorstDecile:F2}).");
        }
        else if ((live.FirstOrDefault(c => c.CurvatureTrace > 0 && c.ExactRejection > 0 && c.ExactRejection <= options.MaxRejection && c.Lambda > 0)
            ?? live.LastOrDefault(c => c.CurvatureTrace > 0 && c.ExactRejection > 0 && c.Lambda > 0)) is { } mixed)
        {
            // (The largest cell whose rejection is at most MaxRejection: beyond it the step's bias is no longer first order
            // and inflates the λ̂ the rule scales with; on a Gaussian at εq/4 = 0.75 λ̂ was 4× too large.)
            // The bias model: a direction of curvature q gets SGLD variance 1/(q(1 − εq/4)), i.e. λ̂ gains ε·q/8 per stiff
            // direction, ε·tr(nβ∇²L)/8 in all, whatever the spread of the curvatures. The trace comes from the most mixed
            // (largest) usable cell. The exact rejection, ∝ ε^{3/2}, caps the step where the Langevin step itself breaks
            // down (DLNs: acceptance ≈ 0.6 spiked, 0.7 did not; see docs/sampling-and-llc.md).
            double byBias = 8 * options.BiasBudget * mixed.Lambda / mixed.CurvatureTrace;
            double byRejection = mixed.StepSize * Math.Pow(options.MaxRejection / mixed.ExactRejection, 2.0 / 3.0);
            target = Math.Min(edge, Math.Min(byBias, byRejection));
            biasModel = true;
            how.Add($"SGLD's discretisation bias of λ̂ is ≈ ε·tr(nβ∇²L)/8; with tr ≈ {mixed.CurvatureTrace:G3} and λ̂ ≈ {mixed.Lambda:G3} at ε = {Fmt(mixed.StepSize)} (from the states its chains reached), a bias of {options.BiasBudget:P0} means ε ≈ {Fmt(byBias)}. " +
                $"The exact (full-data) Metropolis rejection there, {mixed.ExactRejection:G2}, scales as ε^(3/2) and reaches {options.MaxRejection:G2} at ε ≈ {Fmt(byRejection)}; the stability edge is {Fmt(edge)}: ε ≈ {Fmt(target)}.");
        }
        else
        {
            target = options.EdgeFraction * edge;
            how.Add($"No exact rejection could be measured: ε = {options.EdgeFraction:G2} × the stability edge ε = {Fmt(edge)} (the largest step whose cell neither diverged nor spiked).");
        }
        int index = Array.FindIndex(row, c => c.StepSize <= target * 1.001 && c.Class is CellClass.Stable or CellClass.NotMixed);
        if (index < 0)
        {
            // Below the grid: the rule's ε still stands (the grid is evidence, not the menu); its nearest cell is reported.
            index = Array.IndexOf(row, live[^1]);
            how.Add($"ε = {Fmt(target)} lies below the grid; it is used as extrapolated, and the smallest usable cell stands in for it.");
            if (mala)
            {
                target = row[index].StepSize;
            }
        }
        else if (mala)
        {
            target = row[index].StepSize;
        }
        var cell = row[index];
        var smaller = index + 1 < row.Length ? row[index + 1] : null;
        if (biasModel && smaller is not null && double.IsFinite(smaller.Lambda) && !Flat(cell, smaller, options, out double rise))
        {
            // With a measured bias model the half-decade step is not taken: the model bounds the step's own bias, and a
            // larger change between short cells is the chains still climbing from w* (on DLNs λ̂ rises with ε at every ε
            // of the grid, far beyond ε·tr/8). The final run's burn-in is scaled for it (FinalOptions).
            how.Add($"λ̂ moves {rise:+0.0%;-0.0%} from ε = {Fmt(cell.StepSize)} to {Fmt(smaller.StepSize)} in these short cells, more than the bias model allows: the smaller step has not relaxed from w* yet, so the final run's burn-in is lengthened instead of shrinking ε.");
        }
        else if (!biasModel && cell.Class == CellClass.Stable && smaller is { Class: CellClass.Stable } && !Flat(cell, smaller, options, out double change))
        {
            how.Add($"λ̂ still moves {change:+0.0%;-0.0%} from ε = {Fmt(cell.StepSize)} to {Fmt(smaller.StepSize)}: one half-decade smaller.");
            cell = smaller;
            target = Math.Min(target, smaller.StepSize);
        }
        return new CalibrationChoice(Round3(target), cell.NBeta, cell.Localization, cell, cell.Class == CellClass.Stable);
    }

    private static bool Flat(CalibrationCell a, CalibrationCell b, CalibrationOptions options, out double change)
    {
        change = (a.Lambda / b.Lambda) - 1;
        double allowed = Math.Max(options.FlatnessTolerance * Math.Abs(b.Lambda), 2 * Math.Sqrt((a.StandardError * a.StandardError) + (b.StandardError * b.StandardError)));
        return Math.Abs(a.Lambda - b.Lambda) <= allowed;
    }

    private static void Explain(CalibrationChoice choice, List<CalibrationCell[]> rows, double baseNBeta, List<string> how, List<string> reasons)
    {
        var c = choice.Cell;
        var row = rows.First(r => r.Contains(c));
        int index = Array.IndexOf(row, c);
        var smaller = index + 1 < row.Length ? row[index + 1] : null;
        reasons.Add($"Chosen: ε = {Fmt(choice.StepSize)}, nβ = {Fmt(c.NBeta)}{(Math.Abs(c.NBeta - baseNBeta) < 1e-9 * baseNBeta ? " (the base nβ)" : "")}, γ = {Fmt(c.Localization)}.");
        reasons.AddRange(how);
        reasons.Add(c.Class == CellClass.Stable
            ? (smaller is { Class: CellClass.Stable }
                ? $"Its cell (ε = {Fmt(c.StepSize)}) is stable, λ̂ = {c.Lambda:G4} ± {c.StandardError:G2}, and agrees with {smaller.Lambda:G4} at ε = {Fmt(smaller.StepSize)} ({(c.Lambda / smaller.Lambda) - 1:+0.0%;-0.0%})."
                : $"Its cell (ε = {Fmt(c.StepSize)}) is stable, λ̂ = {c.Lambda:G4} ± {c.StandardError:G2}; the smaller steps did not mix within a cell, so flatness in ε was not checked.")
            : $"Its cell (ε = {Fmt(c.StepSize)}) did not mix within the cell's budget ({string.Join(" ", c.Reasons)}); the final run is much longer, so its own diagnostics decide.");
        foreach (var larger in row.Take(index).Where(l => l.Class is CellClass.Diverged or CellClass.Spiking).TakeLast(1))
        {
            reasons.Add($"ε = {Fmt(larger.StepSize)} is {Label(larger.Class)}: {string.Join(" ", larger.Reasons)}");
        }
        var otherNBeta = rows.Where(r => r[0].Localization == c.Localization && r[0].NBeta != c.NBeta)
            .Select(r => r.FirstOrDefault(x => x.StepSize == c.StepSize && x.Class is CellClass.Stable or CellClass.NotMixed))
            .Where(x => x is not null).Select(x => $"{x!.Lambda:G3} at nβ = {Fmt(x.NBeta)}").ToList();
        if (otherNBeta.Count > 0)
        {
            reasons.Add($"At this ε, λ̂ is {string.Join(", ", otherNBeta)}: λ̂ estimates the finite-temperature value t·E_t[K], which depends on nβ (below λ by ≈ (m−1)/ln t for multiplicity m); nβ stays at the base value (n/ln n unless set), and 'slt llc --temperatures' fits the asymptotic λ.");
        }
    }

    /// <summary>Lower-case name of a class, as shown in tables and reports.</summary>
    public static string Label(CellClass c) => c switch
    {
        CellClass.Stable => "stable",
        CellClass.NotMixed => "not mixed",
        CellClass.Spiking => "spiking",
        _ => "diverged",
    };

    private static double Finite(double v) => double.IsFinite(v) ? v : 0;

    // Three significant digits, so that grid values print and compare cleanly (3.16e-5, not 3.1622776601683794e-05).
    private static double Round3(double x) => double.Parse(x.ToString("G3", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static string Fmt(double x) => x.ToString("G3", CultureInfo.InvariantCulture);
}
