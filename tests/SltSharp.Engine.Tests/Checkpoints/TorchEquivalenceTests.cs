using System.Diagnostics;
using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Formats;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Tests.Formats;
using Xunit.Abstractions;

namespace SltSharp.Engine.Tests.Checkpoints;

/// <summary>
/// Runs python/torch_equivalence.py once (Debian's /usr/bin/python3 with torch) to train each built-in architecture in
/// real PyTorch, then holds the folder of checkpoints and reference outputs/losses/gradients.
/// </summary>
public sealed class TorchReferenceFixture : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private readonly TempFolder? _folder;

    /// <summary>Runs the script, or records why it cannot run.</summary>
    public TorchReferenceFixture()
    {
        if (!System.IO.File.Exists(Python))
        {
            MissingReason = $"{Python} not found; install Debian's python3 with python3-torch and python3-numpy to compare against PyTorch.";
            return;
        }
        (int probe, _, string probeErr) = Run("-c \"import torch, numpy\"");
        if (probe != 0)
        {
            MissingReason = $"torch/numpy are not importable from {Python}: {probeErr.Trim()}";
            return;
        }
        _folder = new TempFolder();
        string script = Path.Combine(AppContext.BaseDirectory, "Checkpoints", "python", "torch_equivalence.py");
        (int code, string stdout, string stderr) = Run($"\"{script}\" \"{_folder.Path}\"");
        if (code != 0)
        {
            // Torch is present, so a failing script is a real failure, not a skip.
            throw new InvalidOperationException($"torch_equivalence.py failed (exit {code}):\n{stdout}\n{stderr}");
        }
        Log = stdout;
    }

    /// <summary>Why the comparison is skipped, or null when the references exist.</summary>
    public string? MissingReason { get; }

    /// <summary>The script's output (one line per case).</summary>
    public string Log { get; } = "";

    /// <summary>A file written by the script.</summary>
    public string File(string name) => _folder!.File(name);

    /// <inheritdoc/>
    public void Dispose() => _folder?.Dispose();

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

/// <summary>
/// Proof of equivalence with PyTorch: a checkpoint trained in torch, loaded into our engine model, gives torch's
/// outputs, loss and autograd gradients, in float32 and float64, for every built-in architecture.
/// When torch is absent each test writes "SKIPPED: ..." to its output and returns (xunit v2 has no dynamic skip).
/// </summary>
public sealed class TorchEquivalenceTests(TorchReferenceFixture torch, ITestOutputHelper output) : IClassFixture<TorchReferenceFixture>
{
    // Two chains: the loaded weights are broadcast to every chain, and chain 1 must match torch as well as chain 0.
    private const int Chains = 2;

    public static TheoryData<string> Cases => ["mlp_relu", "mlp_gelu", "mlp_gelu_tanh", "dln", "transformer_pre", "transformer_post"];

    /// <summary>
    /// Float32: both sides round each operation to float, but sum in different orders (GEMM blocking, reductions), so
    /// elementwise results differ by a few ulps times the depth of the computation. Errors are measured relative to the
    /// largest magnitude of each array (an entry near zero carries the absolute error of its neighbours); observed
    /// worst cases are below 1e-6 for outputs and losses and ~2e-6 for transformer gradients (which pass through
    /// softmax, layer norms and a 24-wide MLP twice), so 1e-5 and 5e-5 leave a margin without hiding a real mismatch: a
    /// wrong GELU form, attention scale or transposed weight changes results at the 1e-4..1 level. Subtler slips are
    /// the float64 test's job.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32_outputs_loss_and_gradients_equal_torch(string name)
    {
        if (Skip())
        {
            return;
        }
        Compare<float>(name, "f32", outputTolerance: 1e-5, gradientTolerance: 5e-5);
    }

    /// <summary>
    /// Float64 from the same (float32) weights: both sides now carry ~16 digits, so agreement to 1e-12 relative is
    /// expected (observed ~1e-15); this is the sharper test of the formulas. Checked by mutation: building torch's
    /// ln1 with eps 3e-5 instead of 1e-5 gives errors of 5e-6 (pre-LN) and 1e-4 (post-LN, eps 1e-3 → 3e-3) here.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64_outputs_loss_and_gradients_equal_torch(string name)
    {
        if (Skip())
        {
            return;
        }
        Compare<double>(name, "f64", outputTolerance: 1e-12, gradientTolerance: 1e-12);
    }

