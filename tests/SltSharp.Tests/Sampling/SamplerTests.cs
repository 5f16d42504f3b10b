using SltSharp.Engine.Random;
using SltSharp.Models;
using SltSharp.Sampling;

namespace SltSharp.Tests.Sampling;

public class SamplerTests
{
    // Runs the sampler directly (no driver) and returns, per coordinate, the pooled post-burn-in positions.
    private static double[][] Collect(ISampler<double> sampler, IChainedLoss<double> loss, double[] anchor, int chains, int steps, int burnin, ulong seed)
    {
        var rngs = Enumerable.Range(0, chains).Select(c => new Rng(seed, (ulong)c)).ToArray();
        var state = sampler.Init(anchor, rngs);
        var info = new StepInfo[chains];
        var batch = new int[chains];
        int p = anchor.Length;
        var samples = Enumerable.Range(0, p).Select(_ => new double[chains * (steps - burnin)]).ToArray();
        for (int t = 0; t < steps; t++)
        {
            sampler.Step(state, loss, batch, info);
            if (t >= burnin)
            {
                for (int c = 0; c < chains; c++)
                {
                    for (int j = 0; j < p; j++)
                    {
                        samples[j][(c * (steps - burnin)) + t - burnin] = state.Positions[(c * p) + j];
                    }
                }
            }
        }
        return samples;
    }

    // Moments with standard errors from the spread of the per-chain estimates (chains are independent, so this needs no
    // model of the autocorrelation).
    private static (double Mean, double MeanSe, double Variance, double VarianceSe) ChainMoments(double[] pooled, int chains)
    {
        int len = pooled.Length / chains;
        var means = new double[chains];
        var vars = new double[chains];
        for (int c = 0; c < chains; c++)
        {
            (means[c], vars[c]) = Moments(pooled.AsSpan(c * len, len).ToArray());
        }
        static double Se(double[] v) => Math.Sqrt(v.Sum(x => (x - v.Average()) * (x - v.Average())) / (v.Length - 1) / v.Length);
        return (means.Average(), Se(means), vars.Average(), Se(vars));
    }

