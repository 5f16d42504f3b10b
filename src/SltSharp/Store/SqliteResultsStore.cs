using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace SltSharp.Store;

/// <summary>
/// The embedded default results store: one SQLite file (e.g. <c>runs/slt.db</c>) in WAL mode with full
/// synchronous commits, so every committed chain survives a crash of the process. Opening never modifies a file it
/// rejects (newer schema, foreign or damaged database).
/// </summary>
/// <remarks>
/// SQLite specifics stay in this class: <c>INTEGER PRIMARY KEY</c> row ids, <c>PRAGMA user_version</c> as the schema
/// version, <c>PRAGMA application_id</c> as the file's signature, WAL. The tables use portable types (TEXT, BIGINT,
/// DOUBLE PRECISION, BLOB ↔ bytea) so a PostgreSQL store can use the same layout. NaN is not representable in a
/// SQLite REAL (it becomes NULL), so nullable REAL columns read NULL back as NaN.
/// One instance is safe to use from several threads (calls are serialised).
/// </remarks>
public sealed class SqliteResultsStore : IResultsStore
{
    /// <summary>"SLT#" as a big-endian 32-bit integer: marks a SQLite file as an SltSharp results store.</summary>
    public const int ApplicationId = 0x534C5423;

    private const int SqliteCorrupt = 11;
    private const int SqliteReadOnly = 8;
    private const int SqliteCantOpen = 14;
    private const int SqliteNotADatabase = 26;
    private const int SqliteFull = 13;

    private static readonly byte[] SqliteMagic = "SQLite format 3\0"u8.ToArray();

    private readonly SqliteConnection _connection;
    private readonly Lock _gate = new();
    private bool _disposed;

    private SqliteResultsStore(string path, SqliteConnection connection)
    {
        Location = path;
        _connection = connection;
    }

    /// <summary>The newest schema version this build writes and understands.</summary>
    public static int LatestSchemaVersion => Migrations[^1].Version;

    /// <summary>Absolute path of the database file.</summary>
    public string Location { get; }

    /// <summary>Test seam: called at named points inside transactions so a test can simulate a crash there.</summary>
    internal Action<string>? FaultInjection { get; set; }

    /// <summary>The schema history. Each migration runs in its own transaction together with its version bump.</summary>
    internal static IReadOnlyList<Migration> Migrations { get; } =
    [
        new(1, "runs, checkpoints, metrics, stages, sampling jobs, chains, estimates", SchemaV1),
        new(2, "stage Δλ̂, Δloss and boundary confidence; per-run analyses (e.g. essential dynamics)", SchemaV2),
    ];

    /// <summary>
    /// Opens the store at <paramref name="path"/>, creating the file (and its folder) when absent and migrating an
    /// older schema forward.
    /// </summary>
    /// <param name="path">Database file, e.g. <c>runs/slt.db</c>.</param>
    /// <exception cref="StoreSchemaTooNewException">The file was written by a newer schema version.</exception>
    /// <exception cref="StoreCorruptException">The file is not a results store or is damaged.</exception>
    /// <exception cref="StoreNotWritableException">The file or its folder cannot be written.</exception>
    public static SqliteResultsStore Open(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        SQLitePCL.Batteries_V2.Init();
        var fullPath = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(fullPath)!;
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreNotWritableException(
                $"Cannot create the folder '{folder}' for the results store ({e.Message}); choose a writable store path.", e);
        }

        if (File.Exists(fullPath))
        {
            CheckHeader(fullPath);
        }

        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString();
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            var store = new SqliteResultsStore(fullPath, connection);
            store.Initialise();
            return store;
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw Translate(e, fullPath);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public RunRecord CreateRun(RunStart start)
    {
        ArgumentNullException.ThrowIfNull(start);
        return Write(tx =>
        {
            var startedAt = DateTimeOffset.UtcNow;
            using var cmd = Command(
                tx,
                """
                INSERT INTO runs (command, config_json, seed, code_version, host, started_at, ended_at, status)
                VALUES ($command, $config, $seed, $code, $host, $started, NULL, $status) RETURNING id
                """,
                ("$command", start.Command),
                ("$config", start.ConfigJson),
                ("$seed", start.Seed),
                ("$code", start.CodeVersion),
                ("$host", start.Host),
                ("$started", FormatTime(startedAt)),
                ("$status", nameof(RunStatus.Running)));
            var id = (long)cmd.ExecuteScalar()!;
            return new RunRecord(id, start.Command, start.ConfigJson, start.Seed, start.CodeVersion, start.Host,
                ParseTime(FormatTime(startedAt)), null, RunStatus.Running);
        });
    }