    [Fact]
    public void Half_bfloat16_and_double_checkpoints_load_converted()
    {
        if (Skip())
        {
            return;
        }
        var (reference, _) = Checkpoint.LoadModel<float>(torch.File("mlp_relu.safetensors"));
        var (fromF64, _) = Checkpoint.LoadModel<float>(torch.File("mlp_relu.f64.safetensors"));
        var (fromF16, _) = Checkpoint.LoadModel<float>(torch.File("mlp_relu.f16.safetensors"), chains: 3);
        var (fromBf16, _) = Checkpoint.LoadModel<double>(torch.File("mlp_relu.bf16.safetensors"));
        // F64 holds the float32 weights widened exactly, so narrowing must give them back bit for bit.
        Assert.Equal(reference.Parameters.Values.ToArray(), fromF64.Parameters.Values.ToArray());
        var w = reference.Parameters.Parameters;
        for (int i = 0; i < w.Count; i++)
        {
            float[] want = w[i].Value(0).ToArray();
            for (int c = 0; c < 3; c++)
            {
                // numpy's float16 cast and .NET's Half cast both round to nearest even.
                Assert.Equal(want.Select(v => (float)(Half)v).ToArray(), fromF16.Parameters.Parameters[i].Value(c).ToArray());
            }
            double[] bf16 = fromBf16.Parameters.Parameters[i].Value(0).ToArray();
            for (int j = 0; j < want.Length; j++)
            {
                Assert.Equal(RoundToBfloat16(want[j]), bf16[j]);
            }
        }
    }

    /// <summary>torch's float → bfloat16 cast: keep the upper 16 bits, rounding to nearest, ties to even.</summary>
    private static float RoundToBfloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000u);
    }

    private void Compare<T>(string name, string suffix, double outputTolerance, double gradientTolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (model, spec) = Checkpoint.LoadModel<T>(torch.File(name + ".safetensors"), Chains);
        Dictionary<string, NamedArray> reference = Npz.Read(torch.File(name + ".npz")).ToDictionary(a => a.Name);
        NamedArray inputs = reference["inputs"], targets = reference["targets"];
        var tape = new Tape<T>();
        model.Parameters.ZeroGradients();
        Node<T> prediction, loss;
        if (model is DecoderTransformer<T> transformer)
        {
            Assert.IsType<TransformerSpec>(spec);
            int batch = inputs.Shape[0], length = inputs.Shape[1];
            int[] tokens = Repeat(inputs.AsLongs().Select(v => checked((int)v)).ToArray());
            int[] next = Repeat(targets.AsLongs().Select(v => checked((int)v)).ToArray());
            prediction = transformer.Forward(tape, tokens, batch, length);
            loss = tape.CrossEntropy(prediction, next, Chains);
        }
        else
        {
            var layer = Assert.IsType<Sequential<T>>(model);
            int rows = inputs.Shape[0];
            T[] x = Repeat(inputs.AsFloats().Select(T.CreateChecked).ToArray());
            T[] y = Repeat(targets.AsFloats().Select(T.CreateChecked).ToArray());
            prediction = layer.Forward(tape, tape.Input(x, Chains, rows, inputs.Shape[1]));
            loss = tape.MseLoss(prediction, tape.Input(y, Chains, rows, targets.Shape[1]), Chains);
        }
        tape.Backward(loss);

        double[] wantOutput = reference[$"output.{suffix}"].ToDoubles();
        double wantLoss = reference[$"loss.{suffix}"].ToDoubles()[0];
        double worstGradient = 0;
        for (int c = 0; c < Chains; c++)
        {
            double[] output = ToDoubles(prediction.Value.Slice(c * wantOutput.Length, wantOutput.Length));
            AssertClose(wantOutput, output, outputTolerance, $"{name} chain {c} output");
            AssertClose([wantLoss], [double.CreateChecked(loss.Value[c])], outputTolerance, $"{name} chain {c} loss");
            foreach (Parameter<T> p in model.Parameters.Parameters)
            {
                worstGradient = Math.Max(worstGradient,
                    AssertClose(reference[$"grad.{p.Name}.{suffix}"].ToDoubles(), ToDoubles(p.Gradient(c)), gradientTolerance, $"{name} chain {c} gradient of {p.Name}"));
            }
        }
        output.WriteLine($"{name} {suffix}: loss ours {double.CreateChecked(loss.Value[0]):R} torch {wantLoss:R}; worst relative gradient error {worstGradient:E2}");
    }

    private static TV[] Repeat<TV>(TV[] oneChain)
    {
        var all = new TV[oneChain.Length * Chains];
        for (int c = 0; c < Chains; c++)
        {
            oneChain.CopyTo(all, c * oneChain.Length);
        }
        return all;
    }

    private static double[] ToDoubles<T>(ReadOnlySpan<T> values)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = double.CreateChecked(values[i]);
        }
        return result;
    }

    /// <summary>max |actual − expected| / max |expected| ≤ tolerance; returns the ratio.</summary>
    private static double AssertClose(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs), worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (err > worst)
            {
                worst = err;
                at = i;
            }
        }
        double relative = scale > 0 ? worst / scale : worst;
        Assert.True(relative <= tolerance,
            $"{what}: relative error {relative:E3} > {tolerance:E1} (at [{at}]: ours {actual[at]:R}, torch {expected[at]:R}; scale {scale:E3}).");
        return relative;
    }

    private bool Skip()
    {
        if (torch.MissingReason is { } reason)
        {
            output.WriteLine($"SKIPPED: {reason}");
            return true;
        }
        return false;
    }
}
