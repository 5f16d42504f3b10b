using SltSharp.Estimators;
using SltSharp.Models;
using SltSharp.Theory;
using Xunit.Abstractions;

namespace SltSharp.Tests.Estimators;

/// <summary>
/// SGLD LLC estimates of reduced-rank regression and deep linear networks at the teacher (every layer of rank r, the
/// deepest true parameter) against Aoyagi's λ, within 10%.
/// </summary>
/// <remarks>
/// <para>Setting as in Lau et al. scaled down: x ~ U[−10, 10]^d, noiseless teacher, n = 10⁴, nβ = n/ln n ≈ 1086,
/// γ = 1, minibatches of 100 without replacement, several chains.</para>
/// <para>Why 10% holds. The finite-temperature bias of t·E[K] is −(m−1)/ln t plus smaller terms (slt-reference §1b).
/// The loss scale is E[x²] = 100/3 times the teacher's squared weights (≈ 1 per path), so t ≈ nβ·33 ≈ 3.6·10⁴ and
/// ln t ≈ 10.5: with m = 2 the bias is about −0.1, i.e. 1.5% of λ = 6.5 and below 1% for the larger λ. SGLD's
/// discretisation bias is kept small by ε ≈ 1e-6 (4e-6 at r = 0, where the loss is quartic at w* and much flatter);
/// the pseudo-MALA acceptance is not asserted because with batches of 100 it mostly measures minibatch noise (0.77–0.81
/// here, 0.84–0.90 with batches of 500). The remaining budget is Monte Carlo error, asserted to be ≤ 3.5% of λ.
/// Measured: (5,3,5) r=0 −7.5% (batch 100) and −5.7% (batch 500); (8,3,4) r=1 −8.2% (short run, MCSE 3.4%) and −1.3%
/// (batch 500). The estimates sit consistently below λ, more than −(m−1)/ln t explains: the 10% tolerance is needed, and
/// the multiplicity-aware multi-temperature fit is the better tool for the asymptotic value.</para>
/// </remarks>
public class DeepLinearNetworkLlcTests(ITestOutputHelper output)
{
    private void Check(int[] widths, int rank, double stepSize, int draws, int thinning, ulong seed, int threads = 1, int burnin = 5_000)
    {
        var (model, teacher) = DeepLinearNetwork<double>.CreateTeacherTask(widths, rank, 10_000, seed);
        var options = new LlcOptions
        {
            Sampler = SamplerKind.Sgld, StepSize = stepSize, Localization = 1, Chains = 4, Burnin = burnin, Draws = draws,
            Thinning = thinning, BatchSize = 100, Seed = seed, Threads = threads,
        };
        var result = LlcEstimator.Estimate(model, teacher, options);
        var lc = LearningCoefficients.DeepLinearNetwork(widths, rank);
        double relative = (result.Mean / lc.Lambda) - 1;
        string label = $"({string.Join(",", widths)}) r={rank}: λ̂ = {result.Mean:F3} ± {result.StandardError:F3} (MCSE {result.MonteCarloStandardError:F3}) vs λ = {lc.Lambda} (m = {lc.Multiplicity}), {relative:P1}, acceptance {result.Diagnostics.MeanAcceptance:F2}, R-hat {result.Diagnostics.RHat:F3}, {result.StepsPerSecond:F0} steps/s, predicted step bias {result.Diagnostics.StepBias?.RelativeBias:P1}, verdict {result.Verdict} ({string.Join(" | ", result.Diagnostics.Reasons)})";
        output.WriteLine(label);
        Assert.True(result.MonteCarloStandardError <= 0.035 * lc.Lambda, $"not precise enough: {label}");
        Assert.True(Math.Abs(relative) <= 0.10, label);
    }

