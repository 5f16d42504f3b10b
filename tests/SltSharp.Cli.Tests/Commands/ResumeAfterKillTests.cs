using System.Text.Json;
using Microsoft.Data.Sqlite;
using SltSharp.Store;
using static SltSharp.Cli.Tests.Commands.CliRunner;

namespace SltSharp.Cli.Tests.Commands;

/// <summary>
/// Kills <c>slt llc</c> (a child process) after its first chain is saved, runs the same command again, and checks that
/// the saved chains were not recomputed and that the final estimate equals an uninterrupted run's, bit for bit.
/// </summary>
public sealed class ResumeAfterKillTests : IDisposable
{
    // Normal crossing, full batch, one thread: 100 000 burn-in + 60 000·10 steps ≈ 1–2 s per chain on one core, so
    // there is time to kill the process between the first saved chain and the last.
    private static readonly string[] SlowLlc =
        ["llc", "--model", "normal-crossing", "--chains", "4", "--draws", "60000", "--burnin", "100000", "--thinning", "10", "--threads", "1", "--json"];

    private static readonly List<string> PollErrors = [];

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_killed_run_resumes_without_recomputing_saved_chains_and_matches_an_uninterrupted_run()
    {
        string store = _folder.File("slt.db");
        using (var child = Start([.. SlowLlc, "--store", store]))
        {
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (SavedChains(store).Count == 0)
            {
                if (child.HasExited)
                {
                    Assert.Fail("slt llc finished before a chain was seen saved: " + await child.StandardError.ReadToEndAsync());
                }
                Assert.True(DateTime.UtcNow < deadline, "no chain was saved within 120 s");
                await Task.Delay(50);
            }
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }

        var saved = SavedChains(store);
        Assert.True(saved.Count is >= 1 and < 4,
            $"{saved.Count} chains were saved when the process was killed; the test needs an interrupted run (make SlowLlc longer). Poll errors: " + string.Join(" | ", PollErrors.Distinct()));
        long runId;
        using (var results = SqliteResultsStore.Open(store))
        {
            var run = Assert.Single(results.ListRuns());
            runId = run.Id;
            Assert.Equal(RunStatus.Running, run.Status); // killed: nobody marked it finished
        }

        using var resumed = Start([.. SlowLlc, "--store", store]);
        string stdout = await resumed.StandardOutput.ReadToEndAsync();
        string stderr = await resumed.StandardError.ReadToEndAsync();
        await resumed.WaitForExitAsync();
        Assert.True(resumed.ExitCode is 0 or 1, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(runId, json.GetProperty("run_id").GetInt64());
        Assert.Equal(saved.Count, json.GetProperty("chains_reused").GetInt32());
        Assert.Equal(4 - saved.Count, json.GetProperty("chains_computed").GetInt32());

        // The chains saved before the kill are still the very same records (same timing, same trace).
        var after = SavedChains(store);
        Assert.Equal(4, after.Count);
        foreach (var (index, record) in saved)
        {
            Assert.Equal(record.ElapsedSeconds, after[index].ElapsedSeconds);
            Assert.Equal(record.LossTrace, after[index].LossTrace);
        }
        using (var results = SqliteResultsStore.Open(store))
        {
            Assert.Equal(RunStatus.Completed, results.GetRun(runId).Status);
        }

        var (exit, reference, err) = await Run([.. SlowLlc, "--no-store"]);
        Assert.True(exit is 0 or 1, err);
        var uninterrupted = JsonDocument.Parse(reference).RootElement;
        Assert.Equal(uninterrupted.GetProperty("llc_mean").GetDouble(), json.GetProperty("llc_mean").GetDouble());
        Assert.Equal(uninterrupted.GetProperty("llc_se").GetDouble(), json.GetProperty("llc_se").GetDouble());
        Assert.Equal(
            uninterrupted.GetProperty("chain_llcs").EnumerateArray().Select(v => v.GetDouble()),
            json.GetProperty("chain_llcs").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(uninterrupted.GetProperty("verdict").GetString(), json.GetProperty("verdict").GetString());
    }

    /// <summary>The chains saved so far, by index; empty while the store or its job does not exist yet or is busy.</summary>
    private static Dictionary<int, ChainRecord> SavedChains(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }
        try
        {
            using var store = SqliteResultsStore.Open(path);
            return store.ListRuns().SelectMany(r => store.Jobs(r.Id)).SelectMany(j => store.Chains(j.Id)).ToDictionary(c => c.ChainIndex);
        }
        catch (Exception e) when (e is ResultsStoreException or SqliteException)
        {
            // The child is creating the file or writing a chain; look again at the next poll.
            PollErrors.Add(e.Message);
            return [];
        }
    }
}
