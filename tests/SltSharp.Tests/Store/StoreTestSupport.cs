using SltSharp.Engine.Random;
using SltSharp.Store;

namespace SltSharp.Tests.Store;

/// <summary>A fresh folder per test, deleted afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "slt-store-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Synthetic sampling data: what a sampler would produce, from a seed only.</summary>
public static class Synthetic
{
    public static RunStart Run(string command = "llc test") =>
        new(command, """{"model":"normal-crossing","powers":[1,2]}""", 42, "test-1.0", "test-host");

    public static SamplingJobSpec Spec(long checkpointId, double stepSize = 1e-3, double nBeta = 100, int chains = 4,
        int draws = 200, int burnin = 50) =>
        new(checkpointId, "sgld", stepSize, nBeta, 1.0, chains, draws, burnin,
            """{"batch_size":32,"seed":7,"thinning":1}""");

    /// <summary>
    /// An AR(1) loss trace around 0.01 + 0.002·chain from stream (seed, chain): depends only on the chain index, as
    /// a resumable sampler must.
    /// </summary>
    public static ChainRecord Chain(long jobId, int chainIndex, int draws, int burnin, double nBeta)
    {
        var rng = new Rng(1234, (ulong)chainIndex);
        var trace = new double[draws];
        var mean = 0.01 + (0.002 * chainIndex);
        var x = 0.0;
        for (var t = 0; t < draws; t++)
        {
            x = (0.9 * x) + (0.001 * rng.NextGaussian());
            trace[t] = mean + x;
        }

        var grad = new float[draws];
        var accept = new float[draws];
        for (var t = 0; t < draws; t++)
        {
            grad[t] = (float)(1 + rng.NextDouble());
            accept[t] = (float)rng.NextDouble();
        }

        var initial = 0.01;
        var lambda = nBeta * (trace.Skip(burnin).Average() - initial);
        return new ChainRecord(jobId, chainIndex, initial, trace,
            new Dictionary<string, float[]> { ["grad_norm"] = grad, ["acceptance"] = accept }, lambda, 0.5);
    }

    public static EstimateRecord Estimate(SamplingJobRecord job, IReadOnlyList<ChainRecord> chains)
    {
        var values = chains.Select(c => c.LambdaHat).ToArray();
        var mean = values.Average();
        var sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
        return new EstimateRecord(job.Id, mean, sd / Math.Sqrt(values.Length), """{"r_hat":1.01,"ess":812.5}""",
            SltSharp.Diagnostics.Verdict.Warn, ["R-hat 1.01 is above 1.005", "chain 3 <b>drifts</b>"]);
    }
}