    [Fact]
    public void ReducedRankRegressionMatchesAoyagi()
    {
        Check([5, 3, 5], 0, 4e-6, 1_500, 5, 1);
    }

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(new[] { 5, 3, 5 }, 0, 4e-6)]
    [InlineData(new[] { 5, 4, 5 }, 1, 5e-7)]
    [InlineData(new[] { 4, 3, 8 }, 0, 4e-6)]
    [InlineData(new[] { 8, 3, 4 }, 1, 5e-7)]
    [InlineData(new[] { 3, 8, 4 }, 2, 5e-7)]
    public void AllReducedRankRegressionShapesMatchAoyagi(int[] widths, int rank, double stepSize)
        => Check(widths, rank, stepSize, 4_000, 20, 3, threads: 2);

    /// <summary>
    /// Reduced default-suite version of <see cref="DeepLinearNetworksMatchAoyagi"/>: the 3-layer (5,5,5,5) r = 2 net (λ = 11)
    /// at ε = 2e-6 with 20k burn-in steps. Measured 10.75 ± 0.29 (−2.3%, 14 s on the loaded 2-core machine).
    /// </summary>
    [Fact]
    public void ThreeLayerNetworkMatchesAoyagi() => Check([5, 5, 5, 5], 2, 2e-6, 400, 25, 4, threads: 2, burnin: 20_000);

    /// <summary>
    /// Four nets of three depths (3, 4 and 6 layers; 75, 216, 4000 and 10⁴ parameters), reduced-rank teachers, n = 10⁴, batch 100, nβ = n/ln n.
    /// </summary>
    /// <remarks>
    /// <para>Why the settings differ from the reduced-rank shapes. Chains start at w* (loss 0) and must climb to
    /// E[L] ≈ λ/nβ through directions in which the loss is a product of several perturbations (order 4, 6, … in the
    /// distance from w*, more of them the deeper the net). Those directions are flat, so their posterior spread is wide
    /// and SGLD needs ~spread²/ε steps to fill it: with the 5k burn-in and ε = 5e-7 of the RRR tests, (5,5,5,5) r = 2 gave
    /// 7.2 after 15k steps and 9.18 after 105k (λ = 11), still climbing; (6,…,6) r = 2 gave −28% at ε = 1e-6 after 100k.
    /// Raising ε buys mixing but adds discretisation bias, which is positive here: (5,5,5,5) r = 2 at stationarity
    /// gives +5% at ε = 2e-6 (100k steps), and already after 25k steps +24% at 5e-6 and +70% at 1e-5. The settings below are the largest ε whose bias stays a few
    /// percent (fixed-batch acceptance ≈ 0.7–0.9) with a burn-in long enough for R-hat ≈ 1.0–1.05.</para>
    /// <para>Measured (seed 4, 4 chains): (5,5,5,5) r 2, ε 1e-6, 200k steps: 10.62 ± 0.31 vs 11 (−3.5%);
    /// (10,20,30,40,50) r 5, ε 1e-7, 70k steps: 168.4 ± 1.6 vs 175 (−3.8%; at ε 2e-7 one chain of four spiked to 359);
    /// (6,6,6,6,6,6,6) r 2, ε 4e-6, 100k steps: 14.38 ± 0.32 vs 15 (−4.1%; multiplicity 9, so −(θ−1)/ln t ≈ −5% is expected);
    /// (50,50,50,50,50) r 10 (10⁴ parameters), ε 1e-7, 410k steps: 938.5 ± 11.2 (MCSE 10.2) vs 950 (−1.2%; R-hat 1.09, so
    /// the chains still differ by a few percent; with only 60k burn-in steps it was 763, −20%, still climbing from w*,
    /// and --auto's ε = 1.61e-7 landed +12%: at this size the flat directions need a long burn-in at a step small enough
    /// for the stiff ones). The 10% tolerance is ≥ 2× every measured error: MCSE ≤ 3.5% is asserted, the rest is the
    /// remaining discretisation/mixing bias of a few percent.</para>
    /// </remarks>
    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(new[] { 5, 5, 5, 5 }, 2, 1e-6, 100_000, 250)]
    [InlineData(new[] { 10, 20, 30, 40, 50 }, 5, 1e-7, 60_000, 25)]
    [InlineData(new[] { 6, 6, 6, 6, 6, 6, 6 }, 2, 4e-6, 50_000, 125)]
    [InlineData(new[] { 50, 50, 50, 50, 50 }, 10, 1e-7, 400_000, 25)]
    public void DeepLinearNetworksMatchAoyagi(int[] widths, int rank, double stepSize, int burnin, int thinning)
        => Check(widths, rank, stepSize, 400, thinning, 4, threads: 2, burnin: burnin);
}
