using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SltSharp.Engine.Linalg;

/// <summary>
/// Packing of a transposed B (stored n×k) into [p][col] panels. Copying element by element costs about a cycle per
/// element, which is a quarter of the work of a 64-row product; with AVX the copy goes through 8×8 (float) or 4×4
/// (double) register transposes instead.
/// </summary>
internal static unsafe class GemmTranspose
{
    /// <summary>
    /// dst[p·width + jj] = src[jj·ldb + p] for jj &lt; cols, p &lt; kc; columns cols..width of dst are zeroed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackPanel<T>(T* src, nint ldb, int cols, int kc, T* dst, int width)
        where T : unmanaged
    {
        int jjVector = 0;
        if (Avx.IsSupported && typeof(T) == typeof(float))
        {
            jjVector = cols / 8 * 8;
            int pVector = kc / 8 * 8;
            for (int jj = 0; jj < jjVector; jj += 8)
            {
                float* s = (float*)src + (jj * ldb);
                float* d = (float*)dst + jj;
                for (int p = 0; p < pVector; p += 8)
                {
                    Transpose8x8(s + p, ldb, d + ((nint)p * width), width);
                }
                Scalar(src + (jj * ldb), ldb, 8, pVector, kc, dst + jj, width);
            }
        }
        else if (Avx.IsSupported && typeof(T) == typeof(double))
        {
            jjVector = cols / 4 * 4;
            int pVector = kc / 4 * 4;
            for (int jj = 0; jj < jjVector; jj += 4)
            {
                double* s = (double*)src + (jj * ldb);
                double* d = (double*)dst + jj;
                for (int p = 0; p < pVector; p += 4)
                {
                    Transpose4x4(s + p, ldb, d + ((nint)p * width), width);
                }
                Scalar(src + (jj * ldb), ldb, 4, pVector, kc, dst + jj, width);
            }
        }
        Scalar(src + (jjVector * ldb), ldb, cols - jjVector, 0, kc, dst + jjVector, width);
        for (int p = 0; cols < width && p < kc; p++)
        {
            new Span<T>(dst + ((nint)p * width) + cols, width - cols).Clear();
        }
    }

    private static void Scalar<T>(T* src, nint ldb, int cols, int pStart, int pEnd, T* dst, int width)
        where T : unmanaged
    {
        for (int jj = 0; jj < cols; jj++)
        {
            T* s = src + (jj * ldb);
            T* d = dst + jj;
            for (int p = pStart; p < pEnd; p++)
            {
                d[(nint)p * width] = s[p];
            }
        }
    }

    /// <summary>Columns q of the 8×8 block at s (row stride ldb) become rows q at d (row stride width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* s, nint ldb, float* d, int width)
    {
        Vector256<float> r0 = Avx.LoadVector256(s), r1 = Avx.LoadVector256(s + ldb);
        Vector256<float> r2 = Avx.LoadVector256(s + (2 * ldb)), r3 = Avx.LoadVector256(s + (3 * ldb));
        Vector256<float> r4 = Avx.LoadVector256(s + (4 * ldb)), r5 = Avx.LoadVector256(s + (5 * ldb));
        Vector256<float> r6 = Avx.LoadVector256(s + (6 * ldb)), r7 = Avx.LoadVector256(s + (7 * ldb));
        // Interleave pairs of rows, then pairs of pairs within each 128-bit lane, then swap lanes.
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
        nint w = width;
        Avx.Store(d, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(d + w, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(d + (2 * w), Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(d + (3 * w), Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(d + (4 * w), Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(d + (5 * w), Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(d + (6 * w), Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(d + (7 * w), Avx.Permute2x128(s3, s7, 0x31));
    }

    /// <summary>Columns q of the 4×4 block at s become rows q at d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(double* s, nint ldb, double* d, int width)
    {
        Vector256<double> r0 = Avx.LoadVector256(s), r1 = Avx.LoadVector256(s + ldb);
        Vector256<double> r2 = Avx.LoadVector256(s + (2 * ldb)), r3 = Avx.LoadVector256(s + (3 * ldb));
        Vector256<double> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<double> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        nint w = width;
        Avx.Store(d, Avx.Permute2x128(t0, t2, 0x20));
        Avx.Store(d + w, Avx.Permute2x128(t1, t3, 0x20));
        Avx.Store(d + (2 * w), Avx.Permute2x128(t0, t2, 0x31));
        Avx.Store(d + (3 * w), Avx.Permute2x128(t1, t3, 0x31));
    }
}
