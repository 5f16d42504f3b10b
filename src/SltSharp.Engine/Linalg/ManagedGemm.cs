using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SltSharp.Engine.Linalg;

/// <summary>
/// The managed GEMM backend: a register-blocked SIMD micro-kernel (8 rows × 2 vectors of C, i.e. 8×32 for float and
/// 8×16 for double with AVX-512; 6 rows × 2 vectors, 6×16 for float, with AVX2's 16 registers) fed by A read in place (any transpose, through row and k strides) and by B panels that
/// are packed (zero-padded, transposed with register transposes when B is stored n×k) or read in place when B is
/// stored k×n and small; vectorised edges (kernels of 4/2/1 rows, a one-register kernel, masked loads and stores for
/// ragged columns) keep the small products of this project fast.
/// </summary>
/// <remarks>
/// Single-threaded on purpose: the callers parallelise over chains, and one thread makes results bit-identical from
/// run to run. Packing buffers are per thread and allocated once, so calls do not allocate after warm-up. Element
/// types other than float and double take a plain scalar path.
/// </remarks>
public static unsafe class ManagedGemm
{
    // Blocking: an 8×KC micro-panel of A (read in place, never packed) stays in L1 across the column panels while the
    // KC×NC block of B (≤ 512 KiB, packed or read in place) streams from L2.
    private const int KC = 256;
    private const int BlockBBytes = 512 * 1024;

    // Largest KC×NC block of a k×n-stored B that is read in place instead of packed: up to here the rows of B stay in
    // L2 across the row panels, so packing buys little and costs a full pass over the block.
    private const int DirectBBytes = 256 * 1024;

    /// <summary>The SIMD width the kernel uses on this machine (e.g. "Vector512"), or "scalar".</summary>
    public static string KernelName => PreferredVectorBits switch
    {
        512 => Simd512<float>.Name,
        256 => Simd256<float>.Name,
        128 => Simd128<float>.Name,
        _ => "scalar",
    };

    /// <summary>
    /// Vector512 when the hardware has it; .NET may report Vector512 as not accelerated on CPUs that down-clock under
    /// 512-bit load, but AVX-512F still executes it correctly, and for a GEMM kernel the wider registers win.
    /// </summary>
    private static bool UseVector512 => Vector512.IsHardwareAccelerated || Avx512F.IsSupported;

