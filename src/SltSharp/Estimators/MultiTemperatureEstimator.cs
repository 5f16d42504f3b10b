using System.Numerics;
using SltSharp.Sampling;

namespace SltSharp.Estimators;

/// <summary>Where and how the multi-temperature estimator samples.</summary>
public sealed record MultiTemperatureOptions
{
    /// <summary>Number K of temperatures (≥ 4: the fit has 3 parameters and needs residuals).</summary>
    public int Temperatures { get; init; } = 6;

    /// <summary>The smallest nβ; null means n/ln n (the usual single-temperature choice).</summary>
    public double? MinNBeta { get; init; }

    /// <summary>How many decades above the smallest nβ the largest lies; the K values are log-spaced between.</summary>
    public double Decades { get; init; } = 3.0;

    /// <summary>
    /// ε at temperature k is ε·(nβ_min/nβ_k)^exponent with ε = <see cref="LlcOptions.StepSize"/> (the step at nβ_min).
    /// Null picks the rule by sampler: 1 (ε ∝ 1/nβ) for the unadjusted samplers, whose discretisation bias grows with
    /// ε times the curvature of nβ·L, so ε·nβ must stay fixed; ½ for MALA, which is exact at any ε, so ε only sets
    /// efficiency: on normal crossings ε ∝ 1/nβ drove its acceptance to 1 and tripled the SEs at high nβ, while ε ∝ nβ^(−½)
    /// kept the acceptance between 0.99 and 0.85 over two decades (tests/SltSharp.Tests/Estimators/MultiTemperatureTests.cs).
    /// </summary>
    public double? StepSizeExponent { get; init; }

    /// <summary>
    /// MALA only: before each temperature's draws, a short pilot (<see cref="MultiTemperatureEstimator.AdaptStepSize"/>)
    /// moves ε until the exact acceptance is near this value; the ε rule above then only gives the pilot's first guess.
    /// Null keeps the rule's ε. Why 0.95 and not the usual 0.6–0.8: on the normal-crossing potentials the acceptance is
    /// an average over very different places (the arms' transverse width shrinks as the other coordinate grows), and
    /// measured on (1,3) over nβ = 10²…10⁴ the per-temperature means came out 4–8% below quadrature at 0.7, 2.2–3.2% at
    /// 0.9 and 1–2% at 0.95 (large steps rarely enter, then stick in, the narrow parts), while the rule's ε (acceptance
    /// 0.99) gave bulk ESS 5–13k of 320k draws against ≈ 100k at 0.95 (docs/sampling-and-llc.md).
    /// </summary>
    public double? TargetAcceptance { get; init; } = 0.95;

    /// <summary>The exponent actually used for <paramref name="sampler"/>.</summary>
    public double StepSizeExponentFor(SamplerKind sampler) => StepSizeExponent ?? (sampler == SamplerKind.Mala ? 0.5 : 1.0);
}

/// <summary>One temperature of a multi-temperature run.</summary>
/// <param name="NBeta">nβ = t.</param>
/// <param name="StepSize">ε used there.</param>
/// <param name="Lambda">λ̂(t).</param>
/// <param name="StandardError">The SE the fit used: the larger of the across-chain SE and the MCSE from ESS.</param>
/// <param name="Run">The full LLC result with diagnostics.</param>
/// <param name="PilotSteps">Sampler steps per chain spent by the step-size pilot before the run (0 when ε was not adapted).</param>
/// <param name="ReplacedChains">
/// Chains whose acceptance collapsed (<see cref="MultiTemperatureEstimator.StuckChains"/>) and were sampled again on a
/// fresh random stream; <see cref="Run"/> holds the replacements. Empty when no chain stuck.
/// </param>
public sealed record TemperatureEstimate(double NBeta, double StepSize, double Lambda, double StandardError, LlcResult Run, int PilotSteps = 0, IReadOnlyList<int>? ReplacedChains = null)
{
    /// <summary>Chains sampled again because they stuck (empty when none).</summary>
    public IReadOnlyList<int> ReplacedChains { get; init; } = ReplacedChains ?? [];

