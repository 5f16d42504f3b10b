using System.Text.Json;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Formats;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Random;
using SltSharp.Models;

namespace SltSharp.Cli.Tests.Commands;

/// <summary>
/// <c>slt llc --checkpoint --spec --data</c>: files written with our own safetensors/npz writers (the formats a PyTorch
/// user writes, see docs/interop.md), run in-process.
/// </summary>
public sealed class CheckpointLlcTests : IDisposable
{
    private readonly CliRunner.TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>
    /// The DLN teacher and data of the built-in <c>--model dln</c> path, written to files: both paths sample the same
    /// posterior with the same seeds (batches and noise come from --seed), so the estimates must agree. The engine model
    /// and the hand-written DLN compute the same sums in different orders, so per-step values differ by rounding
    /// (~1e-16 relative); over 1000 localized SGLD steps that stays far below 1e-9, while any wiring slip (another w*,
    /// loss scale, data order, layout) changes λ̂ at the 1e-3..1 level.
    /// </summary>
    [Fact]
    public async Task A_dln_checkpoint_gives_the_estimate_of_the_builtin_path_on_the_same_weights_and_data()
    {
        int[] widths = [5, 4, 5];
        var files = WriteDlnTeacher(widths, rank: 1, n: 10_000, seed: 3);
        string[] sampling = ["--seed", "3", "--epsilon", "5e-7", "--chains", "2", "--burnin", "300", "--draws", "300", "--thinning", "1", "--batch-size", "100", "--threads", "1", "--json", "--no-store", "--quiet"];
        var builtin = await CliRunner.Run(["llc", "--model", "dln", "--widths", "5,4,5", "--rank", "1", .. sampling]);
        var checkpoint = await CliRunner.Run(["llc", "--checkpoint", files.Checkpoint, "--spec", files.Spec, "--data", files.Data, "--rank", "1", .. sampling]);
        Assert.True(builtin.Exit is 0 or 1, builtin.Err);
        Assert.True(checkpoint.Exit is 0 or 1, checkpoint.Err);
        var a = JsonDocument.Parse(builtin.Out).RootElement;
        var b = JsonDocument.Parse(checkpoint.Out).RootElement;
        Assert.Equal("checkpoint", b.GetProperty("model").GetString());
        Assert.Equal(a.GetProperty("params").GetInt32(), b.GetProperty("params").GetInt32());
        Assert.Equal(10_000, b.GetProperty("n").GetInt32());
        // Aoyagi for (5,4,5), r = 1: M+H < N+r fails etc.; the same function the built-in path uses, given --rank.
        Assert.Equal(a.GetProperty("exact_lambda").GetDouble(), b.GetProperty("exact_lambda").GetDouble());
        Assert.True(b.GetProperty("reference_loss").GetDouble() < 1e-20, "the noiseless teacher fits the data"); // exact up to rounding of y = teacher(x)
        double[] chainsA = [.. a.GetProperty("chain_llcs").EnumerateArray().Select(e => e.GetDouble())];
        double[] chainsB = [.. b.GetProperty("chain_llcs").EnumerateArray().Select(e => e.GetDouble())];
        for (int c = 0; c < chainsA.Length; c++)
        {
            Assert.True(Math.Abs(chainsA[c] - chainsB[c]) <= 1e-9 * Math.Abs(chainsA[c]), $"chain {c}: built-in {chainsA[c]:R}, checkpoint {chainsB[c]:R}");
        }
    }