    /// <inheritdoc />
    public void FinishRun(long runId, RunStatus status) => Write(tx =>
    {
        using var cmd = Command(
            tx,
            "UPDATE runs SET ended_at = $ended, status = $status WHERE id = $id",
            ("$ended", FormatTime(DateTimeOffset.UtcNow)),
            ("$status", status.ToString()),
            ("$id", runId));
        if (cmd.ExecuteNonQuery() == 0)
        {
            throw NotFound(runId, tx);
        }

        return 0;
    });

    /// <inheritdoc />
    public RunRecord GetRun(long runId) => Read(() =>
    {
        using var cmd = Command(null, RunSelect + " WHERE id = $id", ("$id", runId));
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? ReadRun(reader) : throw NotFound(runId, null);
    });

    /// <inheritdoc />
    public IReadOnlyList<RunRecord> ListRuns() => Read(() =>
    {
        using var cmd = Command(null, RunSelect + " ORDER BY id");
        using var reader = cmd.ExecuteReader();
        var runs = new List<RunRecord>();
        while (reader.Read())
        {
            runs.Add(ReadRun(reader));
        }

        return runs;
    });

    /// <inheritdoc />
    public CheckpointRecord AddCheckpoint(long runId, long step, string path, string sha256)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(sha256);
        return Write(tx =>
        {
            RequireRun(runId, tx);
            using (var find = Command(
                tx,
                "SELECT id, path, sha256 FROM checkpoints WHERE run_id = $run AND step = $step",
                ("$run", runId),
                ("$step", step)))
            using (var reader = find.ExecuteReader())
            {
                if (reader.Read())
                {
                    var storedHash = reader.GetString(2);
                    if (!string.Equals(storedHash, sha256, StringComparison.OrdinalIgnoreCase))
                    {
                        throw new StoreConflictException(
                            $"Run {runId} already has a checkpoint at step {step} with SHA-256 {storedHash}, not {sha256}, in '{Location}'; start a new run instead of overwriting it.");
                    }

                    return new CheckpointRecord(reader.GetInt64(0), runId, step, reader.GetString(1), storedHash);
                }
            }

            using var insert = Command(
                tx,
                "INSERT INTO checkpoints (run_id, step, path, sha256) VALUES ($run, $step, $path, $sha) RETURNING id",
                ("$run", runId),
                ("$step", step),
                ("$path", path),
                ("$sha", sha256));
            return new CheckpointRecord((long)insert.ExecuteScalar()!, runId, step, path, sha256);
        });
    }

    /// <inheritdoc />
    public IReadOnlyList<CheckpointRecord> Checkpoints(long runId) => Read(() =>
    {
        using var cmd = Command(
            null,
            "SELECT id, run_id, step, path, sha256 FROM checkpoints WHERE run_id = $run ORDER BY step",
            ("$run", runId));
        using var reader = cmd.ExecuteReader();
        var list = new List<CheckpointRecord>();
        while (reader.Read())
        {
            list.Add(new CheckpointRecord(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3),
                reader.GetString(4)));
        }

        return list;
    });

    /// <inheritdoc />
    public void AppendMetrics(long runId, IReadOnlyList<MetricPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        Write(tx =>
        {
            RequireRun(runId, tx);
            using var cmd = Command(
                tx,
                "INSERT INTO metrics (run_id, step, name, value) VALUES ($run, $step, $name, $value)",
                ("$run", runId),
                ("$step", 0L),
                ("$name", string.Empty),
                ("$value", null));
            foreach (var p in points)
            {
                cmd.Parameters["$step"].Value = p.Step;
                cmd.Parameters["$name"].Value = p.Name;
                cmd.Parameters["$value"].Value = NullableReal(p.Value);
                cmd.ExecuteNonQuery();
            }

            return 0;
        });
    }

    /// <inheritdoc />
    public IReadOnlyList<MetricPoint> Metrics(long runId) => Read(() =>
    {
        using var cmd = Command(
            null,
            "SELECT step, name, value FROM metrics WHERE run_id = $run ORDER BY name, step",
            ("$run", runId));
        using var reader = cmd.ExecuteReader();
        var list = new List<MetricPoint>();
        while (reader.Read())
        {
            list.Add(new MetricPoint(reader.GetInt64(0), reader.GetString(1), ReadReal(reader, 2)));
        }

        return list;
    });

    /// <inheritdoc />
    public void SaveStages(long runId, IReadOnlyList<StageRecord> stages)
    {
        ArgumentNullException.ThrowIfNull(stages);
        Write(tx =>
        {
            RequireRun(runId, tx);
            using (var delete = Command(tx, "DELETE FROM stages WHERE run_id = $run", ("$run", runId)))
            {
                delete.ExecuteNonQuery();
            }

            for (var i = 0; i < stages.Count; i++)
            {
                using var cmd = Command(
                    tx,
                    """
                    INSERT INTO stages (run_id, ordinal, start_step, end_step, kind, label, delta_llc, delta_loss, confidence)
                    VALUES ($run, $ordinal, $start, $end, $kind, $label, $dllc, $dloss, $confidence)
                    """,
                    ("$run", runId),
                    ("$ordinal", i),
                    ("$start", stages[i].StartStep),
                    ("$end", stages[i].EndStep),
                    ("$kind", stages[i].Kind),
                    ("$label", stages[i].Label),
                    ("$dllc", OptionalReal(stages[i].DeltaLlc)),
                    ("$dloss", OptionalReal(stages[i].DeltaLoss)),
                    ("$confidence", OptionalReal(stages[i].Confidence)));
                cmd.ExecuteNonQuery();
            }

            return 0;
        });
    }

    /// <inheritdoc />
    public IReadOnlyList<StageRecord> Stages(long runId) => Read(() =>
    {
        using var cmd = Command(
            null,
            "SELECT start_step, end_step, kind, label, delta_llc, delta_loss, confidence FROM stages WHERE run_id = $run ORDER BY ordinal",
            ("$run", runId));
        using var reader = cmd.ExecuteReader();
        var list = new List<StageRecord>();
        while (reader.Read())
        {
            list.Add(new StageRecord(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3),
                OptionalReal(reader, 4), OptionalReal(reader, 5), OptionalReal(reader, 6)));
        }

        return list;
    });

    /// <inheritdoc />
    public void SaveAnalysis(long runId, string name, string contentJson)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(contentJson);
        Write(tx =>
        {
            RequireRun(runId, tx);
            using var cmd = Command(
                tx,
                """
                INSERT INTO analyses (run_id, name, content_json, created_at) VALUES ($run, $name, $content, $created)
                ON CONFLICT (run_id, name) DO UPDATE SET content_json = excluded.content_json, created_at = excluded.created_at
                """,
                ("$run", runId),
                ("$name", name),
                ("$content", contentJson),
                ("$created", FormatTime(DateTimeOffset.UtcNow)));
            cmd.ExecuteNonQuery();
            return 0;
        });
    }

    /// <inheritdoc />
    public string? Analysis(long runId, string name) => Read(() =>
    {
        using var cmd = Command(null, "SELECT content_json FROM analyses WHERE run_id = $run AND name = $name", ("$run", runId), ("$name", name));
        return cmd.ExecuteScalar() as string;
    });

    /// <inheritdoc />
    public SamplingJobRecord FindOrCreateJob(SamplingJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Chains <= 0 || spec.Draws <= 0 || spec.Burnin < 0 || spec.Burnin >= spec.Draws)
        {
            throw new ArgumentException(
                $"A sampling job needs Chains > 0 and 0 <= Burnin < Draws; got Chains = {spec.Chains}, Draws = {spec.Draws}, Burnin = {spec.Burnin}.",
                nameof(spec));
        }

        return Write(tx =>
        {
            string sha;
            using (var checkpoint = Command(tx, "SELECT sha256 FROM checkpoints WHERE id = $id", ("$id", spec.CheckpointId)))
            {
                sha = checkpoint.ExecuteScalar() as string
                    ?? throw new RunNotFoundException(
                        $"Checkpoint {spec.CheckpointId} is not in '{Location}'; record it with AddCheckpoint before sampling at it.");
            }

            var key = spec.ComputeKey(sha);
            var existing = FindJob(tx, "j.job_key = $key", ("$key", key));
            if (existing.Count > 0)
            {
                return existing[0];
            }

            var createdAt = FormatTime(DateTimeOffset.UtcNow);
            using var insert = Command(
                tx,
                """
                INSERT INTO sampling_jobs (job_key, checkpoint_id, sampler, step_size, n_beta, localization, chains, draws,
                                           burnin, sampler_config_json, status, created_at)
                VALUES ($key, $checkpoint, $sampler, $eps, $nbeta, $gamma, $chains, $draws, $burnin, $config, $status, $created)
                RETURNING id
                """,
                ("$key", key),
                ("$checkpoint", spec.CheckpointId),
                ("$sampler", spec.Sampler),
                ("$eps", spec.StepSize),
                ("$nbeta", spec.NBeta),
                ("$gamma", spec.Localization),
                ("$chains", spec.Chains),
                ("$draws", spec.Draws),
                ("$burnin", spec.Burnin),
                ("$config", spec.SamplerConfigJson),
                ("$status", nameof(RunStatus.Running)),
                ("$created", createdAt));
            var id = (long)insert.ExecuteScalar()!;
            return new SamplingJobRecord(id, key, spec, RunStatus.Running, ParseTime(createdAt));
        });
    }

    /// <inheritdoc />
    public IReadOnlyList<SamplingJobRecord> Jobs(long runId) => Read(() => FindJob(
        null,
        "c.run_id = $run",
        ("$run", runId)));

    /// <inheritdoc />
    public IReadOnlyList<int> CompletedChains(long jobId) => Read(() =>
    {
        using var cmd = Command(null, "SELECT chain_index FROM chains WHERE job_id = $job ORDER BY chain_index", ("$job", jobId));
        using var reader = cmd.ExecuteReader();
        var list = new List<int>();
        while (reader.Read())
        {
            list.Add(reader.GetInt32(0));
        }

        return list;
    });

    /// <inheritdoc />
    public void SaveChain(ChainRecord chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(chain.LossTrace);
        ArgumentNullException.ThrowIfNull(chain.StepInfo);
        Write(tx =>
        {
            var job = FindJob(tx, "j.id = $id", ("$id", chain.JobId));
            if (job.Count == 0)
            {
                throw new RunNotFoundException(
                    $"Sampling job {chain.JobId} is not in '{Location}'; create it with FindOrCreateJob before saving chains.");
            }

            var chains = job[0].Spec.Chains;
            if (chain.ChainIndex < 0 || chain.ChainIndex >= chains)
            {
                throw new ArgumentException(
                    $"Chain index {chain.ChainIndex} is outside 0..{chains - 1} for job {chain.JobId}.", nameof(chain));
            }

            using (var exists = Command(
                tx,
                "SELECT COUNT(*) FROM chains WHERE job_id = $job AND chain_index = $chain",
                ("$job", chain.JobId),
                ("$chain", chain.ChainIndex)))
            {
                if ((long)exists.ExecuteScalar()! > 0)
                {
                    throw new StoreConflictException(
                        $"Chain {chain.ChainIndex} of job {chain.JobId} is already saved in '{Location}'; skip the chains CompletedChains lists.");
                }
            }

            using (var insert = Command(
                tx,
                """
                INSERT INTO chains (job_id, chain_index, initial_loss, draw_count, loss_trace, lambda_hat, elapsed_seconds, completed_at)
                VALUES ($job, $chain, $initial, $count, $trace, $lambda, $elapsed, $completed)
                """,
                ("$job", chain.JobId),
                ("$chain", chain.ChainIndex),
                ("$initial", NullableReal(chain.InitialLoss)),
                ("$count", chain.LossTrace.Length),
                ("$trace", BlobCodec.EncodeDoubles(chain.LossTrace)),
                ("$lambda", NullableReal(chain.LambdaHat)),
                ("$elapsed", chain.ElapsedSeconds),
                ("$completed", FormatTime(DateTimeOffset.UtcNow))))
            {
                insert.ExecuteNonQuery();
            }

            FaultInjection?.Invoke("SaveChain:after-trace");

            foreach (var (name, values) in chain.StepInfo.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                using var info = Command(
                    tx,
                    """
                    INSERT INTO chain_step_info (job_id, chain_index, name, dtype, step_values)
                    VALUES ($job, $chain, $name, '<f4', $values)
                    """,
                    ("$job", chain.JobId),
                    ("$chain", chain.ChainIndex),
                    ("$name", name),
                    ("$values", BlobCodec.EncodeFloats(values)));
                info.ExecuteNonQuery();
            }

            return 0;
        });
    }

    /// <inheritdoc />
    public IReadOnlyList<ChainRecord> Chains(long jobId) => Read(() =>
    {
        var info = new Dictionary<int, Dictionary<string, float[]>>();
        using (var cmd = Command(
            null,
            "SELECT chain_index, name, dtype, step_values FROM chain_step_info WHERE job_id = $job",
            ("$job", jobId)))
        using (var reader = cmd.ExecuteReader())
        {
            while (reader.Read())
            {
                var dtype = reader.GetString(2);
                if (dtype != "<f4")
                {
                    throw new StoreCorruptException(
                        $"Step info '{reader.GetString(1)}' of job {jobId} in '{Location}' has dtype {dtype}; this build reads only <f4.");
                }

                var chainIndex = reader.GetInt32(0);
                if (!info.TryGetValue(chainIndex, out var byName))
                {
                    byName = new Dictionary<string, float[]>(StringComparer.Ordinal);
                    info[chainIndex] = byName;
                }

                byName[reader.GetString(1)] = Decode(() => BlobCodec.DecodeFloats((byte[])reader.GetValue(3)));
            }
        }

        using var chains = Command(
            null,
            """
            SELECT chain_index, initial_loss, draw_count, loss_trace, lambda_hat, elapsed_seconds
            FROM chains WHERE job_id = $job ORDER BY chain_index
            """,
            ("$job", jobId));
        using var rows = chains.ExecuteReader();
        var list = new List<ChainRecord>();
        while (rows.Read())
        {
            var chainIndex = rows.GetInt32(0);
            var trace = Decode(() => BlobCodec.DecodeDoubles((byte[])rows.GetValue(3)));
            if (trace.Length != rows.GetInt32(2))
            {
                throw new StoreCorruptException(
                    $"Chain {chainIndex} of job {jobId} in '{Location}' has {trace.Length} draws but records {rows.GetInt32(2)}; the file is damaged.");
            }

            list.Add(new ChainRecord(
                jobId,
                chainIndex,
                ReadReal(rows, 1),
                trace,
                info.TryGetValue(chainIndex, out var byName) ? byName : new Dictionary<string, float[]>(),
                ReadReal(rows, 4),
                rows.GetDouble(5)));
        }

        return list;
    });

    /// <inheritdoc />
    public void CompleteJob(EstimateRecord estimate)
    {
        ArgumentNullException.ThrowIfNull(estimate);
        ArgumentNullException.ThrowIfNull(estimate.Reasons);
        Write(tx =>
        {
            using (var job = Command(
                tx,
                "UPDATE sampling_jobs SET status = $status WHERE id = $id",
                ("$status", nameof(RunStatus.Completed)),
                ("$id", estimate.JobId)))
            {
                if (job.ExecuteNonQuery() == 0)
                {
                    throw new RunNotFoundException($"Sampling job {estimate.JobId} is not in '{Location}'.");
                }
            }

            using var cmd = Command(
                tx,
                """
                INSERT INTO estimates (job_id, lambda_hat, standard_error, diagnostics_json, verdict, reasons_json, created_at)
                VALUES ($job, $lambda, $se, $diagnostics, $verdict, $reasons, $created)
                ON CONFLICT (job_id) DO UPDATE SET lambda_hat = excluded.lambda_hat,
                    standard_error = excluded.standard_error, diagnostics_json = excluded.diagnostics_json,
                    verdict = excluded.verdict, reasons_json = excluded.reasons_json, created_at = excluded.created_at
                """,
                ("$job", estimate.JobId),
                ("$lambda", NullableReal(estimate.LambdaHat)),
                ("$se", NullableReal(estimate.StandardError)),
                ("$diagnostics", estimate.DiagnosticsJson),
                ("$verdict", estimate.Verdict.ToString()),
                ("$reasons", JsonSerializer.Serialize(estimate.Reasons)),
                ("$created", FormatTime(DateTimeOffset.UtcNow)));
            cmd.ExecuteNonQuery();
            return 0;
        });
    }

    /// <inheritdoc />
    public EstimateRecord? Estimate(long jobId) => Read(() =>
    {
        using var cmd = Command(
            null,
            "SELECT lambda_hat, standard_error, diagnostics_json, verdict, reasons_json FROM estimates WHERE job_id = $job",
            ("$job", jobId));
        using var reader = cmd.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        return new EstimateRecord(
            jobId,
            ReadReal(reader, 0),
            ReadReal(reader, 1),
            reader.GetString(2),
            ParseVerdict(reader.GetString(3)),
            JsonSerializer.Deserialize<string[]>(reader.GetString(4)) ?? []);
    });

    // Stores written before the verdict was unified with the diagnostics' enum say "Pass" for Ok.
    private static SltSharp.Diagnostics.Verdict ParseVerdict(string text) =>
        text == "Pass" ? SltSharp.Diagnostics.Verdict.Ok : Enum.Parse<SltSharp.Diagnostics.Verdict>(text);

    /// <summary>
    /// Caps the database at <paramref name="pages"/> pages for this connection (SQLite's <c>max_page_count</c>), so that
    /// tests can make the next write fail with SQLITE_FULL exactly as a full disk does.
    /// </summary>
    internal void LimitPages(long pages)
    {
        lock (_gate)
        {
            // An integer formatted here, not user text.
            using var cmd = Command(null, string.Create(CultureInfo.InvariantCulture, $"PRAGMA max_page_count = {pages}"));
            cmd.ExecuteNonQuery();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _connection.Dispose();
        }
    }

    private const string RunSelect =
        "SELECT id, command, config_json, seed, code_version, host, started_at, ended_at, status FROM runs";

    private const string SchemaV1 = """
        CREATE TABLE runs (
            id            INTEGER PRIMARY KEY,
            command       TEXT NOT NULL,
            config_json   TEXT NOT NULL,
            seed          BIGINT NOT NULL,
            code_version  TEXT NOT NULL,
            host          TEXT NOT NULL,
            started_at    TEXT NOT NULL,
            ended_at      TEXT NULL,
            status        TEXT NOT NULL
        );
        CREATE TABLE checkpoints (
            id      INTEGER PRIMARY KEY,
            run_id  BIGINT NOT NULL REFERENCES runs (id),
            step    BIGINT NOT NULL,
            path    TEXT NOT NULL,
            sha256  TEXT NOT NULL,
            UNIQUE (run_id, step)
        );
        CREATE TABLE metrics (
            run_id  BIGINT NOT NULL REFERENCES runs (id),
            step    BIGINT NOT NULL,
            name    TEXT NOT NULL,
            value   DOUBLE PRECISION NULL
        );
        CREATE INDEX ix_metrics_run ON metrics (run_id, name, step);
        CREATE TABLE stages (
            run_id      BIGINT NOT NULL REFERENCES runs (id),
            ordinal     INTEGER NOT NULL,
            start_step  BIGINT NOT NULL,
            end_step    BIGINT NOT NULL,
            kind        TEXT NOT NULL,
            label       TEXT NOT NULL,
            PRIMARY KEY (run_id, ordinal)
        );
        CREATE TABLE sampling_jobs (
            id                   INTEGER PRIMARY KEY,
            job_key              TEXT NOT NULL UNIQUE,
            checkpoint_id        BIGINT NOT NULL REFERENCES checkpoints (id),
            sampler              TEXT NOT NULL,
            step_size            DOUBLE PRECISION NOT NULL,
            n_beta               DOUBLE PRECISION NOT NULL,
            localization         DOUBLE PRECISION NOT NULL,
            chains               INTEGER NOT NULL,
            draws                INTEGER NOT NULL,
            burnin               INTEGER NOT NULL,
            sampler_config_json  TEXT NOT NULL,
            status               TEXT NOT NULL,
            created_at           TEXT NOT NULL
        );
        CREATE INDEX ix_jobs_checkpoint ON sampling_jobs (checkpoint_id);
        CREATE TABLE chains (
            job_id           BIGINT NOT NULL REFERENCES sampling_jobs (id),
            chain_index      INTEGER NOT NULL,
            initial_loss     DOUBLE PRECISION NULL,
            draw_count       INTEGER NOT NULL,
            loss_trace       BLOB NOT NULL,
            lambda_hat       DOUBLE PRECISION NULL,
            elapsed_seconds  DOUBLE PRECISION NOT NULL,
            completed_at     TEXT NOT NULL,
            PRIMARY KEY (job_id, chain_index)
        );
        CREATE TABLE chain_step_info (
            job_id       BIGINT NOT NULL,
            chain_index  INTEGER NOT NULL,
            name         TEXT NOT NULL,
            dtype        TEXT NOT NULL,
            step_values  BLOB NOT NULL,
            PRIMARY KEY (job_id, chain_index, name),
            FOREIGN KEY (job_id, chain_index) REFERENCES chains (job_id, chain_index)
        );
        CREATE TABLE estimates (
            job_id            BIGINT PRIMARY KEY REFERENCES sampling_jobs (id),
            lambda_hat        DOUBLE PRECISION NULL,
            standard_error    DOUBLE PRECISION NULL,
            diagnostics_json  TEXT NOT NULL,
            verdict           TEXT NOT NULL,
            reasons_json      TEXT NOT NULL,
            created_at        TEXT NOT NULL
        );
        """;

    // Version 2: what stage detection measures per stage, and a keyed JSON document per run for analyses whose shape
    // is their own (essential dynamics: projections per checkpoint and explained variance). ON CONFLICT upserts are
    // PostgreSQL syntax too.
    private const string SchemaV2 = """
        ALTER TABLE stages ADD COLUMN delta_llc DOUBLE PRECISION NULL;
        ALTER TABLE stages ADD COLUMN delta_loss DOUBLE PRECISION NULL;
        ALTER TABLE stages ADD COLUMN confidence DOUBLE PRECISION NULL;
        CREATE TABLE analyses (
            run_id        BIGINT NOT NULL REFERENCES runs (id),
            name          TEXT NOT NULL,
            content_json  TEXT NOT NULL,
            created_at    TEXT NOT NULL,
            PRIMARY KEY (run_id, name)
        );
        """;

    /// <summary>
    /// Rejects a file that is not a SQLite database by its first 16 bytes, without letting SQLite touch it.
    /// An empty file is accepted: SQLite treats it as a new database.
    /// </summary>
    private static void CheckHeader(string path)
    {
        Span<byte> header = stackalloc byte[16];
        int read;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreNotWritableException($"Cannot read the results store '{path}' ({e.Message}).", e);
        }

        if (read == 0)
        {
            return;
        }

        if (read < header.Length || !header.SequenceEqual(SqliteMagic))
        {
            throw new StoreCorruptException(
                $"'{path}' is not an SltSharp results store (not a SQLite database); move it aside or choose another store path.");
        }
    }

    private void Initialise()
    {
        var applicationId = PragmaInt("application_id");
        var version = PragmaInt("user_version");
        if (applicationId != 0 && applicationId != ApplicationId)
        {
            throw new StoreCorruptException(
                $"'{Location}' is a SQLite database of another program (application_id 0x{applicationId:X8}); choose another store path.");
        }

        if (version > LatestSchemaVersion)
        {
            throw new StoreSchemaTooNewException(
                $"'{Location}' was written by schema version {version}, this build of slt understands up to {LatestSchemaVersion}; upgrade slt or choose another store path.");
        }

        if (version == 0 && applicationId == 0)
        {
            using var count = Command(null, "SELECT COUNT(*) FROM sqlite_master");
            // Another process may have created the schema between the pragma reads above and this count (two commands
            // starting on a new store at once): the file is then ours after all, marked by the application id.
            if ((long)count.ExecuteScalar()! > 0 && PragmaInt("application_id") != ApplicationId)
            {
                throw new StoreCorruptException(
                    $"'{Location}' is a SQLite database but not an SltSharp results store; choose another store path.");
            }
        }

        // Only now, with the file known to be ours, may anything be written to it.
        using (var wal = Command(null, "PRAGMA journal_mode = WAL"))
        {
            var mode = wal.ExecuteScalar() as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new StoreNotWritableException(
                    $"Cannot switch '{Location}' to write-ahead logging (journal mode stays '{mode}'); put the store on a local, writable file system.");
            }
        }

        using (var pragmas = Command(null, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;"))
        {
            pragmas.ExecuteNonQuery();
        }

        foreach (var migration in Migrations.Where(m => m.Version > version))
        {
            // BeginTransaction is BEGIN IMMEDIATE: concurrent initialisers take turns, and the version is read again
            // under the lock so that a migration another process applied meanwhile is not applied twice.
            using var tx = _connection.BeginTransaction();
            using (var current = Command(tx, "PRAGMA user_version"))
            {
                if (Convert.ToInt64(current.ExecuteScalar(), CultureInfo.InvariantCulture) >= migration.Version)
                {
                    tx.Commit();
                    continue;
                }
            }

            using (var cmd = Command(tx, migration.Sql))
            {
                cmd.ExecuteNonQuery();
            }

            // PRAGMA arguments cannot be parameters; both values are integers formatted here, not user text.
            using (var bump = Command(
                tx,
                string.Create(CultureInfo.InvariantCulture,
                    $"PRAGMA application_id = {ApplicationId}; PRAGMA user_version = {migration.Version};")))
            {
                bump.ExecuteNonQuery();
            }

            tx.Commit();
        }
    }

    private long PragmaInt(string name)
    {
        using var cmd = Command(null, name == "user_version" ? "PRAGMA user_version" : "PRAGMA application_id");
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private T Write<T>(Func<SqliteTransaction, T> body)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                using var tx = _connection.BeginTransaction();
                var result = body(tx);
                tx.Commit();
                return result;
            }
            catch (SqliteException e)
            {
                throw Translate(e, Location);
            }
        }
    }

    private T Read<T>(Func<T> body)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                return body();
            }
            catch (SqliteException e)
            {
                throw Translate(e, Location);
            }
        }
    }

    private T Decode<T>(Func<T> decode)
    {
        try
        {
            return decode();
        }
        catch (FormatException e)
        {
            throw new StoreCorruptException($"A stored array in '{Location}' is damaged ({e.Message}).", e);
        }
    }

    private List<SamplingJobRecord> FindJob(SqliteTransaction? tx, string where, params (string Name, object? Value)[] args)
    {
        // 'where' is always one of the constant filters of this class, never user text.
        using var cmd = Command(
            tx,
            """
            SELECT j.id, j.job_key, j.checkpoint_id, j.sampler, j.step_size, j.n_beta, j.localization, j.chains, j.draws,
                   j.burnin, j.sampler_config_json, j.status, j.created_at
            FROM sampling_jobs j JOIN checkpoints c ON c.id = j.checkpoint_id
            WHERE
            """ + " " + where + " ORDER BY c.step, j.id",
            args);
        using var reader = cmd.ExecuteReader();
        var list = new List<SamplingJobRecord>();
        while (reader.Read())
        {
            var spec = new SamplingJobSpec(
                reader.GetInt64(2),
                reader.GetString(3),
                reader.GetDouble(4),
                reader.GetDouble(5),
                reader.GetDouble(6),
                reader.GetInt32(7),
                reader.GetInt32(8),
                reader.GetInt32(9),
                reader.GetString(10));
            list.Add(new SamplingJobRecord(reader.GetInt64(0), reader.GetString(1), spec,
                Enum.Parse<RunStatus>(reader.GetString(11)), ParseTime(reader.GetString(12))));
        }

        return list;
    }

    private void RequireRun(long runId, SqliteTransaction tx)
    {
        using var cmd = Command(tx, "SELECT COUNT(*) FROM runs WHERE id = $id", ("$id", runId));
        if ((long)cmd.ExecuteScalar()! == 0)
        {
            throw NotFound(runId, tx);
        }
    }

    private RunNotFoundException NotFound(long runId, SqliteTransaction? tx)
    {
        using var cmd = Command(tx, "SELECT COUNT(*), MIN(id), MAX(id) FROM runs");
        using var reader = cmd.ExecuteReader();
        reader.Read();
        var count = reader.GetInt64(0);
        var holds = count == 0
            ? "it holds no runs yet"
            : string.Create(CultureInfo.InvariantCulture,
                $"it holds {count} run(s) with ids {reader.GetInt64(1)}..{reader.GetInt64(2)}");
        return new RunNotFoundException($"Run {runId} is not in '{Location}' ({holds}); list the runs and pick one of them.");
    }

    private SqliteCommand Command(SqliteTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
#pragma warning disable CA2100 // SQL text is always a constant of this class; values go through parameters.
        var cmd = new SqliteCommand(sql, _connection, tx);
#pragma warning restore CA2100
        foreach (var (name, value) in args)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return cmd;
    }

    private static ResultsStoreException Translate(SqliteException e, string path) => e.SqliteErrorCode switch
    {
        SqliteCorrupt or SqliteNotADatabase => new StoreCorruptException(
            $"'{path}' is damaged or not an SltSharp results store ({e.Message}); move it aside or choose another store path.", e),
        SqliteReadOnly or SqliteCantOpen => new StoreNotWritableException(
            $"Cannot open '{path}' for writing ({e.Message}); check that its folder '{Path.GetDirectoryName(path)}' is writable or choose another store path.", e),
        SqliteFull => new StoreNotWritableException($"The disk holding '{path}' is full ({e.Message}); free space and rerun: finished chains are kept.", e),
        _ => new ResultsStoreException($"The results store '{path}' reported an error: {e.Message}", e),
    };

    private static object NullableReal(double value) => double.IsNaN(value) ? DBNull.Value : value;

    private static object OptionalReal(double? value) => value is { } v && !double.IsNaN(v) ? v : DBNull.Value;

    private static double? OptionalReal(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetDouble(ordinal);

    private static double ReadReal(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? double.NaN : reader.GetDouble(ordinal);

    private static RunRecord ReadRun(SqliteDataReader r) => new(
        r.GetInt64(0),
        r.GetString(1),
        r.GetString(2),
        r.GetInt64(3),
        r.GetString(4),
        r.GetString(5),
        ParseTime(r.GetString(6)),
        r.IsDBNull(7) ? null : ParseTime(r.GetString(7)),
        Enum.Parse<RunStatus>(r.GetString(8)));

    private static string FormatTime(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    /// <summary>One step of the schema history.</summary>
    /// <param name="Version">The schema version after this migration.</param>
    /// <param name="Description">What it adds.</param>
    /// <param name="Sql">The DDL.</param>
    internal sealed record Migration(int Version, string Description, string Sql);
}