    private static (double Mean, double Variance) Moments(double[] x)
    {
        double mean = x.Average();
        return (mean, x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1));
    }

    // Curvatures a_j of L = ½Σa_j(w_j − μ_j)²; with nβ = 10 and γ = 1 the target is N(m_j, 1/q_j), q_j = 10a_j + 1,
    // m_j = (10a_j·μ_j + w*_j)/q_j.
    private static readonly double[] Curvature = [1, 2, 5];
    private static readonly double[] Center = [1.0, -0.5, 0.2];
    private static readonly double[] Anchor = [0.0, 0.3, 0.0];
    private const double NBeta = 10, Gamma = 1;

    private static double Precision(int j) => (NBeta * Curvature[j]) + Gamma;

    private static double TargetMean(int j) => ((NBeta * Curvature[j] * Center[j]) + (Gamma * Anchor[j])) / Precision(j);

    // Sample moments of an AR(1) chain with coefficient φ: Var(mean) = σ²(1+φ)/((1−φ)N), Var(s²) ≈ 2σ⁴(1+φ²)/((1−φ²)N).
    private static (double MeanSe, double VarianceSe) Ar1StandardErrors(double variance, double phi, int n)
        => (Math.Sqrt(variance * (1 + phi) / ((1 - phi) * n)), Math.Sqrt(2 * variance * variance * (1 + (phi * phi)) / ((1 - (phi * phi)) * n)));

    [Fact]
    public void SgldMatchesTheExactStationaryLawOfTheDiscretisedChain()
    {
        // On a Gaussian target SGLD is an AR(1) chain w ← m + φ(w − m) + √ε·ξ with φ = 1 − εq/2: its stationary law is
        // N(m, ε/(1 − φ²)) = N(m, 1/(q(1 − εq/4))) exactly. ε = 0.01 makes the discretisation visible (up to 14% here),
        // so matching the discretised variance (not 1/q) checks the update itself. Tolerance: 4 AR(1) standard errors.
        const double eps = 0.01;
        var loss = new QuadraticPotential<double>(Curvature, Center);
        var sampler = new Sgld<double>(new LocalizedPosterior(NBeta, Gamma), eps);
        const int chains = 8, steps = 30_000, burnin = 2_000;
        var samples = Collect(sampler, loss, Anchor, chains, steps, burnin, 11);
        for (int j = 0; j < Curvature.Length; j++)
        {
            double q = Precision(j), phi = 1 - (eps * q / 2), variance = 1 / (q * (1 - (eps * q / 4)));
            var (mean, var) = Moments(samples[j]);
            var (meanSe, varSe) = Ar1StandardErrors(variance, phi, samples[j].Length);
            Assert.True(Math.Abs(mean - TargetMean(j)) < 4 * meanSe, $"coordinate {j}: mean {mean} vs {TargetMean(j)} (SE {meanSe})");
            Assert.True(Math.Abs(var - variance) < 4 * varSe, $"coordinate {j}: variance {var} vs {variance} (SE {varSe})");
        }
    }

    [Fact]
    public void MalaRecoversTheExactGaussianTarget()
    {
        // MALA is exact: the variance must be 1/q even with a step that biases SGLD. The chain is no longer AR(1)
        // (rejections add correlation), so the SE is inflated by the measured factor: we allow 5 SE of an AR(1) with
        // the same φ and check acceptance is well away from 0 so that the chains mix.
        const double eps = 0.01;
        var loss = new QuadraticPotential<double>(Curvature, Center);
        var sampler = new Mala<double>(new LocalizedPosterior(NBeta, Gamma), eps);
        const int chains = 8, steps = 30_000, burnin = 2_000;
        var samples = Collect(sampler, loss, Anchor, chains, steps, burnin, 12);
        for (int j = 0; j < Curvature.Length; j++)
        {
            double q = Precision(j), phi = 1 - (eps * q / 2), variance = 1 / q;
            var (mean, var) = Moments(samples[j]);
            var (meanSe, varSe) = Ar1StandardErrors(variance, phi, samples[j].Length);
            Assert.True(Math.Abs(mean - TargetMean(j)) < 5 * meanSe, $"coordinate {j}: mean {mean} vs {TargetMean(j)} (SE {meanSe})");
            Assert.True(Math.Abs(var - variance) < 5 * varSe, $"coordinate {j}: variance {var} vs {variance} (SE {varSe})");
        }
    }

    [Fact]
    public void SgnhtThermostatReachesUnitTemperatureAndSamplesTheTarget()
    {
        // SGNHT's bias is O(h); with h = 0.005 and q ≤ 51 (h·√q ≤ 0.036) the variance bias is about 1%. We allow that
        // 1% plus 4 standard errors estimated from the spread of 16 independent chains.
        var loss = new QuadraticPotential<double>(Curvature, Center);
        var sampler = new Sgnht<double>(new LocalizedPosterior(NBeta, Gamma), 0.005, diffusion: 1.0);
        const int chains = 16, steps = 60_000, burnin = 5_000;
        var samples = Collect(sampler, loss, Anchor, chains, steps, burnin, 13);
        for (int j = 0; j < Curvature.Length; j++)
        {
            var (mean, meanSe, var, varSe) = ChainMoments(samples[j], chains);
            double target = 1 / Precision(j);
            Assert.True(Math.Abs(mean - TargetMean(j)) < 4 * meanSe, $"coordinate {j}: mean {mean} vs {TargetMean(j)} (SE {meanSe})");
            Assert.True(Math.Abs(var - target) < (0.01 * target) + (4 * varSe), $"coordinate {j}: variance {var} vs {target} (SE {varSe})");
        }
    }

    [Fact]
    public void SgnhtAppliesTheThermostat()
    {
        // With a huge injected diffusion A = 5 and ξ starting at A, the friction must settle where the kinetic energy
        // matches unit temperature; in the continuous-time limit E[ξ] = A exactly. A thermostat that is computed but not
        // applied would leave the momentum heated far above pᵀp/d = 1.
        var loss = new QuadraticPotential<double>([1, 1, 1, 1], [0, 0, 0, 0]);
        var sampler = new Sgnht<double>(new LocalizedPosterior(10, 1), 0.002, diffusion: 5.0);
        var rngs = new[] { new Rng(3, 0) };
        var state = sampler.Init(new double[4], rngs);
        var info = new StepInfo[1];
        double xiSum = 0;
        int count = 0;
        for (int t = 0; t < 200_000; t++)
        {
            sampler.Step(state, loss, [0], info);
            if (t >= 20_000)
            {
                xiSum += Sgnht<double>.Thermostat(state, 0);
                count++;
            }
        }
        Assert.InRange(xiSum / count, 4.5, 5.5);
    }

    [Fact]
    public void PreconditionedSgldSamplesTheGaussianTargetApproximately()
    {
        // pSGLD omits Li et al.'s Γ term and its preconditioner fluctuates with the gradient, so it is only approximately
        // invariant. Here the gradient is the position itself, so a short RMSprop memory would tie G to where the chain is
        // and bias it badly (21% on the variance with α = 0.99, relaxation ~55 steps vs memory ~100); with α = 0.9995 the
        // memory (2000 steps) spans many relaxation times and G is nearly constant. We allow a 5% bias on the variance and 0.05 sd on the mean, plus 4 standard errors from the spread
        // of 16 independent chains: a sanity bound on the update, not an exactness claim.
        var loss = new QuadraticPotential<double>(Curvature, Center);
        var sampler = new PreconditionedSgld<double>(new LocalizedPosterior(NBeta, Gamma), 1e-3, decay: 0.9995, stabilizer: 1e-3);
        const int chains = 16, steps = 40_000, burnin = 4_000;
        var samples = Collect(sampler, loss, Anchor, chains, steps, burnin, 14);
        for (int j = 0; j < Curvature.Length; j++)
        {
            var (mean, meanSe, var, varSe) = ChainMoments(samples[j], chains);
            double target = 1 / Precision(j), sd = Math.Sqrt(target);
            Assert.True(Math.Abs(mean - TargetMean(j)) < (0.05 * sd) + (4 * meanSe), $"coordinate {j}: mean {mean} vs {TargetMean(j)} (SE {meanSe})");
            Assert.True(Math.Abs(var - target) < (0.05 * target) + (4 * varSe), $"coordinate {j}: variance {var} vs {target} (SE {varSe})");
        }
    }

    [Fact]
    public void SgldWithoutNoiseIsGradientDescentWithHalfStep()
    {
        var (model, teacher) = DeepLinearNetwork<double>.CreateTeacherTask([3, 4, 2], 1, 16, 5, 1.0);
        int p = model.ParameterCount;
        var start = new double[p];
        new Rng(9).FillGaussian(start.AsSpan(), 0.5);
        const double eps = 0.01;
        var sampler = new Sgld<double>(new LocalizedPosterior(1.0, 0.0), eps, noiseScale: 0);
        var state = sampler.Init(teacher, [new Rng(1)], initialPositions: start);
        var batch = Enumerable.Range(0, 16).ToArray();
        var info = new StepInfo[1];
        var w = (double[])start.Clone();
        var grad = new double[p];
        var l = new double[1];
        for (int t = 0; t < 50; t++)
        {
            sampler.Step(state, model, batch, info);
            model.Evaluate(w, 1, batch, l, grad);
            for (int j = 0; j < p; j++)
            {
                w[j] += grad[j] * (-eps / 2);
            }
            Assert.Equal(l[0], info[0].Loss);
        }
        Assert.Equal(w, state.Positions); // bit-identical
    }

    [Fact]
    public void MaskedCoordinatesStayAtTheAnchor()
    {
        var loss = new QuadraticPotential<double>([1, 1, 1], [1, 1, 1]);
        var anchor = new double[] { 0.5, -0.5, 2.0 };
        foreach (ISampler<double> sampler in new ISampler<double>[]
                 {
                     new Sgld<double>(new LocalizedPosterior(10, 1), 1e-2),
                     new PreconditionedSgld<double>(new LocalizedPosterior(10, 1), 1e-2),
                     new Sgnht<double>(new LocalizedPosterior(10, 1), 1e-2),
                     new Mala<double>(new LocalizedPosterior(10, 1), 1e-2),
                 })
        {
            var state = sampler.Init(anchor, [new Rng(2, 0), new Rng(2, 1)], mask: [0.0, 1.0, 0.0]);
            var info = new StepInfo[2];
            for (int t = 0; t < 100; t++)
            {
                sampler.Step(state, loss, [0, 0], info);
            }
            for (int c = 0; c < 2; c++)
            {
                Assert.Equal(0.5, state.Positions[3 * c]);
                Assert.Equal(2.0, state.Positions[(3 * c) + 2]);
                Assert.NotEqual(-0.5, state.Positions[(3 * c) + 1]);
            }
        }
    }

    [Fact]
    public void SgldFusedUpdateMatchesTheGeneralPath()
    {
        // Without a mask SGLD takes its fused one-pass update; an all-ones mask forces the general multi-pass path with
        // the same arithmetic (multiplying by 1 is exact). Positions and every per-step diagnostic must agree to rounding
        // (the sums of squares are accumulated in a different order). 37 parameters: whole SIMD registers plus a tail.
        const int p = 37, chains = 3;
        var curvature = Enumerable.Range(0, p).Select(j => 0.5 + (j % 5)).ToArray();
        var center = Enumerable.Range(0, p).Select(j => Math.Sin(j)).ToArray();
        var anchor = Enumerable.Range(0, p).Select(j => 0.1 * Math.Cos(j)).ToArray();
        var loss = new QuadraticPotential<double>(curvature, center);
        var sampler = new Sgld<double>(new LocalizedPosterior(50, 2), 1e-3);
        Rng[] Streams() => [.. Enumerable.Range(0, chains).Select(c => new Rng(17, (ulong)c))];
        var fused = sampler.Init(anchor, Streams());
        var general = sampler.Init(anchor, Streams(), mask: Enumerable.Repeat(1.0, p).ToArray());
        var fusedInfo = new StepInfo[chains];
        var generalInfo = new StepInfo[chains];
        var batch = new int[chains];
        static void Close(double expected, double actual, string what) =>
            Assert.True(Math.Abs(expected - actual) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"{what}: general {expected}, fused {actual}");
        for (int t = 0; t < 200; t++)
        {
            sampler.Step(fused, loss, batch, fusedInfo);
            sampler.Step(general, loss, batch, generalInfo);
            for (int c = 0; c < chains; c++)
            {
                Close(generalInfo[c].Loss, fusedInfo[c].Loss, $"loss, step {t}");
                Close(generalInfo[c].GradientNorm, fusedInfo[c].GradientNorm, $"gradient norm, step {t}");
                Close(generalInfo[c].NoiseNorm, fusedInfo[c].NoiseNorm, $"noise norm, step {t}");
                Close(generalInfo[c].Distance, fusedInfo[c].Distance, $"distance, step {t}");
                if (t > 0)
                {
                    Close(generalInfo[c].Acceptance, fusedInfo[c].Acceptance, $"acceptance, step {t}");
                }
            }
        }
        for (int i = 0; i < chains * p; i++)
        {
            Close(general.Positions[i], fused.Positions[i], $"position {i}");
        }
        // The chains did move: a fused path that left w at w* would fail here.
        Assert.True(fusedInfo.All(inf => inf.Distance > 0.1), string.Join(", ", fusedInfo.Select(inf => inf.Distance)));
    }

    [Fact]
    public void SgldWithoutPerStepAcceptanceMovesExactlyAsWithIt()
    {
        // When the driver's probe supplies the acceptance, the fused update skips the previous position and the reverse
        // residual. Nothing else may change: same positions and diagnostics bit for bit, only Acceptance is NaN.
        const int p = 37, chains = 2;
        var curvature = Enumerable.Range(0, p).Select(j => 0.5f + (j % 5)).ToArray();
        var center = Enumerable.Range(0, p).Select(j => (float)Math.Sin(j)).ToArray();
        var anchor = Enumerable.Range(0, p).Select(j => 0.1f * (float)Math.Cos(j)).ToArray();
        var loss = new QuadraticPotential<float>(curvature, center);
        var sampler = new Sgld<float>(new LocalizedPosterior(50, 2), 1e-3);
        Rng[] Streams() => [.. Enumerable.Range(0, chains).Select(c => new Rng(29, (ulong)c))];
        var tracked = sampler.Init(anchor, Streams());
        var untracked = sampler.Init(anchor, Streams());
        untracked.PerStepAcceptanceUnused = true;
        var trackedInfo = new StepInfo[chains];
        var untrackedInfo = new StepInfo[chains];
        var batch = new int[chains];
        for (int t = 0; t < 50; t++)
        {
            sampler.Step(tracked, loss, batch, trackedInfo);
            sampler.Step(untracked, loss, batch, untrackedInfo);
            for (int c = 0; c < chains; c++)
            {
                Assert.Equal(trackedInfo[c].Loss, untrackedInfo[c].Loss);
                Assert.Equal(trackedInfo[c].GradientNorm, untrackedInfo[c].GradientNorm);
                Assert.Equal(trackedInfo[c].NoiseNorm, untrackedInfo[c].NoiseNorm);
                Assert.Equal(trackedInfo[c].Distance, untrackedInfo[c].Distance);
                Assert.True(double.IsNaN(untrackedInfo[c].Acceptance));
                Assert.True(t == 0 || trackedInfo[c].Acceptance is > 0 and <= 1, $"step {t}: {trackedInfo[c].Acceptance}");
            }
        }
        Assert.Equal(tracked.Positions, untracked.Positions);
        Assert.True(trackedInfo.All(inf => inf.Distance > 0.1), string.Join(", ", trackedInfo.Select(inf => inf.Distance)));
    }

    [Fact]
    public void PseudoMalaAcceptanceFallsWithTheStepSize()
    {
        // On a Gaussian the SGLD move's MH ratio is a function of ε·q only: small steps are nearly always accepted, large
        // ones much less. Compare with the exact MALA acceptance at the same ε (same proposal, same target).
        var loss = new QuadraticPotential<double>([1], [0]);
        double Acceptance(ISampler<double> s)
        {
            var state = s.Init([0.0], [new Rng(8)]);
            var info = new StepInfo[1];
            double sum = 0;
            int count = 0;
            for (int t = 0; t < 20_000; t++)
            {
                s.Step(state, loss, [0], info);
                if (t > 100 && !double.IsNaN(info[0].Acceptance))
                {
                    sum += info[0].Acceptance;
                    count++;
                }
            }
            return sum / count;
        }
        var post = new LocalizedPosterior(100, 0);
        double small = Acceptance(new Sgld<double>(post, 1e-4)), large = Acceptance(new Sgld<double>(post, 1.5e-2));
        double malaLarge = Acceptance(new Mala<double>(post, 1.5e-2));
        Assert.True(small > 0.99, $"ε·q = 0.01: {small}");
        Assert.True(large < 0.9, $"ε·q = 1.5: {large}");
        // SGLD at ε·q = 1.5 sits in a wider stationary law than MALA, so its ratio is a bit lower; both agree on the scale.
        Assert.True(Math.Abs(large - malaLarge) < 0.15, $"SGLD pseudo-MALA {large} vs MALA {malaLarge}");
    }

    [Fact]
    public void StepsAllocateNothingAfterWarmUp()
    {
        var (model, teacher) = DeepLinearNetwork<double>.CreateTeacherTask([6, 5, 4], 2, 64, 1, 1.0);
        foreach (ISampler<double> sampler in new ISampler<double>[]
                 {
                     new Sgld<double>(new LocalizedPosterior(10, 1), 1e-5, boxRadius: 1.0),
                     new PreconditionedSgld<double>(new LocalizedPosterior(10, 1), 1e-5),
                     new Sgnht<double>(new LocalizedPosterior(10, 1), 1e-4),
                     new Mala<double>(new LocalizedPosterior(10, 1), 1e-5),
                 })
        {
            var state = sampler.Init(teacher, [new Rng(1, 0), new Rng(1, 1), new Rng(1, 2)]);
            var info = new StepInfo[3];
            var batch = Enumerable.Range(0, 3 * 16).Select(i => i % 64).ToArray();
            sampler.Step(state, model, batch, info);
            sampler.Step(state, model, batch, info);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int t = 0; t < 100; t++)
            {
                sampler.Step(state, model, batch, info);
            }
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Theory]
    [InlineData(0.0, 10.0, 1.0)]
    [InlineData(-1e-3, 10.0, 1.0)]
    [InlineData(double.NaN, 10.0, 1.0)]
    [InlineData(1e-3, 0.0, 1.0)]
    [InlineData(1e-3, -5.0, 1.0)]
    [InlineData(1e-3, double.PositiveInfinity, 1.0)]
    [InlineData(1e-3, 10.0, -1.0)]
    [InlineData(1e-3, 10.0, double.NaN)]
    public void BadHyperparametersAreRejectedWithTheParameterName(double eps, double nBeta, double gamma)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => new Sgld<double>(new LocalizedPosterior(nBeta, gamma), eps));
        Assert.True(ex.ParamName is "stepSize" or "nBeta" or "localization", ex.ParamName);
        Assert.Contains(ex.ParamName!, ex.Message, StringComparison.Ordinal);
    }
}
