using SltSharp.Theory;

namespace SltSharp.Tests.Theory;

public class NormalCrossingExactTests
{
    private static readonly double[] Temperatures = [1e2, 1e3, 1e4, 1e6, 1e8];

    // slt-reference §1b: t·E_t[K], K = Π w^{2p}, γ = 1, printed to 3 digits.
    public static TheoryData<int[], double[]> Table => new()
    {
        { [0, 1], [0.498, 0.500, 0.500, 0.500, 0.500] },
        { [1, 1], [0.354, 0.390, 0.412, 0.438, 0.451] },
        { [0, 2], [0.242, 0.247, 0.249, 0.250, 0.250] },
        { [1, 2], [0.206, 0.225, 0.236, 0.246, 0.249] },
        { [2, 2], [0.147, 0.165, 0.179, 0.196, 0.207] },
        { [0, 3], [0.156, 0.161, 0.164, 0.166, 0.167] },
        { [1, 3], [0.139, 0.151, 0.158, 0.164, 0.166] },
        { [2, 3], [0.110, 0.123, 0.133, 0.146, 0.153] },
        { [3, 3], [0.087, 0.098, 0.106, 0.119, 0.127] },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void ReproducesPublishedTableToThreeDigits(int[] powers, double[] expected)
    {
        for (int i = 0; i < Temperatures.Length; i++)
        {
            double value = NormalCrossingExact.PotentialLlc(powers, Temperatures[i], 1.0);
            // Printed to 3 decimals: the exact value lies within half a unit of the last digit.
            Assert.True(Math.Abs(value - expected[i]) <= 0.0005 + 1e-12,
                $"powers ({string.Join(",", powers)}) t={Temperatures[i]}: {value:F5} vs table {expected[i]}");
        }
    }

    [Theory]
    [InlineData(1e2, 1.0)]
    [InlineData(1e5, 3.0)]
    [InlineData(7.0, 0.5)]
    public void OneQuadraticCoordinateMatchesClosedForm(double t, double gamma)
    {
        // K = w²: the posterior is N(0, 1/(2t + γ)), so t·E[w²] = t/(2t + γ).
        Assert.Equal(t / ((2 * t) + gamma), NormalCrossingExact.PotentialLlc([1], t, gamma), 12);
    }

    [Fact]
    public void OneQuarticCoordinateMatchesGammaFunctionForm()
    {
        // K = w⁴ with γ → 0 contribution negligible at huge t: t·E[w⁴] → 1/4 exactly (λ = 1/4, m = 1).
        // At finite t and γ = 1 compare with a brute-force trapezoid over w directly (independent method).
        double t = 50, gamma = 1;
        double z = 0, num = 0, h = 1e-4;
        for (int i = 0; i < 120_000; i++)
        {
            double w = i * h, k = Math.Pow(w, 4), e = Math.Exp(-(t * k) - (0.5 * gamma * w * w));
            double weight = i == 0 ? 0.5 : 1.0; // trapezoid end point at the symmetric centre
            z += weight * e;
            num += weight * t * k * e;
        }
        Assert.Equal(num / z, NormalCrossingExact.PotentialLlc([2], t, gamma), 7);
    }

    [Fact]
    public void DataModelTiltMatchesDirectTwoDimensionalQuadrature()
    {
        // An independent check of the sign handling and the linear term: brute-force tensor trapezoid in (w1, w2)
        // over a box, for f = w1·w2 (odd powers, both signs of f).
        double sxx = 4.0, sxy = 0.05, t = 20, gamma = 1;
        double z = 0, num = 0, h = 0.004;
        for (int i = -2250; i <= 2250; i++)
        {
            for (int j = -2250; j <= 2250; j++)
            {
                double w1 = i * h, w2 = j * h;
                double f = w1 * w2, energy = t * ((sxx * f * f) - (2 * sxy * f));
                double e = Math.Exp(-energy - (0.5 * gamma * ((w1 * w1) + (w2 * w2))));
                z += e;
                num += energy * e;
            }
        }
        Assert.Equal(num / z, NormalCrossingExact.DataModelLlc([1, 1], sxx, sxy, t, gamma), 5);
    }
}
