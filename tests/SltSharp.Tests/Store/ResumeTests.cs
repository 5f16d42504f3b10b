using SltSharp.Store;

namespace SltSharp.Tests.Store;

/// <summary>A job interrupted part-way resumes by running only the missing chains, with identical results.</summary>
public sealed class ResumeTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_crash_after_two_of_four_chains_resumes_with_only_the_missing_chains_and_identical_results()
    {
        var reference = RunUninterrupted(_folder.File("reference.db"));

        var path = _folder.File("crashed.db");
        var calls = new List<int>();
        using (var store = SqliteResultsStore.Open(path))
        {
            var spec = Prepare(store);
            Assert.Throws<SimulatedCrashException>(() => ChainJobRunner.Run(store, spec, (job, c) =>
            {
                calls.Add(c);
                return c == 2 ? throw new SimulatedCrashException() : Synthetic.Chain(job, c, 200, 50, 100);
            }, Synthetic.Estimate));
            Assert.Equal([0, 1], store.CompletedChains(store.Jobs(1).Single().Id));
        }

        calls.Clear();
        ChainJobResult resumed;
        using (var store = SqliteResultsStore.Open(path))
        {
            var spec = Prepare(store);
            resumed = ChainJobRunner.Run(store, spec, (job, c) =>
            {
                calls.Add(c);
                return Synthetic.Chain(job, c, 200, 50, 100);
            }, Synthetic.Estimate);
        }

        Assert.Equal([2, 3], calls);
        Assert.Equal([2, 3], resumed.ChainsRun);
        AssertSameResults(reference, resumed);

        // A third run finds the completed job and samples nothing.
        calls.Clear();
        using (var store = SqliteResultsStore.Open(path))
        {
            var again = ChainJobRunner.Run(store, Prepare(store), (job, c) =>
            {
                calls.Add(c);
                return Synthetic.Chain(job, c, 200, 50, 100);
            }, Synthetic.Estimate);
            Assert.Empty(calls);
            AssertSameResults(reference, again);
        }
    }

    [Fact]
    public void A_crash_inside_the_chain_transaction_leaves_no_partial_chain()
    {
        var reference = RunUninterrupted(_folder.File("reference.db"));
        var path = _folder.File("crashed.db");
        using (var store = SqliteResultsStore.Open(path))
        {
            var spec = Prepare(store);
            var saves = 0;
            // The trace row of chain 1 is written, then the process "dies" before its step info and commit.
            store.FaultInjection = point =>
            {
                if (point == "SaveChain:after-trace" && ++saves == 2)
                {
                    throw new SimulatedCrashException();
                }
            };
            Assert.Throws<SimulatedCrashException>(() =>
                ChainJobRunner.Run(store, spec, (job, c) => Synthetic.Chain(job, c, 200, 50, 100), Synthetic.Estimate));
            store.FaultInjection = null;
            var jobId = store.Jobs(1).Single().Id;
            Assert.Equal([0], store.CompletedChains(jobId));
            Assert.Single(store.Chains(jobId));
        }

        using (var store = SqliteResultsStore.Open(path))
        {
            var resumed = ChainJobRunner.Run(store, Prepare(store), (job, c) => Synthetic.Chain(job, c, 200, 50, 100), Synthetic.Estimate);
            Assert.Equal([1, 2, 3], resumed.ChainsRun);
            AssertSameResults(reference, resumed);
        }
    }

    [Fact]
    public void Cancellation_between_chains_keeps_the_finished_ones()
    {
        using var store = SqliteResultsStore.Open(_folder.File("slt.db"));
        var spec = Prepare(store);
        using var cts = new CancellationTokenSource();
        Assert.Throws<OperationCanceledException>(() => ChainJobRunner.Run(store, spec, (job, c) =>
        {
            if (c == 0)
            {
                cts.Cancel();
            }

            return Synthetic.Chain(job, c, 200, 50, 100);
        }, Synthetic.Estimate, cts.Token));
        var job = store.Jobs(1).Single();
        Assert.Equal([0], store.CompletedChains(job.Id));
        Assert.Equal(RunStatus.Running, job.Status);
        Assert.Null(store.Estimate(job.Id));
    }

    private static SamplingJobSpec Prepare(IResultsStore store)
    {
        // Re-running "the same command": the run and checkpoint are found again, not duplicated.
        var run = store.ListRuns().FirstOrDefault() ?? store.CreateRun(Synthetic.Run());
        var cp = store.AddCheckpoint(run.Id, 100, "w.safetensors", new string('f', 64));
        return Synthetic.Spec(cp.Id);
    }

    private static ChainJobResult RunUninterrupted(string path)
    {
        using var store = SqliteResultsStore.Open(path);
        return ChainJobRunner.Run(store, Prepare(store), (job, c) => Synthetic.Chain(job, c, 200, 50, 100), Synthetic.Estimate);
    }

    private static void AssertSameResults(ChainJobResult expected, ChainJobResult actual)
    {
        Assert.Equal(expected.Job.Key, actual.Job.Key);
        Assert.Equal(expected.Chains.Count, actual.Chains.Count);
        for (var c = 0; c < expected.Chains.Count; c++)
        {
            Assert.Equal(expected.Chains[c].LossTrace, actual.Chains[c].LossTrace);
            Assert.Equal(expected.Chains[c].StepInfo["grad_norm"], actual.Chains[c].StepInfo["grad_norm"]);
            Assert.Equal(expected.Chains[c].LambdaHat, actual.Chains[c].LambdaHat);
        }

        Assert.Equal(expected.Estimate.LambdaHat, actual.Estimate.LambdaHat);
        Assert.Equal(expected.Estimate.StandardError, actual.Estimate.StandardError);
        Assert.Equal(expected.Estimate.Reasons, actual.Estimate.Reasons);
    }

    private sealed class SimulatedCrashException : Exception
    {
        public SimulatedCrashException()
            : base("simulated crash")
        {
        }
    }
}
