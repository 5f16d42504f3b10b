using SltSharp.Estimators;
using SltSharp.Models;
using SltSharp.Sampling;

namespace SltSharp.Tests.Sampling;

public class ChainDriverTests
{
    private static (DeepLinearNetwork<double> Model, double[] Teacher) SmallDln()
        => DeepLinearNetwork<double>.CreateTeacherTask([4, 3, 3, 4], 1, 400, 21, 2.0);

    private static LlcOptions Options(SamplerKind kind) => new()
    {
        Sampler = kind, StepSize = kind == SamplerKind.Sgnht ? 1e-3 : 1e-5, Chains = 5, Burnin = 50, Draws = 100, Thinning = 2,
        BatchSize = 32, Seed = 99,
    };

    [Theory]
    [InlineData(SamplerKind.Sgld)]
    [InlineData(SamplerKind.PreconditionedSgld)]
    [InlineData(SamplerKind.Sgnht)]
    [InlineData(SamplerKind.Mala)]
    public void SameSeedGivesBitIdenticalResultsAndThreadCountDoesNotMatter(SamplerKind kind)
    {
        var (model, teacher) = SmallDln();
        var a = LlcEstimator.Estimate(model, teacher, Options(kind));
        var b = LlcEstimator.Estimate(model, teacher, Options(kind));
        var threaded = LlcEstimator.Estimate(model, teacher, Options(kind) with { Threads = 2 });
        var threaded3 = LlcEstimator.Estimate(model, teacher, Options(kind) with { Threads = 3 });
        for (int c = 0; c < 5; c++)
        {
            Assert.Equal(a.Sampling.Losses[c], b.Sampling.Losses[c]);
            Assert.Equal(a.Sampling.Losses[c], threaded.Sampling.Losses[c]);
            Assert.Equal(a.Sampling.Losses[c], threaded3.Sampling.Losses[c]);
            Assert.Equal(a.Sampling.Distances[c], threaded3.Sampling.Distances[c]);
            Assert.Equal(a.Sampling.Acceptances[c], threaded3.Sampling.Acceptances[c]); // including the fixed-batch probe (SGLD)
        }
        Assert.Equal(a.Mean, threaded.Mean);
        var other = LlcEstimator.Estimate(model, teacher, Options(kind) with { Seed = 100 });
        Assert.NotEqual(a.Sampling.Losses[0], other.Sampling.Losses[0]);
    }

