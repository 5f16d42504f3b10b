using SltSharp.Diagnostics;
using SltSharp.Estimators;
using SltSharp.Models;
using SltSharp.Sampling;
using SltSharp.Theory;

namespace SltSharp.Tests.Estimators;

public class LlcEstimatorTests
{
    [Fact]
    public void ReferenceLossIsTheFullDataLossTakenBeforeSampling()
    {
        var model = NormalCrossingDataModel<double>.CreateReferenceData([1, 1], 10_000, 4);
        double[] w = [0.3, -0.7];
        double f = -0.21;
        // 10 000 samples go through three chunks of ≤ 4096: the chunked mean must equal the closed form.
        Assert.Equal(model.Syy - (2 * f * model.Sxy) + (f * f * model.Sxx), LlcEstimator.FullDataLoss(model, w), 12);
        var result = LlcEstimator.Estimate(model, w, new LlcOptions { StepSize = 1e-6, Chains = 2, Draws = 10, BatchSize = 100 });
        Assert.Equal(LlcEstimator.FullDataLoss(model, w), result.ReferenceLoss);
    }

    [Fact]
    public void PerChainEstimatesMeanAndRunningTraceAreConsistent()
    {
        var model = new NormalCrossingPotential<double>([0, 1]);
        var result = LlcEstimator.Estimate(model, [0.0, 0.0], new LlcOptions { StepSize = 1e-3, NBeta = 50, Chains = 4, Draws = 500, Seed = 2 });
        for (int k = 0; k < 4; k++)
        {
            Assert.Equal(50 * result.Sampling.Losses[k].Average(), result.ChainEstimates[k], 12);
            Assert.Equal(result.ChainEstimates[k], result.RunningEstimates[k][^1], 10);
            Assert.Equal(50 * result.Sampling.Losses[k][0], result.RunningEstimates[k][0], 12);
        }
        Assert.Equal(result.ChainEstimates.Average(), result.Mean, 12);
        double sd = Math.Sqrt(result.ChainEstimates.Sum(e => (e - result.Mean) * (e - result.Mean)) / 3);
        Assert.Equal(sd / 2, result.StandardError, 12);
    }

    [Fact]
    public void WeightRestrictedLlcOfASeparableQuadraticCountsOnlyTheMovingCoordinates()
    {
        // L = ½Σa_j w_j² at w* = 0: each coordinate contributes t·a_j·E[w_j²]/2 = t·a_j/(2(t·a_j + γ)) ≈ 1/2, so the LLC
        // restricted to k moving coordinates is Σ over those of t·a_j/(2(t·a_j + γ)): exactly computable. MALA, 5% MCSE-based.
        double[] a = [1, 2, 3, 4];
        var model = new QuadraticPotential<double>(a, new double[4]);
        bool[] moving = [true, false, true, false];
        const double t = 100, gamma = 1;
        var options = new LlcOptions { Sampler = SamplerKind.Mala, StepSize = 2e-3, NBeta = t, Localization = gamma, Chains = 4, Draws = 20_000, Burnin = 1000, Seed = 8 };
        var result = LlcEstimator.EstimateWeightRefined(model, new double[4], moving, options);
        double exact = (t * a[0] / (2 * ((t * a[0]) + gamma))) + (t * a[2] / (2 * ((t * a[2]) + gamma)));
        Assert.True(Math.Abs(result.Mean - exact) < 4 * result.MonteCarloStandardError + 1e-3, $"{result.Mean} vs {exact} (MCSE {result.MonteCarloStandardError})");
        Assert.True(result.MonteCarloStandardError < 0.02 * exact);
        // The frozen coordinates never moved: the draws' loss only involves coordinates 0 and 2 (checked through the
        // observer on a shorter run).
        LlcEstimator.EstimateWeightRefined(model, new double[4], moving, options with { Draws = 50 }, (_, _, w) =>
        {
            Assert.Equal(0.0, w[1]);
            Assert.Equal(0.0, w[3]);
        });
    }

