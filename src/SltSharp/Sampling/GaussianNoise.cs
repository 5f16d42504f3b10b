using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Random;

namespace SltSharp.Sampling;

/// <summary>Fast standard-normal fills for sampler noise: Box–Muller over whole spans with vectorised log/sqrt/sin/cos.</summary>
/// <remarks>
/// A Langevin step of a 10k-parameter model needs 10k normals; drawing them one at a time with the polar method costs
/// more than the model's gradient for small networks. Here the uniforms come from the chain's own <see cref="Rng"/>
/// (so streams stay per chain), and the transcendental work is done by <see cref="TensorPrimitives"/> in bulk.
/// u₁ is taken in (0, 1] so ln u₁ is finite; with 53-bit uniforms the largest |z| is about 8.6.
/// The result depends only on the Rng state and the length, never on other chains.
/// </remarks>
public static class GaussianNoise
{
    /// <summary>The scratch length <see cref="Fill{T}"/> needs for a destination of length <paramref name="length"/>.</summary>
    public static int ScratchLength(int length) => 2 * ((length + 1) / 2);

    /// <summary>Fills <paramref name="destination"/> with independent N(0, 1) draws from <paramref name="rng"/>.</summary>
    public static void Fill<T>(Rng rng, Span<T> destination, Span<T> scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(rng);
        int length = destination.Length;
        if (length == 0)
        {
            return;
        }
        int half = (length + 1) / 2;
        if (scratch.Length < 2 * half)
        {
            throw new ArgumentException($"scratch needs length ≥ {2 * half}, got {scratch.Length}.", nameof(scratch));
        }
        var radius = destination[..half];
        var angle = scratch[..half];
        var cosine = scratch.Slice(half, half);
        // The uniforms in bulk (exactly the values of NextDouble() in the order radius, angle, radius, ..., so the noise is
        // unchanged): one FillBits call per chunk keeps the generator's state in registers instead of four field loads and
        // stores per draw.
        const int chunk = 256;
        const double unit = 1.0 / (1UL << 53);
        Span<ulong> bits = stackalloc ulong[2 * Math.Min(chunk, half)];
        for (int first = 0; first < half; first += chunk)
        {
            int count = Math.Min(chunk, half - first);
            var drawn = bits[..(2 * count)];
            rng.FillBits(drawn);
            for (int i = 0; i < count; i++)
            {
                // 53-bit values convert exactly through long, a single instruction (ulong → double is not, without AVX-512).
                radius[first + i] = T.CreateTruncating(1.0 - ((long)(drawn[2 * i] >> 11) * unit));      // (0, 1]
                angle[first + i] = T.CreateTruncating(2.0 * ((long)(drawn[(2 * i) + 1] >> 11) * unit)); // [0, 2): the angle in units of π
            }
        }
        TensorPrimitives.Log(radius, radius);
        TensorPrimitives.Multiply(radius, T.CreateTruncating(-2.0), radius);
        TensorPrimitives.Sqrt(radius, radius);
        // Cos and Sin of the angle in radians rather than SinCosPi: TensorPrimitives vectorises Sin and Cos but computes
        // SinCos/SinCosPi one element at a time, which made the noise the most expensive part of an SGLD step (measured
        // with `sgld-table --profile`). Cos first, so that Sin can overwrite the angle in place.
        TensorPrimitives.Multiply(angle, T.Pi, angle);
        TensorPrimitives.Cos(angle, cosine);
        TensorPrimitives.Sin(angle, angle);
        int rest = length - half;
        TensorPrimitives.Multiply(radius[..rest], cosine[..rest], destination.Slice(half, rest));
        TensorPrimitives.Multiply(radius, angle, radius);
    }
}
