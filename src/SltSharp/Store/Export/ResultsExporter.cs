using System.Text.Json;
using SltSharp.Engine.Formats;

namespace SltSharp.Store.Export;

/// <summary>
/// Exports what a store holds as CSV (runs, estimates, traces in long form) and JSON (one run with everything under
/// it). Numbers are invariant-culture and round-trip exact. In JSON a NaN or infinite value is written as
/// <c>null</c>, since JSON has no such numbers.
/// </summary>
public static class ResultsExporter
{
    /// <summary>One row per run.</summary>
    /// <param name="store">The store.</param>
    /// <param name="output">Destination.</param>
    public static void WriteRunsCsv(IResultsStore store, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(store);
        var csv = new CsvWriter(output);
        csv.Row("run_id", "command", "seed", "code_version", "host", "started_at", "ended_at", "status", "config_json");
        foreach (var run in store.ListRuns())
        {
            csv.Field(run.Id).Field(run.Command).Field(run.Seed).Field(run.CodeVersion).Field(run.Host)
                .Field(run.StartedAt.ToString("O")).Field(run.EndedAt?.ToString("O")).Field(run.Status.ToString())
                .Field(run.ConfigJson).EndRow();
        }
    }

    /// <summary>One row per sampling job of the run (completed or not; an unfinished job has empty estimate fields).</summary>
    /// <param name="store">The store.</param>
    /// <param name="runId">The run.</param>
    /// <param name="output">Destination.</param>
    /// <exception cref="RunNotFoundException">No such run.</exception>
    public static void WriteEstimatesCsv(IResultsStore store, long runId, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(store);
        store.GetRun(runId);
        var steps = store.Checkpoints(runId).ToDictionary(c => c.Id, c => c.Step);
        var csv = new CsvWriter(output);
        csv.Row("run_id", "checkpoint_step", "job_id", "sampler", "step_size", "n_beta", "localization", "chains",
            "draws", "burnin", "status", "lambda_hat", "standard_error", "verdict", "reasons", "diagnostics_json");
        foreach (var job in store.Jobs(runId))
        {
            var s = job.Spec;
            csv.Field(runId).Field(steps[s.CheckpointId]).Field(job.Id).Field(s.Sampler).Field(s.StepSize)
                .Field(s.NBeta).Field(s.Localization).Field(s.Chains).Field(s.Draws).Field(s.Burnin)
                .Field(job.Status.ToString());
            var e = store.Estimate(job.Id);
            if (e is null)
            {
                csv.Field(string.Empty).Field(string.Empty).Field(string.Empty).Field(string.Empty).Field(string.Empty);
            }
            else
            {
                csv.Field(e.LambdaHat).Field(e.StandardError).Field(e.Verdict.ToString())
                    .Field(string.Join("; ", e.Reasons)).Field(e.DiagnosticsJson);
            }

            csv.EndRow();
        }
    }

    /// <summary>Per-draw losses in long form: one row per (chain, draw), with the burn-in flag.</summary>
    /// <param name="store">The store.</param>
    /// <param name="job">The job.</param>
    /// <param name="output">Destination.</param>
    public static void WriteTracesCsv(IResultsStore store, SamplingJobRecord job, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        var csv = new CsvWriter(output);
        csv.Row("job_id", "chain", "draw", "burnin", "loss");
        foreach (var chain in store.Chains(job.Id))
        {
            for (var t = 0; t < chain.LossTrace.Length; t++)
            {
                csv.Field(job.Id).Field(chain.ChainIndex).Field(t).Field(t < job.Spec.Burnin ? 1 : 0)
                    .Field(chain.LossTrace[t]).EndRow();
            }
        }
    }

