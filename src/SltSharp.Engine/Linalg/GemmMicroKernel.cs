using System.Runtime.CompilerServices;

namespace SltSharp.Engine.Linalg;

/// <summary>Compile-time row count of a micro-kernel (1, 2, 4, 6 or 8 rows of C).</summary>
internal interface IRowCount
{
    static abstract int Value { get; }
}

/// <summary>Compile-time number of vector registers across a micro-kernel's columns (1 or 2).</summary>
internal interface IVectorCount
{
    static abstract int Value { get; }
}

internal readonly struct Rows8 : IRowCount
{
    public static int Value => 8;
}

internal readonly struct Rows6 : IRowCount
{
    public static int Value => 6;
}

internal readonly struct Rows4 : IRowCount
{
    public static int Value => 4;
}

internal readonly struct Rows2 : IRowCount
{
    public static int Value => 2;
}

internal readonly struct Rows1 : IRowCount
{
    public static int Value => 1;
}

internal readonly struct Vectors2 : IVectorCount
{
    public static int Value => 2;
}

internal readonly struct Vectors1 : IVectorCount
{
    public static int Value => 1;
}

/// <summary>
/// Register-blocked micro-kernel: a tile of up to 8 rows × 2 vectors of C held in registers (6 rows where the ISA has
/// only 16 vector registers: 12 accumulators, 2 B registers and the broadcast of A fit without spilling) while a packed A panel
/// (layout [p][row], <c>TRows</c> wide) and a packed B panel (layout [p][col], <c>TVectors·Count</c> wide, zero-padded)
/// stream through. One source covers all widths and tile shapes: the shape parameters are struct types whose static
/// values the JIT folds to constants, so the unused accumulators and branches disappear from each specialisation.
/// </summary>
internal static unsafe class GemmMicroKernel
{
    /// <summary>
    /// C[0..rows, 0..cols] = alpha·(Apanel·Bpanel) + beta·C, or = alpha·(Apanel·Bpanel) when <paramref name="betaZero"/>
    /// (C not read). <paramref name="cols"/> ≤ TVectors·Count and, for TVectors = 2, cols &gt; Count.
    /// </summary>
    /// <remarks>
    /// A is read in place: element (r, p) of the panel is at a + r·<paramref name="rowStride"/> + p·<paramref name="kStride"/>,
    /// which covers A stored m×k (strides lda, 1) and k×m (1, lda) without a packing pass. Row p of the B panel starts
    /// at b + p·<paramref name="bStride"/> and must hold TVectors whole registers (a packed panel, or B itself when
    /// the panel's columns are all inside the matrix).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<T, TVec, TOps, TRows, TVectors>(
        T* a, nint rowStride, nint kStride, T* b, nint bStride, int kc, T* c, int ldc, int cols,
        TVec alpha, TVec beta, bool betaZero)
        where T : unmanaged
        where TVec : unmanaged
        where TOps : ISimdOps<TVec, T>
        where TRows : IRowCount
        where TVectors : IVectorCount
    {
        // Two base pointers and three scaled offsets address all eight rows with x64 [base + index·scale] operands.
        T* a0 = a;
        T* a4 = a + (4 * rowStride);
        nint r1 = rowStride, r2 = 2 * rowStride, r3 = 3 * rowStride;
        TVec c0a = TOps.Zero, c0b = TOps.Zero, c1a = TOps.Zero, c1b = TOps.Zero;
        TVec c2a = TOps.Zero, c2b = TOps.Zero, c3a = TOps.Zero, c3b = TOps.Zero;
        TVec c4a = TOps.Zero, c4b = TOps.Zero, c5a = TOps.Zero, c5b = TOps.Zero;
        TVec c6a = TOps.Zero, c6b = TOps.Zero, c7a = TOps.Zero, c7b = TOps.Zero;
        bool two = TVectors.Value == 2;

        for (int p = 0; p < kc; p++)
        {
            TVec b0 = TOps.Load(b);
            TVec b1 = two ? TOps.Load(b + TOps.Count) : TOps.Zero;
            TVec x = TOps.Broadcast(a0[0]);
            c0a = TOps.MultiplyAdd(x, b0, c0a);
            if (two)
            {
                c0b = TOps.MultiplyAdd(x, b1, c0b);
            }
            if (TRows.Value >= 2)
            {
                x = TOps.Broadcast(a0[r1]);
                c1a = TOps.MultiplyAdd(x, b0, c1a);
                if (two)
                {
                    c1b = TOps.MultiplyAdd(x, b1, c1b);
                }
            }
            if (TRows.Value >= 4)
            {
                x = TOps.Broadcast(a0[r2]);
                c2a = TOps.MultiplyAdd(x, b0, c2a);
                if (two)
                {
                    c2b = TOps.MultiplyAdd(x, b1, c2b);
                }
                x = TOps.Broadcast(a0[r3]);
                c3a = TOps.MultiplyAdd(x, b0, c3a);
                if (two)
                {
                    c3b = TOps.MultiplyAdd(x, b1, c3b);
                }
            }
            if (TRows.Value >= 6)
            {
                x = TOps.Broadcast(a4[0]);
                c4a = TOps.MultiplyAdd(x, b0, c4a);
                if (two)
                {
                    c4b = TOps.MultiplyAdd(x, b1, c4b);
                }
                x = TOps.Broadcast(a4[r1]);
                c5a = TOps.MultiplyAdd(x, b0, c5a);
                if (two)
                {
                    c5b = TOps.MultiplyAdd(x, b1, c5b);
                }
            }
            if (TRows.Value >= 8)
            {
                x = TOps.Broadcast(a4[r2]);
                c6a = TOps.MultiplyAdd(x, b0, c6a);
                if (two)
                {
                    c6b = TOps.MultiplyAdd(x, b1, c6b);
                }
                x = TOps.Broadcast(a4[r3]);
                c7a = TOps.MultiplyAdd(x, b0, c7a);
                if (two)
                {
                    c7b = TOps.MultiplyAdd(x, b1, c7b);
                }
            }
            a0 += kStride;
            a4 += kStride;
            b += bStride;
        }

        WriteRow<T, TVec, TOps, TVectors>(c, c0a, c0b, cols, alpha, beta, betaZero);
        if (TRows.Value >= 2)
        {
            WriteRow<T, TVec, TOps, TVectors>(c + ldc, c1a, c1b, cols, alpha, beta, betaZero);
        }
        if (TRows.Value >= 4)
        {
            WriteRow<T, TVec, TOps, TVectors>(c + (2 * (nint)ldc), c2a, c2b, cols, alpha, beta, betaZero);
            WriteRow<T, TVec, TOps, TVectors>(c + (3 * (nint)ldc), c3a, c3b, cols, alpha, beta, betaZero);
        }
        if (TRows.Value >= 6)
        {
            WriteRow<T, TVec, TOps, TVectors>(c + (4 * (nint)ldc), c4a, c4b, cols, alpha, beta, betaZero);
            WriteRow<T, TVec, TOps, TVectors>(c + (5 * (nint)ldc), c5a, c5b, cols, alpha, beta, betaZero);
        }
        if (TRows.Value >= 8)
        {
            WriteRow<T, TVec, TOps, TVectors>(c + (6 * (nint)ldc), c6a, c6b, cols, alpha, beta, betaZero);
            WriteRow<T, TVec, TOps, TVectors>(c + (7 * (nint)ldc), c7a, c7b, cols, alpha, beta, betaZero);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteRow<T, TVec, TOps, TVectors>(
        T* c, TVec accA, TVec accB, int cols, TVec alpha, TVec beta, bool betaZero)
        where T : unmanaged
        where TVec : unmanaged
        where TOps : ISimdOps<TVec, T>
        where TVectors : IVectorCount
    {
        int n = TOps.Count;
        if (TVectors.Value == 2)
        {
            // cols > Count here: the first register is always whole.
            WriteVector<T, TVec, TOps>(c, accA, alpha, beta, betaZero);
            int rest = cols - n;
            if (rest == n)
            {
                WriteVector<T, TVec, TOps>(c + n, accB, alpha, beta, betaZero);
            }
            else
            {
                WritePartial<T, TVec, TOps>(c + n, accB, rest, alpha, beta, betaZero);
            }
        }
        else if (cols == n)
        {
            WriteVector<T, TVec, TOps>(c, accA, alpha, beta, betaZero);
        }
        else
        {
            WritePartial<T, TVec, TOps>(c, accA, cols, alpha, beta, betaZero);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteVector<T, TVec, TOps>(T* c, TVec acc, TVec alpha, TVec beta, bool betaZero)
        where T : unmanaged
        where TVec : unmanaged
        where TOps : ISimdOps<TVec, T>
    {
        TVec result = betaZero
            ? TOps.Multiply(acc, alpha)
            : TOps.MultiplyAdd(acc, alpha, TOps.Multiply(TOps.Load(c), beta));
        TOps.Store(c, result);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WritePartial<T, TVec, TOps>(T* c, TVec acc, int count, TVec alpha, TVec beta, bool betaZero)
        where T : unmanaged
        where TVec : unmanaged
        where TOps : ISimdOps<TVec, T>
    {
        TVec result = betaZero
            ? TOps.Multiply(acc, alpha)
            : TOps.MultiplyAdd(acc, alpha, TOps.Multiply(TOps.LoadPartial(c, count), beta));
        TOps.StorePartial(c, result, count);
    }
}
