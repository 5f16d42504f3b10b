using System.Diagnostics;
using SltSharp.Engine.Linalg;

namespace SltSharp.Benchmarks;

/// <summary>
/// A quick table of the <see cref="TrainingStepBenchmarks"/> steps without BenchmarkDotNet (for profiling loops):
/// `dotnet run -c Release --project benchmarks/SltSharp.Benchmarks -- training-table [seconds-per-model] [blas-threads] [train-threads]`
/// (OpenBLAS threads default to 1; data-parallel training workers default to one per core, as in `slt train`).
/// Reports the median of 15 timed blocks, each long enough to average out timer resolution, in wall time and in the
/// main thread's CPU time (the latter is the useful one on a shared machine when BLAS runs single-threaded).
/// </summary>
internal static class TrainingTable
{
    public static void Run(string[] args)
    {
        double seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1.0;
        var bench = new TrainingStepBenchmarks
        {
            BlasThreads = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1,
            TrainThreads = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 0,
        };
        bench.SetupDeepLinear();
        Console.WriteLine($"GEMM: {Gemm.BackendDescription}");
        Report("DeepLinearNetwork", () => bench.DeepLinearNetwork(), seconds);
        Console.WriteLine($"(data-parallel workers per step: {bench.LastWorkers})");
        bench.SetupMlp();
        Report("Mlp", () => bench.Mlp(), seconds);
        bench.SetupTransformer();
        Report("Transformer", () => bench.Transformer(), seconds);
        bench.Cleanup();
    }

    private static void Report(string name, Func<float> step, double seconds)
    {
        for (int i = 0; i < 20; i++)
        {
            step();
        }
        var sw = Stopwatch.StartNew();
        int calibration = 0;
        while (sw.Elapsed.TotalSeconds < 0.05)
        {
            step();
            calibration++;
        }
        double perStep = sw.Elapsed.TotalSeconds / calibration;
        int perBlock = Math.Max(1, (int)(seconds / 15 / perStep));
        var blocks = new double[15];
        var cpu = new double[15];
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int b = 0; b < blocks.Length; b++)
        {
            long start = Stopwatch.GetTimestamp();
            double cpuStart = ThreadClock.Microseconds();
            for (int i = 0; i < perBlock; i++)
            {
                step();
            }
            blocks[b] = Stopwatch.GetElapsedTime(start).TotalMicroseconds / perBlock;
            cpu[b] = (ThreadClock.Microseconds() - cpuStart) / perBlock;
        }
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Array.Sort(blocks);
        Array.Sort(cpu);
        Console.WriteLine($"{name,-20} wall median {blocks[7],9:F1} µs/step (min {blocks[0]:F1}, max {blocks[^1]:F1}); thread CPU median {cpu[7]:F1} min {cpu[0]:F1}; {allocated} B allocated");
    }
}
/// <summary>CPU time of the calling thread (Linux), which a loaded machine inflates far less than wall time.</summary>
internal static partial class ThreadClock
{
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>Thread CPU time in microseconds, or NaN where the clock is unavailable.</summary>
    public static double Microseconds()
    {
        if (!OperatingSystem.IsLinux())
        {
            return double.NaN;
        }
        _ = ClockGetTime(3, out var t); // CLOCK_THREAD_CPUTIME_ID
        return (t.Seconds * 1e6) + (t.Nanoseconds / 1e3);
    }
}
