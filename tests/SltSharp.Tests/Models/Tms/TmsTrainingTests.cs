using SltSharp.Engine.Ops;
using SltSharp.Models.Tms;
using SltSharp.Theory;
using Xunit;

namespace SltSharp.Tests.Models.Tms;

/// <summary>The multi-seed trainer and the k-gon census behind <c>slt experiment tms</c>.</summary>
public class TmsTrainingTests
{
    [Fact]
    public void OneFullBatchSgdStepIsTheGradientStepOfTheEmpiricalLoss()
    {
        // Independent route to the same number: the samplers' loss (TmsTask's EngineChainedLoss with the ×features scale)
        // on the seed's training set, evaluated at the seed's initial W. A wrong scale, data set or update rule moves w₁.
        const int n = 40;
        const double lr = 0.05;
        var options = new TmsTrainingOptions { Steps = 1, BatchSize = n, Optimizer = TmsOptimizer.Sgd, LearningRate = lr, InitScale = 0.5, Seed = 7, CheckpointSteps = [0, 1] };
        var seed = TmsTraining.Train(n, 2, options)[1];
        var w0 = seed.Checkpoints[0].ToFlat();
        var w1 = seed.Checkpoints[1].ToFlat();
        Assert.All(seed.Checkpoints[0].B, b => Assert.Equal(0.0, b));

        var data = TmsTraining.TrainingSet(n, 1, 7);
        var loss = new SltSharp.Models.EngineChainedLoss<double>(() => new TmsModel<double>(), data, 6, data, 6,
            (tape, prediction, target, chains) => tape.Scale(tape.MseLoss(prediction, target, chains), 6));
        var gradient = new double[18];
        var value = new double[1];
        loss.Evaluate(w0, 1, Enumerable.Range(0, n).ToArray(), value, gradient);
        for (int i = 0; i < 18; i++)
        {
            // Same float operations up to summation order: agreement to ~1e-15 relative; 1e-12 absolute is ample.
            Assert.Equal(w0[i] - (lr * gradient[i]), w1[i], 1e-12);
        }
    }

