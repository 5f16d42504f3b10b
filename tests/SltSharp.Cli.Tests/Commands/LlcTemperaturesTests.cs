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
        // Log-spaced over 1.5 decades from nβ = 100; for MALA a pilot tunes ε per temperature to acceptance 0.95 (it stops
        // at a rejection rate within 1.25× of 0.05: acceptance 0.9375–0.96), so ε no longer follows the rule ε ∝ nβ^(−½).
        // The run's acceptance may differ: the pilot measures 4 chains × 500 correlated steps (a rejection rate of 5% has a
        // relative SE of ~30% there) and this short run spends part of its draws near w*; 0.85–0.99 is three times the
        // pilot's band (an untuned ε would sit at 0.99+ or, too large, far below).
        Assert.Equal(100, per[0].GetProperty("nbeta").GetDouble(), 9);
        Assert.Equal(100 * Math.Pow(10, 1.5), per[3].GetProperty("nbeta").GetDouble(), 6);
        Assert.All(per.EnumerateArray(), t => Assert.InRange(t.GetProperty("acceptance").GetDouble(), 0.85, 0.99));
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

    // The pure potential's minimum is w* = 0 with K = 0, so the loss distributions decide. Reduced size for the default
    // suite (4 chains × 20k draws per temperature, thinning 4, 5 temperatures over 10²…10⁴, MALA tuned to acceptance 0.95):
    // (1,1) must come out Multiplicity with m = 2 exactly and λ within the 10% of ½, with an interval holding ½.
    [Fact]
    public async Task PotentialModelIsDecidedFromTheLossDistributions()
    {
        var (exit, stdout, stderr) = await Run("llc", "--model", "normal-crossing-potential", "--powers", "1,1", "--temperatures", "5", "--decades", "2",
            "--sampler", "mala", "--draws", "20000", "--burnin", "5000", "--thinning", "4", "--seed", "21", "--threads", "2", "--json", "--quiet");
        Assert.True(exit == 0, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        var multi = root.GetProperty("multi_temperature");
        Assert.Equal("loss distributions", multi.GetProperty("decided_by").GetString());
        Assert.Equal("multiplicity", multi.GetProperty("model").GetString());
        Assert.Equal(2, multi.GetProperty("multiplicity").GetInt32());
        double lambda = multi.GetProperty("lambda").GetDouble();
        Assert.InRange(lambda, 0.45, 0.55);
        var interval = multi.GetProperty("interval");
        Assert.InRange(0.5, interval[0].GetDouble(), interval[1].GetDouble());
        Assert.Equal(JsonValueKind.Object, multi.GetProperty("density_of_states").ValueKind);
        var per = multi.GetProperty("per_temperature");
        Assert.Equal(100, per[0].GetProperty("nbeta").GetDouble(), 9); // the potential's default nβ
        foreach (var t in per.EnumerateArray())
        {
            // The pilot tuned ε: acceptance 0.9375–0.96 where the pilot stops, widened to 0.85–0.99 for the pilot's own
            // noise (4 chains × 500 steps) and the difference between the pilot's and the run's stretch of the chain.
            Assert.InRange(t.GetProperty("acceptance").GetDouble(), 0.85, 0.99);
            Assert.True(t.GetProperty("pilot_steps").GetInt32() > 0);
            // Each temperature against its quadrature value on the potential: 4 SE (MALA is exact, so Monte Carlo only).
            double mean = t.GetProperty("llc_mean").GetDouble(), se = t.GetProperty("llc_se").GetDouble();
            double exact = t.GetProperty("exact_finite_temperature").GetDouble();
            Assert.InRange(mean, exact - (4 * se), exact + (4 * se));
        }
    }

    // Powers (1,2): exponents ¼ and ¼ + ¼, a second exponent close to λ, not a multiplicity; the log fit would say λ ≈ 0.28
    // (13% high). 8 chains × 20k draws per temperature (4 × 20k came out Ambiguous at ΔAIC 1.2 on this seed) decided
    // CloseExponent on seeds 24, 1, 2, 3 with the best log worse by ΔAIC 17.4, 14.1, 7.6, 22.1 (the rule needs > 4), λ
    // −0.2…+1.1%, intervals ±1.5% (docs/sampling-and-llc.md). The interval is the profile-likelihood ±2 SE, so holding ¼
    // fails about 1 run in 20 by chance on a random seed; on this fixed seed it holds with room (0.2466–0.2534).
    [Fact]
    public async Task CloseExponentIsDecidedAndTheIntervalHoldsLambda()
    {
        var (exit, stdout, stderr) = await Run("llc", "--model", "normal-crossing-potential", "--powers", "1,2", "--temperatures", "5", "--decades", "2",
            "--sampler", "mala", "--chains", "8", "--draws", "20000", "--burnin", "5000", "--thinning", "4", "--seed", "24", "--threads", "2", "--json", "--quiet");
        Assert.True(exit == 0, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(0.25, root.GetProperty("exact_lambda").GetDouble(), 12);
        Assert.Equal(1, root.GetProperty("exact_multiplicity").GetInt32());
        var multi = root.GetProperty("multi_temperature");
        Assert.Equal("loss distributions", multi.GetProperty("decided_by").GetString());
        Assert.Equal("closeexponent", multi.GetProperty("model").GetString());
        Assert.Equal(JsonValueKind.Null, multi.GetProperty("multiplicity").ValueKind);
        Assert.Contains("close", multi.GetProperty("message").GetString(), StringComparison.Ordinal);
        var interval = multi.GetProperty("interval");
        double low = interval[0].GetDouble(), high = interval[1].GetDouble(), lambda = multi.GetProperty("lambda").GetDouble();
        Assert.InRange(0.25, low, high);
        Assert.InRange(lambda, low, high);
        // Informative: narrower than the 13% by which the log fit misses, so the interval rules the log's answer out.
        Assert.True(high < 0.28, $"interval [{low}, {high}]");
        Assert.InRange(lambda, 0.225, 0.275); // the 10%
        var logs = multi.GetProperty("density_of_states").GetProperty("logs");
        Assert.Equal(2, logs[0].GetProperty("multiplicity").GetInt32());
        Assert.True(logs[0].GetProperty("lambda").GetDouble() > high, "the m = 2 log's λ lies above the reported interval");
        foreach (var t in multi.GetProperty("per_temperature").EnumerateArray())
        {
            Assert.Equal(JsonValueKind.Array, t.GetProperty("replaced_chains").ValueKind);
            Assert.Contains(t.GetProperty("retuned").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
        }
    }

    [Fact]
    public async Task PotentialModelHasNoData()
    {
        var (exit, stdout, stderr) = await Run("llc", "--model", "normal-crossing-potential", "--powers", "1,1", "--n", "100", "--json");
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Equal("", stdout);
        Assert.Contains("has no data", stderr, StringComparison.Ordinal);
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
