using System.Numerics;
using SltSharp.Engine.Linalg;
using SltSharp.Engine.Random;
using Xunit.Abstractions;

namespace SltSharp.Engine.Tests.Linalg;

[Collection(SltSharp.Engine.Tests.Optim.OpenBlasThreadsCollection.Name)]
public class GemmTests(ITestOutputHelper output)
{
    public static TheoryData<string> Backends => ["managed", "managed256", "managed128", "scalar", "openblas", "dispatch"];

    // Edges of the managed blocking are deliberately hit: KC = 256 (k = 257, 300, 1000), NC = 512 float / 256 double
    // (n = 600), B read in place or packed (10×300×300 exceeds the in-place limit), 8-row panels with 4/2/1-row
    // remainders (m = 150, 77, 13...), one- and two-register column panels, whole or ragged (n = 16, 32, 33, 40...),
    // and narrow C (n < half a register): dot products along k when A is m×k, Cᵀ = op(B)ᵀ·op(A)ᵀ in chunks of 512
    // rows when A is k×m (77×1, 100×3, 600×7, 40×2 with k = 300).
    private static readonly (int M, int N, int K)[] s_shapes =
    [
        (1, 1, 1), (17, 33, 5), (0, 7, 3), (7, 0, 3), (5, 9, 0), (1, 77, 40), (77, 1, 40), (3, 5, 1000),
        (13, 40, 300), (9, 31, 17), (8, 32, 16), (16, 16, 16), (10, 300, 300), (100, 3, 40), (600, 7, 30), (40, 2, 300), (150, 70, 20), (20, 600, 10), (33, 17, 257),
    ];