    /// <summary>
    /// True when the first run at the pilot's ε accepted far less than the target and this temperature was sampled again
    /// at a smaller ε (<see cref="MultiTemperatureEstimator.RetunedStep"/>); <see cref="StepSize"/> and
    /// <see cref="Run"/> are the second run's.
    /// </summary>
    public bool Retuned { get; init; }
}

/// <summary>The outcome of <see cref="MultiTemperatureEstimator.Estimate"/>.</summary>
/// <param name="PerTemperature">λ̂ ± SE at every nβ, ascending.</param>
/// <param name="Fit">The fits, the decision, λ, m and the interval.</param>
public sealed record MultiTemperatureResult(IReadOnlyList<TemperatureEstimate> PerTemperature, MultiTemperatureFitResult Fit);

/// <summary>
/// Multiplicity-aware LLC: runs <see cref="LlcEstimator"/> at K values of nβ spread over decades, fits the means
/// λ − (m−1)/(ln t + c) against λ − a·t^(−δ) (<see cref="MultiTemperatureFit"/>) and, where the draws allow it, the shape
/// of the loss distributions (<see cref="DensityOfStatesFit"/>, which then decides), recovering the asymptotic λ and m
/// where a single temperature is biased low (slt-reference §1b).
/// </summary>
public static class MultiTemperatureEstimator
{
    /// <summary>The log-spaced nβ values: nβ_min·10^(Decades·k/(K−1)), k = 0..K−1.</summary>
    public static double[] Temperatures(double minNBeta, double decades, int count)
    {
        if (!(minNBeta > 1) || double.IsInfinity(minNBeta))
        {
            throw new ArgumentOutOfRangeException(nameof(minNBeta), minNBeta, "The smallest nβ must be finite and > 1 (the fit uses ln nβ).");
        }
        if (!(decades > 0) || decades > 12)
        {
            throw new ArgumentOutOfRangeException(nameof(decades), decades, "Decades must be in (0, 12]; e.g. 3 spans nβ_min to 1000·nβ_min.");
        }
        if (count < 4)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "At least 4 temperatures are needed (the fit has 3 parameters).");
        }
        return Enumerable.Range(0, count).Select(k => minNBeta * Math.Pow(10, decades * k / (count - 1))).ToArray();
    }

    /// <summary>Samples at every temperature and fits the corrections.</summary>
    /// <param name="loss">The loss.</param>
    /// <param name="wStar">w*.</param>
    /// <param name="options">Settings of each LLC run; StepSize is ε at the smallest nβ, NBeta is ignored.</param>
    /// <param name="temperatures">K, the spread and the step-size rule.</param>
    public static MultiTemperatureResult Estimate<T>(IChainedLoss<T> loss, ReadOnlySpan<T> wStar, LlcOptions options, MultiTemperatureOptions temperatures)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(temperatures);
        double exponent = temperatures.StepSizeExponentFor(options.Sampler);
        if (!double.IsFinite(exponent) || exponent < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(temperatures), exponent, "StepSizeExponent must be finite and ≥ 0 (1: ε ∝ 1/nβ).");
        }
        double tMin = temperatures.MinNBeta ?? LocalizedPosterior.DefaultNBeta(loss.SampleCount);
        var ts = Temperatures(tMin, temperatures.Decades, temperatures.Temperatures);
        double reference = options.ReferenceLoss ?? LlcEstimator.FullDataLoss(loss, wStar);
        var estimates = new List<TemperatureEstimate>(ts.Length);
        bool adapt = options.Sampler == SamplerKind.Mala && temperatures.TargetAcceptance is not null;
        if (adapt && !(temperatures.TargetAcceptance is > 0.05 and < 0.99))
        {
            throw new ArgumentOutOfRangeException(nameof(temperatures), temperatures.TargetAcceptance, "TargetAcceptance must be in (0.05, 0.99), e.g. 0.95; null keeps the ε rule without a pilot.");
        }
        double previousStep = double.NaN, previousT = double.NaN;
        for (int k = 0; k < ts.Length; k++)
        {
            double t = ts[k];
            double step = options.StepSize * Math.Pow(tMin / t, exponent);
            int pilotSteps = 0;
            if (adapt)
            {
                // Start from the last temperature's tuned ε moved by the rule: close to the answer, so the pilot is short.
                double guess = k == 0 ? step : previousStep * Math.Pow(previousT / t, exponent);
                (step, pilotSteps) = AdaptStepSize(loss, wStar, options with { NBeta = t, ReferenceLoss = reference }, guess, temperatures.TargetAcceptance!.Value, (ulong)k);
                // Every length scale of the posterior shrinks as nβ grows (an arm's width goes as nβ^(−1/(2p))), so the
                // step that suits nβ_k is no larger than the one that suited nβ_(k−1); a pilot that came out larger
                // measured noise, and a larger step is the one that sticks in the narrow parts.
                if (k > 0)
                {
                    step = Math.Min(step, previousStep);
                }
                (previousStep, previousT) = (step, t);
            }
            var runOptions = options with { NBeta = t, StepSize = step, ReferenceLoss = reference };
            var run = LlcEstimator.Estimate(loss, wStar, runOptions);
            var replaced = options.Sampler == SamplerKind.Mala ? ReplaceStuckChains(loss, wStar, runOptions, ref run) : [];
            bool retuned = false;
            if (adapt && RetunedStep(run.Sampling, step, temperatures.TargetAcceptance!.Value) is { } smaller)
            {
                // The run, not the pilot, measured the acceptance where the chains really go (the pilot's few thousand
                // steps from w* had not spread along the arms: (1,1) at nβ ≥ 3162 accepted 0.74–0.83 after a pilot at
                // 0.95). Sample this temperature again at the step the run's own acceptance asks for; progress is not
                // reported twice.
                (step, previousStep, retuned) = (smaller, smaller, true);
                runOptions = runOptions with { StepSize = step, Progress = null };
                run = LlcEstimator.Estimate(loss, wStar, runOptions);
                replaced = ReplaceStuckChains(loss, wStar, runOptions, ref run);
            }
            // Eight chains can underestimate the error ~2× (docs/sampling-and-llc.md): take the more cautious SE.
            double se = Math.Max(Finite(run.StandardError), Finite(run.MonteCarloStandardError));
            if (!(se > 0))
            {
                throw new InvalidOperationException($"At nβ = {t:G4} the run gave no usable standard error (SE {run.StandardError}, MCSE {run.MonteCarloStandardError}); use at least 2 chains and more draws.");
            }
            estimates.Add(new TemperatureEstimate(t, step, run.Mean, se, run, pilotSteps, replaced) { Retuned = retuned });
        }
        var fit = MultiTemperatureFit.Fit(ts, estimates.Select(e => e.Lambda).ToArray(), estimates.Select(e => e.StandardError).ToArray());
        fit = WithDensityOfStates(fit, estimates, options, loss.SampleCount, reference);
        var resampled = estimates.Where(e => e.ReplacedChains.Count > 0).ToArray();
        if (resampled.Length > 0)
        {
            fit = fit with
            {
                Message = fit.Message + $" Stuck chains were sampled again on fresh random streams at nβ = {string.Join(", ", resampled.Select(e => $"{e.NBeta:G4} (chain {string.Join(", ", e.ReplacedChains)})"))}: their acceptance collapsed to a fraction of the other chains' (a step too large for a narrow part of the posterior).",
            };
        }
        var retunedAt = estimates.Where(e => e.Retuned).ToArray();
        if (retunedAt.Length > 0)
        {
            fit = fit with
            {
                Message = fit.Message + $" Sampled again at a smaller ε because the run accepted far less than the pilot had measured: nβ = {string.Join(", ", retunedAt.Select(e => $"{e.NBeta:G4} (ε {e.StepSize:G3})"))}.",
            };
        }
        var doubtful = estimates.Where(e => e.Run.Verdict != Diagnostics.Verdict.Ok).ToArray();
        if (doubtful.Length > 0)
        {
            // The fit extrapolates from these values, so a biased temperature biases λ: say so next to the decision.
            fit = fit with
            {
                Message = fit.Message + $" Caution: the sampling diagnostics did not pass at nβ = {string.Join(", ", doubtful.Select(e => $"{e.NBeta:G4} ({e.Run.Verdict.ToString().ToLowerInvariant()})"))}; the fit inherits any bias there (more burn-in/draws, or check ε).",
            };
        }
        return new MultiTemperatureResult(estimates, fit);
    }

    /// <summary>
    /// Adds the density-of-states fit of the draws (<see cref="DensityOfStatesFit"/>) and lets it decide when the draws
    /// allow it: every recorded loss must be the full-data loss at the draw (no minibatches: their noise is not part of
    /// the density of states) and every gap K = L − L(w*) must be positive (w* the minimum). Otherwise the fit of the
    /// means stands and the message says why the stronger fit was not used.
    /// </summary>
    public static MultiTemperatureFitResult WithDensityOfStates(MultiTemperatureFitResult fit, IReadOnlyList<TemperatureEstimate> estimates, LlcOptions options, int sampleCount, double reference)
    {
        ArgumentNullException.ThrowIfNull(fit);
        ArgumentNullException.ThrowIfNull(estimates);
        ArgumentNullException.ThrowIfNull(options);
        // MALA always runs on the full data (the driver ignores BatchSize for it).
        if (options.Sampler != SamplerKind.Mala && options.BatchSize is { } batch && batch < sampleCount)
        {
            return fit with { Message = fit.Message + $" (Decided from the means only: minibatch losses (batch {batch} of {sampleCount}) are too noisy for the loss-distribution fit; use full batches or MALA for it.)" };
        }
        var gaps = new List<double[]>(estimates.Count);
        foreach (var e in estimates)
        {
            var traces = e.Run.SurvivingChains.Select(c => e.Run.Sampling.Losses[c].AsSpan(0, e.Run.Sampling.DrawsCompleted[c]).ToArray());
            var k = traces.SelectMany(t => t).Select(l => l - reference).ToArray();
            int nonPositive = k.Count(g => !(g > 0) || !double.IsFinite(g));
            if (nonPositive > 0)
            {
                return fit with { Message = fit.Message + $" (Decided from the means only: {nonPositive} draws at nβ = {e.NBeta:G4} have L ≤ L(w*), so w* is not the minimum of the sampled loss and the loss-distribution fit does not apply.)" };
            }
            gaps.Add(k);
        }
        var dos = DensityOfStatesFit.FitDraws(estimates.Select(e => e.NBeta).ToArray(), gaps, estimates.Select(e => Math.Max(1.0, e.Run.Diagnostics.BulkEss)).ToArray());
        string means = fit.Correction switch
        {
            TemperatureCorrection.Multiplicity => $"multiplicity m = {fit.Multiplicity}, λ = {fit.Lambda:G4}",
            TemperatureCorrection.CloseExponent => $"close exponent, λ = {fit.Lambda:G4}",
            TemperatureCorrection.None => $"no correction, λ = {fit.Lambda:G4}",
            _ => $"{fit.Correction.ToString().ToLowerInvariant()}, λ in [{fit.IntervalLow:G4}, {fit.IntervalHigh:G4}]",
        };
        return fit with
        {
            DensityOfStates = dos,
            DecidedBy = "loss distributions",
            Correction = dos.Correction,
            Multiplicity = dos.Multiplicity,
            Lambda = dos.Lambda,
            // Half the profile interval's width over 2: the ±2 SE the interval stands for.
            LambdaStandardError = (dos.IntervalHigh - dos.IntervalLow) / 4,
            IntervalLow = dos.IntervalLow,
            IntervalHigh = dos.IntervalHigh,
            PowerLawSupported = dos.Correction is TemperatureCorrection.CloseExponent or TemperatureCorrection.Ambiguous,
            LogSupported = dos.Correction is TemperatureCorrection.Multiplicity or TemperatureCorrection.Ambiguous,
            Message = $"{dos.Message} (Decided from the loss distributions of {dos.Draws:N0} draws, {dos.EffectiveDraws:N0} effective; the fit of the means alone says: {means}.)",
        };
    }

    /// <summary>Rounds of the step-size pilot at most, and its tolerance on the acceptance.</summary>
    public const int PilotRounds = 8;

    /// <summary>
    /// The pilot stops when the rejection rate 1 − acceptance is within this factor of 1 − target (either way): a
    /// relative band, because near acceptance 1 an absolute one is meaningless (0.99 is "within 0.05" of 0.95 at a
    /// step 4× too small).
    /// </summary>
    public const double PilotTolerance = 1.25;

    /// <summary>
    /// The MALA step whose exact acceptance at nβ = options.NBeta is near <paramref name="target"/>: 4 pilot chains start
    /// at w*, take min(options.Burnin, 5000) (at least 500) burn-in steps, then rounds of 500 measured steps, the chains
    /// carrying on from round to round (a restart at w* would measure the acceptance near w*, not in the bulk: on the
    /// data model at nβ ≈ 3000 that pilot settled at 0.95 and the run then accepted 0.72). The acceptance of a round is
    /// the median chain's, and a chain stuck in that round (<see cref="StuckChains"/>) carries on from a healthy chain's
    /// position. After each round ε moves by ((1 − target)/(1 − acceptance))^(2/3), because MALA's rejection grows as
    /// ε^(3/2) for small ε (clamped to a factor 10), until the rejection rate is within <see cref="PilotTolerance"/> of 1 − target or <see cref="PilotRounds"/>
    /// rounds have run. The pilot has its own random streams, so the run that follows is the same as with that ε given
    /// by hand.
    /// </summary>
    /// <returns>The step and the sampler steps per pilot chain.</returns>
    public static (double StepSize, int PilotSteps) AdaptStepSize<T>(IChainedLoss<T> loss, ReadOnlySpan<T> wStar, LlcOptions options, double initialStep, double target, ulong stream = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(options);
        const int measured = 500, minBurnin = 500, maxBurnin = 5_000;
        var posterior = new LocalizedPosterior(options.NBeta ?? LocalizedPosterior.DefaultNBeta(loss.SampleCount), options.Localization, options.WeightDecay);
        int chains = Math.Clamp(options.Chains, 1, 4);
        ulong seed = unchecked(options.Seed + 0x5EED_0000_0000UL + (stream * 0x1_0000UL));
        var rngs = Enumerable.Range(0, chains).Select(c => new Engine.Random.Rng(seed, (ulong)c)).ToArray();
        T[] mask = options.ParameterMask is { } selected ? selected.Select(b => b ? T.One : T.Zero).ToArray() : [];
        // MALA runs on the full data: every chain's slot of the batch holds all n indices.
        int[] batch = Enumerable.Range(0, chains * loss.SampleCount).Select(i => i % loss.SampleCount).ToArray();
        var info = new StepInfo[chains];
        T[] positions = [];
        double step = initialStep;
        int steps = 0;
        for (int round = 0; round < PilotRounds; round++)
        {
            var mala = new Mala<T>(posterior, step);
            var state = mala.Init(wStar, rngs, mask, positions);
            if (round == 0)
            {
                int burnin = Math.Clamp(options.Burnin, minBurnin, maxBurnin);
                for (int i = 0; i < burnin; i++)
                {
                    mala.Step(state, loss, batch, info);
                }
                steps += burnin;
            }
            var sum = new double[chains];
            var count = new int[chains];
            for (int i = 0; i < measured; i++)
            {
                mala.Step(state, loss, batch, info);
                for (int c = 0; c < chains; c++)
                {
                    if (double.IsFinite(info[c].Acceptance))
                    {
                        sum[c] += info[c].Acceptance;
                        count[c]++;
                    }
                }
            }
            steps += measured;
            positions = state.Positions.ToArray();
            var perChain = Enumerable.Range(0, chains).Select(c => count[c] > 0 ? sum[c] / count[c] : double.NaN).ToArray();
            // The median chain, not the pooled mean: one chain stuck in a narrow part would drag the mean down and the
            // pilot would shrink ε for all (measured: (1,1) tuned 4.2e-4 at nβ 10³ between 2.6e-3 and 1.0e-3). A stuck
            // chain carries on from a healthy chain's position, so it cannot stay stuck through every round.
            var stuck = StuckChains(perChain);
            var healthy = Enumerable.Range(0, chains).Except(stuck).ToArray();
            int dimension = positions.Length / chains;
            for (int i = 0; i < stuck.Length; i++)
            {
                Array.Copy(positions, healthy[i % healthy.Length] * dimension, positions, stuck[i] * dimension, dimension);
            }
            double acceptance = Median(perChain.Where(double.IsFinite).ToArray(), fallback: 0);
            double ratio = (1 - target) / Math.Max(1 - acceptance, 1e-4);
            if (ratio <= PilotTolerance && ratio >= 1 / PilotTolerance)
            {
                break;
            }
            step *= Math.Clamp(Math.Pow(ratio, 2.0 / 3.0), 0.1, 10);
        }
        return (step, steps);
    }

    /// <summary>
    /// A chain is stuck when its rejection rate exceeds this multiple of the median chain's (taken as at least 0.05, the
    /// pilot's target, so at the default target: acceptance below 0.85 where the others accept 0.95). Measured on (1,3)
    /// at nβ = 3162 (8 chains × 40k draws): healthy chains rejected 4–9% (at most 1.7× their median), the stuck chain 55%
    /// (10×) with half its draws in one stretch of 21k at acceptance &lt; 0.1.
    /// </summary>
    public const double StuckRejectionFactor = 3.0;

    /// <summary>How many fresh random streams a stuck chain of a run gets before it is kept as it is.</summary>
    public const int StuckChainAttempts = 2;

    /// <summary>
    /// The chains whose acceptance collapsed against the others' (<see cref="StuckRejectionFactor"/>). MALA's acceptance
    /// is exact, so a chain that rejects most proposals sits where the step is far too large for the local curvature
    /// (deep in a narrow arm: the transverse curvature of nβ·w1²·w2⁶ grows as w2⁶) and cannot leave. Needs at least 3
    /// chains with a finite acceptance. Judged against the median, so when half or more collapse (the step, not a chain, is
    /// at fault: the pilot's business) the bar drops with them and few or none are flagged.
    /// </summary>
    /// <param name="acceptance">Mean acceptance per chain (NaN for a chain without one, e.g. diverged).</param>
    public static int[] StuckChains(IReadOnlyList<double> acceptance)
    {
        ArgumentNullException.ThrowIfNull(acceptance);
        var finite = acceptance.Where(double.IsFinite).ToArray();
        if (finite.Length < 3)
        {
            return [];
        }
        double limit = StuckRejectionFactor * Math.Max(1 - Median(finite, fallback: 1), 0.05);
        return [.. Enumerable.Range(0, acceptance.Count).Where(c => double.IsFinite(acceptance[c]) && 1 - acceptance[c] > limit)];
    }

    /// <summary>
    /// Samples every stuck chain of <paramref name="run"/> (<see cref="StuckChains"/>) again from w* on a fresh stream
    /// (chain index attempt·Chains + c, so the result stays a function of the seed), up to <see cref="StuckChainAttempts"/>
    /// times, and re-estimates. This drops the stuck stretch, which weighs a narrow region by how long the chain could
    /// not leave it instead of by its posterior mass; the healthy chains visit that region as rarely as the sampler
    /// allows, so the result is what a run without the accident would have given.
    /// </summary>
    /// <returns>The replaced chains (empty when none stuck).</returns>
    private static int[] ReplaceStuckChains<T>(IChainedLoss<T> loss, ReadOnlySpan<T> wStar, LlcOptions options, ref LlcResult run)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var replaced = new SortedSet<int>();
        var s = run.Sampling;
        for (int attempt = 1; attempt <= StuckChainAttempts; attempt++)
        {
            var stuck = StuckChains(ChainAcceptances(s));
            if (stuck.Length == 0)
            {
                break;
            }
            int[] indices = [.. stuck.Select(c => (attempt * options.Chains) + c)];
            var fresh = LlcEstimator.Sample(loss, wStar, options with { ChainIndices = indices, Threads = Math.Min(options.Threads, indices.Length), Progress = null }).Sampling;
            double[][] Swap(double[][] old, double[][] now)
            {
                var merged = (double[][])old.Clone();
                for (int i = 0; i < stuck.Length; i++)
                {
                    merged[stuck[i]] = now[i];
                }
                return merged;
            }
            var messages = (string?[])s.DivergenceMessages.Clone();
            for (int i = 0; i < stuck.Length; i++)
            {
                messages[stuck[i]] = fresh.DivergenceMessages[i];
            }
            s = SamplingResult.FromChains(Swap(s.Losses, fresh.Losses), Swap(s.Acceptances, fresh.Acceptances), Swap(s.Distances, fresh.Distances),
                Swap(s.GradientNorms, fresh.GradientNorms), messages, s.TotalSteps + fresh.TotalSteps, s.Elapsed + fresh.Elapsed);
            replaced.UnionWith(stuck);
        }
        if (replaced.Count > 0)
        {
            run = LlcEstimator.Combine(s, run.NBeta, run.ReferenceLoss, options, run.SamplerName);
        }
        return [.. replaced];
    }

    /// <summary>
    /// A run's chains rejected on average more than this multiple of 1 − target: its step is re-tuned and the temperature
    /// sampled again (<see cref="RetunedStep"/>). At the default target, acceptance below 0.85. Three times, because
    /// the pilot's own estimate from 4 chains × 500 correlated steps scatters by ~30% around the run's, while the
    /// (1,1) runs it is meant for accepted 0.74–0.83 (rejection 3.5–5×).
    /// </summary>
    public const double RetuneRejectionFactor = 3.0;

    /// <summary>
    /// The smaller step a MALA run asks for when its chains' mean acceptance fell far below <paramref name="target"/>
    /// (<see cref="RetuneRejectionFactor"/>): ε·((1 − target)/(1 − acceptance))^(2/3), the pilot's own update, at most
    /// a factor 10 down; null when the run is within that band (or no chain has an acceptance).
    /// </summary>
    /// <param name="sampling">The run's traces; the per-draw acceptances are MALA's exact ones.</param>
    /// <param name="step">The ε the run used.</param>
    /// <param name="target">The pilot's target acceptance.</param>
    public static double? RetunedStep(SamplingResult sampling, double step, double target)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        var acceptance = ChainAcceptances(sampling).Where(double.IsFinite).ToArray();
        if (acceptance.Length == 0)
        {
            return null;
        }
        // The mean over chains, not the median: stuck chains have been sampled again by now, and a chain that sticks
        // for a while without collapsing is part of what the step costs.
        double rejection = 1 - acceptance.Average();
        if (!(rejection > RetuneRejectionFactor * (1 - target)))
        {
            return null;
        }
        return step * Math.Max(Math.Pow((1 - target) / rejection, 2.0 / 3.0), 0.1);
    }

    /// <summary>Each chain's mean acceptance over its draws (NaN for a diverged chain).</summary>
    private static double[] ChainAcceptances(SamplingResult s) =>
        [.. Enumerable.Range(0, s.Losses.Length).Select(c => s.Diverged[c] ? double.NaN : MeanFinite(s.Acceptances[c].AsSpan(0, s.DrawsCompleted[c])))];

    private static double MeanFinite(ReadOnlySpan<double> values)
    {
        double sum = 0;
        int count = 0;
        foreach (double v in values)
        {
            if (double.IsFinite(v))
            {
                sum += v;
                count++;
            }
        }
        return count > 0 ? sum / count : double.NaN;
    }

    private static double Median(double[] values, double fallback)
    {
        if (values.Length == 0)
        {
            return fallback;
        }
        var sorted = values.Order().ToArray();
        int h = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
    }

    private static double Finite(double v) => double.IsFinite(v) ? v : 0.0;
}
