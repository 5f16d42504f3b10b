using SltSharp.Engine.Random;
using SltSharp.Models.Tms;
using Xunit;

namespace SltSharp.Tests.Models.Tms;

public class TmsModelTests
{
    [Fact]
    public void DataAreScaledOneHotVectors()
    {
        var x = TmsTask.GenerateData<double>(6000, seed: 3);
        var counts = new int[6];
        double sum = 0;
        for (int s = 0; s < 6000; s++)
        {
            var row = x.AsSpan(s * 6, 6);
            int nonZero = 0;
            for (int j = 0; j < 6; j++)
            {
                if (row[j] != 0)
                {
                    nonZero++;
                    counts[j]++;
                    sum += row[j];
                    Assert.InRange(row[j], 0.0, 1.0);
                }
            }
            Assert.Equal(1, nonZero);
        }
        // Each feature count is Binomial(6000, 1/6): SD ≈ 28.9, so ±5 SD = ±145 around 1000.
        Assert.All(counts, c => Assert.InRange(c, 855, 1145));
        // Mean of μ ~ U[0,1]: SD of the mean = √(1/12/6000) ≈ 0.0037; ±5 SD.
        Assert.InRange(sum / 6000, 0.5 - 0.019, 0.5 + 0.019);
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    public void EmpiricalLossAndGradientAgreeWithThePopulationLoss(ulong seed)
    {
        // 24 chains, each on its own 5000 disjoint samples, all at the same point: 24 independent estimates of the
        // population loss and gradient, whose spread gives the standard error of their mean.
        const int chains = 24, m = 5000;
        var loss = TmsTask.CreateLoss<double>(chains * m, seed);
        var w = new double[12];
        var b = new double[6];
        var rng = new Rng(seed, 9);
        rng.FillGaussian(w.AsSpan(), 0.8);
        rng.FillGaussian(b.AsSpan(), 0.3);
        var point = new TmsParameters(2, 6, w, b);
        double exact = TmsExactLoss.Loss(point);
        var exactGrad = new double[18];
        TmsExactLoss.LossAndGradient(point, exactGrad);

        var flat = TmsTask.Flatten<double>(point);
        var parameters = Enumerable.Range(0, chains).SelectMany(_ => flat).ToArray();
        var batch = Enumerable.Range(0, chains * m).ToArray();
        var losses = new double[chains];
        var grads = new double[chains * 18];
        loss.Evaluate(parameters, chains, batch, losses, grads);

        // 4.5 standard errors per quantity: with 19 quantities × 2 seeds the chance of a false failure is ~3e-4 for
        // Gaussian means (the means of 5000 bounded terms are very close to Gaussian); the t(23) tails add little.
        AssertMean(losses, exact, "loss");
        for (int j = 0; j < 18; j++)
        {
            AssertMean([.. Enumerable.Range(0, chains).Select(c => grads[(c * 18) + j])], exactGrad[j], $"gradient {j}");
        }
    }

    private static void AssertMean(double[] values, double expected, string what)
    {
        double mean = values.Average();
        double se = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1) / values.Length);
        Assert.True(Math.Abs(mean - expected) <= (4.5 * se) + 1e-12, $"{what}: empirical {mean} ± {se}, exact {expected}");
    }

    [Fact]
    public void EngineLayoutIsTheTmsParametersLayout()
    {
        var loss = TmsTask.CreateEngineLoss<double>(10, seed: 0);
        var layout = loss.ParameterLayout;
        Assert.Equal("W", layout[0].Name);
        Assert.Equal([2, 6], layout[0].Shape);
        Assert.Equal("b", layout[1].Name);
        Assert.Equal([6], layout[1].Shape);
    }
}
