using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace SltSharp.Engine.Linalg;

/// <summary>Argument validation shared by every GEMM backend; the kernels use raw pointers, so this is the guard.</summary>
internal static class GemmChecks
{
    /// <summary>Elements a row-major rows×cols matrix with row stride ld spans (0 when empty).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Extent(int rows, int cols, int ld) =>
        rows == 0 || cols == 0 ? 0 : ((long)(rows - 1) * ld) + cols;

    /// <summary>
    /// Throws when the shape, a leading dimension or a span length is inconsistent. The common valid case is decided
    /// by a few inlined comparisons; the descriptive checks run only to word the exception.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Validate(
        bool transposeA, bool transposeB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        int colsA = transposeA ? m : k, rowsA = transposeA ? k : m;
        int colsB = transposeB ? k : n, rowsB = transposeB ? n : k;
        bool ok = (m | n | k) >= 0 && lda >= colsA && ldb >= colsB && ldc >= n
            && cLength >= Extent(m, n, ldc)
            && (m == 0 || n == 0 || k == 0 || (aLength >= Extent(rowsA, colsA, lda) && bLength >= Extent(rowsB, colsB, ldb)));
        if (!ok)
        {
            ThrowInvalid(transposeA, transposeB, m, n, k, aLength, lda, bLength, ldb, cLength, ldc);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowInvalid(
        bool transposeA, bool transposeB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        ValidateShape(m, n, k);
        ValidateOperands(transposeA, transposeB, m, n, k, lda, ldb, ldc, out long extentA, out long extentB, out long extentC);
        RequireLength("a", aLength, extentA, 1, 0, transposeA ? "k×m (transposed)" : "m×k", lda);
        RequireLength("b", bLength, extentB, 1, 0, transposeB ? "n×k (transposed)" : "k×n", ldb);
        RequireLength("c", cLength, extentC, 1, 0, "m×n", ldc);
        throw new UnreachableException("GEMM argument check disagreed with its diagnosis.");
    }

    public static void ValidateBatched(
        int batch, bool transposeA, bool transposeB, int m, int n, int k,
        int aLength, int lda, int strideA, int bLength, int ldb, int strideB, int cLength, int ldc, int strideC)
    {
        if (batch < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "GEMM batch count must be non-negative.");
        }
        if (strideA < 0 || strideB < 0 || strideC < 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(strideA), $"GEMM batch strides must be non-negative (got strideA={strideA}, strideB={strideB}, strideC={strideC}); use 0 to broadcast one matrix over the batch.");
        }
        ValidateShape(m, n, k);
        ValidateOperands(transposeA, transposeB, m, n, k, lda, ldb, ldc, out long extentA, out long extentB, out long extentC);
        if (batch == 0)
        {
            return;
        }
        RequireLength("a", aLength, extentA, batch, strideA, transposeA ? "k×m (transposed)" : "m×k", lda);
        RequireLength("b", bLength, extentB, batch, strideB, transposeB ? "n×k (transposed)" : "k×n", ldb);
        RequireLength("c", cLength, extentC, batch, strideC, "m×n", ldc);
    }

    private static void ValidateShape(int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(m), $"GEMM dimensions must be non-negative (got m={m}, n={n}, k={k}).");
        }
    }

    private static void ValidateOperands(
        bool transposeA, bool transposeB, int m, int n, int k, int lda, int ldb, int ldc,
        out long extentA, out long extentB, out long extentC)
    {
        int rowsA = transposeA ? k : m, colsA = transposeA ? m : k;
        int rowsB = transposeB ? n : k, colsB = transposeB ? k : n;
        RequireStride("lda", lda, colsA, transposeA ? "m (A is stored transposed, k×m)" : "k (A is stored m×k)");
        RequireStride("ldb", ldb, colsB, transposeB ? "k (B is stored transposed, n×k)" : "n (B is stored k×n)");
        RequireStride("ldc", ldc, n, "n (C is m×n)");
        // An operand that the product never reads (k = 0 or an empty C) needs no storage.
        bool productReadsInputs = m > 0 && n > 0 && k > 0;
        extentA = productReadsInputs ? Extent(rowsA, colsA, lda) : 0;
        extentB = productReadsInputs ? Extent(rowsB, colsB, ldb) : 0;
        extentC = Extent(m, n, ldc);
    }

    private static void RequireStride(string name, int ld, int cols, string what)
    {
        if (ld < cols)
        {
            throw new ArgumentOutOfRangeException(
                name, ld, $"GEMM leading dimension {name}={ld} is smaller than the row length {cols} of the stored matrix; it must be at least {what}.");
        }
    }

    private static void RequireLength(string name, int length, long extent, int batch, int stride, string shape, int ld)
    {
        if (extent == 0)
        {
            return;
        }
        long needed = ((long)(batch - 1) * stride) + extent;
        if (length < needed)
        {
            throw new ArgumentException(
                $"GEMM operand '{name}' has {length} elements but a {shape} matrix with leading dimension {ld}" +
                (batch > 1 ? $", batch {batch} and stride {stride}" : string.Empty) +
                $" needs {needed}. Check the dimensions, leading dimension and stride.",
                name);
        }
    }
}
