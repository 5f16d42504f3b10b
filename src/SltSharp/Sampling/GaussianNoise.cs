using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;
using SltSharp.Engine.Random;

namespace SltSharp.Sampling;

/// <summary>Fast standard-normal fills for sampler noise: Box–Muller over whole spans with vectorised log/sqrt/sin/cos.</summary>
/// <remarks>
/// A Langevin step of a 10k-parameter model needs 10k normals; drawing them one at a time with the polar method costs
/// more than the model's gradient for small networks. Here the uniforms come from the chain's own <see cref="Rng"/>
/// (so streams stay per chain), and the transcendental work is done in bulk: for float by this class's own vector
/// log/sin/cos on 32-bit words (see <c>FillSingle</c>), for double by <see cref="TensorPrimitives"/> on 53-bit uniforms
/// (u₁ in (0, 1] so ln u₁ is finite; the largest |z| is about 8.6).
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
        if (typeof(T) == typeof(float))
        {
            FillSingle(rng, MemoryMarshal.Cast<T, float>(destination));
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

    /// <summary>
    /// The float path: Box–Muller on 32-bit halves of the chain's 64-bit draws, with its own vector log and sin/cos
    /// (polynomials on reduced arguments) instead of general-purpose transcendental functions.
    /// </summary>
    /// <remarks>
    /// <para>Why. A 5×50 DLN step needs 12.5k normals per chain; through <see cref="TensorPrimitives"/> (53-bit uniforms
    /// converted one at a time, general Log, Sin and Cos) they cost ≈ 100 µs, as much as the model's gradient. Float noise
    /// needs neither 53-bit uniforms nor a general argument range: the angle's quadrant can be taken from two bits and the
    /// rest of the angle lies in [−π/4, π/4), where short Taylor polynomials are exact to float rounding.</para>
    /// <para>Definition. Pairs come in blocks of 8: one block consumes 8 draws, viewed as 16 32-bit words a₀…a₁₅. Pair j
    /// takes the radius word a_j and the angle word a_{8+j}: u = (⌊a_j/2⌋ + ½)·2⁻³¹ ∈ (0, 1], r = √(−2 ln u); quadrant
    /// q = a_{8+j} mod 4 and x = (⌊a_{8+j}/2⁸⌋·2⁻²⁴ − ½)·π/2 ∈ [−π/4, π/4), angle φ = q·π/2 + x, uniform on the circle.
    /// The block writes r·cos φ for its 8 pairs, then r·sin φ. A partial last block is computed whole and truncated, so
    /// the values depend only on the stream and the length. The smallest u is 2⁻³², so |z| ≤ 6.66 (a true normal exceeds
    /// that with probability 3·10⁻¹¹ per draw).</para>
    /// <para>Accuracy. ln m on m ∈ [√½, √2) as 2·atanh(s), s = (m − 1)/(m + 1), to s⁹ (|s| ≤ 0.172: truncation
    /// below 2·10⁻⁹ relative); sin x to x⁹ and cos x to x¹⁰ (truncation below 2·10⁻⁹ on |x| ≤ π/4). So r and the angle
    /// are within a few float roundings of exact, far below what a sampler could notice. Only IEEE-exact operations
    /// (add, multiply, divide, sqrt, integer conversion, no fused multiply-add) are used, so results are bit-identical
    /// with or without hardware SIMD.</para>
    /// </remarks>
    private static void FillSingle(Rng rng, Span<float> destination)
    {
        const int pairsPerBlock = 8, block = 2 * pairsPerBlock;
        const int blocksPerChunk = 32;
        int blocks = (destination.Length + block - 1) / block;
        Span<ulong> draws = stackalloc ulong[pairsPerBlock * blocksPerChunk];
        Span<float> last = stackalloc float[block];
        for (int first = 0; first < blocks; first += blocksPerChunk)
        {
            int count = Math.Min(blocksPerChunk, blocks - first);
            var drawn = draws[..(pairsPerBlock * count)];
            rng.FillBits(drawn);
            var words = MemoryMarshal.Cast<ulong, uint>(drawn);
            for (int b = 0; b < count; b++)
            {
                var radiusWords = Vector256.Create<uint>(words.Slice(b * block, pairsPerBlock));
                var angleWords = Vector256.Create<uint>(words.Slice((b * block) + pairsPerBlock, pairsPerBlock));
                var (cos, sin) = NormalPairs(radiusWords, angleWords);
                int offset = (first + b) * block;
                if (offset + block <= destination.Length)
                {
                    cos.CopyTo(destination.Slice(offset, pairsPerBlock));
                    sin.CopyTo(destination.Slice(offset + pairsPerBlock, pairsPerBlock));
                }
                else
                {
                    cos.CopyTo(last);
                    sin.CopyTo(last[pairsPerBlock..]);
                    last[..(destination.Length - offset)].CopyTo(destination[offset..]);
                }
            }
        }
    }

    /// <summary>r·cos φ and r·sin φ for 8 pairs of 32-bit words (see <see cref="FillSingle"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<float> Cos, Vector256<float> Sin) NormalPairs(Vector256<uint> radiusWords, Vector256<uint> angleWords)
    {
        // u ∈ (0, 1]: 31 bits, as int so the conversion is exact-to-rounding on every instruction set.
        var u = (Vector256.ConvertToSingle(Vector256.ShiftRightLogical(radiusWords, 1).AsInt32()) + Vector256.Create(0.5f))
            * Vector256.Create(1f / 2147483648f);
        // u = 2^e·m with m ∈ [1, 2), then m ∈ [√½, √2) by moving a factor 2 into e.
        var bits = u.AsInt32();
        var exponent = Vector256.ShiftRightLogical(bits, 23) - Vector256.Create(127);
        var mantissa = ((bits & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F800000)).AsSingle();
        var high = Vector256.GreaterThan(mantissa, Vector256.Create(1.41421356f));
        mantissa = Vector256.ConditionalSelect(high, mantissa * Vector256.Create(0.5f), mantissa);
        exponent -= high.AsInt32(); // the mask is −1 where true
        var s = (mantissa - Vector256<float>.One) / (mantissa + Vector256<float>.One);
        var s2 = s * s;
        var series = Vector256.Create(1f / 9f);
        series = (series * s2) + Vector256.Create(1f / 7f);
        series = (series * s2) + Vector256.Create(1f / 5f);
        series = (series * s2) + Vector256.Create(1f / 3f);
        series = (series * s2) + Vector256<float>.One;
        var logU = (Vector256.ConvertToSingle(exponent) * Vector256.Create(0.693147181f)) + (Vector256.Create(2f) * s * series);
        var r = Vector256.Sqrt(Vector256.Create(-2f) * logU);

        // x ∈ [−π/4, π/4) from the top 24 bits of the angle word; q from its two low bits.
        var t = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(angleWords, 8).AsInt32()) * Vector256.Create(1f / 16777216f);
        var x = (t - Vector256.Create(0.5f)) * Vector256.Create(1.57079633f);
        var x2 = x * x;
        var sinP = Vector256.Create(1f / 362880f);
        sinP = (sinP * x2) - Vector256.Create(1f / 5040f);
        sinP = (sinP * x2) + Vector256.Create(1f / 120f);
        sinP = (sinP * x2) - Vector256.Create(1f / 6f);
        var sinX = x + (x * x2 * sinP);
        var cosP = Vector256.Create(-1f / 3628800f);
        cosP = (cosP * x2) + Vector256.Create(1f / 40320f);
        cosP = (cosP * x2) - Vector256.Create(1f / 720f);
        cosP = (cosP * x2) + Vector256.Create(1f / 24f);
        cosP = (cosP * x2) - Vector256.Create(0.5f);
        var cosX = Vector256<float>.One + (x2 * cosP);
        // Rotate by q quarter turns: q = 1 maps (c, s) to (−s, c), q = 2 to (−c, −s), q = 3 to (s, −c).
        var q = angleWords.AsInt32() & Vector256.Create(3);
        var swap = Vector256.Equals(q & Vector256<int>.One, Vector256<int>.One).AsSingle();
        var c = Vector256.ConditionalSelect(swap, sinX, cosX);
        var sn = Vector256.ConditionalSelect(swap, cosX, sinX);
        // cos is negated for q ∈ {1, 2} (bit 0 xor bit 1), sin for q ∈ {2, 3} (bit 1): move that bit to the sign.
        var cosSign = Vector256.ShiftLeft((q ^ Vector256.ShiftRightLogical(q, 1)) & Vector256<int>.One, 31).AsSingle();
        var sinSign = Vector256.ShiftLeft(Vector256.ShiftRightLogical(q, 1), 31).AsSingle();
        return (r * (c ^ cosSign), r * (sn ^ sinSign));
    }
}
