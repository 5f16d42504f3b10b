using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SltSharp.Store;
using static SltSharp.Cli.Tests.Commands.CliRunner;

namespace SltSharp.Cli.Tests.Commands;

/// <summary><c>slt llc</c> records into the store; <c>slt report</c> and <c>slt export</c> read it back; errors leave it intact.</summary>
public sealed class StoreWiringTests : IDisposable
{
    // Normal crossing, full batch: 3 chains × (200 burn-in + 300·5) steps take a fraction of a second.
    private static readonly string[] SmallLlc =
        ["llc", "--model", "normal-crossing", "--chains", "3", "--draws", "300", "--burnin", "200", "--threads", "1", "--json"];

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Store => _folder.File("slt.db");

    private async Task<JsonElement> RecordSmallRun(params string[] extra)
    {
        var (exit, stdout, stderr) = await Run([.. SmallLlc, "--store", Store, .. extra]);
        Assert.True(exit is 0 or 1, stderr);
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    [Fact]
    public async Task Llc_then_report_writes_html_with_the_runs_lambda_and_vega_specs()
    {
        var llc = await RecordSmallRun();
        long runId = llc.GetProperty("run_id").GetInt64();
        Assert.Equal(3, llc.GetProperty("chains_computed").GetInt32());

        var html = _folder.File("out/report.html");
        var (exit, stdout, stderr) = await Run("report", runId.ToString(CultureInfo.InvariantCulture), "--store", Store, "--out", html);
        Assert.True(exit == 0, stderr);
        Assert.Contains(html, stdout);
        string text = File.ReadAllText(html);
        // The verdict card prints λ̂ with 4 significant digits (HtmlReportBuilder.Format).
        string lambda = llc.GetProperty("llc_mean").GetDouble().ToString("G4", CultureInfo.InvariantCulture);
        Assert.Contains($"λ̂ = {lambda}", text);
        Assert.Contains("vega-lite", text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("data-kind=\"chain-loss\"", text);
        Assert.Contains("data-kind=\"running-llc\"", text);

        var latest = _folder.File("latest.html");
        (exit, _, stderr) = await Run("report", "--latest", "--store", Store, "--out", latest);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"λ̂ = {lambda}", File.ReadAllText(latest));
    }

    /// <summary>
    /// "seconds" is the wall time of sampling. With two threads the four chains run as two batches of two; each chain
    /// used to be charged its whole batch's wall time, so the sum doubled "seconds" and halved "steps_per_second".
    /// Sampling is most of this command's time (4 × 40k steps of a 30-parameter DLN against a store of a few chains),
    /// so a doubled "seconds" exceeds the command's own wall time, measured here around it.
    /// </summary>
    [Fact]
    public async Task Seconds_is_the_wall_time_of_sampling_when_chains_run_in_parallel()
    {
        var stopwatch = Stopwatch.StartNew();
        var (exit, stdout, stderr) = await Run("llc", "--model", "dln", "--widths", "5,3,5", "--rank", "0", "--chains", "4",
            "--threads", "2", "--burnin", "20000", "--draws", "2000", "--thinning", "10", "--store", Store, "--json");
        double wall = stopwatch.Elapsed.TotalSeconds;
        Assert.True(exit is 0 or 1, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        double seconds = root.GetProperty("seconds").GetDouble();
        Assert.InRange(seconds, 0, wall);
        // steps_per_second counts burn-in: 4 chains × (20 000 + 2 000·10) steps over those seconds.
        Assert.Equal(4 * 40_000 / seconds, root.GetProperty("steps_per_second").GetDouble(), 6);
    }

    [Fact]
    public async Task The_same_command_again_reuses_every_chain_and_gives_the_same_estimate()
    {
        var first = await RecordSmallRun();
        var second = await RecordSmallRun();
        Assert.Equal(first.GetProperty("run_id").GetInt64(), second.GetProperty("run_id").GetInt64());
        Assert.Equal(0, second.GetProperty("chains_computed").GetInt32());
        Assert.Equal(3, second.GetProperty("chains_reused").GetInt32());
        Assert.Equal(first.GetProperty("llc_mean").GetDouble(), second.GetProperty("llc_mean").GetDouble());

        // The recorded estimate is the unrecorded one: the store keeps loss traces at full precision.
        var (exit, stdout, stderr) = await Run([.. SmallLlc, "--no-store"]);
        Assert.True(exit is 0 or 1, stderr);
        Assert.Equal(first.GetProperty("llc_mean").GetDouble(), JsonDocument.Parse(stdout).RootElement.GetProperty("llc_mean").GetDouble());

        // Another --run-name is another measurement with its own chains.
        var named = await RecordSmallRun("--run-name", "repeat");
        Assert.NotEqual(first.GetProperty("run_id").GetInt64(), named.GetProperty("run_id").GetInt64());
        Assert.Equal(3, named.GetProperty("chains_computed").GetInt32());
    }

    [Fact]
    public async Task Report_errors_are_one_line_name_the_problem_and_leave_the_store_alone()
    {
        // No store: nothing is created.
        var missing = _folder.File("none/slt.db");
        var (exit, _, stderr) = await Run("report", "1", "--store", missing);
        Assert.Equal(SltApp.ExitFailure, exit);
        Assert.Contains(missing, stderr);
        Assert.Contains("slt llc", stderr);
        Assert.False(File.Exists(missing));

        // Unknown run.
        await RecordSmallRun();
        var before = File.ReadAllBytes(Store);
        (exit, _, stderr) = await Run("report", "42", "--store", Store);
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Contains("Run 42", stderr);
        Assert.Contains(Store, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Equal(before, File.ReadAllBytes(Store));

        // Neither RUN_ID nor --latest.
        (exit, _, stderr) = await Run("report", "--store", Store);
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Contains("--latest", stderr);

        // Corrupt store.
        var corrupt = _folder.File("corrupt.db");
        var garbage = Enumerable.Range(0, 4096).Select(i => (byte)(i * 37)).ToArray();
        File.WriteAllBytes(corrupt, garbage);
        (exit, _, stderr) = await Run("report", "--latest", "--store", corrupt);
        Assert.Equal(SltApp.ExitFailure, exit);
        Assert.Contains(corrupt, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Equal(garbage, File.ReadAllBytes(corrupt));

        // Store written by a newer schema.
        using (var connection = new SqliteConnection($"Data Source={Store};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = $"PRAGMA user_version = {SqliteResultsStore.LatestSchemaVersion + 1}";
            cmd.ExecuteNonQuery();
        }
        before = File.ReadAllBytes(Store);
        (exit, _, stderr) = await Run("report", "--latest", "--store", Store);
        Assert.Equal(SltApp.ExitFailure, exit);
        Assert.Contains(Store, stderr);
        Assert.Contains("upgrade slt", stderr);
        Assert.Equal(before, File.ReadAllBytes(Store));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Llc_into_an_unwritable_store_location_fails_with_one_line_and_writes_nothing()
    {
        // A file where the store's folder should be: refused even to root, unlike a chmod'ed folder.
        var notAFolder = _folder.File("plain-file");
        File.WriteAllText(notAFolder, "keep me");
        var store = Path.Combine(notAFolder, "slt.db");
        var (exit, stdout, stderr) = await Run([.. SmallLlc, "--store", store]);
        Assert.Equal(SltApp.ExitFailure, exit);
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.Contains(notAFolder, stderr);
        Assert.Contains("writable", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Equal("", stdout);
        Assert.Equal("keep me", File.ReadAllText(notAFolder));

        // A read-only folder: chmod 0500 for a normal user; root ignores that, so then a sysfs folder, which refuses new
        // files to everyone.
        var readOnly = _folder.File("read-only");
        Directory.CreateDirectory(readOnly);
        File.SetUnixFileMode(readOnly, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            if (CanCreateFileIn(readOnly))
            {
                readOnly = "/sys";
                Assert.False(CanCreateFileIn(readOnly), "No read-only folder to test with (chmod ineffective and /sys writable).");
            }
            store = Path.Combine(readOnly, "slt.db");
            (exit, stdout, stderr) = await Run([.. SmallLlc, "--store", store]);
            Assert.Equal(SltApp.ExitFailure, exit);
            Assert.Contains(store, stderr);
            Assert.Contains("writable", stderr);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.False(File.Exists(store));
        }
        finally
        {
            File.SetUnixFileMode(_folder.File("read-only"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
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

    [Fact]
    public async Task Exported_npz_and_csv_load_in_numpy_and_reproduce_the_estimate()
    {
        const string python = "/usr/bin/python3";
        var llc = await RecordSmallRun();
        string run = llc.GetProperty("run_id").GetInt64().ToString(CultureInfo.InvariantCulture);
        var npz = _folder.File("traces.npz");
        var csv = _folder.File("traces.csv");
        var json = _folder.File("run.json");
        foreach (var (format, path) in new[] { ("npz", npz), ("csv", csv), ("json", json) })
        {
            var (exit, _, stderr) = await Run("export", run, "--store", Store, "--format", format, "--out", path);
            Assert.True(exit == 0, stderr);
            Assert.True(File.Exists(path), path);
        }
        using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
        {
            Assert.Contains("\"lambda_hat\"", File.ReadAllText(json));
        }

        if (!File.Exists(python) || !PythonHasNumpy(python))
        {
            // Visible skip: xunit v2 has no dynamic skip, so say it in the output and stop here.
            Console.WriteLine("SKIPPED numpy checks: /usr/bin/python3 with numpy is not installed.");
            return;
        }

        double nBeta = llc.GetProperty("nbeta").GetDouble();
        double reference = llc.GetProperty("reference_loss").GetDouble();
        // Each check recomputes λ̂ = nβ·(mean loss − L(w*)) averaged over chains from the exported draws; the store
        // keeps losses as float64, so numpy must agree with the CLI to rounding (1e-9 relative).
        string script = string.Create(CultureInfo.InvariantCulture, $$"""
            import csv, numpy as np
            z = np.load(r'{{npz}}')
            loss = z['loss']
            assert loss.shape == (3, 300), loss.shape
            assert z['info/acceptance'].shape == (3, 300)
            lam_npz = np.mean({{nBeta:R}} * (loss.mean(axis=1) - {{reference:R}}))
            rows = np.genfromtxt(r'{{csv}}', delimiter=',', names=True)
            assert rows.shape == (900,), rows.shape
            per_chain = [rows['loss'][rows['chain'] == c].mean() for c in range(3)]
            lam_csv = np.mean({{nBeta:R}} * (np.array(per_chain) - {{reference:R}}))
            with open(r'{{csv}}') as f:
                assert len(list(csv.DictReader(f))) == 900
            print(repr(float(lam_npz)), repr(float(lam_csv)), repr(float(z['lambda_hat'].mean())))
            """);
        var (code, output) = RunPython(python, script);
        Assert.True(code == 0, output);
        double expected = llc.GetProperty("llc_mean").GetDouble();
        foreach (string value in output.Trim().Split(' '))
        {
            Assert.Equal(expected, double.Parse(value, CultureInfo.InvariantCulture), Math.Abs(expected) * 1e-9);
        }
    }

    private static bool PythonHasNumpy(string python) => RunPython(python, "import numpy").Code == 0;

    private static (int Code, string Output) RunPython(string python, string script)
    {
        var info = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-");
        using var p = Process.Start(info)!;
        p.StandardInput.Write(script);
        p.StandardInput.Close();
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr);
    }
}
