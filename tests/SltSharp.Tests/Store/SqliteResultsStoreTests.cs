using Microsoft.Data.Sqlite;
using SltSharp.Store;

namespace SltSharp.Tests.Store;

public sealed class SqliteResultsStoreTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Everything_written_reads_back_identically_after_reopening()
    {
        var path = _folder.File("runs/slt.db");
        long runId, jobId;
        ChainRecord[] written;
        using (var store = SqliteResultsStore.Open(path))
        {
            var run = store.CreateRun(Synthetic.Run());
            runId = run.Id;
            var cp = store.AddCheckpoint(run.Id, 1000, "checkpoints/1000.safetensors", new string('a', 64));
            store.AppendMetrics(run.Id, [new(0, "train_loss", 1.5), new(10, "train_loss", 0.25), new(10, "test_loss", double.NaN)]);
            store.SaveStages(run.Id, [new(0, 400, "A", "LS1"), new(400, 1000, "B", "LS2")]);
            var job = store.FindOrCreateJob(Synthetic.Spec(cp.Id));
            jobId = job.Id;
            written = Enumerable.Range(0, 4).Select(c => Synthetic.Chain(job.Id, c, 200, 50, 100)).ToArray();
            // NaN λ̂ (a diverged chain) must survive although SQLite stores NaN as NULL.
            written[3] = written[3] with { LambdaHat = double.NaN, LossTrace = [.. written[3].LossTrace[..199], double.PositiveInfinity] };
            foreach (var chain in written.Reverse())
            {
                store.SaveChain(chain);
            }

            store.CompleteJob(new EstimateRecord(job.Id, 0.375, 0.0125, """{"r_hat":1.0}""", SltSharp.Diagnostics.Verdict.Ok, []));
            store.FinishRun(run.Id, RunStatus.Completed);
        }

        using var reopened = SqliteResultsStore.Open(path);
        var stored = reopened.GetRun(runId);
        Assert.Equal(RunStatus.Completed, stored.Status);
        Assert.NotNull(stored.EndedAt);
        Assert.Equal(42, stored.Seed);
        Assert.Equal("""{"model":"normal-crossing","powers":[1,2]}""", stored.ConfigJson);

        var metrics = reopened.Metrics(runId);
        Assert.Equal(3, metrics.Count);
        Assert.True(double.IsNaN(metrics.Single(m => m.Name == "test_loss").Value));
        Assert.Equal(0.25, metrics.Single(m => m is { Name: "train_loss", Step: 10 }).Value);
        Assert.Equal(["LS1", "LS2"], reopened.Stages(runId).Select(s => s.Label));

        Assert.Equal([0, 1, 2, 3], reopened.CompletedChains(jobId));
        var chains = reopened.Chains(jobId);
        for (var c = 0; c < 4; c++)
        {
            Assert.Equal(written[c].LossTrace, chains[c].LossTrace);
            Assert.Equal(written[c].StepInfo["grad_norm"], chains[c].StepInfo["grad_norm"]);
            Assert.Equal(written[c].StepInfo["acceptance"], chains[c].StepInfo["acceptance"]);
            Assert.Equal(written[c].LambdaHat, chains[c].LambdaHat);
            Assert.Equal(written[c].InitialLoss, chains[c].InitialLoss);
        }

        Assert.True(double.IsNaN(chains[3].LambdaHat));
        var estimate = reopened.Estimate(jobId)!;
        Assert.Equal(0.375, estimate.LambdaHat);
        Assert.Equal(SltSharp.Diagnostics.Verdict.Ok, estimate.Verdict);
        Assert.Equal(RunStatus.Completed, reopened.Jobs(runId).Single().Status);
    }

    [Fact]
    public void Schema_is_versioned_and_the_file_is_in_wal_mode()
    {
        var path = _folder.File("slt.db");
        using (var store = SqliteResultsStore.Open(path))
        {
            store.CreateRun(Synthetic.Run());
        }

        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        Assert.Equal((long)SqliteResultsStore.LatestSchemaVersion, Scalar(connection, "PRAGMA user_version"));
        Assert.Equal((long)SqliteResultsStore.ApplicationId, Scalar(connection, "PRAGMA application_id"));
        Assert.Equal("wal", Scalar(connection, "PRAGMA journal_mode"));
        Assert.Equal(1L, Scalar(connection, "SELECT COUNT(*) FROM runs"));
    }

    [Fact]
    public void The_same_spec_finds_the_same_job_whatever_the_json_key_order()
    {
        using var store = SqliteResultsStore.Open(_folder.File("slt.db"));
        var run = store.CreateRun(Synthetic.Run());
        var cp = store.AddCheckpoint(run.Id, 0, "w.safetensors", new string('b', 64));
        var first = store.FindOrCreateJob(Synthetic.Spec(cp.Id));
        var reordered = Synthetic.Spec(cp.Id) with { SamplerConfigJson = """{ "thinning": 1, "seed": 7, "batch_size": 32 }""" };
        Assert.Equal(first.Id, store.FindOrCreateJob(reordered).Id);
        Assert.NotEqual(first.Id, store.FindOrCreateJob(Synthetic.Spec(cp.Id, stepSize: 2e-3)).Id);
        Assert.NotEqual(first.Id, store.FindOrCreateJob(reordered with { SamplerConfigJson = """{"batch_size":32,"seed":8,"thinning":1}""" }).Id);

        // Same file content at another step of the same run is the same w*, hence the same job.
        var sameWeights = store.AddCheckpoint(run.Id, 5, "copy.safetensors", new string('b', 64));
        Assert.Equal(first.Key, Synthetic.Spec(sameWeights.Id).ComputeKey(sameWeights.Sha256));
        Assert.Equal(3, store.Jobs(run.Id).Count);
    }

    [Fact]
    public void Canonical_json_sorts_keys_at_every_depth()
    {
        Assert.Equal("""{"a":[{"x":1,"y":2}],"b":{"c":true,"d":null}}""",
            SamplingJobKey.CanonicalJson("""{"b":{"d":null,"c":true},"a":[{"y":2,"x":1}]}"""));
        Assert.Throws<ArgumentException>(() => SamplingJobKey.CanonicalJson("{not json"));
    }

    [Fact]
    public void A_checkpoint_step_cannot_change_its_hash()
    {
        using var store = SqliteResultsStore.Open(_folder.File("slt.db"));
        var run = store.CreateRun(Synthetic.Run());
        var cp = store.AddCheckpoint(run.Id, 10, "a", new string('c', 64));
        Assert.Equal(cp.Id, store.AddCheckpoint(run.Id, 10, "a", new string('c', 64)).Id);
        var e = Assert.Throws<StoreConflictException>(() => store.AddCheckpoint(run.Id, 10, "a", new string('d', 64)));
        Assert.Contains("step 10", e.Message);
    }

    [Fact]
    public void Saving_a_finished_chain_twice_is_a_conflict_and_bad_indices_are_rejected()
    {
        using var store = SqliteResultsStore.Open(_folder.File("slt.db"));
        var run = store.CreateRun(Synthetic.Run());
        var cp = store.AddCheckpoint(run.Id, 0, "w", new string('e', 64));
        var job = store.FindOrCreateJob(Synthetic.Spec(cp.Id));
        store.SaveChain(Synthetic.Chain(job.Id, 1, 200, 50, 100));
        Assert.Throws<StoreConflictException>(() => store.SaveChain(Synthetic.Chain(job.Id, 1, 200, 50, 100)));
        Assert.Throws<ArgumentException>(() => store.SaveChain(Synthetic.Chain(job.Id, 4, 200, 50, 100)));
        Assert.Throws<RunNotFoundException>(() => store.SaveChain(Synthetic.Chain(job.Id + 100, 0, 200, 50, 100)));
        Assert.Throws<ArgumentException>(() => store.FindOrCreateJob(Synthetic.Spec(cp.Id, burnin: 200)));
        Assert.Equal([1], store.CompletedChains(job.Id));
    }

    [Fact]
    public void Blobs_are_little_endian_ieee754()
    {
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0xF0, 0x3F }, BlobCodec.EncodeDoubles([1.0]));
        Assert.Equal(new byte[] { 0, 0, 0x80, 0xBF }, BlobCodec.EncodeFloats([-1.0f]));
        double[] special = [double.NaN, -0.0, double.Epsilon, double.MaxValue, double.NegativeInfinity];
        var back = BlobCodec.DecodeDoubles(BlobCodec.EncodeDoubles(special));
        Assert.Equal(special.Select(BitConverter.DoubleToInt64Bits), back.Select(BitConverter.DoubleToInt64Bits));
        Assert.Throws<FormatException>(() => BlobCodec.DecodeDoubles(new byte[12]));
        Assert.Throws<FormatException>(() => BlobCodec.DecodeFloats(new byte[6]));
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}
