using System.Diagnostics;

namespace SltSharp.Cli.Tests.Commands;

/// <summary>Runs <c>slt</c> in-process (captured streams) or as a child process of the built slt.dll.</summary>
public static class CliRunner
{
    /// <summary>Runs the command in-process.</summary>
    public static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await SltApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>The built slt.dll (copied next to the tests by the project reference).</summary>
    public static string SltDll => Path.Combine(AppContext.BaseDirectory, "slt.dll");

    /// <summary>Starts <c>dotnet slt.dll args</c> with redirected output.</summary>
    public static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(SltDll);
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }
        return Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
    }

    /// <summary>A fresh folder under the temp directory, deleted on dispose.</summary>
    public sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("slt-cli-test-").FullName;

        public string File(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
