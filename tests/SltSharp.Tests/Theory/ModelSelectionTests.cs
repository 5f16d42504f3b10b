using SltSharp.Engine.Random;
using SltSharp.Theory;

namespace SltSharp.Tests.Theory;

public class ModelSelectionTests
{
    [Fact]
    public void FreeEnergy_HasWatanabeForm()
    {
        double n = 1000;
        double f = FreeEnergy.Asymptotic(n, 0.2, 1.5, 3, 0.7);
        Assert.Equal((n * 0.2) + (1.5 * Math.Log(n)) - (2 * Math.Log(Math.Log(n))) + 0.7, f, 1e-12);
        Assert.Throws<ArgumentOutOfRangeException>(() => FreeEnergy.Asymptotic(1.0, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FreeEnergyTerms(0, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FreeEnergyTerms(0, 1, 0));
    }

    [Fact]
    public void PosteriorLogOdds_IsDifferenceOfFreeEnergies()
    {
        var u = new FreeEnergyTerms(0.31, 2.5, 2, 1.0);
        var v = new FreeEnergyTerms(0.30, 4.0, 1, -0.5);
        foreach (double n in new[] { 3.0, 50, 1e4, 1e7 })
        {
            Assert.Equal(v.At(n) - u.At(n), ModelSelection.PosteriorLogOdds(u, v, n), 1e-9 * Math.Max(1, Math.Abs(v.At(n))));
        }
    }

    [Fact]
    public void CriticalSampleSize_SolvesNOverLogNEqualsRatio()
    {
        // 0.01·n = 2·ln n: the classic n/ln n = Δλ/(−Δℓ) = 200. Independent solution by fixed-point n ← 200·ln n.
        var u = new FreeEnergyTerms(0.10, 1.0);
        var v = new FreeEnergyTerms(0.09, 3.0);
        double reference = 1000;
        for (int i = 0; i < 200; i++)
        {
            reference = 200 * Math.Log(reference);
        }
        var result = ModelSelection.FindCriticalSampleSize(u, v);
        Assert.Equal(PreferenceOutcome.FlipsToV, result.Outcome);
        Assert.Single(result.Crossings);
        Assert.Equal(reference, result.First!.Value, 1e-9 * reference);
        Assert.True(ModelSelection.PosteriorLogOdds(u, v, result.First.Value * 0.9) > 0);
        Assert.True(ModelSelection.PosteriorLogOdds(u, v, result.First.Value * 1.1) < 0);
    }

    [Fact]
    public void CriticalSampleSize_ReportsNoFlipAndSymmetricCases()
    {
        var better = new FreeEnergyTerms(0.1, 1.0);
        var worse = new FreeEnergyTerms(0.2, 2.0);
        Assert.Equal(PreferenceOutcome.AlwaysPrefersU, ModelSelection.FindCriticalSampleSize(better, worse).Outcome);
        Assert.Equal(PreferenceOutcome.AlwaysPrefersV, ModelSelection.FindCriticalSampleSize(worse, better).Outcome);
        Assert.Equal(PreferenceOutcome.Indifferent, ModelSelection.FindCriticalSampleSize(better, better).Outcome);
        Assert.Null(ModelSelection.FindCriticalSampleSize(better, worse).First);

        // Swapping the regions turns FlipsToV into FlipsToU at the same n.
        var u = new FreeEnergyTerms(0.10, 1.0);
        var v = new FreeEnergyTerms(0.09, 3.0);
        var forward = ModelSelection.FindCriticalSampleSize(u, v);
        var backward = ModelSelection.FindCriticalSampleSize(v, u);
        Assert.Equal(PreferenceOutcome.FlipsToU, backward.Outcome);
        Assert.Equal(forward.First!.Value, backward.First!.Value, 1e-9 * forward.First.Value);
    }

    [Fact]
    public void CriticalSampleSize_FindsBothFlipsWhenAConstantDelaysTheFirst()
    {
        // g(n) = −0.01·n + ln n − 2: negative at n = 2, positive at n = 100, negative at n = 1000.
        var u = new FreeEnergyTerms(0.01, 0.0, 1, 0.0);
        var v = new FreeEnergyTerms(0.0, 1.0, 1, -2.0);
        var r = ModelSelection.FindCriticalSampleSize(u, v);
        Assert.Equal(PreferenceOutcome.MultipleFlips, r.Outcome);
        Assert.Equal(2, r.Crossings.Count);
        foreach (double c in r.Crossings)
        {
            Assert.True(Math.Abs((-0.01 * c) + Math.Log(c) - 2) < 1e-9);
        }
    }

    [Fact]
    public void Interval_DeltaAndEvaluatedAgreeForSmallErrors()
    {
        var u = new FreeEnergyTerms(0.10, 1.0);
        var v = new FreeEnergyTerms(0.09, 3.0);
        var iv = ModelSelection.CriticalSampleSizeWithUncertainty(u, v, new(0, 1e-4), new(0, 1e-4), k: 2);
        Assert.Equal(iv.DeltaLower, iv.Lower, 1e-3 * iv.Lower);
        Assert.Equal(iv.DeltaUpper, iv.Upper, 1e-3 * iv.Upper);
        Assert.True(iv.Lower < iv.NCritical && iv.NCritical < iv.Upper);
    }

    /// <summary>
    /// With large errors (SE of λ = 0.3, SE of ℓ = 0.001) n_crit is strongly non-linear. Monte Carlo over Gaussian
    /// parameter errors (4000 draws, fixed seed) gives the 2.3% and 97.7% quantiles of n_crit; the evaluated ±2 SE
    /// interval must match them within 10% in ln n (the quantile's own MC error is ~2% in ln n at 4000 draws; the rest
    /// is the approximation of reducing the problem to one direction).
    /// </summary>
    [Fact]
    public void Interval_EvaluatedMatchesMonteCarloQuantiles()
    {
        var u = new FreeEnergyTerms(0.10, 1.0);
        var v = new FreeEnergyTerms(0.09, 3.0);
        var su = new FreeEnergyUncertainty(0.001, 0.3);
        var sv = new FreeEnergyUncertainty(0.001, 0.3);
        var iv = ModelSelection.CriticalSampleSizeWithUncertainty(u, v, su, sv, k: 2);
        var rng = new Rng(20240601);
        var draws = new List<double>();
        for (int i = 0; i < 4000; i++)
        {
            var ud = u with { Loss = u.Loss + (0.001 * rng.NextGaussian()), LearningCoefficient = u.LearningCoefficient + (0.3 * rng.NextGaussian()) };
            var vd = v with { Loss = v.Loss + (0.001 * rng.NextGaussian()), LearningCoefficient = v.LearningCoefficient + (0.3 * rng.NextGaussian()) };
            var r = ModelSelection.FindCriticalSampleSize(ud, vd);
            draws.Add(r.First ?? double.PositiveInfinity);
        }
        draws.Sort();
        double qLow = draws[(int)(0.0228 * draws.Count)], qHigh = draws[(int)(0.9772 * draws.Count)];
        Assert.True(Math.Abs(Math.Log(iv.Lower / qLow)) < 0.1 * Math.Log(qLow), $"lower {iv.Lower} vs MC {qLow}");
        Assert.True(Math.Abs(Math.Log(iv.Upper / qHigh)) < 0.1 * Math.Log(qHigh), $"upper {iv.Upper} vs MC {qHigh}");
        // The curvature of n_crit(θ) is what the delta method misses: the evaluated ends are closer to the MC quantiles.
        Assert.True(Math.Abs(Math.Log(iv.Lower / qLow)) < Math.Abs(Math.Log(iv.DeltaLower / qLow)), $"{iv}, MC {qLow} {qHigh}");
        Assert.True(Math.Abs(Math.Log(iv.Upper / qHigh)) < Math.Abs(Math.Log(iv.DeltaUpper / qHigh)), $"{iv}, MC {qLow} {qHigh}");
    }

    [Fact]
    public void Interval_WhenNoFlip_ReportsOutcomeWithoutNumbers()
    {
        var iv = ModelSelection.CriticalSampleSizeWithUncertainty(new(0.1, 1.0), new(0.2, 2.0), new(0, 0.1), new(0, 0.1));
        Assert.Equal(PreferenceOutcome.AlwaysPrefersU, iv.Outcome);
        Assert.True(double.IsNaN(iv.NCritical));
    }

    /// <summary>
    /// WBIC for K(w) = w² under a standard normal prior: the tempered posterior at nβ = t = n/ln n is Gaussian with
    /// variance 1/(2t + 1), so λ̂ = t·E[K] = t/(2t + 1) exactly. E[K] here comes from quadrature, not the formula.
    /// </summary>
    [Theory]
    [InlineData(100.0)]
    [InlineData(1e6)]
    public void Wbic_RecoversLearningCoefficientOfRegularModel(double n)
    {
        double beta = Wbic.InverseTemperature(n);
        double t = n * beta;
        double Density(double w) => Math.Exp((-t * w * w) - (0.5 * w * w));
        var ladder = GaussKronrod.GeometricBreakpoints(-10, 10, 0);
        double z = GaussKronrod.Integrate(Density, -10, 10, ladder, 1e-12).Value;
        double expectedLoss = GaussKronrod.Integrate(w => w * w * Density(w), -10, 10, ladder, 1e-12).Value / z;
        double wbic = Wbic.FromDraws([expectedLoss], n);
        Assert.Equal(t / ((2 * t) + 1), Wbic.LearningCoefficient(wbic, n, 0.0), 1e-10);
        Assert.Equal(t / ((2 * t) + 1), Wbic.LearningCoefficientFromDraws([expectedLoss + 0.5, 0.5 + expectedLoss], n, 0.5), 1e-9);
    }
}