    [Fact]
    public void ThreadsNeedAReplicableLoss()
    {
        var loss = new NonReplicable();
        var ex = Assert.Throws<ArgumentException>(() => LlcEstimator.Estimate(loss, [0.0], new LlcOptions { NBeta = 10, Threads = 2 }));
        Assert.Contains("IReplicableChainedLoss", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DivergentChainsAreStoppedAndNamedWhileOthersContinue()
    {
        // K = w⁴ at t = 100 with ε = 0.03: SGLD is unstable once ε·U''(w) = ε·1200w² > 4 (|w| > 0.33), which the noise
        // (√ε = 0.17 per step) reaches at random times, so some chains of this seed blow up (5 of 8) and some do not.
        var model = new NormalCrossingPotential<double>([2]);
        var options = new LlcOptions { StepSize = 0.03, NBeta = 100, Chains = 8, Draws = 300, Seed = 5 };
        var result = LlcEstimator.Estimate(model, [0.0], options);
        int diverged = result.Sampling.Diverged.Count(d => d);
        Assert.InRange(diverged, 1, 7);
        Assert.Equal(8 - diverged, result.ChainEstimates.Length);
        foreach (int c in Enumerable.Range(0, 8).Where(c => result.Sampling.Diverged[c]))
        {
            string message = result.Sampling.DivergenceMessages[c]!;
            Assert.Contains($"Chain {c} diverged at", message, StringComparison.Ordinal);
            Assert.Contains("step", message, StringComparison.Ordinal);
            Assert.True(result.Sampling.Losses[c].Length == result.Sampling.DrawsCompleted[c] && result.Sampling.DrawsCompleted[c] < 300);
        }
        Assert.Contains(result.Diagnostics.Reasons, r => r.Contains("diverged", StringComparison.Ordinal));
    }

    [Fact]
    public void AllChainsDivergingIsAClearError()
    {
        var model = new NormalCrossingPotential<double>([2]);
        var options = new LlcOptions { StepSize = 10, NBeta = 100, Chains = 3, Draws = 50, Seed = 5 };
        var ex = Assert.Throws<SamplingDivergedException>(() => LlcEstimator.Estimate(model, [0.0], options));
        Assert.Contains("All 3 chains diverged", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Chain 0 diverged at", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ProgressAndObserverSeeEveryDraw()
    {
        var model = new NormalCrossingPotential<double>([1, 1]);
        var progress = new List<SamplingProgress>();
        var seen = new int[3];
        var reporter = new SynchronousProgress(progress.Add);
        var options = new LlcOptions { StepSize = 1e-3, NBeta = 10, Chains = 3, Draws = 20, Burnin = 5, Thinning = 3, Progress = reporter };
        var result = LlcEstimator.Estimate(model, [0.0, 0.0], options, (chain, draw, position) =>
        {
            Assert.Equal(seen[chain], draw);
            Assert.Equal(2, position.Length);
            seen[chain]++;
        });
        Assert.Equal([20, 20, 20], seen);
        Assert.Equal(60, progress.Count(p => p.Draw > 0));
        Assert.Equal((5 + (20 * 3)) * 3, result.Sampling.TotalSteps);
        // Burn-in is reported too (every max(1, 5/50) = 1 step: 5 per chain), in steps, and a chain's count in draw units
        // rises steadily from the first burn-in step to exactly its draws at the last.
        Assert.Equal(15, progress.Count(p => p.Draw == 0));
        foreach (var chain in progress.GroupBy(p => p.Chain))
        {
            var steps = chain.Select(p => p.Step).ToArray();
            Assert.Equal(Enumerable.Range(1, 5).Select(k => (long)k).Concat(Enumerable.Range(1, 20).Select(d => 5 + (3L * d))), steps);
            Assert.All(chain, p => Assert.Equal(65, p.TotalSteps));
            Assert.Equal(1 * 20 / 65, chain.First().DrawEquivalents);
            Assert.Equal(20, chain.Last().DrawEquivalents);
        }
    }

    [Fact]
    public void MinibatchesWithoutReplacementCoverTheDataBeforeRepeating()
    {
        var recorder = new BatchRecorder(10);
        var sampler = new Sgld<double>(new LocalizedPosterior(1, 1), 1e-3);
        ChainDriver.Run(sampler, recorder, [0.0], 0, new SamplingOptions { Chains = 2, Draws = 5, BatchSize = 5, Seed = 3 });
        // Chain 0's first two batches (one epoch) are a permutation of 0..9.
        // Training batches only (2 chains × 5); the acceptance probe evaluates its own fixed batch in between.
        var epoch = recorder.Batches.Where(b => b.Length == 10).Take(2).SelectMany(b => b[..5]).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 10), epoch);
    }

    private sealed class SynchronousProgress(Action<SamplingProgress> report) : IProgress<SamplingProgress>
    {
        public void Report(SamplingProgress value) => report(value);
    }

    private sealed class NonReplicable : IChainedLoss<double>
    {
        public int ParameterCount => 1;

        public int SampleCount => 1;

        public void Evaluate(ReadOnlySpan<double> parameters, int chains, ReadOnlySpan<int> batch, Span<double> losses, Span<double> gradients)
        {
            for (int c = 0; c < chains; c++)
            {
                losses[c] = parameters[c] * parameters[c];
                if (!gradients.IsEmpty)
                {
                    gradients[c] = 2 * parameters[c];
                }
            }
        }
    }

    private sealed class BatchRecorder(int n) : IChainedLoss<double>
    {
        public List<int[]> Batches { get; } = [];

        public int ParameterCount => 1;

        public int SampleCount => n;

        public void Evaluate(ReadOnlySpan<double> parameters, int chains, ReadOnlySpan<int> batch, Span<double> losses, Span<double> gradients)
        {
            Batches.Add(batch.ToArray());
            losses.Clear();
            gradients.Clear();
        }
    }
}
