using System.Text.Json;
using SltSharp.Cli;

namespace SltSharp.Cli.Tests.Commands;

/// <summary><c>slt llc --temperatures K</c>: the <c>multi_temperature</c> JSON object and its bad input.</summary>
public class LlcTemperaturesTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await SltApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task TemperaturesFlagReportsPerTemperatureValuesAndTheFit()
    {
        var (exit, stdout, stderr) = await Run("llc", "--model", "normal-crossing", "--powers", "1,1", "--temperatures", "4", "--decades", "1.5",
            "--nbeta", "100", "--sampler", "mala", "--epsilon", "5e-4", "--draws", "3000", "--burnin", "500", "--thinning", "2", "--threads", "1", "--json");
        Assert.True(exit is 0 or 1, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        var multi = root.GetProperty("multi_temperature");
        var per = multi.GetProperty("per_temperature");
        Assert.Equal(4, per.GetArrayLength());
        // Progress on stderr counts every temperature's draws: 4 × 4 chains × 3000 draws (the default chain count is 4).
        Assert.Contains("4 temperatures × 4 chains × 3000 draws: 48000/48000 (100 %) in", stderr, StringComparison.Ordinal);
        // Log-spaced over 1.5 decades from nβ = 100; MALA's rule is ε ∝ nβ^(−½).
        Assert.Equal(100, per[0].GetProperty("nbeta").GetDouble(), 9);
        Assert.Equal(100 * Math.Pow(10, 1.5), per[3].GetProperty("nbeta").GetDouble(), 6);
        Assert.Equal(5e-4 / Math.Pow(10, 0.75), per[3].GetProperty("epsilon").GetDouble(), 12);
        // Each temperature against its quadrature value: 4 SE (the SE is the larger of across-chain SE and MCSE)
        // plus 2% for the data model's finite-n posterior being sampled by MALA (exact, so only Monte Carlo error).
        foreach (var t in per.EnumerateArray())
        {
            double mean = t.GetProperty("llc_mean").GetDouble(), se = t.GetProperty("llc_se").GetDouble();
            double exact = t.GetProperty("exact_finite_temperature").GetDouble();
            Assert.InRange(mean, exact - (4 * se) - (0.02 * exact), exact + (4 * se) + (0.02 * exact));
        }
        Assert.Contains(multi.GetProperty("model").GetString(), new[] { "multiplicity", "closeexponent", "none", "ambiguous", "neitherfits" });
        var interval = multi.GetProperty("interval");
        Assert.True(interval[0].GetDouble() <= multi.GetProperty("lambda").GetDouble());
        Assert.True(multi.GetProperty("lambda").GetDouble() <= interval[1].GetDouble());
        Assert.False(string.IsNullOrEmpty(multi.GetProperty("message").GetString()));
        Assert.Equal(2, root.GetProperty("exact_multiplicity").GetInt32());
        // This data model's y is pure noise, so L − L(w*) < 0 near w* (the minimum is at f = Sxy/Sxx ≠ 0): the
        // loss-distribution fit does not apply, the means decide, and the message says why.
        Assert.Equal("means", multi.GetProperty("decided_by").GetString());
        Assert.Equal(JsonValueKind.Null, multi.GetProperty("density_of_states").ValueKind);
        Assert.Contains("L ≤ L(w*)", multi.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TooFewTemperaturesAreRejected()
    {
        var (exit, stdout, stderr) = await Run("llc", "--model", "normal-crossing", "--temperatures", "3", "--json");
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Equal("", stdout);
        Assert.Contains("--temperatures must be ≥ 4", stderr, StringComparison.Ordinal);
    }
}
