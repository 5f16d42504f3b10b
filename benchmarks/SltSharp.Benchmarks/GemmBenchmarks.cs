using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using SltSharp.Engine.Linalg;
using SltSharp.Engine.Random;

namespace SltSharp.Benchmarks;

/// <summary>
/// Float GEMM throughput of the managed kernel against single-threaded OpenBLAS, on square sizes and on shapes from
/// the project's small models (m×n×k: a 100-sample batch through a 50-wide layer; an MNIST-sized first layer).
/// </summary>
[Config(typeof(Config))]
public class GemmBenchmarks
{
    private float[] _a = [], _b = [], _c = [];
    private int _m, _n, _k;

    /// <summary>m×n×k of the product C(m×n) = A(m×k)·B(k×n).</summary>
    [Params("16x16x16", "32x32x32", "64x64x64", "128x128x128", "256x256x256", "512x512x512", "1024x1024x1024",
        "100x50x50", "128x256x784", "128x784x256")]
    public string Shape { get; set; } = "64x64x64";

    [GlobalSetup]
    public void Setup()
    {
        (_m, _n, _k) = GemmShape.Parse(Shape);
        var rng = new Rng(1);
        _a = new float[_m * _k];
        _b = new float[_k * _n];
        _c = new float[_m * _n];
        rng.FillUniform<float>(_a, -1f, 1f);
        rng.FillUniform<float>(_b, -1f, 1f);
        if (OpenBlas.IsAvailable)
        {
            OpenBlas.SetNumThreads(1);
        }
    }

    [Benchmark]
    public void Managed() => ManagedGemm.Multiply(false, false, _m, _n, _k, 1f, _a, _k, _b, _n, 0f, _c, _n);

    [Benchmark(Baseline = true)]
    public void OpenBlasOneThread() => OpenBlasGemm.Multiply(false, false, _m, _n, _k, 1f, _a, _k, _b, _n, 0f, _c, _n);

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddColumn(new GflopsColumn());
        }
    }

    /// <summary>2·m·n·k / mean time, in GFLOP/s.</summary>
    private sealed class GflopsColumn : IColumn
    {
        public string Id => "GFLOPs";

        public string ColumnName => "GFLOP/s";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => "Floating-point operations per second, 2·m·n·k / mean";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
            GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is not { } stats || benchmarkCase.Parameters["Shape"] is not string shape)
            {
                return "-";
            }
            var (m, n, k) = GemmShape.Parse(shape);
            return (2.0 * m * n * k / stats.Mean).ToString("F1");
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}

/// <summary>Parses "m x n x k" shape labels.</summary>
internal static class GemmShape
{
    public static (int M, int N, int K) Parse(string shape)
    {
        string[] parts = shape.Split('x');
        if (parts.Length != 3)
        {
            throw new FormatException($"Shape '{shape}' is not of the form m x n x k, e.g. 100x50x50.");
        }
        return (int.Parse(parts[0]), int.Parse(parts[1]), int.Parse(parts[2]));
    }
}
