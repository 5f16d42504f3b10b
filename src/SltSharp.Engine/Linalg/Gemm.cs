using System.Numerics;

namespace SltSharp.Engine.Linalg;

/// <summary>
/// General matrix multiply on row-major storage: C = alpha·op(A)·op(B) + beta·C.
/// </summary>
/// <remarks>
/// op(A) is m×k, op(B) is k×n, C is m×n. <c>lda</c>, <c>ldb</c>, <c>ldc</c> are the row strides of the
/// matrices as stored (before the optional transpose). When <c>beta</c> is zero, C is overwritten without being read
/// (so NaN in an uninitialised C does not leak through). This is the one entry point every model uses; the backend
/// (OpenBLAS or the managed kernel) is chosen behind it.
/// </remarks>
public static class Gemm
{
    /// <summary>C = alpha·op(A)·op(B) + beta·C for one matrix triple.</summary>
    public static void Multiply<T>(
        bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Placeholder reference kernel; replaced by the backend dispatch (OpenBLAS / managed SIMD).
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                {
                    T av = transposeA ? a[(p * lda) + i] : a[(i * lda) + p];
                    T bv = transposeB ? b[(j * ldb) + p] : b[(p * ldb) + j];
                    sum += av * bv;
                }
                ref T cij = ref c[(i * ldc) + j];
                cij = beta == T.Zero ? alpha * sum : (alpha * sum) + (beta * cij);
            }
        }
    }

    /// <summary>
    /// A batch of independent multiplies: for each b in [0, batch), C_b = alpha·op(A_b)·op(B_b) + beta·C_b, where the
    /// b-th matrices start at b·stride in their spans. A stride of 0 broadcasts one matrix over the batch.
    /// </summary>
    public static void MultiplyBatched<T>(
        int batch, bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, int strideA, ReadOnlySpan<T> b, int ldb, int strideB,
        T beta, Span<T> c, int ldc, int strideC)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < batch; i++)
        {
            Multiply(transposeA, transposeB, m, n, k, alpha, a[(i * strideA)..], lda, b[(i * strideB)..], ldb, beta, c[(i * strideC)..], ldc);
        }
    }
}
