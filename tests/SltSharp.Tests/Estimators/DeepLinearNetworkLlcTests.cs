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
    private void Check(int[] widths, int rank, double stepSize, int draws, int thinning, ulong seed, int threads = 1)
    {
        var (model, teacher) = DeepLinearNetwork<double>.CreateTeacherTask(widths, rank, 10_000, seed);
        var options = new LlcOptions
        {
            Sampler = SamplerKind.Sgld, StepSize = stepSize, Localization = 1, Chains = 4, Burnin = 5_000, Draws = draws,
            Thinning = thinning, BatchSize = 100, Seed = seed, Threads = threads,
        };
        var result = LlcEstimator.Estimate(model, teacher, options);
        var lc = LearningCoefficients.DeepLinearNetwork(widths, rank);
        double relative = (result.Mean / lc.Lambda) - 1;
        string label = $"({string.Join(",", widths)}) r={rank}: λ̂ = {result.Mean:F3} ± {result.StandardError:F3} (MCSE {result.MonteCarloStandardError:F3}) vs λ = {lc.Lambda} (m = {lc.Multiplicity}), {relative:P1}, acceptance {result.Diagnostics.MeanAcceptance:F2}, R-hat {result.Diagnostics.RHat:F3}, {result.StepsPerSecond:F0} steps/s";
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

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(new[] { 5, 5, 5, 5 }, 2, 5e-7)]
    [InlineData(new[] { 10, 20, 30, 40, 50 }, 5, 2e-7)]
    [InlineData(new[] { 50, 50, 50, 50, 50 }, 10, 1e-7)]
    public void DeepLinearNetworksMatchAoyagi(int[] widths, int rank, double stepSize)
        => Check(widths, rank, stepSize, 4_000, 25, 4, threads: 2);
}
