using SltSharp.Estimators;
using SltSharp.Models;
using SltSharp.Theory;

namespace SltSharp.Tests.Estimators;

/// <summary>
/// The estimator against exact finite-temperature values (quadrature, <see cref="NormalCrossingExact"/>) on the 9
/// normal-crossing cases of the reference library, for the pure potential (t = nβ = 100, γ = 1: the published table's
/// setting) and the data model (n = 1000, the reference library's data, nβ = n/ln n ≈ 145, γ = 1).
/// </summary>
/// <remarks>
/// <para>Tolerance: |λ̂ − exact| ≤ 5% of exact, and the run must itself be precise: MCSE (from the pooled trace and its
/// ESS) ≤ 2% of exact, so 5% is at least 2.5 MCSE on top of the discretisation bias.</para>
/// <para>Discretisation bias. MALA has none. For SGLD the bias is largest where the potential is stiffest; on the
/// quadratic direction it is exactly 1/(1 − εq/4) − 1 with q the curvature of U, so ε = 1e-4 (potential, q = 2t + γ =
/// 201) and ε = 1.5e-5 (data model, q = 2nβ·Sxx + γ ≈ 1170) keep it at 0.5% and 0.45%. The singular cases are no
/// stiffer than their regular direction within the posterior's bulk.</para>
/// <para>Cost. The flat valleys along the axes relax in ~1/(εγ) steps, so SGLD at these ε needs millions of steps per
/// chain for 2% precision (also with one coordinate of power ≥ 2, whose flat bottom relaxes equally slowly): those runs
/// are [Slow] (about half a minute each on 2 threads); the default suite keeps MALA on three hard cases and SGLD on the
/// quadratic one.</para>
/// </remarks>
public class NormalCrossingLlcTests
{
    private const double T = 100, Gamma = 1;

    private static void AssertMatches(LlcResult result, double exact, string label)
    {
        double relative = (result.Mean / exact) - 1;
        double mcse = result.MonteCarloStandardError / exact;
        Assert.True(mcse <= 0.02, $"{label}: Monte Carlo SE {mcse:P1} of exact is too large for a 5% test (estimate {result.Mean:F4}, exact {exact:F4}).");
        Assert.True(Math.Abs(relative) <= 0.05, $"{label}: estimate {result.Mean:F4} vs exact {exact:F4} ({relative:P1}, MCSE {mcse:P1}).");
    }

    private static LlcOptions Options(SamplerKind kind, bool data, int[] powers)
    {
        bool quadratic = powers[0] == 0 && powers[1] == 1;
        ulong seed = (ulong)((powers[0] * 10) + powers[1] + (data ? 100 : 0));
        return kind == SamplerKind.Mala
            ? new LlcOptions
            {
                Sampler = kind, StepSize = data ? 5e-4 : 2e-3, Localization = Gamma, Chains = 8, Burnin = 5_000,
                Draws = 40_000, Thinning = quadratic ? 1 : 4, Seed = seed,
            }
            : new LlcOptions
            {
                Sampler = kind, StepSize = data ? 1.5e-5 : 1e-4, Localization = Gamma, Chains = 8, Burnin = data ? 200_000 : 50_000,
                Draws = 40_000, Thinning = quadratic ? 5 : data ? 250 : 100, Seed = seed, Threads = quadratic ? 1 : 2,
            };
    }

    private static void CheckPotential(SamplerKind kind, int[] powers)
    {
        var model = new NormalCrossingPotential<double>(powers);
        var result = LlcEstimator.Estimate(model, new double[2], Options(kind, false, powers) with { NBeta = T });
        AssertMatches(result, NormalCrossingExact.PotentialLlc(powers, T, Gamma), $"{kind} potential ({powers[0]},{powers[1]})");
    }

    private static void CheckData(SamplerKind kind, int[] powers, int drawsFactor = 1)
    {
        var model = NormalCrossingDataModel<double>.CreateReferenceData(powers, 1000, 42);
        var options = Options(kind, true, powers);
        var result = LlcEstimator.Estimate(model, new double[2], options with { Draws = options.Draws * drawsFactor });
        Assert.Equal(1000 / Math.Log(1000), result.NBeta, 12);
        double exact = NormalCrossingExact.DataModelLlc(powers, model.Sxx, model.Sxy, result.NBeta, Gamma);
        AssertMatches(result, exact, $"{kind} data ({powers[0]},{powers[1]})");
    }

    public static TheoryData<int[]> AllCases => new() { new[] { 0, 1 }, new[] { 1, 1 }, new[] { 0, 2 }, new[] { 1, 2 }, new[] { 2, 2 }, new[] { 0, 3 }, new[] { 1, 3 }, new[] { 2, 3 }, new[] { 3, 3 } };

    [Theory]
    [InlineData(new[] { 1, 1 })]
    [InlineData(new[] { 2, 3 })]
    public void MalaPotentialMatchesExact(int[] powers) => CheckPotential(SamplerKind.Mala, powers);

    [Fact]
    public void MalaDataModelMatchesExact() => CheckData(SamplerKind.Mala, [1, 2]);

    [Fact]
    public void SgldQuadraticCaseMatchesExact()
    {
        CheckPotential(SamplerKind.Sgld, [0, 1]);
        CheckData(SamplerKind.Sgld, [0, 1]);
    }

    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(AllCases))]
    public void MalaAllCasesMatchExact(int[] powers)
    {
        CheckPotential(SamplerKind.Mala, powers);
        // The data model's narrow arms ((1,3), (3,3)) mix slowly at the fixed step: 40k draws left the MCSE at 2.1% and
        // 2.6% of exact (estimates +1.3% and −3.1%), above the 2% this test demands; 3× the draws bring it to ≈ 1.5%.
        CheckData(SamplerKind.Mala, powers, drawsFactor: 3);
    }

    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(AllCases))]
    public void SgldAllCasesMatchExact(int[] powers)
    {
        CheckPotential(SamplerKind.Sgld, powers);
        CheckData(SamplerKind.Sgld, powers);
    }

    [Fact]
    public void ThreeParameterCasesMatchExact()
    {
        // K = w1²·w2²·w3² (λ = 1/2, m = 3) and w1²·w2⁴·w3⁰ with MALA: the oracle's convolution handles any number of
        // active coordinates.
        foreach (var powers in new[] { new[] { 1, 1, 1 }, new[] { 1, 2, 0 } })
        {
            var model = new NormalCrossingPotential<double>(powers);
            var options = new LlcOptions { Sampler = SamplerKind.Mala, StepSize = 2e-3, NBeta = T, Localization = Gamma, Chains = 8, Burnin = 5_000, Draws = 40_000, Thinning = 4, Seed = 77 };
            var result = LlcEstimator.Estimate(model, new double[3], options);
            AssertMatches(result, NormalCrossingExact.PotentialLlc(powers, T, Gamma), $"MALA potential ({string.Join(",", powers)})");
        }
    }
}
