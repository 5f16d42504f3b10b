using SltSharp.Theory;

namespace SltSharp.Tests.Theory;

public class LearningCoefficientsTests
{
    // slt-reference §2b test vectors: widths; rank → λ, θ.
    [Theory]
    [InlineData(new[] { 1, 1, 1 }, 0, 0.5, 2)]
    [InlineData(new[] { 1, 1, 1, 1 }, 0, 0.5, 3)]
    [InlineData(new[] { 2, 2, 2 }, 0, 1.5, 1)]
    [InlineData(new[] { 5, 3, 5 }, 0, 6.5, 2)]
    [InlineData(new[] { 4, 3, 8 }, 0, 6.0, 1)]
    [InlineData(new[] { 3, 8, 4 }, 0, 6.0, 1)]
    [InlineData(new[] { 5, 5, 5, 5 }, 0, 8.5, 3)]
    [InlineData(new[] { 5, 5, 5, 5 }, 2, 11.0, 1)]
    [InlineData(new[] { 3, 4, 5, 6 }, 1, 7.0, 2)]
    [InlineData(new[] { 10, 5, 10 }, 2, 29.0, 2)]
    [InlineData(new[] { 10, 20, 30, 40, 50 }, 0, 100.0, 1)]
    [InlineData(new[] { 10, 20, 30, 40, 50 }, 5, 175.0, 1)]
    [InlineData(new[] { 100, 100, 100 }, 0, 3750.0, 1)]
    public void DeepLinearNetworkMatchesPublishedVectors(int[] widths, int rank, double lambda, int multiplicity)
    {
        var lc = LearningCoefficients.DeepLinearNetwork(widths, rank);
        Assert.Equal(lambda, lc.Lambda, 12);
        Assert.Equal(multiplicity, lc.Multiplicity);
        // The formula is symmetric under reversing input and output.
        var reversed = LearningCoefficients.DeepLinearNetwork(widths.Reverse().ToArray(), rank);
        Assert.Equal(lc, reversed);
    }

    [Theory]
    [InlineData(5, 3, 5, 0, 6.5, 2)]
    [InlineData(4, 3, 8, 0, 6.0, 1)]
    [InlineData(3, 8, 4, 0, 6.0, 1)]
    [InlineData(10, 5, 10, 2, 29.0, 2)]
    [InlineData(1, 1, 1, 0, 0.5, 2)]
    public void ReducedRankRegressionMatchesPublishedVectors(int m, int h, int n, int r, double lambda, int multiplicity)
    {
        var lc = LearningCoefficients.ReducedRankRegression(m, h, n, r);
        Assert.Equal(lambda, lc.Lambda, 12);
        Assert.Equal(multiplicity, lc.Multiplicity);
    }

    [Fact]
    public void DeepLinearNetworkAgreesWithReducedRankRegressionOnAllSmallThreeLayerCases()
    {
        int cases = 0;
        for (int m = 1; m <= 8; m++)
        {
            for (int h = 1; h <= 8; h++)
            {
                for (int n = 1; n <= 8; n++)
                {
                    for (int r = 0; r <= Math.Min(m, Math.Min(h, n)); r++)
                    {
                        var rrr = LearningCoefficients.ReducedRankRegression(m, h, n, r);
                        var dln = LearningCoefficients.DeepLinearNetwork([m, h, n], r);
                        Assert.True(Math.Abs(rrr.Lambda - dln.Lambda) < 1e-12, $"λ differs at M={m} H={h} N={n} r={r}: {rrr} vs {dln}");
                        Assert.True(rrr.Multiplicity == dln.Multiplicity, $"m differs at M={m} H={h} N={n} r={r}: {rrr} vs {dln}");
                        cases++;
                    }
                }
            }
        }
        Assert.Equal(1808, cases);
    }

    [Fact]
    public void FullRankRegularCaseIsHalfTheParameterCountOfTheQuotient()
    {
        // A full-rank teacher of a 2-layer net is regular up to the GL(H) symmetry: λ = (HM + HN − H²)/2.
        var lc = LearningCoefficients.DeepLinearNetwork([6, 3, 5], 3);
        Assert.Equal(((3 * 6) + (3 * 5) - 9) / 2.0, lc.Lambda, 12);
    }

    [Theory]
    [InlineData(new[] { 0, 1 }, 0.5, 1)]
    [InlineData(new[] { 1, 1 }, 0.5, 2)]
    [InlineData(new[] { 1, 2 }, 0.25, 1)]
    [InlineData(new[] { 3, 3 }, 1.0 / 6, 2)]
    [InlineData(new[] { 2, 2, 2 }, 0.25, 3)]
    public void NormalCrossingFlatPrior(int[] powers, double lambda, int multiplicity)
    {
        var lc = LearningCoefficients.NormalCrossing(powers);
        Assert.Equal(lambda, lc.Lambda, 12);
        Assert.Equal(multiplicity, lc.Multiplicity);
    }

