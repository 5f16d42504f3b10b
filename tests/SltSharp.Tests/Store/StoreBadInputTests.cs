using Microsoft.Data.Sqlite;
using SltSharp.Engine.Random;
using SltSharp.Store;

namespace SltSharp.Tests.Store;

/// <summary>Every bad file gives a typed one-line error naming the file, and leaves the file's bytes untouched.</summary>
public sealed class StoreBadInputTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_store_written_by_a_newer_schema_is_refused_untouched()
    {
        var path = _folder.File("slt.db");
        using (var store = SqliteResultsStore.Open(path))
        {
            store.CreateRun(Synthetic.Run());
        }

        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = $"PRAGMA user_version = {SqliteResultsStore.LatestSchemaVersion + 1}";
            cmd.ExecuteNonQuery();
        }

        var before = File.ReadAllBytes(path);
        var e = Assert.Throws<StoreSchemaTooNewException>(() => SqliteResultsStore.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"schema version {SqliteResultsStore.LatestSchemaVersion + 1}", e.Message);
        Assert.Contains("upgrade slt", e.Message);
        AssertOneLine(e);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_file_of_random_bytes_is_refused_untouched()
    {
        var path = _folder.File("slt.db");
        var bytes = new byte[8192];
        var rng = new Rng(99);
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)rng.NextInt(256);
        }

        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<StoreCorruptException>(() => SqliteResultsStore.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not an SltSharp results store", e.Message);
        AssertOneLine(e);
        Assert.Equal(bytes, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + "-wal"));
    }

    [Fact]
    public void A_sqlite_header_followed_by_garbage_is_refused_untouched()
    {
        var path = _folder.File("slt.db");
        var bytes = new byte[4096];
        var rng = new Rng(7);
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)rng.NextInt(256);
        }

        "SQLite format 3\0"u8.CopyTo(bytes);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<StoreCorruptException>(() => SqliteResultsStore.Open(path));
        Assert.Contains(path, e.Message);
        AssertOneLine(e);
        Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_database_of_another_program_is_refused_untouched()
    {
        var path = _folder.File("other.db");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL); INSERT INTO invoices VALUES (1, 9.5);";
            cmd.ExecuteNonQuery();
        }

        var before = File.ReadAllBytes(path);
        var e = Assert.Throws<StoreCorruptException>(() => SqliteResultsStore.Open(path));
        Assert.Contains("not an SltSharp results store", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_read_only_folder_gives_a_clear_error()
    {
        // chmod does not stop root, and tests here run as root; a sysfs folder refuses new files even to root.
        var folder = _folder.File("readonly");
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            if (CanCreateFileIn(folder))
            {
                folder = "/sys";
                Assert.False(CanCreateFileIn(folder), "No read-only folder available to test with (chmod ineffective and /sys writable).");
            }

            var path = Path.Combine(folder, "slt.db");
            var e = Assert.Throws<StoreNotWritableException>(() => SqliteResultsStore.Open(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("writable", e.Message);
            AssertOneLine(e);
            Assert.False(File.Exists(path));

            var nested = Path.Combine(folder, "runs", "slt.db");
            var e2 = Assert.Throws<StoreNotWritableException>(() => SqliteResultsStore.Open(nested));
            Assert.Contains(Path.Combine(folder, "runs"), e2.Message);
        }
        finally
        {
            File.SetUnixFileMode(_folder.File("readonly"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public void A_full_disk_gives_a_clear_error_and_keeps_what_was_saved()
    {
        // SQLite's max_page_count makes the database refuse to grow, failing the write with SQLITE_FULL exactly as a
        // full file system does (same error code, same rollback path), without needing a tiny mounted file system.
        var path = _folder.File("slt.db");
        long jobId;
        ChainRecord saved;
        using (var store = SqliteResultsStore.Open(path))
        {
            var run = store.CreateRun(Synthetic.Run());
            var cp = store.AddCheckpoint(run.Id, 0, "w", new string('1', 64));
            var job = store.FindOrCreateJob(Synthetic.Spec(cp.Id, chains: 2, draws: 200));
            jobId = job.Id;
            saved = Synthetic.Chain(jobId, 0, 200, 50, 100);
            store.SaveChain(saved);
            store.LimitPages(1); // SQLite raises a cap below the current size to the current size: no growth at all.
            // 50 000 draws is ~0.6 MB of blobs, far beyond the pages the file has.
            var e = Assert.Throws<StoreNotWritableException>(() => store.SaveChain(Synthetic.Chain(jobId, 1, 50_000, 50, 100)));
            Assert.Contains(path, e.Message);
            Assert.Contains("is full", e.Message);
            Assert.Contains("finished chains are kept", e.Message);
            AssertOneLine(e);
            // The failed transaction left the connection usable: reads still work.
            Assert.Single(store.Chains(jobId));
        }

        using (var reopened = SqliteResultsStore.Open(path))
        {
            var chains = reopened.Chains(jobId);
            var only = Assert.Single(chains);
            Assert.Equal(0, only.ChainIndex);
            Assert.Equal(saved.LossTrace, only.LossTrace);
            Assert.Equal(saved.LambdaHat, only.LambdaHat);
            // Without the cap the same write succeeds: nothing was left half-written in the way.
            reopened.SaveChain(Synthetic.Chain(jobId, 1, 50_000, 50, 100));
            Assert.Equal(2, reopened.Chains(jobId).Count);
        }

        using var connection = new SqliteConnection($"Data Source={path};Pooling=False;Mode=ReadOnly");
        connection.Open();
        using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA integrity_check";
        Assert.Equal("ok", check.ExecuteScalar());
    }

    [Fact]
    public void A_missing_run_names_the_run_and_the_file()
    {
        var path = _folder.File("slt.db");
        using var store = SqliteResultsStore.Open(path);
        var e = Assert.Throws<RunNotFoundException>(() => store.GetRun(7));
        Assert.Contains("Run 7", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("no runs yet", e.Message);
        store.CreateRun(Synthetic.Run());
        store.CreateRun(Synthetic.Run());
        e = Assert.Throws<RunNotFoundException>(() => store.FinishRun(7, RunStatus.Failed));
        Assert.Contains("ids 1..2", e.Message);
        AssertOneLine(e);
    }

    [Fact]
    public void An_empty_file_is_a_new_store()
    {
        var path = _folder.File("slt.db");
        File.WriteAllBytes(path, []);
        using var store = SqliteResultsStore.Open(path);
        Assert.Equal(1, store.CreateRun(Synthetic.Run()).Id);
    }

    private static bool CanCreateFileIn(string folder)
    {
        var probe = Path.Combine(folder, ".probe-" + Guid.NewGuid().ToString("N"));
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void AssertOneLine(Exception e) => Assert.DoesNotContain('\n', e.Message);
}
