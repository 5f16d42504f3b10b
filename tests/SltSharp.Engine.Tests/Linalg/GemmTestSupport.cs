using System.Numerics;
using SltSharp.Engine.Linalg;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Linalg;

/// <summary>A GEMM implementation under test, with the public Multiply signature.</summary>
public delegate void GemmCall<T>(
    bool transposeA, bool transposeB, int m, int n, int k,
    T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
    T beta, Span<T> c, int ldc);

/// <summary>Random operands, a double-precision reference and a rigorous rounding-error tolerance.</summary>
internal static class GemmTestSupport
{
    public static T[] Random<T>(Rng rng, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var values = new T[length];
        rng.FillUniform(values, T.CreateChecked(-1.0), T.One);
        return values;
    }

    /// <summary>Distance from 1 to the next representable number.</summary>
    public static double MachineEpsilon<T>() =>
        typeof(T) == typeof(float) ? Math.Pow(2, -23)
        : typeof(T) == typeof(double) ? Math.Pow(2, -52)
        : typeof(T) == typeof(Half) ? Math.Pow(2, -10)
        : throw new NotSupportedException(typeof(T).Name);

    /// <summary>
    /// Checks one product against the naive double-precision reference, elementwise, with the worst-case bound for
    /// any summation order: |computed − exact| ≤ γ·(|alpha|·Σ_p |a_ip·b_pj| + |beta·c_ij|) where γ = (k + 2)·eps.
    /// The classical bound is k·u/(1 − k·u) with u = eps/2 for the dot product, plus one rounding each for alpha,
    /// beta and the final sum, so (k + 2)·eps holds with about a factor 2 to spare; any indexing mistake produces
    /// errors of the size of the entries themselves, far above it. For double the reference itself carries up to
    /// k·u·Σ|a·b| of error, which the same margin absorbs (the two bounds add to k·eps·Σ|a·b|). Elements of C outside the m×n window must be
    /// untouched.
    /// </summary>
    public static void CheckProduct<T>(
        GemmCall<T> gemm, Rng rng, bool transposeA, bool transposeB, int m, int n, int k,
        double alpha, double beta, int padA = 0, int padB = 0, int padC = 0, bool nanInC = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rowsA = transposeA ? k : m, colsA = transposeA ? m : k;
        int rowsB = transposeB ? n : k, colsB = transposeB ? k : n;
        int lda = colsA + padA, ldb = colsB + padB, ldc = n + padC;
        T[] a = Random<T>(rng, Math.Max(0, (rowsA * lda) - padA));
        T[] b = Random<T>(rng, Math.Max(0, (rowsB * ldb) - padB));
        T[] c = Random<T>(rng, m * ldc);
        if (nanInC)
        {
            for (int i = 0; i < m; i++)
            {
                c.AsSpan(i * ldc, n).Fill(T.NaN);
            }
        }
        T[] c0 = (T[])c.Clone();
        T alphaT = T.CreateChecked(alpha), betaT = T.CreateChecked(beta);

        gemm(transposeA, transposeB, m, n, k, alphaT, a, lda, b, ldb, betaT, c, ldc);

        double eps = MachineEpsilon<T>();
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < ldc; j++)
            {
                double actual = double.CreateChecked(c[(i * ldc) + j]);
                if (j >= n)
                {
                    Assert.Equal(double.CreateChecked(c0[(i * ldc) + j]), actual);
                    continue;
                }
                double sum = 0, magnitude = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = double.CreateChecked(transposeA ? a[(p * lda) + i] : a[(i * lda) + p]);
                    double bv = double.CreateChecked(transposeB ? b[(j * ldb) + p] : b[(p * ldb) + j]);
                    sum += av * bv;
                    magnitude += Math.Abs(av * bv);
                }
                double old = double.CreateChecked(c0[(i * ldc) + j]);
                double expected = (alpha * sum) + (beta == 0 ? 0 : beta * old);
                double tolerance = (k + 2) * eps * ((Math.Abs(alpha) * magnitude) + (beta == 0 ? 0 : Math.Abs(beta * old)));
                if (!(Math.Abs(actual - expected) <= tolerance))
                {
                    Assert.Fail(
                        $"C[{i},{j}] = {actual}, expected {expected} ± {tolerance} " +
                        $"(m={m}, n={n}, k={k}, tA={transposeA}, tB={transposeB}, alpha={alpha}, beta={beta}, pads={padA}/{padB}/{padC})");
                }
            }
        }
    }
}
