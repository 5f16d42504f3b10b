using SltSharp.Sampling;

namespace SltSharp.Diagnostics;

/// <summary>Overall judgement of a sampling run.</summary>
public enum Verdict
{
    /// <summary>No diagnostic raised a concern.</summary>
    Ok,

    /// <summary>Usable with care: read the reasons.</summary>
    Warn,

    /// <summary>Do not trust the estimate: read the reasons.</summary>
    Fail,
}

/// <summary>
/// The thresholds behind <see cref="SamplingDiagnostics.Verdict"/>. Each is a convention from the literature or a
/// deliberately loose bound; all are documented so that a verdict can be argued with.
/// </summary>
public static class DiagnosticThresholds
{
    /// <summary>R̂ above this warns (Vehtari et al. 2021 recommend 1.01).</summary>
    public const double RHatWarn = 1.01;

    /// <summary>R̂ above this fails: chains clearly disagree (the classic 1.1 of Gelman &amp; Rubin).</summary>
    public const double RHatFail = 1.1;

    /// <summary>Bulk ESS below this many per chain warns (Vehtari et al.: 100 per chain for reliable R̂ and SE).</summary>
    public const double EssPerChainWarn = 100;

    /// <summary>Total bulk ESS below this fails: fewer than 20 effective draws cannot support a mean and its error.</summary>
    public const double EssTotalFail = 20;

    /// <summary>
    /// Mean pseudo-MALA acceptance of an unadjusted sampler below this warns; the reference library's practice is to aim
    /// for about 0.9, where the discretisation bias is small.
    /// </summary>
    public const double AcceptanceWarn = 0.8;

    /// <summary>Mean pseudo-MALA acceptance below this fails: the step size dominates the result.</summary>
    public const double AcceptanceFail = 0.5;

    /// <summary>The acceptance the step-size advice aims for with unadjusted samplers.</summary>
    public const double AcceptanceTarget = 0.9;

    /// <summary>Exact MALA acceptance below this warns (the MALA optimum is near 0.57; far below it the chain sticks).</summary>
    public const double MalaAcceptanceWarn = 0.3;

    /// <summary>Fraction of draws with nβ(L − L(w*)) &lt; 0 above this warns.</summary>
    public const double NegativeFractionWarn = 0.25;

    /// <summary>|drift z-score| between trace halves above this warns (p ≈ 0.003 under stationarity).</summary>
    public const double DriftWarn = 3;

    /// <summary>|drift z-score| above this fails.</summary>
    public const double DriftFail = 6;

    /// <summary>
    /// The relative discretisation bias of λ̂ an advised step aims at (and <c>--auto</c>'s default budget): 2%, well inside
    /// the 5–10% within which the oracle tests call an estimate right, so the step is never the main error.
    /// </summary>
    public const double StepBiasBudget = 0.02;

    /// <summary>
    /// Predicted step bias ε·tr(nβ∇²L)/8 above this fraction of λ̂ warns: twice the budget, the point at which
    /// <c>--auto</c> shrinks its own step (twice, because a dozen states give a trace good to a few tens of percent).
    /// </summary>
    public const double StepBiasWarn = 2 * StepBiasBudget;

    /// <summary>
    /// Predicted step bias above this fraction of λ̂ fails: the bias alone then reaches the 10% at which the oracle tests
    /// call an estimate wrong, and the first-order prediction is a lower bound for large steps (each direction's exact
    /// bias is the first-order one divided by 1 − εq/4; DLN 5×3×5 measured 23% where 8–17% was predicted).
    /// </summary>
    public const double StepBiasFail = 0.10;

    /// <summary>
    /// εq_max/4 above this warns: the stiffest direction's variance is inflated by 1/(1 − εq/4) ≥ 2, so the first-order
    /// bias model misses at least half of that direction's bias.
    /// </summary>
    public const double EdgeRatioWarn = 0.5;

    /// <summary>
    /// εq_max/4 at or above this fails: the Euler–Maruyama recurrence w ← (1 − εq/2)w + √ε·ξ no longer contracts along the
    /// stiffest direction (|1 − εq/2| ≥ 1), so the chain is held only by nonlinearity or luck.
    /// </summary>
    public const double EdgeRatioFail = 1.0;

