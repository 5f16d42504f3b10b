using SltSharp.Sampling;

namespace SltSharp.Diagnostics;

/// <summary>
/// What an SGLD step of size ε does to λ̂, from the curvature at the chains' own states (<see cref="StepCurvature"/>):
/// the first-order discretisation bias ε·tr(nβ∇²L)/8 and the distance to the stability edge εq_max/4 = 1, with the step
/// that would bring both within budget. The verdict (<see cref="SamplingDiagnostics"/>) and the bias correction of
/// <c>slt llc --auto</c> (<see cref="Estimators.Calibration"/>) both use <see cref="Assess"/>.
/// </summary>
/// <remarks>
/// Why ε·tr/8: on a direction of loss curvature a (potential curvature q = a + γ) the Euler–Maruyama recurrence
/// w ← (1 − εq/2)·w + √ε·ξ has stationary variance 1/(q·(1 − εq/4)) instead of 1/q, so that direction's share of λ̂,
/// a·Var/2, is multiplied by 1/(1 − εq/4): it gains (a/(2q))·(εq/4)/(1 − εq/4) = (εa/8)/(1 − εq/4) ≈ εa/8. Summed over
/// directions, ε·tr(nβ∇²L)/8, whatever the spread of the curvatures. The first-order term under-predicts by the factor
/// 1/(1 − εq/4) per direction, which is why the stability ratio is checked too.
/// </remarks>
/// <param name="StepSize">ε.</param>
/// <param name="Trace">tr(nβ∇²L) at the chains' states.</param>
/// <param name="TopCurvature">Top eigenvalue of ∇²U at the chains' last states (NaN if not measured).</param>
/// <param name="Probes">Hutchinson probes behind the trace.</param>
/// <param name="Bias">The predicted bias of λ̂ from the step: ε·(Trace + MinibatchNoise)/8, with the stiffest direction's share exact (∞ at or beyond the edge).</param>
/// <param name="MinibatchNoise">tr(nβ²·Cov ∇L_B) at the chains' states (0 for full batches): the minibatch gradient's share of the bias is ε·MinibatchNoise/8.</param>
/// <param name="Lambda">λ̂ with that bias removed (at least min(1/2, 1 − EdgeRatio) of λ̂, so that a wild trace cannot ask for an absurd step).</param>
/// <param name="RelativeBias">Bias / Lambda.</param>
/// <param name="EdgeRatio">ε·TopCurvature/4: at 1 the stiffest direction's recurrence stops contracting (the stability edge).</param>
/// <param name="AdvisedStep">The step that brings the bias to the budget and the edge ratio to <see cref="DiagnosticThresholds.EdgeRatioTarget"/>, whichever is smaller (3 significant digits).</param>
public sealed record StepBiasCheck(double StepSize, double Trace, double TopCurvature, int Probes, double Bias, double Lambda, double RelativeBias,
    double EdgeRatio, double AdvisedStep, double MinibatchNoise = 0)
{
    /// <summary>
    /// The check for step <paramref name="stepSize"/> given the measured curvature and λ̂; null when λ̂ or the trace is
    /// not positive (a negative λ̂ fails on its own; a non-positive trace has no bias to predict).
    /// </summary>
    /// <param name="curvature">The curvature at the chains' states.</param>
    /// <param name="stepSize">ε.</param>
    /// <param name="lambdaHat">λ̂ of the run (which carries the bias).</param>
    /// <param name="gamma">The localization γ (the top curvature is that of U, whose loss part is q_max − γ).</param>
    /// <param name="budget">The relative bias the advised step aims at (<see cref="DiagnosticThresholds.StepBiasBudget"/> unless calibration says otherwise).</param>
    public static StepBiasCheck? Assess(StepCurvature curvature, double stepSize, double lambdaHat, double gamma, double budget = DiagnosticThresholds.StepBiasBudget)
    {
        ArgumentNullException.ThrowIfNull(curvature);
        double trace = curvature.Trace;
        if (!(trace > 0) || !(lambdaHat > 0) || !(stepSize > 0))
        {
            return null;
        }
        // First order on every direction (ε·tr/8), exact on the stiffest: its share is inflated by 1/(1 − x) with
        // x = εq_max/4, i.e. by (ε·a/8)·x/(1 − x) beyond the first-order term (a = q_max − γ, its loss curvature). Near the
        // edge this term dominates: (0,1) normal crossing at ε = 3.3e-3 has x ≈ 0.98 and λ̂ ≈ 22 for an exact 0.5.
        double top = curvature.TopCurvature;
        double edge = top > 0 ? stepSize * top / 4 : 0;
        // The minibatch gradient's noise adds ε·tr(nβ²Cov ∇L_B)/8 (StepCurvatureProbe.MinibatchNoise), also linear in ε.
        double noise = double.IsFinite(curvature.MinibatchNoise) ? Math.Max(curvature.MinibatchNoise, 0) : 0;
        double bias = stepSize * (trace + noise) / 8;
        if (edge >= 1)
        {
            bias = double.PositiveInfinity;
        }
        else if (top > gamma)
        {
            bias += stepSize * (top - gamma) / 8 * edge / (1 - edge);
        }
        // λ̂ with the bias removed, floored: each direction's share of λ̂ is inflated by at most 1/(1 − x), so λ ≥ λ̂·(1 − x);
        // and at least half of λ̂ otherwise, so that a wild trace cannot ask for an absurd step.
        double lambda = Math.Max(lambdaHat - bias, lambdaHat * Math.Min(0.5, 1 - Math.Min(edge, 1)));
        double byBias = lambda > 0 ? 8 * budget * lambda / (trace + noise) : double.PositiveInfinity;
        double byEdge = top > 0 ? 4 * DiagnosticThresholds.EdgeRatioTarget / top : double.PositiveInfinity;
        double advised = Math.Min(byBias, byEdge);
        return new StepBiasCheck(stepSize, trace, top, curvature.Probes, bias, lambda, lambda > 0 ? bias / lambda : double.PositiveInfinity, edge,
            double.IsFinite(advised) ? Round3(advised) : double.NaN, noise);
    }

    // Three significant digits, so that advice prints and compares cleanly.
    private static double Round3(double x) =>
        double.Parse(x.ToString("G3", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
}
