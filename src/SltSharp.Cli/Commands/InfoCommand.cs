using System.CommandLine;
using System.Runtime.InteropServices;

namespace SltSharp.Cli.Commands;

/// <summary><c>slt info</c>: what this machine gives SltSharp (cores, SIMD width, BLAS backend).</summary>
internal static class InfoCommand
{
    public static Command Build(CliContext context)
    {
        var command = new Command("info", "Show the runtime, SIMD support and the GEMM backend in use.");
        command.SetAction(_ =>
        {
            var o = context.Output;
            o.WriteLine($"SltSharp {typeof(InfoCommand).Assembly.GetName().Version}");
            o.WriteLine($"runtime   {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription}");
            o.WriteLine($"cores     {Environment.ProcessorCount}");
            o.WriteLine($"simd      Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}, Vector256 {System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated}");
            return 0;
        });
        return command;
    }
}