    /// <summary>C = alpha·op(A)·op(B) + beta·C with the managed kernel (same contract as <see cref="Gemm.Multiply{T}"/>).</summary>
    public static void Multiply<T>(
        bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmChecks.Validate(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            MultiplyUnchecked(transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    /// <summary>Batched form with strides (0 broadcasts); same contract as <see cref="Gemm.MultiplyBatched{T}"/>.</summary>
    public static void MultiplyBatched<T>(
        int batch, bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, int strideA, ReadOnlySpan<T> b, int ldb, int strideB,
        T beta, Span<T> c, int ldc, int strideC)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmChecks.ValidateBatched(batch, transposeA, transposeB, m, n, k, a.Length, lda, strideA, b.Length, ldb, strideB, c.Length, ldc, strideC);
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

    /// <summary>Arguments already validated; pointers cover the operands.</summary>
    internal static void MultiplyUnchecked<T>(
        bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0)
        {
            return;
        }
        // BLAS semantics: with k = 0 or alpha = 0 the product is not formed and A, B are not read.
        if (k == 0 || T.IsZero(alpha))
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        Dispatch(PreferredVectorBits, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>Register width the kernel uses here: 512, 256, 128, or 0 for scalar code.</summary>
    internal static int PreferredVectorBits =>
        UseVector512 ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>
    /// Runs the product with a chosen register width (512/256/128/0 = scalar) so that tests can check every kernel
    /// width on one machine. A width the hardware lacks still runs (emulated by the JIT), only slowly.
    /// </summary>
    internal static void MultiplyWithVectorBits<T>(
        int vectorBits, bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmChecks.Validate(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0)
        {
            return;
        }
        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            if (k == 0 || T.IsZero(alpha))
            {
                ScaleC(m, n, beta, pc, ldc);
                return;
            }
            Dispatch(vectorBits, transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    private static void Dispatch<T>(
        int vectorBits, bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) || typeof(T) == typeof(double))
        {
            if (vectorBits == 512)
            {
                Product<T, Vector512<T>, Simd512<T>>(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                return;
            }
            if (vectorBits == 256)
            {
                Product<T, Vector256<T>, Simd256<T>>(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                return;
            }
            if (vectorBits == 128)
            {
                Product<T, Vector128<T>, Simd128<T>>(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                return;
            }
        }
        Scalar(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleC<T>(int m, int n, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<T>(c + ((nint)i * ldc), n);
            if (T.IsZero(beta))
            {
                row.Clear();
            }
            else if (beta != T.One)
            {
                for (int j = 0; j < row.Length; j++)
                {
                    row[j] *= beta;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scalar<T>(
        bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool betaZero = T.IsZero(beta);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                {
                    T av = transposeA ? a[((nint)p * lda) + i] : a[((nint)i * lda) + p];
                    T bv = transposeB ? b[((nint)j * ldb) + p] : b[((nint)p * ldb) + j];
                    sum += av * bv;
                }
                ref T cij = ref c[((nint)i * ldc) + j];
                cij = betaZero ? alpha * sum : (alpha * sum) + (beta * cij);
            }
        }
    }

    /// <summary>
    /// Chooses the product's shape of work. C narrower than half a register (e.g. n = 1 for a scalar output, where a
    /// row of C would fill 1 of 16 float lanes) is computed as dot products along k when A is stored m×k, and as
    /// Cᵀ = op(B)ᵀ·op(A)ᵀ (long rows, A read in place) when A is stored k×m; everything else goes to the blocked kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Product<T, TVec, TOps>(
        bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TVec : unmanaged
        where TOps : ISimdOps<TVec, T>
    {
        if (2 * n >= TOps.Count)
        {
            Blocked<T, TVec, TOps>(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        if (!transposeA)
        {
            NarrowDot<T, TVec, TOps>(transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        if (m < 2 * TOps.Count)
        {
            Blocked<T, TVec, TOps>(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        // Rows of op(A) are taken in chunks so that the n×chunk scratch for Cᵀ stays small.
        const int Chunk = 512;
        T* scratch = (T*)PackBuffers.GetScratch(Math.Min(m, Chunk) * n * sizeof(T));
        bool betaZero = T.IsZero(beta);
        for (int ic = 0; ic < m; ic += Chunk)
        {
            int mc = Math.Min(Chunk, m - ic);
            // op(B)ᵀ is n×k: B itself when stored n×k, B read transposed when stored k×n. op(A)ᵀ is A as stored
            // (k×m), so its columns ic.. are read in place as a k×mc block with row stride lda.
            Blocked<T, TVec, TOps>(!transposeB, false, n, mc, k, alpha, b, ldb, a + ic, lda, T.Zero, scratch, mc);
            for (int i = 0; i < mc; i++)
            {
                T* cRow = c + ((nint)(ic + i) * ldc);
                for (int j = 0; j < n; j++)
                {
                    T value = scratch[((nint)j * mc) + i];
                    cRow[j] = betaZero ? value : T.FusedMultiplyAdd(beta, cRow[j], value);
                }
            }
        }
    }

    /// <summary>
    /// C = alpha·A·op(B) + beta·C for narrow C (n &lt; half a register) with A stored m×k: each element is a dot
    /// product of a row of A with a column of op(B), vectorised along k, four rows at a time so that four
    /// accumulators hide the FMA latency. Columns of a B stored k×n are first gathered into contiguous scratch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NarrowDot<T, TVec, TOps>(
        bool transposeB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TVec : unmanaged
        where TOps : ISimdOps<TVec, T>
    {
        T* columns;
        nint columnStride;
        if (transposeB)
        {
            columns = b;
            columnStride = ldb;
        }
        else
        {
            columns = (T*)PackBuffers.GetScratch(n * k * sizeof(T));
            columnStride = k;
            for (int p = 0; p < k; p++)
            {
                T* row = b + ((nint)p * ldb);
                for (int j = 0; j < n; j++)
                {
                    columns[((nint)j * k) + p] = row[j];
                }
            }
        }
        int vl = TOps.Count;
        int kWhole = k / vl * vl;
        int tail = k - kWhole;
        bool betaZero = T.IsZero(beta);
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            T* a0 = a + ((nint)i * lda);
            T* a1 = a0 + lda;
            T* a2 = a1 + lda;
            T* a3 = a2 + lda;
            int j = 0;
            for (; j + 2 <= n; j += 2)
            {
                // Two columns at once: eight accumulators, and each row of A loaded once for both.
                T* bj = columns + (j * columnStride);
                T* bk = bj + columnStride;
                TVec s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
                TVec t0 = TOps.Zero, t1 = TOps.Zero, t2 = TOps.Zero, t3 = TOps.Zero;
                for (int p = 0; p < kWhole; p += vl)
                {
                    TVec bv = TOps.Load(bj + p), bw = TOps.Load(bk + p);
                    TVec x = TOps.Load(a0 + p);
                    s0 = TOps.MultiplyAdd(x, bv, s0);
                    t0 = TOps.MultiplyAdd(x, bw, t0);
                    x = TOps.Load(a1 + p);
                    s1 = TOps.MultiplyAdd(x, bv, s1);
                    t1 = TOps.MultiplyAdd(x, bw, t1);
                    x = TOps.Load(a2 + p);
                    s2 = TOps.MultiplyAdd(x, bv, s2);
                    t2 = TOps.MultiplyAdd(x, bw, t2);
                    x = TOps.Load(a3 + p);
                    s3 = TOps.MultiplyAdd(x, bv, s3);
                    t3 = TOps.MultiplyAdd(x, bw, t3);
                }
                if (tail > 0)
                {
                    TVec bv = TOps.LoadPartial(bj + kWhole, tail), bw = TOps.LoadPartial(bk + kWhole, tail);
                    TVec x = TOps.LoadPartial(a0 + kWhole, tail);
                    s0 = TOps.MultiplyAdd(x, bv, s0);
                    t0 = TOps.MultiplyAdd(x, bw, t0);
                    x = TOps.LoadPartial(a1 + kWhole, tail);
                    s1 = TOps.MultiplyAdd(x, bv, s1);
                    t1 = TOps.MultiplyAdd(x, bw, t1);
                    x = TOps.LoadPartial(a2 + kWhole, tail);
                    s2 = TOps.MultiplyAdd(x, bv, s2);
                    t2 = TOps.MultiplyAdd(x, bw, t2);
                    x = TOps.LoadPartial(a3 + kWhole, tail);
                    s3 = TOps.MultiplyAdd(x, bv, s3);
                    t3 = TOps.MultiplyAdd(x, bw, t3);
                }
                T* cj = c + ((nint)i * ldc) + j;
                StoreDot(cj, TOps.Sum(s0), alpha, beta, betaZero);
                StoreDot(cj + 1, TOps.Sum(t0), alpha, beta, betaZero);
                StoreDot(cj + ldc, TOps.Sum(s1), alpha, beta, betaZero);
                StoreDot(cj + ldc + 1, TOps.Sum(t1), alpha, beta, betaZero);
                StoreDot(cj + (2 * (nint)ldc), TOps.Sum(s2), alpha, beta, betaZero);
                StoreDot(cj + (2 * (nint)ldc) + 1, TOps.Sum(t2), alpha, beta, betaZero);
                StoreDot(cj + (3 * (nint)ldc), TOps.Sum(s3), alpha, beta, betaZero);
                StoreDot(cj + (3 * (nint)ldc) + 1, TOps.Sum(t3), alpha, beta, betaZero);
            }
            for (; j < n; j++)
            {
                T* bj = columns + (j * columnStride);
                TVec s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
                for (int p = 0; p < kWhole; p += vl)
                {
                    TVec bv = TOps.Load(bj + p);
                    s0 = TOps.MultiplyAdd(TOps.Load(a0 + p), bv, s0);
                    s1 = TOps.MultiplyAdd(TOps.Load(a1 + p), bv, s1);
                    s2 = TOps.MultiplyAdd(TOps.Load(a2 + p), bv, s2);
                    s3 = TOps.MultiplyAdd(TOps.Load(a3 + p), bv, s3);
                }
                if (tail > 0)
                {
                    TVec bv = TOps.LoadPartial(bj + kWhole, tail);
                    s0 = TOps.MultiplyAdd(TOps.LoadPartial(a0 + kWhole, tail), bv, s0);
                    s1 = TOps.MultiplyAdd(TOps.LoadPartial(a1 + kWhole, tail), bv, s1);
                    s2 = TOps.MultiplyAdd(TOps.LoadPartial(a2 + kWhole, tail), bv, s2);
                    s3 = TOps.MultiplyAdd(TOps.LoadPartial(a3 + kWhole, tail), bv, s3);
                }
                T* cj = c + ((nint)i * ldc) + j;
                StoreDot(cj, TOps.Sum(s0), alpha, beta, betaZero);
                StoreDot(cj + ldc, TOps.Sum(s1), alpha, beta, betaZero);
                StoreDot(cj + (2 * (nint)ldc), TOps.Sum(s2), alpha, beta, betaZero);
                StoreDot(cj + (3 * (nint)ldc), TOps.Sum(s3), alpha, beta, betaZero);
            }
        }
        for (; i < m; i++)
        {
            T* ai = a + ((nint)i * lda);
            for (int j = 0; j < n; j++)
            {
                T* bj = columns + (j * columnStride);
                TVec s0 = TOps.Zero;
                for (int p = 0; p < kWhole; p += vl)
                {
                    s0 = TOps.MultiplyAdd(TOps.Load(ai + p), TOps.Load(bj + p), s0);
                }
                if (tail > 0)
                {
                    s0 = TOps.MultiplyAdd(TOps.LoadPartial(ai + kWhole, tail), TOps.LoadPartial(bj + kWhole, tail), s0);
                }
                StoreDot(c + ((nint)i * ldc) + j, TOps.Sum(s0), alpha, beta, betaZero);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreDot<T>(T* c, T sum, T alpha, T beta, bool betaZero)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        *c = betaZero ? alpha * sum : T.FusedMultiplyAdd(alpha, sum, beta * *c);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocked<T, TVec, TOps>(
        bool transposeA, bool transposeB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TVec : unmanaged
        where TOps : ISimdOps<TVec, T>
    {
        int vl = TOps.Count;
        int nrMax = 2 * vl;
        int maxRows = MaxPanelRows<TVec>();
        int kcMax = Math.Min(KC, k);
        // NC is a multiple of the panel width so that padded panels never overrun the buffer.
        int ncMax = Math.Max(nrMax, BlockBBytes / (KC * sizeof(T)) / nrMax * nrMax);
        // B is read in place when it is stored k×n and the block is small: packing would cost as much as it saves.
        // A transposed B (stored n×k) is always packed, because the kernel needs rows of op(B) contiguous.
        bool directB = !transposeB && (long)Math.Min(n, ncMax) * kcMax * sizeof(T) <= DirectBBytes;
        int packBytes = ncMax * KC * sizeof(T);
        T* packB = null; // fetched on first use: small products with whole panels never pack
        TVec alphaV = TOps.Broadcast(alpha);
        TVec oneV = TOps.Broadcast(T.One);
        TVec betaV = TOps.Broadcast(beta);
        nint rowStride = transposeA ? 1 : lda;
        nint kStride = transposeA ? lda : 1;

        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                // The first k-block applies the caller's beta; later blocks accumulate onto what is already in C.
                bool first = pc == 0;
                bool betaZero = first && T.IsZero(beta);
                TVec betaBlock = first ? betaV : oneV;
                T* bBlock = b + ((nint)pc * ldb) + jc;
                int directColumns = 0;
                if (directB)
                {
                    // Whole panels come straight from B; only a ragged right edge is packed (zero-padded).
                    directColumns = DirectColumns(nc, vl);
                    if (directColumns < nc)
                    {
                        packB = packB != null ? packB : (T*)PackBuffers.Get(packBytes);
                        PackB<T, TVec, TOps>(false, b, ldb, pc, kc, jc + directColumns, nc - directColumns, packB);
                    }
                }
                else
                {
                    packB = packB != null ? packB : (T*)PackBuffers.Get(packBytes);
                    PackB<T, TVec, TOps>(transposeB, b, ldb, pc, kc, jc, nc, packB);
                }
                var panelB = new PanelB<T>(bBlock, ldb, directColumns, packB);
                T* aBlock = a + (transposeA ? ((nint)pc * lda) : pc);
                int i = 0;
                while (i < m)
                {
                    int rows = PanelRows(m - i, maxRows);
                    T* ap = aBlock + (i * rowStride);
                    T* cRow = c + ((nint)i * ldc) + jc;
                    switch (rows)
                    {
                        case 8:
                            RowPanel<T, TVec, TOps, Rows8>(ap, rowStride, kStride, panelB, kc, nc, cRow, ldc, alphaV, betaBlock, betaZero);
                            break;
                        case 6:
                            RowPanel<T, TVec, TOps, Rows6>(ap, rowStride, kStride, panelB, kc, nc, cRow, ldc, alphaV, betaBlock, betaZero);
                            break;
                        case 4:
                            RowPanel<T, TVec, TOps, Rows4>(ap, rowStride, kStride, panelB, kc, nc, cRow, ldc, alphaV, betaBlock, betaZero);
                            break;
                        case 2:
                            RowPanel<T, TVec, TOps, Rows2>(ap, rowStride, kStride, panelB, kc, nc, cRow, ldc, alphaV, betaBlock, betaZero);
                            break;
                        default:
                            RowPanel<T, TVec, TOps, Rows1>(ap, rowStride, kStride, panelB, kc, nc, cRow, ldc, alphaV, betaBlock, betaZero);
                            break;
                    }
                    i += rows;
                }
            }
        }
    }

    /// <summary>Where the B panels of one block live: the first DirectColumns columns in B itself, the rest packed.</summary>
    private readonly struct PanelB<T>(T* direct, nint ldb, int directColumns, T* packed)
        where T : unmanaged
    {
        public T* Direct { get; } = direct;

        public nint Ldb { get; } = ldb;

        public int DirectColumns { get; } = directColumns;

        public T* Packed { get; } = packed;
    }

    /// <summary>
    /// Columns of an nc-wide block covered by whole panels read in place: all two-register panels, plus a final
    /// one-register panel when exactly one register's worth remains; anything ragged is packed.
    /// </summary>
    private static int DirectColumns(int nc, int vl)
    {
        int whole = nc / (2 * vl) * (2 * vl);
        return nc - whole == vl ? nc : whole;
    }

    /// <summary>
    /// Rows handled by the next A panel: whole panels of <paramref name="maxRows"/> (8 or 6), then 4, 2, 1 for the
    /// remainder.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PanelRows(int remaining, int maxRows) =>
        remaining >= maxRows ? maxRows : remaining >= 4 ? 4 : remaining >= 2 ? 2 : 1;

    /// <summary>
    /// Tallest tile whose 2·rows accumulators, two B registers and the broadcast of A fit in the register file: 8 rows
    /// with AVX-512's 32 registers, 6 with the 16 of AVX2/SSE/NEON-sized files (an 8-row tile there spills
    /// accumulators to the stack inside the k loop; measured 0.55–0.67 of OpenBLAS at 128³–256³ on Zen AVX2 before).
    /// </summary>
    private static int MaxPanelRows<TVec>()
        where TVec : unmanaged => Unsafe.SizeOf<TVec>() >= 64 ? 8 : 6;

    /// <summary>Panel width at a column offset with <paramref name="remaining"/> columns left: two registers, or one at a narrow edge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PanelColumns(int remaining, int vl) => remaining > vl ? 2 * vl : vl;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowPanel<T, TVec, TOps, TRows>(
        T* a, nint rowStride, nint kStride, PanelB<T> panelB, int kc, int nc, T* c, int ldc,
        TVec alpha, TVec beta, bool betaZero)
        where T : unmanaged
        where TVec : unmanaged
        where TOps : ISimdOps<TVec, T>
        where TRows : IRowCount
    {
        int vl = TOps.Count;
        int j = 0;
        T* packed = panelB.Packed;
        while (j < nc)
        {
            int remaining = nc - j;
            int width = PanelColumns(remaining, vl);
            int cols = Math.Min(remaining, width);
            T* bp;
            nint bStride;
            if (j < panelB.DirectColumns)
            {
                bp = panelB.Direct + j;
                bStride = panelB.Ldb;
            }
            else
            {
                bp = packed;
                bStride = width;
                packed += (nint)kc * width;
            }
            if (width > vl)
            {
                GemmMicroKernel.Run<T, TVec, TOps, TRows, Vectors2>(a, rowStride, kStride, bp, bStride, kc, c + j, ldc, cols, alpha, beta, betaZero);
            }
            else
            {
                GemmMicroKernel.Run<T, TVec, TOps, TRows, Vectors1>(a, rowStride, kStride, bp, bStride, kc, c + j, ldc, cols, alpha, beta, betaZero);
            }
            j += width;
        }
    }

    /// <summary>
    /// Packs op(B)[pc..pc+kc, jc..jc+nc] into panels of two registers' width (one at a narrow right edge), each laid
    /// out [p][col] and zero-padded to the panel width so that the micro-kernel never needs a column test.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB<T, TVec, TOps>(bool transposeB, T* b, int ldb, int pc, int kc, int jc, int nc, T* dst)
        where T : unmanaged
        where TVec : unmanaged
        where TOps : ISimdOps<TVec, T>
    {
        int vl = TOps.Count;
        int j = 0;
        while (j < nc)
        {
            int remaining = nc - j;
            int width = PanelColumns(remaining, vl);
            int cols = Math.Min(remaining, width);
            if (!transposeB)
            {
                // Stored k×n: each p is a contiguous row segment, copied a register at a time.
                T* src = b + ((nint)pc * ldb) + jc + j;
                for (int p = 0; p < kc; p++)
                {
                    T* s = src + ((nint)p * ldb);
                    T* d = dst + ((nint)p * width);
                    for (int off = 0; off < width; off += vl)
                    {
                        int count = cols - off;
                        TVec v = count >= vl ? TOps.Load(s + off) : count > 0 ? TOps.LoadPartial(s + off, count) : TOps.Zero;
                        TOps.Store(d + off, v);
                    }
                }
            }
            else
            {
                // Stored n×k: column j of op(B) is row j of B; transposed in register blocks where possible.
                GemmTranspose.PackPanel(b + ((nint)(jc + j) * ldb) + pc, ldb, cols, kc, dst, width);
            }
            dst += (nint)width * kc;
            j += width;
        }
    }

    /// <summary>
    /// Per-thread buffers (packed B, and scratch for the transposed narrow product): pinned, 64-byte aligned, grown
    /// only when a larger block is first needed.
    /// </summary>
    private static class PackBuffers
    {
        [ThreadStatic]
        private static byte[]? s_pack;

        [ThreadStatic]
        private static byte[]? s_scratch;

        public static byte* Get(int bytes) => Aligned(ref s_pack, bytes);

        public static byte* GetScratch(int bytes) => Aligned(ref s_scratch, bytes);

        private static byte* Aligned(ref byte[]? slot, int bytes)
        {
            const int Alignment = 64;
            byte[]? buffer = slot;
            if (buffer is null || buffer.Length < bytes + Alignment)
            {
                // Pinned (POH) arrays never move, so the address taken below stays valid for the buffer's lifetime.
                buffer = GC.AllocateUninitializedArray<byte>(bytes + Alignment, pinned: true);
                slot = buffer;
            }
            byte* p = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
            return (byte*)(((nint)p + (Alignment - 1)) & ~(nint)(Alignment - 1));
        }
    }
}
