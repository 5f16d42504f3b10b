using BenchmarkDotNet.Attributes;
using SltSharp.Engine.Linalg;
using SltSharp.Estimators;
using SltSharp.Models;
using SltSharp.Sampling;

namespace SltSharp.Benchmarks;

/// <summary>
/// One thread's share of the `sgld-table` DLN 5×50 run (issue 3): 4 chains of SGLD in float on the teacher task
/// (n = 10 000, batch 100 with replacement, ε = 1e-8, γ = 1), 200 steps through <see cref="ChainDriver"/>, so the
/// minibatch draws, the acceptance probes and the sampler's update are timed with the loss, as in the table. Divide the
/// mean by 800 for the time per chain-step. OpenBLAS runs single-threaded, as when chains run on parallel threads.
/// </summary>
[MemoryDiagnoser]
public class SgldStepBenchmarks
{
    private DeepLinearNetwork<float> _loss = null!;
    private float[] _teacher = [];
    private Sgld<float> _sampler = null!;
    private SamplingOptions _options = null!;

    [GlobalSetup]
    public void Setup()
    {
        if (OpenBlas.IsAvailable)
        {
            OpenBlas.SetNumThreads(1);
        }
        (_loss, _teacher) = DeepLinearNetwork<float>.CreateTeacherTask([50, 50, 50, 50, 50, 50], 10, 10_000, seed: 0);
        double nBeta = LocalizedPosterior.DefaultNBeta(_loss.SampleCount);
        _sampler = new Sgld<float>(new LocalizedPosterior(nBeta, 1, 0), 1e-8);
        _options = new SamplingOptions
        {
            Chains = 4,
            Burnin = 20,
            Draws = 180,
            BatchSize = 100,
            BatchSampling = BatchSampling.WithReplacement,
            Seed = 7,
            Threads = 1,
        };
    }

    /// <summary>200 steps of 4 chains (800 chain-steps).</summary>
    [Benchmark]
    public double Dln5x50FourChains200Steps() => ChainDriver.Run(_sampler, _loss, _teacher, 0, _options).Losses[0][^1];
}
