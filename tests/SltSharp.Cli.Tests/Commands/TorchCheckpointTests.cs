using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace SltSharp.Cli.Tests.Commands;

/// <summary>
/// The whole interop story with real PyTorch: docs/examples/torch_to_slt.py trains a model in torch and writes its
/// state_dict, spec and data; <c>slt llc --checkpoint</c> estimates its LLC. Skipped (with a visible SKIPPED line)
/// where Debian's python3-torch is absent.
/// </summary>
public sealed class TorchCheckpointTests(ITestOutputHelper output) : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private readonly CliRunner.TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_model_trained_in_torch_gets_an_llc_at_its_trained_weights()
    {
        if (!File.Exists(Python) || Run("-c \"import torch, numpy\"").Code != 0)
        {
            output.WriteLine($"SKIPPED: torch/numpy not importable from {Python}; install python3-torch (scripts/install-deps.sh).");
            return;
        }
        string script = Path.Combine(AppContext.BaseDirectory, "examples", "torch_to_slt.py");
        var (code, stdout, stderr) = Run($"\"{script}\" \"{_folder.Path}\"");
        Assert.True(code == 0, $"torch_to_slt.py failed: {stdout}\n{stderr}");
        double torchLoss = JsonDocument.Parse(stdout).RootElement.GetProperty("loss").GetDouble();

        var (exit, json, err) = await CliRunner.Run("llc", "--checkpoint", _folder.File("model.safetensors"), "--spec", _folder.File("model.json"),
            "--data", _folder.File("data.npz"), "--chains", "2", "--burnin", "200", "--draws", "300", "--json", "--no-store", "--quiet");
        Assert.True(exit is 0 or 1, err);
        var root = JsonDocument.Parse(json).RootElement;
        output.WriteLine(json);
        // torch evaluated the loss in float64 from the same float32 weights and data that slt reads, so the two agree
        // to double rounding (summation order only), far tighter than any mismatch of layout, activation or loss scale.
        double ours = root.GetProperty("reference_loss").GetDouble();
        Assert.True(Math.Abs(ours - torchLoss) <= 1e-12 * torchLoss, $"L(w*): slt {ours:R}, torch {torchLoss:R}");
        Assert.Equal(512, root.GetProperty("n").GetInt32());
        Assert.Equal(65, root.GetProperty("params").GetInt32());
        // A trained 65-parameter tanh MLP: 0 < λ̂ < d/2 is all theory promises; a sign or scale slip breaks it.
        double llc = root.GetProperty("llc_mean").GetDouble();
        Assert.InRange(llc, 0.0, 65 / 2.0);
    }

    private static (int Code, string Stdout, string Stderr) Run(string arguments)
    {
        var info = new ProcessStartInfo(Python, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(180_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Python} {arguments} did not finish within 180 s.");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
