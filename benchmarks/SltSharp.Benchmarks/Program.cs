using BenchmarkDotNet.Running;

// Dispatches to every benchmark class of this assembly, e.g.
//   dotnet run -c Release --project benchmarks/SltSharp.Benchmarks -- --filter '*Training*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
