using System.Numerics;

namespace SltSharp.Engine.Linalg;

/// <summary>The OpenBLAS GEMM backend (row-major cblas_sgemm / cblas_dgemm); float and double only.</summary>
public static unsafe class OpenBlasGemm
{
    /// <summary>C = alpha·op(A)·op(B) + beta·C through OpenBLAS (same contract as <see cref="Gemm.Multiply{T}"/>).</summary>
    /// <exception cref="InvalidOperationException">OpenBLAS is not installed.</exception>
    /// <exception cref="NotSupportedException">T is neither float nor double.</exception>
    public static void Multiply<T>(
        bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmChecks.Validate(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        OpenBlas.EnsureAvailable();
        RequireSupported<T>();
        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            MultiplyUnchecked(transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    /// <summary>Batched form (a loop of cblas calls); same contract as <see cref="Gemm.MultiplyBatched{T}"/>.</summary>
    public static void MultiplyBatched<T>(
        int batch, bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, int strideA, ReadOnlySpan<T> b, int ldb, int strideB,
        T beta, Span<T> c, int ldc, int strideC)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmChecks.ValidateBatched(batch, transposeA, transposeB, m, n, k, a.Length, lda, strideA, b.Length, ldb, strideB, c.Length, ldc, strideC);
        OpenBlas.EnsureAvailable();
        RequireSupported<T>();
        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            for (int i = 0; i < batch; i++)
            {
                MultiplyUnchecked(
                    transposeA, transposeB, m, n, k, alpha, pa + ((nint)i * strideA), lda,
                    pb + ((nint)i * strideB), ldb, beta, pc + ((nint)i * strideC), ldc);
            }
        }
    }

    internal static bool Supports<T>() => typeof(T) == typeof(float) || typeof(T) == typeof(double);

    private static void RequireSupported<T>()
    {
        if (!Supports<T>())
        {
            throw new NotSupportedException(
                $"The OpenBLAS GEMM backend handles float and double, not {typeof(T).Name}; use ManagedGemm for other element types.");
        }
    }

    /// <summary>Arguments validated, OpenBLAS loaded, T is float or double.</summary>
    internal static void MultiplyUnchecked<T>(
        bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0)
        {
            return;
        }
        if (k == 0 || T.IsZero(alpha))
        {
            // cblas rejects lda < 1 for k = 0 (and prints to stderr); both cases are only a scaling of C, done the
            // same way as in the managed backend so that A and B are never read.
            ManagedGemm.MultiplyUnchecked(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        int ta = transposeA ? OpenBlas.NativeMethods.CblasTrans : OpenBlas.NativeMethods.CblasNoTrans;
        int tb = transposeB ? OpenBlas.NativeMethods.CblasTrans : OpenBlas.NativeMethods.CblasNoTrans;
        if (typeof(T) == typeof(float))
        {
            OpenBlas.NativeMethods.Sgemm(
                OpenBlas.NativeMethods.CblasRowMajor, ta, tb, m, n, k,
                float.CreateTruncating(alpha), (float*)a, lda, (float*)b, ldb, float.CreateTruncating(beta), (float*)c, ldc);
        }
        else
        {
            OpenBlas.NativeMethods.Dgemm(
                OpenBlas.NativeMethods.CblasRowMajor, ta, tb, m, n, k,
                double.CreateTruncating(alpha), (double*)a, lda, (double*)b, ldb, double.CreateTruncating(beta), (double*)c, ldc);
        }
    }
}
