using SltSharp.Engine.Ops;
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

    [Theory]
    [InlineData(1)]
    [InlineData(18)]
    [InlineData(16 * 32 * 2 + 5)] // more than one chunk of draws, partial last block
    public void FloatFillIsBoxMullerOnTheDocumentedWords(int length)
    {
        // The float path's definition in double precision with Math.Log/Cos/Sin: block b uses 8 draws as 16 32-bit words;
        // pair j's radius from word j, its angle from word 8 + j; cos values first, then sin values. The vector
        // polynomials must agree to float accuracy: |z| ≤ 6.7 and a float ulp at 4 is 4.8e-7, so 2e-6 absolute allows a
        // few roundings in ln, √ and the rotation while still catching a wrong coefficient (a dropped x⁹ term alone
        // costs 3e-6 at |x| = π/4; a wrong quadrant or word costs O(1)).
        var rng = new Rng(21, 4);
        var reference = new Rng(21, 4);
        var z = new float[length];
        GaussianNoise.Fill(rng, z.AsSpan(), new float[GaussianNoise.ScratchLength(length)]);
        int blocks = (length + 15) / 16;
        for (int b = 0; b < blocks; b++)
        {
            var words = new uint[16];
            for (int k = 0; k < 8; k++)
            {
                ulong draw = reference.NextUInt64();
                words[2 * k] = (uint)draw;
                words[(2 * k) + 1] = (uint)(draw >> 32);
            }
            for (int j = 0; j < 8; j++)
            {
                double u = ((words[j] >> 1) + 0.5) / 2147483648.0;
                double r = Math.Sqrt(-2 * Math.Log(u));
                double x = (((words[8 + j] >> 8) / 16777216.0) - 0.5) * (Math.PI / 2);
                double phi = ((words[8 + j] & 3) * (Math.PI / 2)) + x;
                int cosAt = (16 * b) + j, sinAt = cosAt + 8;
                if (cosAt < length)
                {
                    Assert.Equal(r * Math.Cos(phi), z[cosAt], 2e-6);
                }
                if (sinAt < length)
                {
                    Assert.Equal(r * Math.Sin(phi), z[sinAt], 2e-6);
                }
            }
        }
        // The stream advanced by exactly 8 draws per block, however much of the last block was used.
        Assert.Equal(reference.NextUInt64(), rng.NextUInt64());
    }

    [Fact]
    public void FloatNoisePassesKolmogorovSmirnovAndTailCounts()
    {
        // 2e5 draws in chunks of 12 500 (a DLN 5×50 step), so block boundaries and chunk restarts are exercised.
        const int n = 200_000, chunk = 12_500;
        var z = new float[n];
        var rng = new Rng(8);
        var scratch = new float[GaussianNoise.ScratchLength(chunk)];
        for (int start = 0; start < n; start += chunk)
        {
            GaussianNoise.Fill(rng, z.AsSpan(start, chunk), scratch);
        }
        var sorted = z.Select(v => (double)v).Order().ToArray();
        double d = 0;
        for (int i = 0; i < n; i++)
        {
            double f = SpecialFunctions.NormalCdf(sorted[i]);
            d = Math.Max(d, Math.Max(((i + 1.0) / n) - f, f - ((double)i / n)));
        }
        // KS: P(√n·D > 1.95) ≈ 0.001 under the null; √n·D must stay below that. A radius or angle bias of 1% (e.g. the
        // angle spanning 0.99 of the circle) gives √n·D ≈ 2–4 at this n, so the test has power against plausible bugs.
        Assert.True(Math.Sqrt(n) * d < 1.95, $"KS statistic √n·D = {Math.Sqrt(n) * d:F3}");
        // Tails: expected counts beyond 3 and 4 are n·P(|Z| > t) = 540 and 12.7; Poisson SE √540 = 23 and √12.7 = 3.6.
        // Bounds at ±5 SE for t = 3, and [1, 33] for t = 4 (P < 1e-5 each side), so a truncated or light tail fails.
        int beyond3 = z.Count(v => Math.Abs(v) > 3), beyond4 = z.Count(v => Math.Abs(v) > 4);
        Assert.InRange(beyond3, 540 - 115, 540 + 115);
        Assert.InRange(beyond4, 1, 33);
        // Odd and even halves of a block (cos and sin of the same pair) must be uncorrelated: SE of the correlation
        // at n/2 pairs is √(2/n) = 0.0032; bound 5 SE.
        double cross = 0;
        int pairs = 0;
        for (int b = 0; b + 16 <= n; b += 16)
        {
            for (int j = 0; j < 8; j++)
            {
                cross += z[b + j] * z[b + j + 8];
                pairs++;
            }
        }
        Assert.InRange(cross / pairs, -5 * Math.Sqrt(1.0 / pairs), 5 * Math.Sqrt(1.0 / pairs));
    }

    [Fact]
    public void FloatNoiseIsReproducibleAndChunkIndependentOfOtherChains()
    {
        var a = new float[1000];
        var b = new float[1000];
        GaussianNoise.Fill(new Rng(3, 1), a.AsSpan(), new float[1000]);
        var other = new Rng(3, 2);
        GaussianNoise.Fill(other, new float[77], new float[78]); // another chain's draws in between change nothing
        GaussianNoise.Fill(new Rng(3, 1), b.AsSpan(), new float[1000]);
        Assert.Equal(a, b);
        Assert.Contains(a, v => v != 0);
    }
}