    /// <summary>Returns null when the backend cannot run here (OpenBLAS absent), after saying so in the test output.</summary>
    private GemmCall<T>? Resolve<T>(string backend)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (backend)
        {
            case "managed":
                return ManagedGemm.Multiply;
            case "managed256":
                return (ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc) => ManagedGemm.MultiplyWithVectorBits(256, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
            case "managed128":
                return (ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc) => ManagedGemm.MultiplyWithVectorBits(128, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
            case "scalar":
                return (ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc) => ManagedGemm.MultiplyWithVectorBits(0, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
            case "openblas":
                if (!OpenBlas.IsAvailable)
                {
                    output.WriteLine($"SKIPPED: OpenBLAS not available ({OpenBlas.LoadError}); install libopenblas0-pthread.");
                    return null;
                }
                return OpenBlasGemm.Multiply;
            default:
                return Gemm.Multiply;
        }
    }

    private void CheckAllShapes<T>(string backend)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmCall<T>? gemm = Resolve<T>(backend);
        if (gemm is null)
        {
            return;
        }
        var rng = new Rng(20240917, (ulong)backend.Length);
        int checks = 0;
        foreach (var (m, n, k) in s_shapes)
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    foreach (double beta in new[] { 0.0, 1.0, -0.7 })
                    {
                        GemmTestSupport.CheckProduct(gemm, rng, ta, tb, m, n, k, alpha: 1.0, beta);
                        GemmTestSupport.CheckProduct(gemm, rng, ta, tb, m, n, k, alpha: 0.37, beta, padA: 3, padB: 5, padC: 2);
                        checks += 2;
                    }
                }
            }
        }
        output.WriteLine($"{backend} {typeof(T).Name}: {checks} products checked.");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void FloatMatchesReference(string backend) => CheckAllShapes<float>(backend);

    [Theory]
    [MemberData(nameof(Backends))]
    public void DoubleMatchesReference(string backend) => CheckAllShapes<double>(backend);

    [Fact]
    public void HalfTakesTheScalarPathAndMatchesReference()
    {
        var rng = new Rng(5);
        GemmTestSupport.CheckProduct<Half>(Gemm.Multiply, rng, false, true, 5, 7, 9, 1.0, 0.5, 1, 2, 3);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void BetaZeroOverwritesNaNInC(string backend)
    {
        GemmCall<float>? gemm = Resolve<float>(backend);
        if (gemm is null)
        {
            return;
        }
        var rng = new Rng(11);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (19, 45, 7), (64, 64, 64) })
        {
            GemmTestSupport.CheckProduct(gemm, rng, false, false, m, n, k, 1.0, 0.0, padC: 3, nanInC: true);
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void AlphaZeroScalesCWithoutReadingAOrB(string backend)
    {
        GemmCall<double>? gemm = Resolve<double>(backend);
        if (gemm is null)
        {
            return;
        }
        double[] a = [double.NaN, double.NaN, double.NaN, double.NaN];
        double[] b = [double.NaN, double.NaN, double.NaN, double.NaN];
        double[] c = [1, 2, 3, 4];
        gemm(false, false, 2, 2, 2, 0.0, a, 2, b, 2, 3.0, c, 2);
        Assert.Equal([3.0, 6.0, 9.0, 12.0], c);
        gemm(false, false, 2, 2, 0, 1.0, [], 0, [], 2, 0.5, c, 2);
        Assert.Equal([1.5, 3.0, 4.5, 6.0], c);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void RepeatedCallsAreBitIdentical(string backend)
    {
        GemmCall<float>? gemm = Resolve<float>(backend);
        if (gemm is null)
        {
            return;
        }
        var rng = new Rng(3);
        const int M = 100, N = 50, K = 300;
        float[] a = GemmTestSupport.Random<float>(rng, M * K), b = GemmTestSupport.Random<float>(rng, K * N);
        float[] c1 = new float[M * N], c2 = new float[M * N];
        gemm(false, true, M, N, K / 6, 1f, a, K, b, K, 0f, c1, N);
        gemm(false, true, M, N, K / 6, 1f, a, K, b, K, 0f, c2, N);
        Assert.Equal(c1, c2);
    }

    [Fact]
    public void ManagedResultsDoNotDependOnTheRegisterWidth()
    {
        // In the blocked kernel every lane accumulates its own C element over p in the same order with a fused
        // multiply-add, so with FMA hardware the 512-, 256- and 128-bit kernels must agree bit for bit. (Narrow C,
        // n below half a register, uses dot products whose partial sums depend on the width; n = 45 avoids it.)
        // Without FMA the estimate falls back to multiply-then-add and the claim does not apply.
        if (!System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            output.WriteLine("SKIPPED: no FMA on this CPU.");
            return;
        }
        var rng = new Rng(17);
        const int M = 37, N = 45, K = 300;
        double[] a = GemmTestSupport.Random<double>(rng, K * M), b = GemmTestSupport.Random<double>(rng, N * K);
        double[] c512 = GemmTestSupport.Random<double>(rng, M * N);
        double[] c256 = (double[])c512.Clone(), c128 = (double[])c512.Clone();
        ManagedGemm.MultiplyWithVectorBits(512, true, true, M, N, K, 0.7, a, M, b, K, -0.3, c512, N);
        ManagedGemm.MultiplyWithVectorBits(256, true, true, M, N, K, 0.7, a, M, b, K, -0.3, c256, N);
        ManagedGemm.MultiplyWithVectorBits(128, true, true, M, N, K, 0.7, a, M, b, K, -0.3, c128, N);
        Assert.Equal(c512, c256);
        Assert.Equal(c512, c128);
    }

    [Theory]
    [InlineData("managed")]
    [InlineData("openblas")]
    [InlineData("dispatch")]
    public void BatchedWithBroadcastStridesMatchesPerMatrixProducts(string backend)
    {
        if (backend == "openblas" && !OpenBlas.IsAvailable)
        {
            output.WriteLine("SKIPPED: OpenBLAS not available; install libopenblas0-pthread.");
            return;
        }
        var rng = new Rng(7);
        const int Batch = 4, M = 9, N = 21, K = 13, Ldc = N + 1, StrideC = (M * Ldc) + 5;
        // A is shared across the batch (stride 0), B is per batch and used transposed (stored N×K).
        float[] a = GemmTestSupport.Random<float>(rng, M * K);
        float[] b = GemmTestSupport.Random<float>(rng, Batch * N * K);
        float[] c = GemmTestSupport.Random<float>(rng, Batch * StrideC);
        float[] before = (float[])c.Clone();
        const float Alpha = 0.5f, Beta = 2f;
        switch (backend)
        {
            case "managed":
                ManagedGemm.MultiplyBatched(Batch, false, true, M, N, K, Alpha, a, K, 0, b, K, N * K, Beta, c, Ldc, StrideC);
                break;
            case "openblas":
                OpenBlasGemm.MultiplyBatched(Batch, false, true, M, N, K, Alpha, a, K, 0, b, K, N * K, Beta, c, Ldc, StrideC);
                break;
            default:
                Gemm.MultiplyBatched(Batch, false, true, M, N, K, Alpha, a, K, 0, b, K, N * K, Beta, c, Ldc, StrideC);
                break;
        }
        for (int t = 0; t < Batch; t++)
        {
            for (int i = 0; i < M; i++)
            {
                for (int j = 0; j < N; j++)
                {
                    double sum = 0, magnitude = 0;
                    for (int p = 0; p < K; p++)
                    {
                        double prod = (double)a[(i * K) + p] * b[(t * N * K) + (j * K) + p];
                        sum += prod;
                        magnitude += Math.Abs(prod);
                    }
                    int at = (t * StrideC) + (i * Ldc) + j;
                    double expected = (Alpha * sum) + (Beta * before[at]);
                    // Same (k + 2)·eps worst-case rounding bound as GemmTestSupport.CheckProduct.
                    double tolerance = (K + 2) * Math.Pow(2, -23) * ((Alpha * magnitude) + Math.Abs(Beta * before[at]));
                    Assert.InRange(c[at], expected - tolerance, expected + tolerance);
                }
                Assert.Equal(before[(t * StrideC) + (i * Ldc) + N], c[(t * StrideC) + (i * Ldc) + N]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void CallsDoNotAllocateAfterWarmUp(string backend)
    {
        GemmCall<float>? gemm = Resolve<float>(backend);
        if (gemm is null)
        {
            return;
        }
        var rng = new Rng(13);
        // Shapes that pack B (transposed, ragged edge) and that read it in place; 300 > KC exercises k-blocking.
        float[] a = GemmTestSupport.Random<float>(rng, 40 * 300), b = GemmTestSupport.Random<float>(rng, 300 * 45);
        float[] c = new float[40 * 45];
        void Run()
        {
            gemm(false, false, 40, 45, 300, 1f, a, 300, b, 45, 0f, c, 45);
            gemm(true, true, 40, 45, 7, 1f, a, 40, b, 7, 1f, c, 45);
            gemm(false, false, 40, 32, 16, 1f, a, 16, b, 32, 0.5f, c, 45);
        }
        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            Run();
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void BatchedStrideZeroCAccumulatesInOrder()
    {
        // Three 1×1 products accumulated into one C with beta = 1: C = 10 + 1·2 + 3·4 + 5·6.
        double[] a = [1, 3, 5], b = [2, 4, 6], c = [10];
        Gemm.MultiplyBatched(3, false, false, 1, 1, 1, 1.0, a, 1, 1, b, 1, 1, 1.0, c, 1, 0);
        Assert.Equal(54.0, c[0]);
    }

    [Fact]
    public void BadArgumentsGiveClearExceptions()
    {
        float[] a = new float[6], b = new float[6], c = new float[4];
        var shortSpan = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, 1f, a.AsSpan(0, 5), 3, b, 2, 0f, c, 2));
        Assert.Contains("'a'", shortSpan.Message, StringComparison.Ordinal);
        var badLd = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, 2, 2, 3, 1f, a, 2, b, 2, 0f, c, 2));
        Assert.Contains("lda", badLd.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
        var shortC = Assert.Throws<ArgumentException>(() => Gemm.MultiplyBatched(2, false, false, 2, 2, 3, 1f, a, 3, 0, b, 2, 0, 0f, c, 2, 4));
        Assert.Contains("stride", shortC.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BackendVariableIsParsedStrictly()
    {
        Assert.Equal(GemmBackend.Auto, Gemm.ParseBackend(null));
        Assert.Equal(GemmBackend.Auto, Gemm.ParseBackend(" AUTO "));
        Assert.Equal(GemmBackend.Managed, Gemm.ParseBackend("managed"));
        Assert.Equal(GemmBackend.OpenBlas, Gemm.ParseBackend("OpenBLAS"));
        var error = Assert.Throws<InvalidOperationException>(() => Gemm.ParseBackend("mkl"));
        Assert.Contains("SLTSHARP_BLAS", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ActiveBackendIsOpenBlasWhenInstalledOtherwiseManaged()
    {
        output.WriteLine($"Backend: {Gemm.BackendDescription}");
        if (Gemm.RequestedBackend != GemmBackend.Auto)
        {
            output.WriteLine($"SLTSHARP_BLAS forces {Gemm.RequestedBackend}; auto selection not checked.");
            return;
        }
        if (OpenBlas.IsAvailable)
        {
            Assert.Equal(GemmBackend.OpenBlas, Gemm.Backend);
        }
        else
        {
            output.WriteLine($"OpenBLAS NOT AVAILABLE ({OpenBlas.LoadError}): OpenBLAS tests are skipped, managed kernel active.");
            Assert.Equal(GemmBackend.Managed, Gemm.Backend);
        }
    }

    [Fact]
    public void AutoDispatchRoutesSmallProductsToManaged()
    {
        if (Gemm.RequestedBackend != GemmBackend.Auto || !OpenBlas.IsAvailable)
        {
            output.WriteLine($"SKIPPED: needs auto selection with OpenBLAS (requested {Gemm.RequestedBackend}, OpenBLAS {(OpenBlas.IsAvailable ? "present" : "absent")}).");
            Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<Half>(false, true, 8, 8, 8));
            return;
        }
        // Multi-threaded OpenBLAS: the DLN layer in all three patterns of a training step, narrow C, tiny products.
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<float>(false, true, 100, 50, 50, 2));
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<float>(false, false, 100, 50, 50, 2));
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<float>(true, false, 50, 50, 100, 2));
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(false, true, 100, 10, 50, 2)); // narrow C
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<double>(false, false, 16, 16, 16, 2));
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<float>(true, true, 16, 16, 16, 2));
        // Thresholds are exclusive: 64³ = 2¹⁸ Aᵀ·B and 128³ = 2²¹ A·B go to OpenBLAS.
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(true, false, 64, 64, 64, 2));
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(false, false, 128, 128, 128, 2));
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(false, true, 512, 192, 64, 2));

        // Single-threaded OpenBLAS: A·Bᵀ and Aᵀ·B below 2¹⁷ (64×64×32 = 2¹⁷ is not), A·B never.
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(false, false, 32, 32, 32, 1));
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<float>(true, false, 16, 16, 64, 1));
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<float>(true, false, 50, 50, 50, 1));
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(true, false, 64, 64, 32, 1));
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(true, true, 16, 16, 16, 1));
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<float>(false, true, 16, 16, 16, 1));
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<double>(false, true, 100, 5, 3, 1)); // narrow C
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(false, true, 64, 64, 32, 1));
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(false, true, 100, 50, 50, 1));
        Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFor<float>(true, false, 50, 50, 100, 1));

        // Element types OpenBLAS lacks always take the managed kernel.
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFor<Half>(false, false, 512, 512, 512, 2));
    }

    [Fact]
    public void LoaderReportsCoreName()
    {
        if (!OpenBlas.IsAvailable)
        {
            output.WriteLine($"SKIPPED: OpenBLAS not available ({OpenBlas.LoadError}).");
            Assert.Null(OpenBlas.CoreName);
            return;
        }
        string? core = OpenBlas.CoreName;
        output.WriteLine($"{OpenBlas.LibraryName}: core {core}, override {OpenBlas.CoreTypeOverride ?? "none"}, {OpenBlas.NumThreads} threads, config {OpenBlas.Config}");
        Assert.False(string.IsNullOrWhiteSpace(core));
        if (OpenBlas.CoreTypeOverride is not null)
        {
            // The loader asked for the AVX-512 kernels; OpenBLAS must have taken them.
            Assert.Equal(OpenBlas.CoreTypeOverride, core, StringComparer.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void ThreadCountCanBeSetAndRestored()
    {
        if (!OpenBlas.IsAvailable)
        {
            output.WriteLine("SKIPPED: OpenBLAS not available.");
            return;
        }
        int before = OpenBlas.NumThreads;
        try
        {
            OpenBlas.SetNumThreads(1);
            Assert.Equal(1, OpenBlas.NumThreads);
        }
        finally
        {
            OpenBlas.SetNumThreads(before);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => OpenBlas.SetNumThreads(0));
    }
}