    /// <summary>The edge ratio εq_max/4 the advised step aims at: the first-order model is then within 1/(1 − 0.25) ≈ 33% on the stiffest direction.</summary>
    public const double EdgeRatioTarget = 0.25;
}

/// <summary>Diagnostics of one LLC run, with a verdict and actionable reasons.</summary>
public sealed record SamplingDiagnostics
{
    /// <summary>Rank-normalised split-R̂ of the loss traces (NaN with fewer than 4 draws).</summary>
    public double RHat { get; init; }

    /// <summary>Bulk ESS of the loss traces, all chains together.</summary>
    public double BulkEss { get; init; }

    /// <summary>ESS of the raw loss traces (the one behind the Monte Carlo standard error).</summary>
    public double Ess { get; init; }

    /// <summary>Mean acceptance estimate over post-burn-in draws (NaN if the sampler has none).</summary>
    public double MeanAcceptance { get; init; }

    /// <summary>Fraction of draws with nβ·(L − L(w*)) &lt; 0.</summary>
    public double NegativeFraction { get; init; }

    /// <summary>Drift between the first and second half of the traces, in standard errors.</summary>
    public double DriftZScore { get; init; }

    /// <summary>Chains that diverged.</summary>
    public int DivergedChains { get; init; }

    /// <summary>
    /// The step's predicted bias and stability from the curvature at the chains' own states (SGLD without a parameter
    /// mask; null for other samplers, masked runs and stored runs that predate the check).
    /// </summary>
    public StepBiasCheck? StepBias { get; init; }

    /// <summary>The overall verdict.</summary>
    public Verdict Verdict { get; init; }

    /// <summary>One sentence per concern, each saying what to change.</summary>
    public IReadOnlyList<string> Reasons { get; init; } = [];

    /// <summary>
    /// Computes the diagnostics from per-chain loss traces of surviving chains and applies the thresholds of
    /// <see cref="DiagnosticThresholds"/>.
    /// </summary>
    /// <param name="losses">Loss traces of surviving chains.</param>
    /// <param name="acceptances">Acceptance traces (NaN entries ignored).</param>
    /// <param name="nBeta">nβ.</param>
    /// <param name="referenceLoss">L(w*).</param>
    /// <param name="stepSize">The step size, for advice.</param>
    /// <param name="exactAcceptance">True for MALA (exact acceptance), false for pseudo-MALA estimates.</param>
    /// <param name="totalChains">Chains started, including diverged ones.</param>
    /// <param name="curvature">
    /// The curvature at the surviving chains' states (<see cref="StepCurvatureProbe"/>), pooled; null when not measured.
    /// With it the step is judged by its predicted bias and stability edge (<see cref="StepBiasCheck"/>), which the
    /// acceptance only stands in for: the acceptance then no longer judges the step on its own.
    /// </param>
    /// <param name="localization">γ, to separate the loss part of the top curvature (used with <paramref name="curvature"/>).</param>
    public static SamplingDiagnostics Compute(IReadOnlyList<double[]> losses, IReadOnlyList<double[]> acceptances, double nBeta,
        double referenceLoss, double stepSize, bool exactAcceptance, int totalChains, StepCurvature? curvature = null, double localization = 0)
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentNullException.ThrowIfNull(acceptances);
        var reasons = new List<string>();
        var verdict = Verdict.Ok;
        void Raise(Verdict level, string reason)
        {
            reasons.Add(reason);
            if (level > verdict)
            {
                verdict = level;
            }
        }

        int chains = losses.Count;
        int shortest = chains == 0 ? 0 : losses.Min(l => l.Length);
        double rhat = double.NaN, bulk = double.NaN, ess = double.NaN, drift = double.NaN;
        if (shortest >= 8)
        {
            rhat = ConvergenceDiagnostics.SplitRHat(losses);
            bulk = ConvergenceDiagnostics.BulkEffectiveSampleSize(losses);
            ess = ConvergenceDiagnostics.EffectiveSampleSize(losses);
            drift = ConvergenceDiagnostics.DriftZScore(losses);
        }
        else
        {
            Raise(Verdict.Warn, $"Only {shortest} draws per chain: too few for R-hat and ESS; draw at least 100 per chain.");
        }

