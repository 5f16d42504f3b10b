using System.Globalization;
using System.Text;
using System.Text.Json;
using SltSharp.Engine.Formats;
using SltSharp.Store;
using SltSharp.Store.Export;

namespace SltSharp.Tests.Store;

public sealed class ExportTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Csv_fields_with_separators_quotes_and_newlines_parse_back_exactly()
    {
        var fields = new[] { "plain", "a,b", "say \"hi\"", "two\nlines", "", "cr\rhere" };
        var text = new StringWriter();
        new CsvWriter(text).Row(fields);
        Assert.Equal("plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,\"cr\rhere\"\n", text.ToString());
        Assert.Equal(fields, ParseCsv(text.ToString()).Single());
    }

    [Fact]
    public void Csv_numbers_round_trip_exactly_in_the_invariant_culture()
    {
        double[] values = [0.1, 1.0 / 3.0, -2.5e-300, 12345678.125, double.NaN, double.PositiveInfinity];
        var text = new StringWriter();
        var csv = new CsvWriter(text);
        foreach (var v in values)
        {
            csv.Field(v);
        }

        csv.EndRow();
        var parsed = ParseCsv(text.ToString()).Single().Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), parsed.Select(BitConverter.DoubleToInt64Bits));
        Assert.DoesNotContain(';', text.ToString());
    }

    [Fact]
    public void Estimates_and_traces_csv_hold_what_the_store_holds()
    {
        using var store = Populated(out var runId, out var job);
        var estimates = new StringWriter();
        ResultsExporter.WriteEstimatesCsv(store, runId, estimates);
        var rows = ParseCsv(estimates.ToString());
        Assert.Equal(2, rows.Count);
        var header = rows[0];
        var row = rows[1];
        var expected = store.Estimate(job.Id)!;
        Assert.Equal(expected.LambdaHat, double.Parse(row[Array.IndexOf(header, "lambda_hat")], CultureInfo.InvariantCulture));
        Assert.Equal("250", row[Array.IndexOf(header, "checkpoint_step")]);
        Assert.Equal("R-hat 1.01 is above 1.005; chain 3 <b>drifts</b>", row[Array.IndexOf(header, "reasons")]);

        var traces = new StringWriter();
        ResultsExporter.WriteTracesCsv(store, job, traces);
        var traceRows = ParseCsv(traces.ToString());
        Assert.Equal(1 + (4 * 200), traceRows.Count);
        var chains = store.Chains(job.Id);
        var r = traceRows.Single(x => x[1] == "2" && x[2] == "77");
        Assert.Equal(chains[2].LossTrace[77], double.Parse(r[4], CultureInfo.InvariantCulture));
        Assert.Equal("0", r[3]);
        Assert.Equal("1", traceRows.Single(x => x[1] == "0" && x[2] == "49")[3]);

        var runs = new StringWriter();
        ResultsExporter.WriteRunsCsv(store, runs);
        var runRows = ParseCsv(runs.ToString());
        Assert.Equal("""{"model":"normal-crossing","powers":[1,2]}""", runRows[1][^1]);
    }

    [Fact]
    public void Run_json_embeds_configs_as_json_and_writes_non_finite_numbers_as_null()
    {
        using var store = Populated(out var runId, out var job);
        using var stream = new MemoryStream();
        ResultsExporter.WriteRunJson(store, runId, stream);
        using var doc = JsonDocument.Parse(stream.ToArray());
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("run").GetProperty("config").GetProperty("powers")[1].GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("metrics")[2].GetProperty("value").ValueKind);
        var jsonJob = root.GetProperty("jobs")[0];
        Assert.Equal(32, jsonJob.GetProperty("sampler_config").GetProperty("batch_size").GetInt32());
        Assert.Equal(1.01, jsonJob.GetProperty("estimate").GetProperty("diagnostics").GetProperty("r_hat").GetDouble());
        var chain1 = jsonJob.GetProperty("chains")[1];
        var expected = store.Chains(job.Id)[1];
        Assert.Equal(expected.LossTrace, chain1.GetProperty("loss").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.StepInfo["acceptance"], chain1.GetProperty("step_info").GetProperty("acceptance").EnumerateArray().Select(e => e.GetSingle()));
    }

    [Fact]
    public void Trace_arrays_are_chain_by_draw_matrices_padded_with_nan()
    {
        using var store = SqliteResultsStore.Open(_folder.File("slt.db"));
        var run = store.CreateRun(Synthetic.Run());
        var cp = store.AddCheckpoint(run.Id, 0, "w", new string('1', 64));
        var job = store.FindOrCreateJob(Synthetic.Spec(cp.Id, chains: 2));
        var full = Synthetic.Chain(job.Id, 0, 200, 50, 100);
        var shortChain = Synthetic.Chain(job.Id, 1, 120, 50, 100);
        store.SaveChain(full);
        store.SaveChain(shortChain);

        var exporter = new RecordingExporter();
        var path = _folder.File("traces.bin");
        ResultsExporter.ExportTraceArrays(store, job, exporter, path);
        Assert.True(File.Exists(path));
        var loss = exporter.Arrays.Single(a => a.Name == "loss");
        Assert.Equal([2, 200], loss.Shape);
        var values = loss.AsDoubles();
        Assert.Equal(full.LossTrace[199], values[199]);
        Assert.Equal(shortChain.LossTrace[119], values[200 + 119]);
        Assert.True(double.IsNaN(values[200 + 120]));
        var grad = exporter.Arrays.Single(a => a.Name == "info/grad_norm");
        Assert.Equal(DType.F32, grad.DType);
        Assert.Equal([2, 200], grad.Shape);
        Assert.Equal([2], exporter.Arrays.Single(a => a.Name == "lambda_hat").Shape);
    }

    private SqliteResultsStore Populated(out long runId, out SamplingJobRecord job)
    {
        var store = SqliteResultsStore.Open(_folder.File("slt.db"));
        var run = store.CreateRun(Synthetic.Run());
        runId = run.Id;
        store.AppendMetrics(run.Id, [new(0, "a", 1), new(1, "a", 2), new(2, "a", double.NaN)]);
        var cp = store.AddCheckpoint(run.Id, 250, "w", new string('9', 64));
        job = ChainJobRunner.Run(store, Synthetic.Spec(cp.Id), (j, c) => Synthetic.Chain(j, c, 200, 50, 100), Synthetic.Estimate).Job;
        return store;
    }

    /// <summary>RFC 4180 reader for the tests (quoted fields, doubled quotes, embedded newlines).</summary>
    private static List<string[]> ParseCsv(string text)
    {
        var rows = new List<string[]>();
        var row = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (ch == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(ch);
                }
            }
            else if (ch == '"')
            {
                quoted = true;
            }
            else if (ch == ',')
            {
                row.Add(field.ToString());
                field.Clear();
            }
            else if (ch == '\n')
            {
                row.Add(field.ToString());
                field.Clear();
                rows.Add([.. row]);
                row.Clear();
            }
            else
            {
                field.Append(ch);
            }
        }

        return rows;
    }

    private sealed class RecordingExporter : IArrayExporter
    {
        public List<NamedArray> Arrays { get; } = [];

        public string FileExtension => ".bin";

        public void Write(Stream output, IReadOnlyList<NamedArray> arrays)
        {
            Arrays.AddRange(arrays);
            output.WriteByte(1);
        }
    }
}
