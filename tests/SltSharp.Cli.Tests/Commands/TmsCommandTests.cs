using System.Text.Json;
using SltSharp.Cli;

namespace SltSharp.Cli.Tests.Commands;

/// <summary><c>slt llc --model tms</c> and <c>slt select</c>: JSON contract, theory values, accuracy, bad input.</summary>
public class TmsCommandTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await SltApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("5gon", 7.0)]
    [InlineData("6gon", 8.5)]
    [InlineData("5gon+", 8.5)]
    [InlineData("4gon", null)]
    public async Task LlcAtACriticalPointReportsThePublishedLambda(string init, double? lambda)
    {
        // A short run: this checks the contract (fields, theory value, the point's loss), not the estimate's accuracy.
        var (exit, stdout, stderr) = await Run("llc", "--model", "tms", "--init", init, "--n", "1000", "--draws", "100", "--burnin", "50", "--json", "--threads", "1");
        Assert.True(exit is 0 or 1, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        if (lambda is { } l)
        {
            Assert.Equal(l, root.GetProperty("exact_lambda").GetDouble());
        }
        else
        {
            Assert.Equal(JsonValueKind.Null, root.GetProperty("exact_lambda").ValueKind);
        }
        Assert.Equal(JsonValueKind.Null, root.GetProperty("exact_multiplicity").ValueKind); // not published for the TMS
        Assert.Equal(18, root.GetProperty("params").GetInt32());
        Assert.Equal(1000, root.GetProperty("n").GetInt32());
        Assert.Equal(10.0, root.GetProperty("gamma").GetDouble());
        // L_n(w*) on 1000 samples vs the exact population loss: the per-sample loss at a k-gon has SD below 0.1, so the
        // SE of L_n is < 0.0032; 0.015 is over 4.5 SE.
        double exactLoss = init switch { "4gon" => 1.0 / 9, "5gon" => 0.068744, "6gon" => 0.048192, _ => 0.061799 }; // slt-reference §2c
        Assert.Equal(exactLoss, root.GetProperty("reference_loss").GetDouble(), 0.015);
    }

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData("5gon", 7.0)]
    [InlineData("6gon", 8.5)]
    public async Task DefaultLlcIsCloseToTheory(string init, double lambda)
    {
        var (exit, stdout, stderr) = await Run("llc", "--model", "tms", "--init", init, "--json");
        Assert.Equal(0, exit);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("ok", root.GetProperty("verdict").GetString());
        // λ is the n → ∞ value; at nβ = n/ln n ≈ 587 and γ = 10 the estimator carries a finite-temperature bias
        // (measured with these defaults: 5-gon 7.53, 6-gon 8.61, seed 0; with 1000 burn-in 7.47–7.59 and 8.54–8.68;
        // Chen et al.'s SGLD: 7.7 and 9.0). Allow 1.0
        // (≈12%), which is also > 6 across-chain SEs.
        Assert.InRange(root.GetProperty("llc_mean").GetDouble(), lambda - 1.0, lambda + 1.0);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task DefaultLlcAtTheOtherPointsEndsOkOrWarn()
    {
        // The 5+-gon mixes slowly along its "+" direction: with 1000 burn-in steps one chain in four was still settling
        // (R-hat 1.14, a fail). With the defaults (3000) measured 10.07 ± 0.16 (warn: R-hat 1.011, ESS 67 per chain);
        // 9.86 and 10.01 at other settings and seeds; Chen et al.'s SGLD gave 9.9 against the theoretical 8.5. The estimate
        // sits 1.4–1.6 above theory, so the band is [λ − 1, λ + 2]: it catches a chain that left the point (λ̂ ≈ 7) or a
        // broken sampler, not the finite-temperature bias the published estimate shares.
        var (exit, stdout, stderr) = await Run("llc", "--model", "tms", "--init", "5gon+", "--json", "--no-store");
        Assert.True(exit == 0, stderr + stdout);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Contains(root.GetProperty("verdict").GetString(), new[] { "ok", "warn" });
        Assert.InRange(root.GetProperty("llc_mean").GetDouble(), 8.5 - 1.0, 8.5 + 2.0);

        // The 4-gon has no published λ (measured 6.03 ± 0.13, warn); only the verdict is checked.
        (exit, stdout, stderr) = await Run("llc", "--model", "tms", "--init", "4gon", "--json", "--no-store");
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains(JsonDocument.Parse(stdout).RootElement.GetProperty("verdict").GetString(), new[] { "ok", "warn" });
    }

    [Fact]
    public async Task SelectReportsTheTheoryCrossingAndAConsistentInterval()
    {
        string html = Path.Combine(Path.GetTempPath(), $"slt-select-{Guid.NewGuid():N}.html");
        var (exit, stdout, stderr) = await Run("select", "--model", "tms", "--from", "5gon", "--to", "6gon", "--n", "1000", "--draws", "150", "--burnin", "100", "--json", "--threads", "1", "--out", html);
        Assert.True(exit is 0 or 1, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        // Progress on stderr covers both points' chains (4 chains × 150 draws each).
        Assert.Contains("2 × 4 chains × 150 draws: 1200/1200 (100 %) in", stderr, StringComparison.Ordinal);
        // The report holds both points' chains and the crossing.
        Assert.Equal(html, root.GetProperty("report").GetString());
        string page = File.ReadAllText(html);
        File.Delete(html);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(page, "data-kind=\"running-llc\"").Count);
        Assert.Contains("n_crit theory", page, StringComparison.Ordinal);
        // slt-reference §2c: n·ΔL + Δλ·ln n + Δc = 0 with the prior terms gives n_crit ≈ 601.
        Assert.Equal(601.0, root.GetProperty("n_crit_theory").GetDouble(), 1.0);
        Assert.Equal(7.0, root.GetProperty("from").GetProperty("lambda_theory").GetDouble());
        Assert.Equal(8.5, root.GetProperty("to").GetProperty("lambda_theory").GetDouble());
        Assert.Equal(0.068744, root.GetProperty("from").GetProperty("loss_exact").GetDouble(), 1e-6);
        Assert.Equal(0.048192, root.GetProperty("to").GetProperty("loss_exact").GetDouble(), 1e-6);
        Assert.True(root.TryGetProperty("from", out var from) && from.TryGetProperty("loss_empirical", out _));
        var est = root.GetProperty("n_crit_estimated");
        if (est.ValueKind == JsonValueKind.Number)
        {
            double e = est.GetDouble();
            Assert.True(root.GetProperty("n_crit_low").GetDouble() <= e, stdout);
            var high = root.GetProperty("n_crit_high");
            Assert.True(high.ValueKind == JsonValueKind.String || high.GetDouble() >= e, stdout);
        }
        // The log-odds at the theory crossing vanish; before it the posterior prefers the 5-gon, after it the 6-gon.
        var table = root.GetProperty("log_odds").EnumerateArray().ToArray();
        Assert.True(table.First(t => t.GetProperty("n").GetDouble() == 300).GetProperty("theory").GetDouble() > 0);
        Assert.True(table.First(t => t.GetProperty("n").GetDouble() == 1000).GetProperty("theory").GetDouble() < 0);
    }

    [Theory]
    [InlineData("5gon", "5gon", "two different critical points")]
    [InlineData("7gon", "6gon", "7gon")]
    public async Task SelectRejectsBadPoints(string from, string to, string expected)
    {
        var (exit, stdout, stderr) = await Run("select", "--from", from, "--to", to, "--json");
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Equal("", stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LlcRejectsAnUnknownInit()
    {
        var (exit, _, stderr) = await Run("llc", "--model", "tms", "--init", "3gon");
        Assert.Equal(SltApp.ExitBadInput, exit);
        Assert.Contains("3gon", stderr, StringComparison.Ordinal);
    }
}
