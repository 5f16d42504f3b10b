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
/// <see cref="SelectBackend"/> chooses. Auto uses OpenBLAS when it is installed, except for small products
/// (see <see cref="SmallTransposedBThreshold"/>), where the managed kernel was measured faster; element types other than float and double always use the managed code. The same backend, thread count and shapes
/// give bit-identical results.
/// </para>
/// </remarks>
public static class Gemm
{
    /// <summary>
    /// In auto mode, products with m·n·k below these thresholds go to the managed kernel even when OpenBLAS is loaded
    /// (A·Bᵀ: a linear layer's forward pass; A·B: its input gradient; Aᵀ·B and Aᵀ·Bᵀ: its weight gradient).
    /// </summary>
    /// <remarks>
    /// <para>Measured with `gemm-table SHAPES nn|nt|tn [cpu]` (float; AMD EPYC Zen, AVX2, OpenBLAS 0.3.21 core Zen;
    /// 2026-12-02, ratios managed / OpenBLAS on one thread, by thread CPU time on a shared machine, so ±15%):</para>
    /// <list type="bullet">
    /// <item>Small products (16³–64³, 100×50×50, 16×16×64, 100×10×50): managed 1.0–3.0× for A·B and A·Bᵀ, and on an
    /// idle machine 62 vs 53 GFLOP/s at 100×50×50 A·B (OpenBLAS with 2 threads: 37). For Aᵀ·B: 1.4–1.7× at 16³–32³,
    /// 0.9–1.0× at 100×50×50, 50×50×100 and 64³.</item>
    /// <item>Transformer/MLP layers with k or n = 64 (512×192×64, 512×64×64, 512×256×64, 512×64×256, 192×64×512,
    /// 256×64×512 …, m·n·k 2–8·10⁶): A·Bᵀ 1.02–1.32× (0.89 at 256×256×128), A·B 0.84–1.30× (a tie), Aᵀ·B 0.63–1.02×
    /// (OpenBLAS ahead).</item>
    /// <item>OpenBLAS with 2 threads overtakes one thread of either kernel from about 128³ = 2·10⁶ (idle: 96 vs 75
    /// GFLOP/s at 128³; below it, 2 threads were slower than 1: 45 vs 55 at 64³, 37 vs 62 at 100×50×50).</item>
    /// </list>
    /// <para>Hence, with OpenBLAS multi-threaded (its default): A·B and A·Bᵀ below 2²⁰ (≈10⁶, between the 64³ and 128³
    /// measurements) and Aᵀ·B below 2¹⁸ go to the managed kernel. With OpenBLAS single-threaded (parallel chains, the
    /// training benchmark) the two are level from ~2¹⁸ on, and in place, inside a DLN 5×50 training step (100×50×50 in
    /// all three patterns), OpenBLAS was 0–20% ahead (thread CPU time, interleaved runs on a loaded machine), so there
    /// the earlier rule stays: only A·Bᵀ below 2¹⁷ goes to the managed kernel. C narrower than 16 columns always goes to
    /// OpenBLAS (see the comment in the dispatch).</para>
    /// </remarks>
    public const long SmallTransposedBThreshold = 1L << 20;

    /// <summary>
    /// With OpenBLAS single-threaded, A·Bᵀ and Aᵀ·B products below this m·n·k go to the managed kernel (A·Bᵀ: the rule
    /// before the size-by-pattern measurements, see <see cref="SmallTransposedBThreshold"/>; Aᵀ·B since the data-parallel
    /// training step: 2026-12-02, thread CPU time on a loaded machine, 50×50×50 Aᵀ·B managed 60 vs OpenBLAS 37 GFLOP/s,
    /// A·Bᵀ 57 vs 47, A·B 38 vs 36, which stays with OpenBLAS).
    /// </summary>
    public const long SmallSingleThreadThreshold = 1L << 17;

    /// <summary>Products whose C has fewer columns than this always go to OpenBLAS when it is loaded.</summary>
    public const int SmallMinColumns = 16;

    /// <summary>A·B below this m·n·k goes to the managed kernel with multi-threaded OpenBLAS (see <see cref="SmallTransposedBThreshold"/>).</summary>
    public const long SmallPlainThreshold = 1L << 20;

    /// <summary>Aᵀ·B and Aᵀ·Bᵀ below this m·n·k go to the managed kernel with multi-threaded OpenBLAS (see <see cref="SmallTransposedBThreshold"/>).</summary>
    public const long SmallTransposedAThreshold = 1L << 18;

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
                ? OpenBlas.CachedNumThreads == 1
                    ? $"; {managed} for A·Bᵀ and Aᵀ·B below m·n·k = 2^{Log2(SmallSingleThreadThreshold)}, n ≥ {SmallMinColumns}"
                    : $"; {managed} below m·n·k = 2^{Log2(SmallTransposedBThreshold)} for A·Bᵀ, 2^{Log2(SmallPlainThreshold)} for A·B, 2^{Log2(SmallTransposedAThreshold)} for Aᵀ·B, n ≥ {SmallMinColumns}"
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

    /// <summary>The backend a product would go to if OpenBLAS ran <paramref name="openBlasThreads"/> threads per call.</summary>
    internal static GemmBackend BackendFor<T>(bool transposeA, bool transposeB, int m, int n, int k, int openBlasThreads) =>
        UseOpenBlas<T>(transposeA, transposeB, m, n, k, openBlasThreads) ? GemmBackend.OpenBlas : GemmBackend.Managed;

    private static bool UseOpenBlas<T>(bool transposeA, bool transposeB, int m, int n, int k) =>
        UseOpenBlas<T>(transposeA, transposeB, m, n, k, -1);

    /// <summary>Thread count −1: OpenBLAS's current setting.</summary>
    private static bool UseOpenBlas<T>(bool transposeA, bool transposeB, int m, int n, int k, int openBlasThreads)
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
        if (!OpenBlas.IsAvailable)
        {
            return false;
        }
        // Narrow C (n < 16) stays with OpenBLAS: in `slt llc` on a 5-3-5 DLN (double, 1-thread OpenBLAS) routing its
        // n = 3 and 5 products to the managed kernel made the run 4× slower (2 min vs 29 s), not yet understood.
        if (n < SmallMinColumns)
        {
            return true;
        }
        int threads = openBlasThreads < 0 ? OpenBlas.CachedNumThreads : openBlasThreads;
        long product = (long)m * n * k;
        if (threads == 1)
        {
            // A·Bᵀ and Aᵀ·B below 2¹⁷ (a data-parallel DLN 5×50 shard's 50×50×50 products: managed 57 and 60 GFLOP/s
            // against OpenBLAS's 47 and 37); A·B stays with OpenBLAS (a tie at 50³: 38 vs 36).
            return !(transposeA != transposeB && product < SmallSingleThreadThreshold);
        }
        long threshold = transposeA ? SmallTransposedAThreshold
            : transposeB ? SmallTransposedBThreshold
            : SmallPlainThreshold;
        return product >= threshold;
    }

    private static int Log2(long value) => BitOperations.Log2((ulong)value);

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