        double accSum = 0;
        long accCount = 0, negative = 0, total = 0;
        foreach (var a in acceptances)
        {
            foreach (double v in a)
            {
                if (!double.IsNaN(v))
                {
                    accSum += v;
                    accCount++;
                }
            }
        }
        double perChainMin = double.PositiveInfinity, chainSum = 0;
        foreach (var l in losses)
        {
            double s = 0;
            foreach (double v in l)
            {
                if (nBeta * (v - referenceLoss) < 0)
                {
                    negative++;
                }
                s += v;
                total++;
            }
            if (l.Length > 0)
            {
                double chainLambda = nBeta * ((s / l.Length) - referenceLoss);
                perChainMin = Math.Min(perChainMin, chainLambda);
                chainSum += chainLambda;
            }
        }
        double acceptance = accCount > 0 ? accSum / accCount : double.NaN;
        double negativeFraction = total > 0 ? (double)negative / total : double.NaN;
        int diverged = totalChains - chains;

        if (rhat > DiagnosticThresholds.RHatFail)
        {
            Raise(Verdict.Fail, $"Chains have not mixed: R-hat {rhat:F3} > {DiagnosticThresholds.RHatFail}; draw more (longer chains) or raise ε.");
        }
        else if (rhat > DiagnosticThresholds.RHatWarn)
        {
            Raise(Verdict.Warn, $"Chains agree only roughly: R-hat {rhat:F3} > {DiagnosticThresholds.RHatWarn}; draw more or raise ε.");
        }
        if (bulk < DiagnosticThresholds.EssTotalFail)
        {
            Raise(Verdict.Fail, $"Bulk ESS {bulk:F0} < {DiagnosticThresholds.EssTotalFail}: the draws are almost all correlated; raise ε (if acceptance allows) or draw many more.");
        }
        else if (bulk < DiagnosticThresholds.EssPerChainWarn * chains)
        {
            Raise(Verdict.Warn, $"Bulk ESS {bulk:F0} ({bulk / chains:F0} per chain) is below {DiagnosticThresholds.EssPerChainWarn:F0} per chain; the standard error is rough. Draw more or thin less.");
        }
        var stepBias = curvature is not null && chains > 0 ? StepBiasCheck.Assess(curvature, stepSize, chainSum / chains, localization) : null;
        if (stepBias is { } b)
        {
            JudgeStep(b, Raise);
        }
        if (!double.IsNaN(acceptance))
        {
            if (exactAcceptance)
            {
                if (acceptance < DiagnosticThresholds.MalaAcceptanceWarn)
                {
                    Raise(Verdict.Warn, $"MALA acceptance {acceptance:F2} is low: the chain sticks; lower ε to about {SuggestStep(stepSize, acceptance, 0.6):G2}.");
                }
            }
            else if (stepBias is not null)
            {
                // The step was judged by its bias and stability at the chains' states; the pseudo-MALA acceptance falls with
                // the number of parameters at a fixed relative bias, so it only adds a warning where it says the Langevin
                // step itself has broken down.
                if (acceptance < DiagnosticThresholds.AcceptanceFail)
                {
                    Raise(Verdict.Warn, $"Acceptance {acceptance:F2} is low although the predicted step bias is {stepBias.RelativeBias:P1} of λ̂; if λ̂ moves when ε is halved, trust the smaller step.");
                }
            }
            else if (acceptance < DiagnosticThresholds.AcceptanceFail)
            {
                Raise(Verdict.Fail, $"Step size too large: acceptance {acceptance:F2}; lower ε to about {SuggestStep(stepSize, acceptance, DiagnosticThresholds.AcceptanceTarget):G2}.");
            }
            else if (acceptance < DiagnosticThresholds.AcceptanceWarn)
            {
                Raise(Verdict.Warn, $"Step size rather large: acceptance {acceptance:F2}; lower ε to about {SuggestStep(stepSize, acceptance, DiagnosticThresholds.AcceptanceTarget):G2} for a smaller discretisation bias.");
            }
        }
        if (perChainMin < 0)
        {
            Raise(Verdict.Fail, $"A chain's LLC estimate is negative ({perChainMin:G3}): the loss falls below L(w*), so w* is not a local minimum of this loss (train longer, or raise γ to stay closer to w*).");
        }
        else if (negativeFraction > DiagnosticThresholds.NegativeFractionWarn)
        {
            Raise(Verdict.Warn, $"{negativeFraction:P0} of draws have a loss below L(w*): minibatch noise or a w* that is not a minimum; use a larger batch or check w*.");
        }
        if (Math.Abs(drift) > DiagnosticThresholds.DriftFail)
        {
            Raise(Verdict.Fail, $"The loss trace is still moving: drift {drift:F1} SE between halves; lengthen the burn-in.");
        }
        else if (Math.Abs(drift) > DiagnosticThresholds.DriftWarn)
        {
            Raise(Verdict.Warn, $"The loss trace drifts {drift:F1} SE between halves; lengthen the burn-in.");
        }
        if (diverged > 0)
        {
            Raise(Verdict.Warn, $"{diverged} of {totalChains} chains diverged and were dropped; lower ε or raise γ.");
        }

