using System.Text.Json;
using SltSharp.Cli;

namespace SltSharp.Cli.Tests.Commands;

/// <summary>The <c>slt llc</c> contract: option names, JSON fields, exit codes, and errors that name the problem.</summary>
public class LlcCommandTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        // These tests are about the estimate and its contract, not recording: keep them out of any results store.
        if (args.Length > 0 && args[0] == "llc" && !args.Contains("--store"))
        {
            args = [.. args, "--no-store"];
        }
        int exit = await SltApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task NormalCrossingJsonMatchesTheExactFiniteTemperatureValue()
    {
        var (exit, stdout, stderr) = await Run("llc", "--model", "normal-crossing", "--powers", "1,2", "--json", "--threads", "1", "--draws", "3000");
        Assert.True(exit is 0 or 1, stderr);
        using var doc = JsonDocument.Parse(stdout); // exactly one JSON object, nothing else on stdout
        var root = doc.RootElement;
        foreach (string field in new[] { "llc_mean", "llc_se", "exact_lambda", "verdict", "reasons", "chains", "draws", "params", "seconds", "steps_per_second" })
        {
            Assert.True(root.TryGetProperty(field, out _), $"missing field {field}");
        }
        Assert.Equal(0.25, root.GetProperty("exact_lambda").GetDouble(), 12); // 1/(2·max p) for powers (1,2)
        Assert.Equal(2, root.GetProperty("params").GetInt32());
        Assert.Equal(4, root.GetProperty("chains").GetInt32());
        Assert.Equal(3000, root.GetProperty("draws").GetInt32());
        Assert.Contains(root.GetProperty("verdict").GetString(), new[] { "ok", "warn", "fail" });
        Assert.True(root.GetProperty("steps_per_second").GetDouble() > 0);
        // The default setting (full batch, ε = 1e-3, seed 0) must land on the quadrature value at the same nβ and γ.
        // Tolerance: 4 Monte Carlo standard errors (MCSE from ESS, ≈ 5% of the value here) plus 2% for SGLD's
        // discretisation bias at this ε (measured 1–2% against MALA in tests/SltSharp.Tests/Estimators).
        double mean = root.GetProperty("llc_mean").GetDouble();
        double exact = root.GetProperty("exact_finite_temperature").GetDouble();
        double mcse = root.GetProperty("llc_mcse").GetDouble();
        Assert.InRange(mean, exact - (4 * mcse) - (0.02 * exact), exact + (4 * mcse) + (0.02 * exact));
    }

    [Fact]
    public async Task DeepLinearNetworkReportsAoyagisLambdaAndItsShape()
    {
        var (exit, stdout, stderr) = await Run("llc", "--model", "dln", "--widths", "5,3,5", "--rank", "0", "--draws", "50", "--burnin", "0", "--json");
        Assert.True(exit is 0 or 1, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(6.5, root.GetProperty("exact_lambda").GetDouble(), 12); // slt-reference §2b: (5,3,5); r=0 → 13/2
        Assert.Equal(2, root.GetProperty("exact_multiplicity").GetInt32());
        Assert.Equal((5 * 3) + (3 * 5), root.GetProperty("params").GetInt32());
        Assert.Equal(10_000, root.GetProperty("n").GetInt32());
        Assert.Equal(10_000 / Math.Log(10_000), root.GetProperty("nbeta").GetDouble(), 9);
    }

    [Theory]
    [InlineData("--epsilon", "-1", "--epsilon must be a finite number > 0")]
    [InlineData("--chains", "0", "--chains must be ≥ 1")]
    [InlineData("--widths", "10,x,10", "'x' is not one")]
    [InlineData("--model", "resnet", "resnet")]
    public async Task BadOptionsExitWithCodeTwoAndNameTheProblem(string option, string value, string expected)
    {
        var (exit, stdout, stderr) = await Run("llc", option, value, "--json");
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Equal("", stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RankAboveTheNarrowestLayerIsRejectedWithTheBound()
    {
        var (exit, _, stderr) = await Run("llc", "--widths", "5,3,5", "--rank", "4");
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Contains("at most 3", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BatchLargerThanTheDatasetIsRejected()
    {
        var (exit, _, stderr) = await Run("llc", "--n", "50", "--batch-size", "100");
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Contains("larger than the dataset", stderr, StringComparison.Ordinal);
    }
}
