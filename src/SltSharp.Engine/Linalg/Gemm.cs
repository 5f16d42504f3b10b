using System.Numerics;

namespace SltSharp.Engine.Linalg;

/// <summary>
/// General matrix multiply on row-major storage: C = alpha·op(A)·op(B) + beta·C.
/// </summary>
/// <remarks>
/// <para>
/// op(A) is m×k, op(B) is k×n, C is m×n. <c>lda</c>, <c>ldb</c>, <c>ldc</c> are the row strides of the
/// matrices as stored (before the optional transpose). When <c>beta</c> is zero, C is overwritten without being read
/// (so NaN in an uninitialised C does not leak through). With k = 0 or alpha = 0, C = beta·C and A, B are not read;
/// with m = 0 or n = 0 nothing happens. This is the one entry point every model uses.
/// </para>
/// <para>
/// Backend: the environment variable SLTSHARP_BLAS (auto | managed | openblas, read once) or
/// <see cref="SelectBackend"/> chooses. Auto uses OpenBLAS when it is installed, except for small A·Bᵀ products
/// (see <see cref="SmallTransposedBThreshold"/>), where the managed kernel was measured faster; element types other than float and double always use the managed code. The same backend, thread count and shapes
/// give bit-identical results.
/// </para>
/// </remarks>
public static class Gemm
{
    /// <summary>
    /// In auto mode, A·Bᵀ products (B stored n×k, A not transposed: a linear layer's forward pass with weights stored
    /// out×in) with m·n·k below this go to the managed kernel even when OpenBLAS is loaded; everything else goes to
    /// OpenBLAS.
    /// </summary>
    /// <remarks>
    /// Measured with `gemm-table` (float, single thread, AMD EPYC Zen 4, OpenBLAS 0.3.21 with the SkylakeX kernels):
    /// for A·Bᵀ the managed kernel ran 1.5× OpenBLAS at 16³–32³ and 1.1–1.2× at 48³–64³, but 0.94× at 100×50×50
    /// (m·n·k = 250 000). For the other transpose patterns OpenBLAS's small-matrix kernels were as fast or faster at
    /// small sizes (0.5–1.0×, worst for narrow n such as 100×10×50), so there is no size below which routing them to
    /// the managed kernel pays. Above ~128³ the two are level on one thread, and OpenBLAS can use more threads.
    /// </remarks>
    public const long SmallTransposedBThreshold = 1L << 17;

    /// <summary>
    /// The A·Bᵀ routing of <see cref="SmallTransposedBThreshold"/> applies only when C has at least this many
    /// columns: for narrow C (100×10×50: 0.83×; 100×7×50: 0.5×) OpenBLAS stayed ahead.
    /// </summary>
    public const int SmallTransposedBMinColumns = 16;

    private static readonly Lazy<GemmBackend> s_fromEnvironment = new(ReadEnvironment);
    private static volatile int s_override = -1;

    /// <summary>
    /// The requested backend: <see cref="SelectBackend"/> if called, otherwise SLTSHARP_BLAS, otherwise
    /// <see cref="GemmBackend.Auto"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">SLTSHARP_BLAS holds an unknown value.</exception>
    public static GemmBackend RequestedBackend => s_override >= 0 ? (GemmBackend)s_override : s_fromEnvironment.Value;

    /// <summary>
    /// The backend that performs float/double products above the small-product threshold: <see cref="GemmBackend.OpenBlas"/>
    /// or <see cref="GemmBackend.Managed"/> (never Auto).
    /// </summary>
    /// <exception cref="InvalidOperationException">OpenBLAS was requested but is not installed.</exception>
    public static GemmBackend Backend
    {
        get
        {
            switch (RequestedBackend)
            {
                case GemmBackend.Managed:
                    return GemmBackend.Managed;
                case GemmBackend.OpenBlas:
                    OpenBlas.EnsureAvailable();
                    return GemmBackend.OpenBlas;
                default:
                    return OpenBlas.IsAvailable ? GemmBackend.OpenBlas : GemmBackend.Managed;
            }
        }
    }

    /// <summary>One line for reports, e.g. "openblas (libopenblas.so.0, core SkylakeX, 2 threads; managed Vector512 for A·Bᵀ below ...)".</summary>
    public static string BackendDescription
    {
        get
        {
            string managed = $"managed {ManagedGemm.KernelName}";
            if (Backend == GemmBackend.Managed)
            {
                return OpenBlas.IsAvailable ? $"{managed} (forced; OpenBLAS present)" : $"{managed} (OpenBLAS not found)";
            }
            string small = RequestedBackend == GemmBackend.Auto
                ? $"; {managed} for A·Bᵀ with n ≥ {SmallTransposedBMinColumns} below m·n·k = {SmallTransposedBThreshold}"
                : string.Empty;
            return $"openblas ({OpenBlas.LibraryName}, core {OpenBlas.CoreName}, {OpenBlas.NumThreads} threads{small})";
        }
    }

