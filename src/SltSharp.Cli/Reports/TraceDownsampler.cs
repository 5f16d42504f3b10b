namespace SltSharp.Cli.Reports;

/// <summary>One display bucket of a long series: the index range it covers and the envelope of its values.</summary>
/// <param name="Start">First index in the bucket.</param>
/// <param name="End">Last index in the bucket (inclusive).</param>
/// <param name="Min">Smallest value in the bucket (NaN when the bucket holds no number).</param>
/// <param name="Max">Largest value in the bucket (NaN when the bucket holds no number).</param>
/// <param name="Mean">Mean of the bucket's numbers (NaN when it holds none).</param>
public readonly record struct EnvelopeBucket(int Start, int End, double Min, double Max, double Mean)
{
    /// <summary>Where to draw the bucket on the index axis: the middle of its range.</summary>
    public double Center => 0.5 * (Start + End);
}

/// <summary>
/// Shrinks a long trace for display while keeping its extremes: the series is cut into at most
/// <c>maxBuckets</c> contiguous buckets and each keeps its min, max and mean, so a spike or a divergence stays
/// visible however long the chain. The full data stays in the store; only the report is downsampled.
/// </summary>
public static class TraceDownsampler
{
    /// <summary>Buckets of <paramref name="values"/>; with <c>values.Length &lt;= maxBuckets</c> every point is its own bucket.</summary>
    /// <param name="values">The series (NaN and infinities are ignored for min/max/mean).</param>
    /// <param name="maxBuckets">Upper bound on the number of buckets (at least 1).</param>
    public static EnvelopeBucket[] Envelope(ReadOnlySpan<double> values, int maxBuckets)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBuckets, 1);
        var n = values.Length;
        var buckets = Math.Min(n, maxBuckets);
        var result = new EnvelopeBucket[buckets];
        for (var b = 0; b < buckets; b++)
        {
            // Bucket b covers [floor(b·n/B), floor((b+1)·n/B)): sizes differ by at most one, every index is covered once.
            var start = (int)((long)b * n / buckets);
            var end = (int)((long)(b + 1) * n / buckets) - 1;
            double min = double.PositiveInfinity, max = double.NegativeInfinity, sum = 0;
            var count = 0;
            for (var i = start; i <= end; i++)
            {
                var v = values[i];
                if (!double.IsFinite(v))
                {
                    continue;
                }

                min = Math.Min(min, v);
                max = Math.Max(max, v);
                sum += v;
                count++;
            }

            result[b] = count == 0
                ? new EnvelopeBucket(start, end, double.NaN, double.NaN, double.NaN)
                : new EnvelopeBucket(start, end, min, max, sum / count);
        }

        return result;
    }

    /// <summary>
    /// The running LLC of a chain: λ̂_t = nβ·(mean of the losses from <paramref name="burnin"/> to t − L_n(w*)), for
    /// t from burn-in on; entry k is the value at draw <c>burnin + k</c>.
    /// </summary>
    /// <param name="loss">Per-draw losses.</param>
    /// <param name="burnin">Discarded leading draws.</param>
    /// <param name="nBeta">nβ.</param>
    /// <param name="initialLoss">L_n(w*).</param>
    public static double[] RunningLambdaHat(ReadOnlySpan<double> loss, int burnin, double nBeta, double initialLoss)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(burnin);
        if (burnin >= loss.Length)
        {
            return [];
        }

        var result = new double[loss.Length - burnin];
        var sum = 0.0;
        for (var t = burnin; t < loss.Length; t++)
        {
            sum += loss[t];
            result[t - burnin] = nBeta * ((sum / (t - burnin + 1)) - initialLoss);
        }

        return result;
    }
}
