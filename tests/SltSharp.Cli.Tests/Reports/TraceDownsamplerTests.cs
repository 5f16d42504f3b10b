using SltSharp.Cli.Reports;
using SltSharp.Engine.Random;

namespace SltSharp.Cli.Tests.Reports;

public sealed class TraceDownsamplerTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(10, 600)]
    [InlineData(601, 600)]
    [InlineData(1000, 7)]
    [InlineData(100_000, 600)]
    [InlineData(12_345, 1000)]
    public void The_envelope_contains_every_point_and_stays_within_the_bucket_bound(int n, int maxBuckets)
    {
        var rng = new Rng((ulong)n, (ulong)maxBuckets);
        var values = new double[n];
        for (var i = 0; i < n; i++)
        {
            // Heavy-tailed noise plus rare spikes: the kind of trace whose extremes a naive stride would drop.
            values[i] = Math.Sin(i * 0.01) + (rng.NextGaussian() * (rng.NextDouble() < 0.001 ? 100 : 1));
        }

        var buckets = TraceDownsampler.Envelope(values, maxBuckets);
        Assert.True(buckets.Length <= maxBuckets);
        Assert.Equal(Math.Min(n, maxBuckets), buckets.Length);
        Assert.Equal(0, buckets[0].Start);
        Assert.Equal(n - 1, buckets[^1].End);
        for (var b = 0; b < buckets.Length; b++)
        {
            if (b > 0)
            {
                Assert.Equal(buckets[b - 1].End + 1, buckets[b].Start);
            }

            for (var i = buckets[b].Start; i <= buckets[b].End; i++)
            {
                Assert.InRange(values[i], buckets[b].Min, buckets[b].Max);
            }

            // min and max are attained, not just bounds: the envelope is tight.
            var slice = values[buckets[b].Start..(buckets[b].End + 1)];
            Assert.Equal(slice.Min(), buckets[b].Min);
            Assert.Equal(slice.Max(), buckets[b].Max);
            Assert.Equal(slice.Average(), buckets[b].Mean, 12);
        }

        Assert.Equal(values.Max(), buckets.Max(b => b.Max));
        Assert.Equal(values.Min(), buckets.Min(b => b.Min));
    }

    [Fact]
    public void Short_series_are_kept_point_for_point_and_non_finite_values_are_skipped()
    {
        var buckets = TraceDownsampler.Envelope([3.0, double.NaN, 1.0], 10);
        Assert.Equal(3, buckets.Length);
        Assert.Equal(3.0, buckets[0].Mean);
        Assert.True(double.IsNaN(buckets[1].Min));
        Assert.Equal(1.0, buckets[2].Max);

        var merged = TraceDownsampler.Envelope([2.0, double.PositiveInfinity, -1.0, double.NaN], 1);
        Assert.Equal(-1.0, merged[0].Min);
        Assert.Equal(2.0, merged[0].Max);
        Assert.Equal(0.5, merged[0].Mean);
        Assert.Throws<ArgumentOutOfRangeException>(() => TraceDownsampler.Envelope([1.0], 0));
    }

    [Fact]
    public void Running_lambda_hat_ends_at_the_chain_estimate()
    {
        double[] loss = [5, 5, 0.11, 0.13, 0.12, 0.16];
        var running = TraceDownsampler.RunningLambdaHat(loss, burnin: 2, nBeta: 50, initialLoss: 0.1);
        Assert.Equal(4, running.Length);
        Assert.Equal(50 * (0.11 - 0.1), running[0], 12);
        Assert.Equal(50 * (((0.11 + 0.13) / 2) - 0.1), running[1], 12);
        Assert.Equal(50 * ((0.52 / 4) - 0.1), running[3], 12);
        Assert.Empty(TraceDownsampler.RunningLambdaHat(loss, burnin: 6, nBeta: 50, initialLoss: 0.1));
    }
}
