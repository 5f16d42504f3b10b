using BenchmarkDotNet.Running;
using SltSharp.Benchmarks;

// Plain runners (quick tables without BenchmarkDotNet) are chosen by the first argument; anything else goes to
// BenchmarkSwitcher, e.g. `-- --filter *GemmBenchmarks*`.
switch (args.FirstOrDefault())
{
    case "gemm-table":
        GemmTable.Run(args[1..]);
        break;
    case "training-table":
        TrainingTable.Run(args[1..]);
        break;
    case "sgld-table":
        SgldTable.Run(args[1..]);
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(GemmBenchmarks).Assembly).Run(args);
        break;
}
