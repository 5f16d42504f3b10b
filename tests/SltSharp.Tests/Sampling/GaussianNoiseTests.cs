using SltSharp.Engine.Random;
using SltSharp.Sampling;
using Xunit;

namespace SltSharp.Tests.Sampling;

public class GaussianNoiseTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(18)]
    [InlineData(1001)] // more than one chunk of uniforms, odd length
    public void FillIsBoxMullerOnTheChainsUniformsInOrder(int length)
    {
        // The definition, one draw at a time: pair i uses u₁ = 1 − U, then θ = 2π·U' from the next draw; z_i = r·sin θ and
        // z_{half+i} = r·cos θ. The bulk path must give the same values (up to the last bits of the vectorised log/sin/cos:
        // tolerance 1e-13 absolute), and leave the stream where one-at-a-time draws would.
        var bulk = new Rng(12, 3);
        var single = new Rng(12, 3);
        var z = new double[length];
        GaussianNoise.Fill(bulk, z.AsSpan(), new double[GaussianNoise.ScratchLength(length)]);
        int half = (length + 1) / 2;
        for (int i = 0; i < half; i++)
        {
            double r = Math.Sqrt(-2 * Math.Log(1.0 - single.NextDouble()));
            double theta = Math.PI * (2.0 * single.NextDouble());
            Assert.Equal(r * Math.Sin(theta), z[i], 1e-13);
            if (half + i < length)
            {
                Assert.Equal(r * Math.Cos(theta), z[half + i], 1e-13);
            }
        }
        Assert.Equal(single.NextUInt64(), bulk.NextUInt64());
    }

    [Fact]
    public void FloatNoiseHasStandardNormalMoments()
    {
        const int n = 200_000;
        var z = new float[n];
        GaussianNoise.Fill(new Rng(5), z.AsSpan(), new float[GaussianNoise.ScratchLength(n)]);
        double mean = z.Average(v => (double)v);
        double variance = z.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        double fourth = z.Average(v => Math.Pow(v - mean, 4));
        // Standard errors at n = 2e5: mean 1/√n = 0.0022, variance √(2/n) = 0.0032, fourth moment √(96/n) ≈ 0.022;
        // tolerances are 5 standard errors.
        Assert.InRange(mean, -0.011, 0.011);
        Assert.InRange(variance, 1 - 0.016, 1 + 0.016);
        Assert.InRange(fourth, 3 - 0.11, 3 + 0.11);
    }
}
