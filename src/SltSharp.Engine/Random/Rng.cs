using System.Numerics;
using System.Runtime.CompilerServices;

namespace SltSharp.Engine.Random;

/// <summary>
/// A deterministic pseudo-random generator (xoshiro256**) with explicit seeds and independent streams.
/// </summary>
/// <remarks>
/// Every random draw in SltSharp flows from an explicit <c>(seed, stream)</c> pair: the same pair gives the same
/// sequence on every machine and thread count. Streams are derived by hashing the pair through SplitMix64, which
/// gives statistically independent sequences for distinct streams (one per chain, one per data loader, ...).
/// The generator is a mutable class on purpose: it is owned by exactly one chain or loop and never shared across threads.
/// </remarks>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareGaussian;
    private bool _hasSpare;

    /// <summary>Creates the generator for stream <paramref name="stream"/> of seed <paramref name="seed"/>.</summary>
    public Rng(ulong seed, ulong stream = 0)
    {
        Seed = seed;
        Stream = stream;
        // Mix seed and stream so that (seed, stream) and (seed', stream') never share a SplitMix64 start.
        ulong x = SplitMix(seed ^ 0x9E3779B97F4A7C15UL) ^ SplitMix(stream + 0xD1B54A32D192ED03UL);
        _s0 = SplitMixNext(ref x);
        _s1 = SplitMixNext(ref x);
        _s2 = SplitMixNext(ref x);
        _s3 = SplitMixNext(ref x);
        if ((_s0 | _s1 | _s2 | _s3) == 0)
        {
            _s0 = 1; // xoshiro's only forbidden state
        }
    }

    /// <summary>The seed this generator was created from.</summary>
    public ulong Seed { get; }

    /// <summary>The stream index this generator was created for.</summary>
    public ulong Stream { get; }

    /// <summary>An independent generator for sub-stream <paramref name="index"/> of this generator's (seed, stream).</summary>
    public Rng Split(ulong index) => new(SplitMix(Seed + 0x632BE59BD9B4E019UL * (Stream + 1)), index);

    /// <summary>The next 64 uniformly random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform double in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public double NextUniform(double low, double high) => low + ((high - low) * NextDouble());

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        // Lemire's multiply-shift with rejection.
        ulong bound = (ulong)maxExclusive;
        ulong threshold = (0UL - bound) % bound;
        while (true)
        {
            ulong r = NextUInt64();
            UInt128 m = (UInt128)r * bound;
            if ((ulong)m >= threshold)
            {
                return (int)(ulong)(m >> 64);
            }
        }
    }

    /// <summary>A standard normal draw (Marsaglia's polar method; the second value of each pair is kept).</summary>
    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareGaussian;
        }
        double u, v, s;
        do
        {
            u = (2.0 * NextDouble()) - 1.0;
            v = (2.0 * NextDouble()) - 1.0;
            s = (u * u) + (v * v);
        }
        while (s >= 1.0 || s == 0.0);
        double f = Math.Sqrt(-2.0 * Math.Log(s) / s);
        _spareGaussian = v * f;
        _hasSpare = true;
        return u * f;
    }

    /// <summary>Fills <paramref name="destination"/> with independent N(0, <paramref name="std"/>²) draws.</summary>
    public void FillGaussian<T>(Span<T> destination, T std)
        where T : IFloatingPointIeee754<T>
    {
        double s = double.CreateTruncating(std);
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = T.CreateTruncating(s * NextGaussian());
        }
    }

    /// <summary>Fills <paramref name="destination"/> with independent uniform draws from [low, high).</summary>
    public void FillUniform<T>(Span<T> destination, T low, T high)
        where T : IFloatingPointIeee754<T>
    {
        double lo = double.CreateTruncating(low), width = double.CreateTruncating(high) - lo;
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = T.CreateTruncating(lo + (width * NextDouble()));
        }
    }

    /// <summary>Fills <paramref name="destination"/> with indices drawn uniformly with replacement from [0, n).</summary>
    /// <remarks>
    /// The same draws as <see cref="NextInt"/> called once per index, in a loop that keeps the state in registers and
    /// computes the rejection threshold once: minibatch indices are drawn every sampler step, and the per-call modulo
    /// and field traffic made them cost as much as a small model's gradient.
    /// </remarks>
    public void FillIndices(Span<int> destination, int n)
    {
        if (destination.IsEmpty)
        {
            return;
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ulong bound = (ulong)n;
        ulong threshold = (0UL - bound) % bound;
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        for (int i = 0; i < destination.Length; i++)
        {
            while (true)
            {
                ulong r = BitOperations.RotateLeft(s1 * 5, 7) * 9;
                ulong t = s1 << 17;
                s2 ^= s0;
                s3 ^= s1;
                s1 ^= s2;
                s0 ^= s3;
                s2 ^= t;
                s3 = BitOperations.RotateLeft(s3, 45);
                ulong high = Math.BigMul(r, bound, out ulong low);
                if (low >= threshold)
                {
                    destination[i] = (int)high;
                    break;
                }
            }
        }
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with the next 64-bit outputs, exactly as that many <see cref="NextUInt64"/>
    /// calls would, with the state kept in registers (for bulk consumers such as sampler noise).
    /// </summary>
    public void FillBits(Span<ulong> destination)
    {
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = BitOperations.RotateLeft(s1 * 5, 7) * 9;
            ulong t = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t;
            s3 = BitOperations.RotateLeft(s3, 45);
        }
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher–Yates).</summary>
    public void Shuffle<T>(Span<T> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private static ulong SplitMix(ulong x)
    {
        ulong z = x + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong SplitMixNext(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        ulong z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
