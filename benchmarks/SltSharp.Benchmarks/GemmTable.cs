using System.Diagnostics;
using SltSharp.Engine.Linalg;
using SltSharp.Engine.Random;

namespace SltSharp.Benchmarks;

/// <summary>
/// Quick plain runner (`-- gemm-table`): a markdown table of float GEMM GFLOP/s for the managed kernel, OpenBLAS on one
/// thread and OpenBLAS on its default thread count, with the managed/OpenBLAS(1 thread) ratio, and what the
/// <see cref="Gemm"/> entry point achieves with its automatic backend choice. Each cell is the best
/// of several timed batches of ~40 ms, which is robust to a busy machine but not a substitute for BenchmarkDotNet.
/// Optional arguments: shapes as m x n x k (e.g. `gemm-table 100x50x50 256x256x256`), `double`, and a transpose
/// pattern `nt`, `tn` or `tt` (default nn), and `cpu` to time by the calling thread's CPU time instead of wall time
/// (robust on a shared machine; only meaningful for single-threaded columns, so the multi-threaded OpenBLAS column
/// then reads n/a).
/// </summary>
internal static class GemmTable
{
    private static readonly string[] s_defaultShapes =
    [
        "4x4x4", "8x8x8", "16x16x16", "32x32x32", "64x64x64", "128x128x128", "256x256x256", "512x512x512", "1024x1024x1024",
        "100x50x50", "100x10x50", "128x256x784", "128x784x256", "784x256x128",
    ];

    private static bool s_transposeA, s_transposeB, s_cpuTime;

    public static void Run(string[] args)
    {
        bool useDouble = args.Contains("double");
        s_transposeA = args.Contains("tn") || args.Contains("tt");
        s_transposeB = args.Contains("nt") || args.Contains("tt");
        s_cpuTime = args.Contains("cpu");
        string[] shapes = args.Where(a => a.Contains('x', StringComparison.Ordinal)).ToArray();
        if (shapes.Length == 0)
        {
            shapes = s_defaultShapes;
        }
        Console.WriteLine($"GEMM {(useDouble ? "double" : "float")}, C = {(s_transposeA ? "Aᵀ" : "A")}·{(s_transposeB ? "Bᵀ" : "B")}. Managed kernel: {ManagedGemm.KernelName}. Dispatch: {Gemm.BackendDescription}. " +
            (OpenBlas.IsAvailable ? $"OpenBLAS: {OpenBlas.LibraryName}, core {OpenBlas.CoreName}." : $"OpenBLAS not available ({OpenBlas.LoadError})."));
        WarmUp(useDouble);
        Console.WriteLine();
        Console.WriteLine("| m×n×k | managed GFLOP/s | OpenBLAS 1T GFLOP/s | managed / OpenBLAS 1T | OpenBLAS default threads GFLOP/s | Gemm (auto dispatch) GFLOP/s |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (string shape in shapes)
        {
            if (useDouble)
            {
                Row<double>(shape);
            }
            else
            {
                Row<float>(shape);
            }
        }
    }

    /// <summary>
    /// Runs every kernel shape (8/4/2/1-row panels, one- and two-register columns) for ~0.4 s so that the tiered JIT
    /// has promoted the code before the first (smallest, most overhead-sensitive) row is timed.
    /// </summary>
    private static void WarmUp(bool useDouble)
    {
        var watch = Stopwatch.StartNew();
        while (watch.ElapsedMilliseconds < 400)
        {
            foreach (string shape in (string[])["15x40x15", "8x8x8", "64x64x64"])
            {
                if (useDouble)
                {
                    Row<double>(shape, print: false);
                }
                else
                {
                    Row<float>(shape, print: false);
                }
            }
        }
    }

    private static void Row<T>(string shape, bool print = true)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var (m, n, k) = GemmShape.Parse(shape);
        var rng = new Rng(2);
        var a = new T[m * k];
        var b = new T[k * n];
        bool ta = s_transposeA, tb = s_transposeB;
        int lda = ta ? m : k, ldb = tb ? k : n;
        var c = new T[m * n];
        rng.FillUniform(a, -T.One, T.One);
        rng.FillUniform(b, -T.One, T.One);
        double flops = 2.0 * m * n * k;

        if (!print)
        {
            for (int i = 0; i < 50; i++)
            {
                ManagedGemm.Multiply(ta, tb, m, n, k, T.One, a, lda, b, ldb, T.Zero, c, n);
                Gemm.Multiply(ta, tb, m, n, k, T.One, a, lda, b, ldb, T.Zero, c, n);
                if (OpenBlas.IsAvailable)
                {
                    OpenBlasGemm.Multiply(ta, tb, m, n, k, T.One, a, lda, b, ldb, T.Zero, c, n);
                }
            }
            return;
        }
        double managed = Measure(() => ManagedGemm.Multiply(ta, tb, m, n, k, T.One, a, lda, b, ldb, T.Zero, c, n), flops);
        string native1 = "n/a", nativeAll = "n/a", ratio = "n/a";
        if (OpenBlas.IsAvailable)
        {
            int threads = OpenBlas.NumThreads;
            OpenBlas.SetNumThreads(1);
            double one = Measure(() => OpenBlasGemm.Multiply(ta, tb, m, n, k, T.One, a, lda, b, ldb, T.Zero, c, n), flops);
            OpenBlas.SetNumThreads(threads);
            native1 = one.ToString("F1");
            if (!s_cpuTime)
            {
                double all = Measure(() => OpenBlasGemm.Multiply(ta, tb, m, n, k, T.One, a, lda, b, ldb, T.Zero, c, n), flops);
                nativeAll = $"{all:F1} ({threads}T)";
            }
            ratio = (managed / one).ToString("F2");
        }
        int savedThreads = OpenBlas.NumThreads;
        if (s_cpuTime && OpenBlas.IsAvailable)
        {
            OpenBlas.SetNumThreads(1); // the auto column on one thread too, so that thread CPU time measures all of it
        }
        double auto = Measure(() => Gemm.Multiply(ta, tb, m, n, k, T.One, a, lda, b, ldb, T.Zero, c, n), flops);
        if (s_cpuTime && OpenBlas.IsAvailable)
        {
            OpenBlas.SetNumThreads(savedThreads);
        }
        Console.WriteLine($"| {shape} | {managed:F1} | {native1} | {ratio} | {nativeAll} | {auto:F1} |");
    }

    /// <summary>Best GFLOP/s over 5 batches, each batch sized to take about 40 ms (of wall or thread CPU time).</summary>
    private static double Measure(Action gemm, double flops)
    {
        gemm();
        int reps = 1;
        double elapsedMs;
        while (true)
        {
            double start = NowMs();
            for (int i = 0; i < reps; i++)
            {
                gemm();
            }
            elapsedMs = NowMs() - start;
            if (elapsedMs >= 10 || reps >= 1 << 24)
            {
                break;
            }
            reps *= 2;
        }
        reps = Math.Max(1, (int)(reps * 40 / Math.Max(elapsedMs, 1e-3)));
        double best = double.MaxValue;
        for (int batch = 0; batch < 5; batch++)
        {
            double start = NowMs();
            for (int i = 0; i < reps; i++)
            {
                gemm();
            }
            best = Math.Min(best, (NowMs() - start) / 1e3 / reps);
        }
        return flops / best / 1e9;
    }

    private static double NowMs() => s_cpuTime ? ThreadClock.Microseconds() / 1e3 : Stopwatch.GetTimestamp() * 1e3 / Stopwatch.Frequency;
}
