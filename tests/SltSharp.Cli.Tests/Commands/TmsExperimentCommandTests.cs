using System.Globalization;
using System.Text.Json;
using SltSharp.Cli;

namespace SltSharp.Cli.Tests.Commands;

/// <summary><c>slt experiment tms</c>: the JSON contract, the store and report round trip, bad input.</summary>
public class TmsExperimentCommandTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await SltApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task QuickRunRecordsTheCensusAndTheReportReadsItBack()
    {
        string dir = Path.Combine(Path.GetTempPath(), "slt-tms-experiment-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string store = Path.Combine(dir, "slt.db");
            string html = Path.Combine(dir, "experiment.html");
            var (exit, stdout, stderr) = await Run("experiment", "tms", "--quick", "--json", "--store", store, "--out", html);
            Assert.True(exit is 0 or 1, stderr);
            var root = JsonDocument.Parse(stdout).RootElement; // exactly one JSON object
            Assert.Equal("tms", root.GetProperty("experiment").GetString());
            Assert.Equal([100, 1600], root.GetProperty("n_values").EnumerateArray().Select(e => e.GetInt32()));
            int seeds = root.GetProperty("seeds").GetInt32();
            int steps = root.GetProperty("steps").GetInt32();
            // slt-reference §2c: the 5-gon → 6-gon crossing from theory values with the prior terms is n ≈ 601.
            Assert.Equal(601.0, root.GetProperty("n_crit_theory").GetDouble(), 1.0);
            foreach (var row in root.GetProperty("final").EnumerateArray())
            {
                // Counts are whole seeds and add up to the seed count; fractions are counts / seeds.
                Assert.Equal(seeds, row.GetProperty("counts").EnumerateObject().Sum(c => c.Value.GetInt32()));
                foreach (var f in row.GetProperty("fractions").EnumerateObject())
                {
                    Assert.Equal(row.GetProperty("counts").GetProperty(f.Name).GetInt32() / (double)seeds, f.Value.GetDouble(), 1e-12);
                }
                // Theory: the posterior prefers the 5-gon below n_crit ≈ 601 and the 6-gon above it.
                double p6 = row.GetProperty("posterior_6gon_theory").GetDouble();
                Assert.True(row.GetProperty("n").GetInt32() < 601 ? p6 < 0.5 : p6 > 0.5, row.ToString());
                // Any trained (W, b) has loss between 0 and that of W = 0, b = 0 (1/3); a bug in the census would leave it.
                Assert.InRange(row.GetProperty("median_loss").GetDouble(), 0.0, 1.0 / 3);
            }
            var overSteps = root.GetProperty("over_steps").EnumerateArray().ToArray();
            Assert.Equal(0, overSteps[0].GetProperty("step").GetInt32());
            Assert.Equal(steps, overSteps.Max(e => e.GetProperty("step").GetInt32()));
            // At step 0 W is random and b = 0: no seed is a k-gon yet, and the loss is near 1/3 minus what a random W explains.
            Assert.Equal(1.0, overSteps[0].GetProperty("fractions").GetProperty("other").GetDouble());
            Assert.Equal(7.0, root.GetProperty("llc").GetProperty("5gon").GetProperty("lambda_theory").GetDouble());
            Assert.Equal(0.048192, root.GetProperty("llc").GetProperty("6gon").GetProperty("loss_exact").GetDouble(), 1e-6);
            Assert.True(File.Exists(html));
            string page = await File.ReadAllTextAsync(html);
            Assert.Contains("data-kind=\"kgon-vs-n\"", page, StringComparison.Ordinal);
            Assert.Contains("data-kind=\"kgon-vs-step\"", page, StringComparison.Ordinal);

            // slt report rebuilds the same section from the store's metrics.
            string again = Path.Combine(dir, "again.html");
            long runId = root.GetProperty("run_id").GetInt64();
            (exit, _, stderr) = await Run("report", runId.ToString(CultureInfo.InvariantCulture), "--store", store, "--out", again);
            Assert.True(exit == 0, stderr);
            string reread = await File.ReadAllTextAsync(again);
            Assert.Contains("data-kind=\"kgon-vs-n\"", reread, StringComparison.Ordinal);
            Assert.DoesNotContain("data-kind=\"training-curves\"", reread, StringComparison.Ordinal);
            string nCrit = root.GetProperty("n_crit_theory").GetDouble().ToString("F0", CultureInfo.InvariantCulture);
            Assert.Contains($"theory {nCrit}", reread, StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("--n-values", "1", "--n-values")]
    [InlineData("--seeds", "0", "--seeds")]
    [InlineData("--optimizer", "rmsprop", "rmsprop")]
    public async Task BadInputIsAUsageError(string option, string value, string expected)
    {
        var (exit, stdout, stderr) = await Run("experiment", "tms", option, value, "--no-store", "--json");
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Equal("", stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }
}
