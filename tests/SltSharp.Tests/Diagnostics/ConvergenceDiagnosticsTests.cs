using SltSharp.Diagnostics;
using SltSharp.Engine.Random;

namespace SltSharp.Tests.Diagnostics;

public class ConvergenceDiagnosticsTests
{
    private static double[][] Ar1(int chains, int n, double rho, ulong seed, double[]? offsets = null)
    {
        var result = new double[chains][];
        for (int c = 0; c < chains; c++)
        {
            var rng = new Rng(seed, (ulong)c);
            var x = new double[n];
            double innovation = Math.Sqrt(1 - (rho * rho)); // unit stationary variance
            double v = rng.NextGaussian();
            for (int i = 0; i < n; i++)
            {
                v = (rho * v) + (innovation * rng.NextGaussian());
                x[i] = v + (offsets?[c] ?? 0);
            }
            result[c] = x;
        }
        return result;
    }

    [Fact]
    public void RHatIsOneForIidChains()
    {
        // For iid chains R̂ − 1 = O(1/n) with fluctuations of the same order; n = 2000 split draws per half-chain puts
        // 1.01 (Vehtari et al.'s threshold) many standard deviations away.
        var chains = Ar1(4, 4000, 0.0, 1);
        Assert.InRange(ConvergenceDiagnostics.SplitRHat(chains), 0.99, 1.005);
        Assert.InRange(ConvergenceDiagnostics.ClassicSplitRHat(chains), 0.99, 1.005);
    }

    [Fact]
    public void RHatIsLargeWhenChainMeansDiffer()
    {
        // Means 0, 0, 0, 2 (in units of the sd): var⁺/W ≈ 1 + Var(means) = 1.75, R̂ ≈ 1.3.
        var chains = Ar1(4, 1000, 0.0, 2, [0, 0, 0, 2]);
        double rhat = ConvergenceDiagnostics.ClassicSplitRHat(chains);
        Assert.InRange(rhat, 1.2, 1.45);
        Assert.True(ConvergenceDiagnostics.SplitRHat(chains) > 1.1);
    }

    [Fact]
    public void RHatSeesATrendInsideOneChain()
    {
        var chains = Ar1(2, 2000, 0.0, 3);
        for (int i = 0; i < 2000; i++)
        {
            chains[0][i] += 3.0 * i / 2000; // slow drift: only splitting can see it
        }
        Assert.True(ConvergenceDiagnostics.SplitRHat(chains) > 1.1);
    }

    [Fact]
    public void EssOfIidChainsIsTheDrawCount()
    {
        // For iid draws the Geyer estimate is N up to the noise of the first few autocorrelations (each ~1/√N = 0.005);
        // 10% is over 5 such standard deviations on τ.
        var chains = Ar1(4, 5000, 0.0, 4);
        Assert.InRange(ConvergenceDiagnostics.EffectiveSampleSize(chains) / 20000, 0.9, 1.1);
        Assert.InRange(ConvergenceDiagnostics.BulkEffectiveSampleSize(chains) / 20000, 0.9, 1.1);
    }

    [Theory]
    [InlineData(5ul)]
    [InlineData(6ul)]
    [InlineData(7ul)]
    public void EssOfAr1MatchesTheClosedForm(ulong seed)
    {
        // AR(1) with ρ = 0.9: τ = (1+ρ)/(1−ρ) = 19, ESS = N/19. The estimate of τ sums tens of noisy autocorrelations;
        // over 30 seeds at N = 80 000 its ratio to the closed form had mean 0.993 and sd 0.043, so 15% is 3.5 sd.
        const double rho = 0.9;
        var chains = Ar1(4, 20000, rho, seed);
        double expected = 80000 * (1 - rho) / (1 + rho);
        double ess = ConvergenceDiagnostics.EffectiveSampleSize(chains);
        Assert.InRange(ess / expected, 0.85, 1.15);
        Assert.InRange(ConvergenceDiagnostics.BulkEffectiveSampleSize(chains) / expected, 0.85, 1.15);
    }

    [Fact]
    public void DriftZScoreFlagsATrendAndNotStationaryChains()
    {
        var stationary = Ar1(4, 2000, 0.5, 8);
        Assert.InRange(Math.Abs(ConvergenceDiagnostics.DriftZScore(stationary)), 0, 3.5);
        var drifting = Ar1(4, 2000, 0.5, 9);
        foreach (var c in drifting)
        {
            for (int i = 0; i < c.Length; i++)
            {
                c[i] += 0.5 * i / c.Length;
            }
        }
        Assert.True(ConvergenceDiagnostics.DriftZScore(drifting) > 5);
    }
}