    [Fact]
    public void DataRefinedLlcUsesTheOtherDatasetForSamplingAndReference()
    {
        // Same model, two datasets: x with sd 1 vs sd 2. For the quadratic case f = w the exact value depends on Sxx and
        // Sxy of whichever dataset is used; the refined estimate must match the exact value of the refined data.
        var refined = NormalCrossingDataModel<double>.CreateReferenceData([0, 1], 1000, 31, inputStd: 1.0);
        var options = new LlcOptions { Sampler = SamplerKind.Mala, StepSize = 2e-3, Chains = 4, Draws = 20_000, Burnin = 1000, Seed = 9 };
        var result = LlcEstimator.EstimateDataRefined(refined, new double[2], options);
        double exact = NormalCrossingExact.DataModelLlc([0, 1], refined.Sxx, refined.Sxy, result.NBeta, 1.0);
        Assert.Equal(refined.Syy, result.ReferenceLoss, 12);
        Assert.True(Math.Abs(result.Mean - exact) < 4 * result.MonteCarloStandardError, $"{result.Mean} vs {exact} (MCSE {result.MonteCarloStandardError})");
        Assert.Throws<ArgumentException>(() => LlcEstimator.EstimateDataRefined(refined, new double[2], options with { ReferenceLoss = 0 }));
    }

    [Fact]
    public void WbicIsNTimesThePosteriorMeanLossAtInverseTemperatureOneOverLogN()
    {
        var model = NormalCrossingDataModel<double>.CreateReferenceData([0, 1], 500, 12);
        var options = new LlcOptions { Sampler = SamplerKind.Mala, StepSize = 2e-3, Chains = 4, Draws = 5_000, Burnin = 500, Seed = 10 };
        var wbic = LlcEstimator.EstimateWbic(model, new double[2], options);
        double meanLoss = wbic.Run.Sampling.Losses.SelectMany(l => l).Average();
        Assert.Equal(500 * meanLoss, wbic.Wbic, 8);
        Assert.Equal((wbic.Wbic - (500 * model.Syy)) / Math.Log(500), wbic.Lambda, 8);
        Assert.Throws<ArgumentException>(() => LlcEstimator.EstimateWbic(model, new double[2], options with { NBeta = 3 }));
    }

    [Fact]
    public void TooLargeStepSizeGetsAnActionableVerdict()
    {
        // Quadratic with q = 2t + γ = 201: at ε = 0.015 (ε·q = 3, variance inflated by 1/(1 − εq/4) = 4×) SGLD's
        // pseudo-MALA acceptance drops only to about 0.7, yet λ̂ is 4× too large: the step-bias check fails it and advises
        // a smaller ε (tests/SltSharp.Tests/Diagnostics/StepBiasCheckTests.cs checks the numbers).
        var model = new NormalCrossingPotential<double>([1]);
        var result = LlcEstimator.Estimate(model, [0.0], new LlcOptions { StepSize = 0.015, NBeta = 100, Chains = 4, Draws = 400, Seed = 3 });
        Assert.Equal(Verdict.Fail, result.Verdict);
        Assert.InRange(result.Diagnostics.MeanAcceptance, 0.5, 0.8);
        var advice = Assert.Single(result.Diagnostics.Reasons, r => r.StartsWith("Step size too large", StringComparison.Ordinal));
        Assert.Contains("lower ε to about", advice, StringComparison.Ordinal);
    }

    [Fact]
    public void WellTunedRunGetsOk()
    {
        var model = new NormalCrossingPotential<double>([1]);
        var result = LlcEstimator.Estimate(model, [0.0], new LlcOptions { StepSize = 1e-4, NBeta = 100, Chains = 4, Draws = 4000, Thinning = 20, Burnin = 2000, Seed = 3 });
        Assert.True(result.Verdict == Verdict.Ok, string.Join(" | ", result.Diagnostics.Reasons));
    }

    [Fact]
    public void NegativeLlcIsAFailWithAReason()
    {
        // w* = 1 is not a minimum of K = w² (the loss falls away from it), so the draws' loss is below L(w*).
        var model = new NormalCrossingPotential<double>([1]);
        var result = LlcEstimator.Estimate(model, [1.0], new LlcOptions { StepSize = 1e-3, NBeta = 100, Localization = 1, Chains = 2, Draws = 200, Seed = 3 });
        Assert.Equal(Verdict.Fail, result.Verdict);
        Assert.Contains(result.Diagnostics.Reasons, r => r.Contains("not a local minimum", StringComparison.Ordinal));
    }
}