    [Fact]
    public void NormalCrossingWithPriorPowers()
    {
        // K = w1²·w2⁴, prior |w1|^2: candidates 3/2 and 1/4.
        var lc = LearningCoefficients.NormalCrossing([1, 2], [2, 0]);
        Assert.Equal(0.25, lc.Lambda, 12);
        // K = w1²·w2², prior |w2|: candidates 1/2 and 1.
        Assert.Equal(new LearningCoefficient(0.5, 1), LearningCoefficients.NormalCrossing([1, 1], [0, 1]));
    }

    [Fact]
    public void BadInputIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningCoefficients.DeepLinearNetwork([3, 2, 4], 3));
        Assert.Throws<ArgumentException>(() => LearningCoefficients.DeepLinearNetwork([3], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningCoefficients.ReducedRankRegression(0, 2, 2, 0));
        Assert.Throws<ArgumentException>(() => LearningCoefficients.NormalCrossing([0, 0]));
    }

    /// <summary>
    /// Aoyagi's Theorem 1 taken literally: every subset Σ of layer indices (not only sorted prefixes) is tested against
    /// conditions (i)–(iii) and λ, θ are evaluated from its own definition in floating point. The theorem needs exactly
    /// one admissible Σ up to swapping tied M values (which leaves λ unchanged); this checks that, and that the prefix
    /// search of <see cref="LearningCoefficients.DeepLinearNetwork"/> agrees, on every DLN with 3–5 layers of widths
    /// 1–5 (and every rank), including the slow test's (5,5,5,5) r = 2.
    /// </summary>
    [Fact]
    public void DeepLinearNetworkPrefixSearchAgreesWithBruteForceOverAllSubsets()
    {
        int cases = 0;
        for (int layers = 3; layers <= 5; layers++)
        {
            int count = (int)Math.Pow(5, layers);
            for (int code = 0; code < count; code++)
            {
                var widths = new int[layers];
                for (int i = 0, c = code; i < layers; i++, c /= 5)
                {
                    widths[i] = 1 + (c % 5);
                }
                for (int r = 0; r <= widths.Min(); r++)
                {
                    var expected = LearningCoefficients.DeepLinearNetwork(widths, r);
                    var values = BruteForceAoyagi(widths, r);
                    Assert.True(values.Count >= 1, $"no admissible subset for ({string.Join(",", widths)}) r={r}");
                    foreach (var (lambda, theta) in values)
                    {
                        Assert.True(Math.Abs(lambda - expected.Lambda) < 1e-9 && theta == expected.Multiplicity,
                            $"({string.Join(",", widths)}) r={r}: subset gives λ={lambda}, θ={theta}; prefix search {expected}");
                    }
                    cases++;
                }
            }
        }
        Assert.True(cases > 3000, $"{cases} cases");
        Assert.Equal(new[] { (11.0, 1) }, BruteForceAoyagi([5, 5, 5, 5], 2).Distinct().ToArray());
    }

    private static List<(double Lambda, int Theta)> BruteForceAoyagi(int[] widths, int r)
    {
        var m = widths.Select(h => (double)(h - r)).ToArray();
        var found = new List<(double, int)>();
        for (int subset = 1; subset < (1 << m.Length); subset++)
        {
            var inside = Enumerable.Range(0, m.Length).Where(i => (subset & (1 << i)) != 0).Select(i => m[i]).ToArray();
            var outside = Enumerable.Range(0, m.Length).Where(i => (subset & (1 << i)) == 0).Select(i => m[i]).ToArray();
            int ell = inside.Length - 1;
            if (ell < 1)
            {
                continue;
            }
            double s = inside.Sum(), maxIn = inside.Max(), minOut = outside.Length > 0 ? outside.Min() : double.PositiveInfinity;
            if (!(maxIn < minOut) || !(s >= ell * maxIn) || !(s < ell * minOut))
            {
                continue;
            }
            double mBar = Math.Ceiling(s / ell), a = s - ((mBar - 1) * ell);
            double pairs = 0;
            for (int i = 0; i < inside.Length; i++)
            {
                for (int j = i + 1; j < inside.Length; j++)
                {
                    pairs += inside[i] * inside[j];
                }
            }
            double lambda = (((-r * r) + (r * (widths[0] + widths[^1]))) / 2.0) + (a * (ell - a) / (4.0 * ell))
                - (ell * (ell - 1) / 4.0 * (s / ell) * (s / ell)) + (0.5 * pairs);
            found.Add((lambda, (int)((a * (ell - a)) + 1)));
        }
        return found;
    }
}