    [Fact]
    public void ResultsDoNotDependOnThreadsOrOnTheOtherSeeds()
    {
        var options = new TmsTrainingOptions { Steps = 200, BatchSize = 16, LearningRate = 0.01, Seed = 3, CheckpointSteps = [0, 50, 200] };
        var one = TmsTraining.Train(60, 3, options with { Threads = 1 });
        var two = TmsTraining.Train(60, 3, options with { Threads = 2 });
        var fewer = TmsTraining.Train(60, 2, options with { Threads = 2 });
        for (int s = 0; s < 3; s++)
        {
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(one[s].Checkpoints[c].ToFlat(), two[s].Checkpoints[c].ToFlat());
                if (s < 2)
                {
                    Assert.Equal(one[s].Checkpoints[c].ToFlat(), fewer[s].Checkpoints[c].ToFlat());
                }
            }
        }
        // Different seeds really are different runs.
        Assert.NotEqual(one[0].Checkpoints[2].ToFlat(), one[1].Checkpoints[2].ToFlat());
    }

    [Fact]
    public void TrainingSetsAreNestedAcrossN()
    {
        var small = TmsTraining.TrainingSet(50, 4, 9);
        var large = TmsTraining.TrainingSet(200, 4, 9);
        Assert.Equal(small, large[..small.Length]);
        Assert.NotEqual(small, TmsTraining.TrainingSet(50, 5, 9));
    }

    [Fact]
    public void TrainingLowersThePopulationLossFromARandomStart()
    {
        // With 2000 samples the empirical and population losses differ by O(1/√n); Adam for 3000 steps must get well
        // below the loss of W = 0, b = 0 (1/3: every feature reconstructed as 0) and below the 4-gon's 1/9, the worst
        // k-gon with k ≥ 4 (the seeds of this test end at 4- to 6-gons or their "+" variants).
        var options = new TmsTrainingOptions { Steps = 3000, BatchSize = 64, LearningRate = 0.01, InitScale = 0.3, Seed = 1, Threads = 2, CheckpointSteps = [0, 3000] };
        var seeds = TmsTraining.Train(2000, 4, options);
        foreach (var s in seeds)
        {
            double before = TmsExactLoss.Loss(s.Checkpoints[0]);
            double after = TmsExactLoss.Loss(s.Checkpoints[1]);
            Assert.True(after < before && after < 1.0 / 9 + 0.005, $"seed {s.SeedIndex}: loss {before:F4} → {after:F4}");
        }
    }

    [Fact]
    public void LogSpacedStepsStartAtZeroAndEndAtTheLastStep()
    {
        int[] steps = TmsTraining.LogSpacedSteps(10_000, 4);
        Assert.Equal(0, steps[0]);
        Assert.Equal(10_000, steps[^1]);
        Assert.True(steps.Zip(steps.Skip(1)).All(p => p.First < p.Second));
        // 4 decades at 4 per decade: 1, 10^0.25, ..., 10^4 rounded, plus 0; rounding merges 1 and 2 at the low end.
        Assert.InRange(steps.Length, 15, 18);
        Assert.Contains(100, steps);
        Assert.Contains(1000, steps);
    }

    [Fact]
    public void CensusCountsTypesAndTakesTheMedianExactLoss()
    {
        var five = TmsCriticalPoints.KGon(5);
        var six = TmsCriticalPoints.KGon(6);
        var fivePlus = TmsCriticalPoints.KGon(5, 1);
        var seeds = new[]
        {
            new TmsTrainedSeed(0, [TmsParameters.Zero(), five.Parameters]),
            new TmsTrainedSeed(1, [TmsParameters.Zero(), six.Parameters]),
            new TmsTrainedSeed(2, [TmsParameters.Zero(), fivePlus.Parameters]),
        };
        var census = TmsCensus.Tabulate(300, [0, 100], seeds);
        Assert.Equal(3, census[0].Counts[TmsClassifier.Other]);
        Assert.Equal(1.0 / 3, census[0].MedianLoss, 1e-12); // W = 0, b = 0: E[μ²] = 1/3 per sample
        Assert.Equal(1, census[1].Counts["5-gon"]);
        Assert.Equal(1, census[1].Counts["6-gon"]);
        Assert.Equal(1, census[1].Counts["5+-gon"]);
        Assert.Equal(1.0 / 3, census[1].Fraction("6-gon"), 1e-15);
        Assert.Equal(0.0, census[1].Fraction("4-gon"));
        Assert.Equal(fivePlus.Loss, census[1].MedianLoss, 1e-12); // the middle of 0.0482, 0.0618, 0.0687
        Assert.True(TmsCensus.Order("5-gon").CompareTo(TmsCensus.Order("5+-gon")) < 0);
        Assert.True(TmsCensus.Order("6-gon").CompareTo(TmsCensus.Order(TmsClassifier.Other)) < 0);
    }

    [Fact]
    public void PosteriorProbabilityOfTheSixGonIsOneHalfAtTheCriticalN()
    {
        var u = TmsCriticalPoints.KGon(5).FreeEnergyTerms(7.0);
        var v = TmsCriticalPoints.KGon(6).FreeEnergyTerms(8.5);
        double nCrit = ModelSelection.FindCriticalSampleSize(u, v).First!.Value;
        Assert.Equal(0.5, ModelSelection.PosteriorProbabilityOfV(u, v, nCrit), 1e-9);
        // Logistic of the log-odds on both sides, and no overflow far out (log-odds ≈ −20·n·0.0206 at n = 1e6).
        double n = 300;
        Assert.Equal(1 / (1 + Math.Exp(ModelSelection.PosteriorLogOdds(u, v, n))), ModelSelection.PosteriorProbabilityOfV(u, v, n), 1e-14);
        Assert.True(ModelSelection.PosteriorProbabilityOfV(u, v, n) < 0.5);
        Assert.Equal(1.0, ModelSelection.PosteriorProbabilityOfV(u, v, 1e6));
        Assert.Equal(0.0, ModelSelection.PosteriorProbabilityOfV(v, u, 1e6));
    }
}