    /// <summary>
    /// Overrides SLTSHARP_BLAS for the rest of the process (e.g. from a command-line flag). Selecting OpenBLAS when it
    /// is absent throws here rather than at the first product.
    /// </summary>
    /// <exception cref="InvalidOperationException">OpenBLAS requested but not installed.</exception>
    public static void SelectBackend(GemmBackend backend)
    {
        if (!Enum.IsDefined(backend))
        {
            throw new ArgumentOutOfRangeException(nameof(backend), backend, "Unknown GEMM backend.");
        }
        if (backend == GemmBackend.OpenBlas)
        {
            OpenBlas.EnsureAvailable();
        }
        s_override = (int)backend;
    }

    /// <summary>C = alpha·op(A)·op(B) + beta·C for one matrix triple.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative dimension, or a leading dimension shorter than a row.</exception>
    /// <exception cref="ArgumentException">A span too short for the shape and leading dimension.</exception>
    public static unsafe void Multiply<T>(
        bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmChecks.Validate(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        bool native = UseOpenBlas<T>(transposeA, transposeB, m, n, k);
        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            if (native)
            {
                OpenBlasGemm.MultiplyUnchecked(transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
            }
            else
            {
                ManagedGemm.MultiplyUnchecked(transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
            }
        }
    }

    /// <summary>
    /// A batch of independent multiplies: for each b in [0, batch), C_b = alpha·op(A_b)·op(B_b) + beta·C_b, where the
    /// b-th matrices start at b·stride in their spans. A stride of 0 broadcasts one matrix over the batch. Batches run
    /// in order, so a C stride of 0 with beta = 1 accumulates the batch into one C.
    /// </summary>
    public static unsafe void MultiplyBatched<T>(
        int batch, bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, int strideA, ReadOnlySpan<T> b, int ldb, int strideB,
        T beta, Span<T> c, int ldc, int strideC)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmChecks.ValidateBatched(batch, transposeA, transposeB, m, n, k, a.Length, lda, strideA, b.Length, ldb, strideB, c.Length, ldc, strideC);
        bool native = UseOpenBlas<T>(transposeA, transposeB, m, n, k);
        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            for (int i = 0; i < batch; i++)
            {
                T* ai = pa + ((nint)i * strideA);
                T* bi = pb + ((nint)i * strideB);
                T* ci = pc + ((nint)i * strideC);
                if (native)
                {
                    OpenBlasGemm.MultiplyUnchecked(transposeA, transposeB, m, n, k, alpha, ai, lda, bi, ldb, beta, ci, ldc);
                }
                else
                {
                    ManagedGemm.MultiplyUnchecked(transposeA, transposeB, m, n, k, alpha, ai, lda, bi, ldb, beta, ci, ldc);
                }
            }
        }
    }

    /// <summary>The backend a product of this type, pattern and size goes to (for tests and reports).</summary>
    internal static GemmBackend BackendFor<T>(bool transposeA, bool transposeB, int m, int n, int k) =>
        UseOpenBlas<T>(transposeA, transposeB, m, n, k) ? GemmBackend.OpenBlas : GemmBackend.Managed;

    private static bool UseOpenBlas<T>(bool transposeA, bool transposeB, int m, int n, int k)
    {
        if (!OpenBlasGemm.Supports<T>())
        {
            return false;
        }
        GemmBackend requested = RequestedBackend;
        if (requested == GemmBackend.Managed)
        {
            return false;
        }
        if (requested == GemmBackend.OpenBlas)
        {
            OpenBlas.EnsureAvailable();
            return true;
        }
        return OpenBlas.IsAvailable
            && !(transposeB && !transposeA && n >= SmallTransposedBMinColumns && (long)m * n * k < SmallTransposedBThreshold);
    }

    private static GemmBackend ReadEnvironment() => ParseBackend(Environment.GetEnvironmentVariable("SLTSHARP_BLAS"));

    /// <summary>Parses an SLTSHARP_BLAS value (null or empty means auto).</summary>
    internal static GemmBackend ParseBackend(string? text)
    {
        string? value = text?.Trim();
        if (string.IsNullOrEmpty(value) || value.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return GemmBackend.Auto;
        }
        if (value.Equals("managed", StringComparison.OrdinalIgnoreCase))
        {
            return GemmBackend.Managed;
        }
        if (value.Equals("openblas", StringComparison.OrdinalIgnoreCase))
        {
            return GemmBackend.OpenBlas;
        }
        throw new InvalidOperationException(
            $"SLTSHARP_BLAS='{value}' is not a GEMM backend; use 'auto' (default), 'managed' or 'openblas'.");
    }
}
