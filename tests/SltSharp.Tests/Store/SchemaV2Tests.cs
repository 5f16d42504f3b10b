using Microsoft.Data.Sqlite;
using SltSharp.Store;

namespace SltSharp.Tests.Store;

public sealed class SchemaV2Tests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Stages_keep_their_measured_changes_and_analyses_are_upserted()
    {
        var path = _folder.File("slt.db");
        long runId;
        using (var store = SqliteResultsStore.Open(path))
        {
            runId = store.CreateRun(Synthetic.Run("train")).Id;
            store.SaveStages(runId, [new(1, 40, "A", "LS1", 2.5, -0.75, 0.93), new(40, 100, "B", "LS2", -1.25, double.NaN, null)]);
            store.SaveAnalysis(runId, "essential_dynamics", """{"v":1}""");
            store.SaveAnalysis(runId, "essential_dynamics", """{"v":2}""");
        }

        using var reopened = SqliteResultsStore.Open(path);
        var stages = reopened.Stages(runId);
        Assert.Equal(new StageRecord(1, 40, "A", "LS1", 2.5, -0.75, 0.93), stages[0]);
        Assert.Equal(new StageRecord(40, 100, "B", "LS2", -1.25, null, null), stages[1]); // NaN is stored as "not measured"
        Assert.Equal("""{"v":2}""", reopened.Analysis(runId, "essential_dynamics"));
        Assert.Null(reopened.Analysis(runId, "other"));
        Assert.Throws<RunNotFoundException>(() => reopened.SaveAnalysis(runId + 1, "x", "{}"));
    }

    [Fact]
    public void A_version_1_store_is_migrated_and_keeps_its_stages()
    {
        var path = _folder.File("v1.db");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = SqliteResultsStore.Migrations[0].Sql + $"""
                ;PRAGMA application_id = {SqliteResultsStore.ApplicationId}; PRAGMA user_version = 1;
                INSERT INTO runs (command, config_json, seed, code_version, host, started_at, status)
                VALUES ('train', '{"{}"}', 1, 'old', 'h', '2026-01-01T00:00:00.0000000Z', 'Completed');
                INSERT INTO stages (run_id, ordinal, start_step, end_step, kind, label) VALUES (1, 0, 1, 10, 'A', 'LS1');
                """;
            cmd.ExecuteNonQuery();
        }

        using var store = SqliteResultsStore.Open(path);
        Assert.Equal(new StageRecord(1, 10, "A", "LS1"), store.Stages(1).Single());
        store.SaveAnalysis(1, "essential_dynamics", "{}");
        Assert.Equal("{}", store.Analysis(1, "essential_dynamics"));
    }
}