    /// <summary>
    /// λ̂ of a DLN checkpoint against Aoyagi's λ, with the setting and the 10% tolerance of
    /// tests/SltSharp.Tests/Estimators/DeepLinearNetworkLlcTests.cs (finite-temperature bias ≈ 1.5% plus SGLD
    /// discretisation, measured −5.7..−8.2% there; Monte Carlo error asserted ≤ 3.5% of λ).
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_dln_checkpoint_estimate_matches_aoyagis_lambda()
    {
        var files = WriteDlnTeacher([5, 3, 5], rank: 0, n: 10_000, seed: 1);
        var (exit, stdout, stderr) = await CliRunner.Run("llc", "--checkpoint", files.Checkpoint, "--spec", files.Spec, "--data", files.Data, "--rank", "0",
            "--seed", "1", "--epsilon", "4e-6", "--chains", "4", "--burnin", "5000", "--draws", "1500", "--thinning", "5", "--batch-size", "100",
            "--threads", "2", "--json", "--no-store", "--quiet");
        Assert.True(exit is 0 or 1, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        double lambda = root.GetProperty("exact_lambda").GetDouble();
        Assert.Equal(6.5, lambda); // slt-reference §2b: (5,3,5); r=0 → 13/2
        double mean = root.GetProperty("llc_mean").GetDouble();
        Assert.True(root.GetProperty("llc_mcse").GetDouble() <= 0.035 * lambda, stdout);
        Assert.InRange(mean, 0.9 * lambda, 1.1 * lambda);
    }

    /// <summary>
    /// An MLP classifier (integer labels → cross-entropy by default) and a transformer (token arrays): the JSON's
    /// reference loss L(w*) must equal the loss computed here directly from the checkpoint's weights and the data, which
    /// checks that labels, tokens and weights reach the sampler in the right order.
    /// </summary>
    [Fact]
    public async Task Classifier_and_transformer_checkpoints_use_cross_entropy_on_the_given_data()
    {
        var mlpSpec = new MlpSpec([3, 8, 4], ActivationKind.Tanh);
        var mlp = (Sequential<double>)mlpSpec.Build<double>(1, new Rng(5));
        string mlpCheckpoint = _folder.File("mlp.safetensors");
        Checkpoint.Save(mlpCheckpoint, mlp.Parameters, mlpSpec);
        const int rows = 64;
        var x = new float[rows * 3];
        new Rng(6).FillGaussian(x.AsSpan(), 1f);
        long[] labels = [.. Enumerable.Range(0, rows).Select(i => (long)(i % 4))];
        string mlpData = _folder.File("mlp.npz");
        Npz.Write(mlpData, [NamedArray.Create("x", x, rows, 3), NamedArray.Create("y", labels, rows)]);
        var tape = new Tape<double>();
        var logits = mlp.Forward(tape, tape.Input([.. x.Select(v => (double)v)], 1, rows, 3));
        double wantMlp = tape.CrossEntropy(logits, labels.Select(l => (int)l).ToArray()).Value[0];

        // The spec is embedded in the checkpoint, so --spec may be left out.
        var (exit, stdout, stderr) = await CliRunner.Run("llc", "--checkpoint", mlpCheckpoint, "--data", mlpData, "--draws", "20", "--burnin", "0", "--chains", "2", "--json", "--no-store", "--quiet");
        Assert.True(exit is 0 or 1, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Contains("cross-entropy", root.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(wantMlp, root.GetProperty("reference_loss").GetDouble(), 12);
        Assert.Equal((3 * 8) + 8 + (8 * 4) + 4, root.GetProperty("params").GetInt32());

        var tSpec = new TransformerSpec(vocabulary: 7, context: 6, modelDimension: 8, heads: 2, layers: 1, mlpWidth: 16);
        var transformer = (DecoderTransformer<double>)tSpec.Build<double>(1, new Rng(8));
        string tCheckpoint = _folder.File("transformer.safetensors");
        Checkpoint.Save(tCheckpoint, transformer.Parameters);
        string tSpecFile = _folder.File("transformer.json");
        File.WriteAllText(tSpecFile, tSpec.ToJson());
        const int sequences = 12, length = 5;
        var rng = new Rng(9);
        long[] tokens = [.. Enumerable.Range(0, sequences * (length + 1)).Select(_ => (long)rng.NextInt(7))];
        // Next-token targets: y[i, t] = x[i, t + 1] of a length+1 sequence.
        long[] xs = [.. Enumerable.Range(0, sequences).SelectMany(i => tokens.Skip(i * (length + 1)).Take(length))];
        long[] ys = [.. Enumerable.Range(0, sequences).SelectMany(i => tokens.Skip((i * (length + 1)) + 1).Take(length))];
        string tData = _folder.File("tokens.npz");
        Npz.Write(tData, [NamedArray.Create("x", xs, sequences, length), NamedArray.Create("y", ys, sequences, length)]);
        tape.Reset();
        double wantTransformer = transformer.Loss(tape, xs.Select(v => (int)v).ToArray(), ys.Select(v => (int)v).ToArray(), sequences, length).Value[0];

        (exit, stdout, stderr) = await CliRunner.Run("llc", "--checkpoint", tCheckpoint, "--spec", tSpecFile, "--data", tData, "--draws", "10", "--burnin", "0", "--chains", "2", "--batch-size", "4", "--json", "--no-store", "--quiet");
        Assert.True(exit is 0 or 1, stderr);
        root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(wantTransformer, root.GetProperty("reference_loss").GetDouble(), 12);
        Assert.Equal(sequences, root.GetProperty("n").GetInt32());
        Assert.Equal(transformer.Parameters.CountPerChain, root.GetProperty("params").GetInt32());
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        { "x-width", "array 'x' has shape [50, 6], expected [n, 5] (the spec's input width 5)" },
        { "y-rows", "array 'y' has shape [49, 5], expected [50, 5]" },
        { "no-x", "has no array 'x' (the inputs); it holds 'inputs' [50, 5]" },
        { "spec-vs-checkpoint", "tensor '0.weight': shape mismatch: the model expects [3, 5], the file has [4, 5]" },
        { "truncated-checkpoint", "model.safetensors" },
        { "bad-spec", "--spec" },
        { "no-data", "--checkpoint needs --data" },
        { "model-and-checkpoint", "--model and --checkpoint exclude each other" },
        { "float-labels-for-cross-entropy", "class labels and tokens must be integers" },
        { "data-without-checkpoint", "--data goes with --checkpoint" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_checkpoint_spec_or_data_exits_with_code_two_and_names_the_problem(string scenario, string expected)
    {
        var files = WriteDlnTeacher([5, 4, 5], rank: 1, n: 50, seed: 2);
        string[] args = ["llc", "--checkpoint", files.Checkpoint, "--spec", files.Spec, "--data", files.Data, "--draws", "5", "--burnin", "0", "--no-store"];
        switch (scenario)
        {
            case "x-width":
                Npz.Write(files.Data, [NamedArray.Create("x", new double[50 * 6], 50, 6), NamedArray.Create("y", new double[50 * 5], 50, 5)]);
                break;
            case "y-rows":
                Npz.Write(files.Data, [NamedArray.Create("x", new double[50 * 5], 50, 5), NamedArray.Create("y", new double[49 * 5], 49, 5)]);
                break;
            case "no-x":
                Npz.Write(files.Data, [NamedArray.Create("inputs", new double[50 * 5], 50, 5)]);
                break;
            case "spec-vs-checkpoint":
                File.WriteAllText(files.Spec, """{"kind":"dln","widths":[5,3,5]}""");
                break;
            case "truncated-checkpoint":
                byte[] bytes = File.ReadAllBytes(files.Checkpoint);
                File.WriteAllBytes(files.Checkpoint, bytes[..(bytes.Length / 2)]);
                break;
            case "bad-spec":
                File.WriteAllText(files.Spec, """{"kind":"dln","widths":[5,4,5],"depth":3}""");
                expected = "unknown field";
                break;
            case "no-data":
                args = ["llc", "--checkpoint", files.Checkpoint, "--spec", files.Spec, "--no-store"];
                break;
            case "model-and-checkpoint":
                args = [.. args, "--model", "dln"];
                break;
            case "float-labels-for-cross-entropy":
                args = [.. args, "--loss", "cross-entropy"];
                Npz.Write(files.Data, [NamedArray.Create("x", new double[50 * 5], 50, 5), NamedArray.Create("y", new double[50], 50)]);
                break;
            case "data-without-checkpoint":
                args = ["llc", "--data", files.Data, "--no-store"];
                break;
        }
        var (exit, stdout, stderr) = await CliRunner.Run(args);
        Assert.Equal(2, exit);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal); // a message, not a stack trace
        Assert.Equal("", stdout);
    }

    private (string Checkpoint, string Spec, string Data) WriteDlnTeacher(int[] widths, int rank, int n, ulong seed)
    {
        var (task, teacher) = DeepLinearNetwork<double>.CreateTeacherTask(widths, rank, n, seed);
        var spec = new DeepLinearSpec(widths);
        var model = spec.Build<double>(1, new Rng(0));
        model.Parameters.CopyChainFrom(0, teacher);
        string checkpoint = _folder.File("model.safetensors");
        string specFile = _folder.File("model.json");
        string data = _folder.File("data.npz");
        Checkpoint.Save(checkpoint, model.Parameters);
        File.WriteAllText(specFile, spec.ToJson());
        Npz.Write(data, [NamedArray.Create("x", task.Inputs.ToArray(), n, widths[0]), NamedArray.Create("y", task.Targets.ToArray(), n, widths[^1])]);
        return (checkpoint, specFile, data);
    }
}
