using SltSharp.Estimators;
using SltSharp.Models;
using SltSharp.Sampling;

namespace SltSharp.Tests.Sampling;

/// <summary>Sampling chains in separate calls (as a resumed job does) and combining them equals one full run.</summary>
public class ChainSubsetTests
{
    private static LlcOptions Options => new()
    {
        StepSize = 1e-5, Chains = 5, Burnin = 50, Draws = 100, Thinning = 2, BatchSize = 32, Seed = 99,
    };

    [Fact]
    public void SubsetsInAnyOrderCombineToTheFullRunBitForBit()
    {
        var (model, teacher) = DeepLinearNetwork<double>.CreateTeacherTask([4, 3, 3, 4], 1, 400, 21, 2.0);
        var full = LlcEstimator.Estimate(model, teacher, Options);

        var first = LlcEstimator.Sample(model, teacher, Options with { ChainIndices = [3, 0] });
        var second = LlcEstimator.Sample(model, teacher, Options with { ChainIndices = [4, 1, 2], Threads = 2 });
        var slots = new Dictionary<int, (SamplingResult Part, int Slot)>
        {
            [3] = (first.Sampling, 0), [0] = (first.Sampling, 1), [4] = (second.Sampling, 0), [1] = (second.Sampling, 1), [2] = (second.Sampling, 2),
        };
        double[][] Pick(Func<SamplingResult, double[][]> field) => [.. Enumerable.Range(0, 5).Select(c => field(slots[c].Part)[slots[c].Slot])];
        var combined = LlcEstimator.Combine(
            SamplingResult.FromChains(Pick(s => s.Losses), Pick(s => s.Acceptances), Pick(s => s.Distances), Pick(s => s.GradientNorms),
                new string?[5], full.Sampling.TotalSteps, full.Sampling.Elapsed),
            first.NBeta, first.ReferenceLoss, Options, first.SamplerName);

        for (int c = 0; c < 5; c++)
        {
            Assert.Equal(full.Sampling.Losses[c], combined.Sampling.Losses[c]);
        }
        Assert.Equal(full.Mean, combined.Mean);
        Assert.Equal(full.StandardError, combined.StandardError);
        Assert.Equal(full.Diagnostics.RHat, combined.Diagnostics.RHat);
        Assert.Equal(full.Verdict, combined.Verdict);
    }

    [Fact]
    public void BadChainIndicesAreRefusedWithTheReason()
    {
        var (model, teacher) = DeepLinearNetwork<double>.CreateTeacherTask([2, 2], 1, 50, 1, 2.0);
        var e = Assert.Throws<ArgumentException>(() => LlcEstimator.Sample(model, teacher, Options with { ChainIndices = [1, 1] }));
        Assert.Contains("distinct", e.Message);
        var whole = Assert.Throws<ArgumentException>(() => LlcEstimator.Estimate(model, teacher, Options with { ChainIndices = [0] }));
        Assert.Contains("Combine", whole.Message);
    }
}