        return new SamplingDiagnostics
        {
            RHat = rhat,
            BulkEss = bulk,
            Ess = ess,
            MeanAcceptance = acceptance,
            NegativeFraction = negativeFraction,
            DriftZScore = drift,
            DivergedChains = diverged,
            StepBias = stepBias,
            Verdict = verdict,
            Reasons = reasons,
        };
    }

    // The step judged by what it does to λ̂ (StepBiasCheck): its predicted bias against StepBiasWarn/StepBiasFail and its
    // distance to the stability edge against EdgeRatioWarn/EdgeRatioFail; the advice is the step --auto's rule would pick.
    private static void JudgeStep(StepBiasCheck b, Action<Verdict, string> raise)
    {
        string advice = double.IsFinite(b.AdvisedStep)
            ? $"lower ε to about {b.AdvisedStep:G3} (a {DiagnosticThresholds.StepBiasBudget:P0} bias, the rule 'slt llc --auto' follows)"
            : "lower ε";
        string edge = $"ε·q_max/4 = {b.EdgeRatio:F2} (top curvature q_max ≈ {b.TopCurvature:G3} at the chains' last states)";
        if (b.EdgeRatio >= DiagnosticThresholds.EdgeRatioFail)
        {
            raise(Verdict.Fail, $"Step beyond the stability edge: {edge}, so the stiffest direction does not contract and λ̂ means nothing; {advice}, then check the bias again.");
            return;
        }
        string minibatch = b.MinibatchNoise > 0 ? $", plus the minibatch gradient's ε·{b.MinibatchNoise:G3}/8" : "";
        string measured = $"its predicted bias ≈ {b.Bias:G3} is {b.RelativeBias:P0} of λ̂ ≈ {b.Lambda:G3} (discretisation ε·tr(nβ∇²L)/8 with tr ≈ {b.Trace:G3} at the chains' states, the stiffest direction exact{minibatch})";
        if (b.RelativeBias > DiagnosticThresholds.StepBiasFail)
        {
            raise(Verdict.Fail, $"Step size too large: {measured}; {advice}.");
        }
        else if (b.RelativeBias > DiagnosticThresholds.StepBiasWarn)
        {
            raise(Verdict.Warn, $"Step size rather large: {measured}; {advice}.");
        }
        if (b.EdgeRatio > DiagnosticThresholds.EdgeRatioWarn)
        {
            raise(Verdict.Warn, $"Step near the stability edge: {edge}; the stiffest direction's variance is inflated {1 / (1 - b.EdgeRatio):F1}-fold and the bias prediction there hangs on q_max; {advice}.");
        }
    }

    // For Langevin proposals the rejection rate grows like ε^{3/2} (the log MH ratio has variance ∝ ε³), so the step
    // that reaches a target rejection r* from an observed rejection r is ε·(r*/r)^{2/3}.
    private static double SuggestStep(double stepSize, double acceptance, double target)
    {
        double rejection = Math.Max(1 - acceptance, 1e-6);
        return stepSize * Math.Pow((1 - target) / rejection, 2.0 / 3.0);
    }
}