    /// <summary>
    /// The whole run as one JSON document: run, checkpoints, metrics, stages and every job with its estimate and
    /// chains (traces and step info included).
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="runId">The run.</param>
    /// <param name="output">Destination (UTF-8, left open).</param>
    /// <exception cref="RunNotFoundException">No such run.</exception>
    public static void WriteRunJson(IResultsStore store, long runId, Stream output)
    {
        ArgumentNullException.ThrowIfNull(store);
        var run = store.GetRun(runId);
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteNumber("format_version", 1);
        w.WriteStartObject("run");
        w.WriteNumber("id", run.Id);
        w.WriteString("command", run.Command);
        w.WriteNumber("seed", run.Seed);
        w.WriteString("code_version", run.CodeVersion);
        w.WriteString("host", run.Host);
        w.WriteString("started_at", run.StartedAt);
        if (run.EndedAt is { } ended)
        {
            w.WriteString("ended_at", ended);
        }
        else
        {
            w.WriteNull("ended_at");
        }

        w.WriteString("status", run.Status.ToString());
        w.WritePropertyName("config");
        WriteEmbeddedJson(w, run.ConfigJson);
        w.WriteEndObject();

        w.WriteStartArray("checkpoints");
        foreach (var c in store.Checkpoints(runId))
        {
            w.WriteStartObject();
            w.WriteNumber("id", c.Id);
            w.WriteNumber("step", c.Step);
            w.WriteString("path", c.Path);
            w.WriteString("sha256", c.Sha256);
            w.WriteEndObject();
        }

        w.WriteEndArray();

        w.WriteStartArray("metrics");
        foreach (var m in store.Metrics(runId))
        {
            w.WriteStartObject();
            w.WriteNumber("step", m.Step);
            w.WriteString("name", m.Name);
            WriteNumber(w, "value", m.Value);
            w.WriteEndObject();
        }

        w.WriteEndArray();

        w.WriteStartArray("stages");
        foreach (var s in store.Stages(runId))
        {
            w.WriteStartObject();
            w.WriteNumber("start_step", s.StartStep);
            w.WriteNumber("end_step", s.EndStep);
            w.WriteString("kind", s.Kind);
            w.WriteString("label", s.Label);
            if (s.DeltaLlc is { } dl)
            {
                WriteNumber(w, "delta_llc", dl);
            }

            if (s.DeltaLoss is { } dloss)
            {
                WriteNumber(w, "delta_loss", dloss);
            }

            if (s.Confidence is { } conf)
            {
                WriteNumber(w, "confidence", conf);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();

        w.WriteStartArray("jobs");
        foreach (var job in store.Jobs(runId))
        {
            WriteJob(w, store, job);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// The job's traces as arrays for an <see cref="IArrayExporter"/>: <c>loss</c> [chains, draws] (float64),
    /// <c>lambda_hat</c> [chains], <c>initial_loss</c> [chains], and <c>info/NAME</c> [chains, steps] (float32) per
    /// step-info series. Rows shorter than the longest are padded with NaN.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="job">The job.</param>
    public static IReadOnlyList<NamedArray> TraceArrays(IResultsStore store, SamplingJobRecord job)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        var chains = store.Chains(job.Id);
        var arrays = new List<NamedArray>
        {
            Matrix("loss", chains.Select(c => c.LossTrace).ToList(), double.NaN),
            NamedArray.Create("lambda_hat", chains.Select(c => c.LambdaHat).ToArray(), chains.Count),
            NamedArray.Create("initial_loss", chains.Select(c => c.InitialLoss).ToArray(), chains.Count),
        };
        var names = chains.SelectMany(c => c.StepInfo.Keys).Distinct().Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            arrays.Add(Matrix("info/" + name, chains.Select(c => c.StepInfo.GetValueOrDefault(name, [])).ToList(), float.NaN));
        }

        return arrays;
    }

    /// <summary>Writes <see cref="TraceArrays"/> of a job to a file with the given exporter.</summary>
    /// <param name="store">The store.</param>
    /// <param name="job">The job.</param>
    /// <param name="exporter">The array format.</param>
    /// <param name="path">Destination file.</param>
    public static void ExportTraceArrays(IResultsStore store, SamplingJobRecord job, IArrayExporter exporter, string path)
    {
        ArgumentNullException.ThrowIfNull(exporter);
        var arrays = TraceArrays(store, job);
        using var stream = File.Create(path);
        exporter.Write(stream, arrays);
    }

    private static NamedArray Matrix<T>(string name, IReadOnlyList<T[]> rows, T padding)
        where T : unmanaged
    {
        var width = rows.Count == 0 ? 0 : rows.Max(r => r.Length);
        var data = new T[rows.Count * width];
        Array.Fill(data, padding);
        for (var i = 0; i < rows.Count; i++)
        {
            rows[i].CopyTo(data, i * width);
        }

        return NamedArray.Create(name, data, rows.Count, width);
    }

    private static void WriteJob(Utf8JsonWriter w, IResultsStore store, SamplingJobRecord job)
    {
        var s = job.Spec;
        w.WriteStartObject();
        w.WriteNumber("id", job.Id);
        w.WriteString("key", job.Key);
        w.WriteNumber("checkpoint_id", s.CheckpointId);
        w.WriteString("sampler", s.Sampler);
        WriteNumber(w, "step_size", s.StepSize);
        WriteNumber(w, "n_beta", s.NBeta);
        WriteNumber(w, "localization", s.Localization);
        w.WriteNumber("chains", s.Chains);
        w.WriteNumber("draws", s.Draws);
        w.WriteNumber("burnin", s.Burnin);
        w.WritePropertyName("sampler_config");
        WriteEmbeddedJson(w, s.SamplerConfigJson);
        w.WriteString("status", job.Status.ToString());

        var e = store.Estimate(job.Id);
        if (e is null)
        {
            w.WriteNull("estimate");
        }
        else
        {
            w.WriteStartObject("estimate");
            WriteNumber(w, "lambda_hat", e.LambdaHat);
            WriteNumber(w, "standard_error", e.StandardError);
            w.WriteString("verdict", e.Verdict.ToString());
            w.WriteStartArray("reasons");
            foreach (var r in e.Reasons)
            {
                w.WriteStringValue(r);
            }

            w.WriteEndArray();
            w.WritePropertyName("diagnostics");
            WriteEmbeddedJson(w, e.DiagnosticsJson);
            w.WriteEndObject();
        }

        w.WriteStartArray("chains");
        foreach (var c in store.Chains(job.Id))
        {
            w.WriteStartObject();
            w.WriteNumber("chain", c.ChainIndex);
            WriteNumber(w, "initial_loss", c.InitialLoss);
            WriteNumber(w, "lambda_hat", c.LambdaHat);
            WriteNumber(w, "elapsed_seconds", c.ElapsedSeconds);
            w.WriteStartArray("loss");
            foreach (var v in c.LossTrace)
            {
                WriteNumberValue(w, v);
            }

            w.WriteEndArray();
            w.WriteStartObject("step_info");
            foreach (var (name, values) in c.StepInfo.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.WriteStartArray(name);
                foreach (var v in values)
                {
                    if (float.IsFinite(v))
                    {
                        w.WriteNumberValue(v);
                    }
                    else
                    {
                        w.WriteNullValue();
                    }
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Stored JSON text is embedded as JSON, not as a string; text that does not parse is kept as a string.</summary>
    private static void WriteEmbeddedJson(Utf8JsonWriter w, string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            doc.RootElement.WriteTo(w);
        }
        catch (JsonException)
        {
            w.WriteStringValue(json);
        }
    }

    private static void WriteNumber(Utf8JsonWriter w, string name, double value)
    {
        w.WritePropertyName(name);
        WriteNumberValue(w, value);
    }

    private static void WriteNumberValue(Utf8JsonWriter w, double value)
    {
        if (double.IsFinite(value))
        {
            w.WriteNumberValue(value);
        }
        else
        {
            w.WriteNullValue();
        }
    }
}
