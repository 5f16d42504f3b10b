using SltSharp.Engine.Random;
using SltSharp.Store;

namespace SltSharp.Cli.Tests.Reports;

/// <summary>
/// A synthetic training run with everything a report can show: training curves, λ̂ at checkpoints along training
/// with stages, per-chain traces long enough to be downsampled, a calibration grid, and hostile text for escaping.
/// Shared (as a linked file) with the browser tests.
/// </summary>
public static class SyntheticRun
{
    public const string HostileCommand = "train dln </script><script>window.__pwned=1</script> & <b>bold</b>";

    public static readonly long[] CheckpointSteps = [10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000];

    // Rises over the A stages and falls over the B stage (3000..20000), as in Hoogland et al.
    private static readonly double[] LambdaAt = [8, 11, 14, 17, 20, 22, 18, 24, 30];

    public static long Populate(IResultsStore store, int draws = 3000, int chains = 4)
    {
        var run = store.CreateRun(new RunStart(
            HostileCommand,
            """{"model":"dln","widths":[10,20,30],"note":"<img src=x onerror=alert(1)>"}""",
            20240601,
            "0.1.0+synthetic",
            "ci-host"));
        var rng = new Rng(5, 0);

        var metrics = new List<MetricPoint>();
        for (var step = 0; step <= 100000; step += 20)
        {
            var train = (0.02 + (2.0 * Math.Exp(-step / 4000.0)) + (0.3 * Math.Exp(-step / 400.0))) * Math.Exp(0.05 * rng.NextGaussian());
            metrics.Add(new MetricPoint(step, "train_loss", train));
            if (step % 1000 == 0)
            {
                metrics.Add(new MetricPoint(step, "test_loss", train * 1.3));
            }
        }

        store.AppendMetrics(run.Id, metrics);
        store.SaveStages(run.Id, [new(10, 300, "A", "LS1", 9, -1.5, 0.97), new(300, 3000, "A", "LS2", 5, -0.4, 0.88), new(3000, 20000, "B", "LS3", -4, -0.1, 0.71), new(20000, 100000, "A", "LS4", 12, -0.02)]);
        // Essential dynamics: a path that turns at each stage boundary (a quarter circle per stage, shrinking).
        var projections = CheckpointSteps.Select((s, i) => new[] { Math.Cos(0.6 * i) * (10 - i), Math.Sin(0.6 * i) * (10 - i), 0.1 * i }).ToArray();
        store.SaveAnalysis(run.Id, SltSharp.Development.LlcTrajectory.EssentialDynamicsAnalysis, SltSharp.Development.LlcTrajectory.EssentialDynamicsJson(
            CheckpointSteps, new SltSharp.Development.EssentialDynamicsResult(projections, [0.7, 0.25, 0.04], [], new double[12]), 4).ToJsonString());

        foreach (var step in CheckpointSteps)
        {
            var cp = store.AddCheckpoint(run.Id, step, $"checkpoints/{step}.safetensors", Hash(step));
            // λ̂ rises, dips in the B stage, rises again.
            var lambda = LambdaAt[Array.IndexOf(CheckpointSteps, step)];
            RunJob(store, cp.Id, stepSize: 1e-4, nBeta: 100, lambda, draws, chains, step);
            RunJob(store, cp.Id, stepSize: 3e-4, nBeta: 100, lambda * 0.95, draws / 2, chains, step + 1);
        }

        var last = store.Checkpoints(run.Id)[^1];
        foreach (var eps in CalibrationStepSizes)
        {
            foreach (var nBeta in CalibrationNBetas)
            {
                if (nBeta == 100.0 && eps is 1e-4 or 3e-4)
                {
                    continue;
                }

                var diverges = Diverges(eps, nBeta);
                RunJob(store, last.Id, eps, nBeta, diverges ? double.NaN : 26 + Math.Log(nBeta) - (2000 * eps), 200, 2,
                    (long)(eps * 1e6) + (long)nBeta);
            }
        }

        store.FinishRun(run.Id, RunStatus.Completed);
        return run.Id;
    }

    public static readonly double[] CalibrationStepSizes = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3];

    public static readonly double[] CalibrationNBetas = [10, 30, 100, 300];

    /// <summary>Grid cells whose chains blow up to NaN (the Fail cells of the calibration chart).</summary>
    public static bool Diverges(double stepSize, double nBeta) => stepSize * nBeta > 0.05;

    private static void RunJob(IResultsStore store, long checkpointId, double stepSize, double nBeta, double lambda, int draws,
        int chains, long seed)
    {
        var burnin = draws / 5;
        var spec = new SamplingJobSpec(checkpointId, "sgld", stepSize, nBeta, 100, chains, draws, burnin,
            $$"""{"batch_size":256,"seed":{{seed}}}""");
        ChainJobRunner.Run(store, spec, (jobId, c) =>
        {
            var rng = new Rng((ulong)seed, (ulong)c);
            const double initial = 0.01;
            var target = initial + ((double.IsNaN(lambda) ? 1 : lambda * (1 + (0.03 * (c - 1.5)))) / nBeta);
            var trace = new double[draws];
            var x = 0.0;
            for (var t = 0; t < draws; t++)
            {
                x = (0.95 * x) + (0.002 * rng.NextGaussian());
                var rise = 1 - Math.Exp(-t / (0.15 * burnin + 1));
                trace[t] = initial + ((target - initial) * rise) + (x * (target - initial));
            }

            if (c == 2)
            {
                trace[draws * 2 / 3] = target * 1.5; // a spike the min/max envelope must keep visible
            }

            if (double.IsNaN(lambda))
            {
                for (var t = draws / 2; t < draws; t++)
                {
                    trace[t] = t > (draws * 3) / 4 ? double.NaN : trace[t] * Math.Exp((t - (draws / 2)) / 20.0);
                }
            }

            var post = trace.Skip(burnin).Where(double.IsFinite).ToArray();
            var lambdaHat = double.IsNaN(lambda) || post.Length < draws - burnin ? double.NaN : nBeta * (post.Average() - initial);
            var grad = Enumerable.Range(0, draws).Select(_ => (float)(1 + rng.NextDouble())).ToArray();
            return new ChainRecord(jobId, c, initial, trace, new Dictionary<string, float[]> { ["grad_norm"] = grad }, lambdaHat, 0.1);
        }, (job, all) =>
        {
            var values = all.Select(c => c.LambdaHat).ToArray();
            if (values.Any(double.IsNaN))
            {
                return new EstimateRecord(job.Id, double.NaN, double.NaN, "{}", SltSharp.Diagnostics.Verdict.Fail,
                    ["a chain diverged (loss became NaN)", "step size ε too large for this nβ"]);
            }

            var mean = values.Average();
            var se = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1) / values.Length);
            var verdict = stepSize * nBeta > 0.02 ? SltSharp.Diagnostics.Verdict.Warn : SltSharp.Diagnostics.Verdict.Ok;
            IReadOnlyList<string> reasons = verdict == SltSharp.Diagnostics.Verdict.Warn
                ? ["R-hat 1.03 > 1.01: chains disagree", "acceptance 0.61 < 0.8 <em>(pseudo-MALA)</em>"]
                : [];
            return new EstimateRecord(job.Id, mean, se, """{"r_hat":1.003}""", verdict, reasons);
        });
    }

    private static string Hash(long step) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(step)));
}
