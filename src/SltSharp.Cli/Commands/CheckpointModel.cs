using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Formats;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Models;
using SltSharp.Sampling;
using SltSharp.Theory;

namespace SltSharp.Cli.Commands;

/// <summary>The options that point <c>slt llc</c> at a model trained elsewhere.</summary>
internal sealed record CheckpointOptions(Option<string?> Checkpoint, Option<string?> Spec, Option<string?> Data, Option<string?> Loss)
{
    public IEnumerable<Option> All => [Checkpoint, Spec, Data, Loss];
}

/// <summary>
/// <c>slt llc --checkpoint model.safetensors --spec model.json --data data.npz</c>: the LLC of a model trained anywhere
/// (PyTorch included), at the checkpoint's weights, on the given data.
/// </summary>
/// <remarks>
/// <para>data.npz arrays: <c>x</c> the inputs, <c>y</c> the targets.</para>
/// <list type="bullet">
/// <item>mlp, dln: <c>x</c> float [n, in]; <c>y</c> float [n, out] (or [n] when out = 1) for <c>mse</c>, integer class
/// labels [n] in [0, out) for <c>cross-entropy</c> (the default when <c>y</c> is an integer array).</item>
/// <item>tms: <c>x</c> float [n, features]; <c>y</c> optional (the model reconstructs its input, so it defaults to x).</item>
/// <item>transformer: <c>x</c> integer tokens [n, T] (T ≤ context), <c>y</c> integer next tokens [n, T]; a sample is one
/// sequence, and the loss is the next-token cross-entropy.</item>
/// </list>
/// <para><c>mse</c> is the project's regression loss: the squared error summed over outputs and averaged over samples
/// (PyTorch: <c>((pred - y) ** 2).sum(-1).mean()</c>; for one output that is <c>nn.MSELoss()</c>); it is the loss the
/// exact DLN and TMS learning coefficients refer to.</para>
/// </remarks>
internal static class CheckpointModel
{
    /// <summary>The model name recorded in the store and printed in JSON.</summary>
    public const string ModelName = "checkpoint";

    public static readonly string[] Losses = ["mse", "cross-entropy"];

    public static CheckpointOptions CreateOptions()
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Estimate the LLC of a trained model: a safetensors file with PyTorch state_dict names (see docs/interop.md); needs --data." };
        var spec = new Option<string?>("--spec") { Description = "With --checkpoint: the model spec JSON (e.g. {\"kind\":\"mlp\",\"widths\":[2,16,1],\"activation\":\"relu\"}); optional when the checkpoint embeds one." };
        var data = new Option<string?>("--data") { Description = "With --checkpoint: an .npz holding x (inputs) and y (targets; for a transformer integer token arrays [n, T])." };
        var loss = new Option<string?>("--loss") { Description = "With --checkpoint: mse (squared error summed over outputs, averaged over samples) or cross-entropy. Default: cross-entropy for a transformer or integer targets, mse otherwise." };
        loss.AcceptOnlyFromAmong(Losses);
        return new CheckpointOptions(checkpoint, spec, data, loss);
    }

    /// <summary>
    /// Defaults for a checkpoint of <paramref name="n"/> samples: minibatches of 100 (full batch below that), and a shorter
    /// run than the built-in DLN's, since an engine model costs more per step; the verdict says when to sample longer.
    /// </summary>
    public static ModelDefaults Defaults(int n) => new(n, n > 100 ? 100 : 0, 1_000, 2_000, 1);

    /// <summary>
    /// The checkpoint model when <c>--checkpoint</c> is given (null otherwise), after checking that the options that
    /// describe a built-in model are not mixed in. An explicit <c>--rank</c> names the teacher rank of a dln checkpoint.
    /// </summary>
    public static BuiltinModel? FromCommandLine(ParseResult parse, CheckpointOptions options, Option<string> model, Option<int?> n, Option<int> rank,
        out JsonObject? description)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(options);
        description = null;
        string? checkpoint = parse.GetValue(options.Checkpoint);
        if (checkpoint is null)
        {
            foreach (Option option in new Option[] { options.Spec, options.Data, options.Loss })
            {
                if (parse.GetResult(option) is { Implicit: false })
                {
                    throw new CliUsageException($"{option.Name} goes with --checkpoint FILE.safetensors; give both, or leave {option.Name} out for a built-in --model.");
                }
            }
            return null;
        }
        if (parse.GetResult(model) is { Implicit: false })
        {
            throw new CliUsageException("--model and --checkpoint exclude each other: with --checkpoint the spec says what the model is.");
        }
        if (parse.GetValue(n) is { } count)
        {
            throw new CliUsageException($"--n {count} does not apply with --checkpoint: the dataset is every row of x in --data.");
        }
        int? teacherRank = parse.GetResult(rank) is { Implicit: false } ? parse.GetValue(rank) : null;
        var setup = Load(checkpoint, parse.GetValue(options.Spec), parse.GetValue(options.Data), parse.GetValue(options.Loss), teacherRank, out var loaded);
        description = loaded;
        return setup;
    }

    /// <summary>Reads and cross-checks checkpoint, spec and data; every mismatch is a usage error naming the array or tensor and both shapes.</summary>
    /// <param name="checkpointPath">The safetensors file.</param>
    /// <param name="specPath">The spec JSON file, or null to use the spec embedded in the checkpoint.</param>
    /// <param name="dataPath">The .npz file.</param>
    /// <param name="lossName">"mse", "cross-entropy" or null for the default.</param>
    /// <param name="teacherRank">For a dln spec: the rank of the true product, which gives Aoyagi's exact λ; null when unknown.</param>
    /// <param name="description">What identifies the measurement in the store: paths, file hashes, spec and loss.</param>
    public static BuiltinModel Load(string checkpointPath, string? specPath, string? dataPath, string? lossName, int? teacherRank, out JsonObject description)
    {
        RequireFile(checkpointPath, "--checkpoint");
        if (dataPath is null)
        {
            throw new CliUsageException("--checkpoint needs --data FILE.npz with the inputs x and targets y the LLC is measured on (see docs/interop.md).");
        }
        RequireFile(dataPath, "--data");
        ModelSpec spec = ReadSpec(checkpointPath, specPath);
        var arrays = new Dictionary<string, NamedArray>(StringComparer.Ordinal);
        foreach (NamedArray a in Npz.Read(dataPath))
        {
            arrays[a.Name] = a;
        }
        if (!arrays.TryGetValue("x", out NamedArray? x))
        {
            throw new CliUsageException($"--data {dataPath} has no array 'x' (the inputs); it holds {Names(arrays)}. Save it with numpy.savez(path, x=inputs, y=targets).");
        }
        arrays.TryGetValue("y", out NamedArray? y);
        string loss = lossName ?? DefaultLoss(spec, y);
        var data = new DataFile(dataPath, x, y);
        IChainedLoss<double> chainedLoss = spec switch
        {
            TransformerSpec t => TransformerLoss(t, data, loss),
            TmsSpec t => RegressionLoss(spec, data, loss, t.Features, t.Features, allowMissingTargets: true),
            MlpSpec m => Rows(spec, data, loss, m.Widths[0], m.Widths[^1]),
            DeepLinearSpec d => Rows(spec, data, loss, d.Widths[0], d.Widths[^1]),
            _ => throw new CliUsageException($"--spec kind \"{spec.Kind}\" is not supported by slt llc --checkpoint."),
        };
        double[] wStar = SpecModels.LoadFlat<double>(spec, checkpointPath);
        LearningCoefficient? exact = null;
        if (teacherRank is { } rank)
        {
            if (spec is not DeepLinearSpec dln || loss != "mse")
            {
                throw new CliUsageException("--rank with --checkpoint gives the exact λ of a deep linear network under the mse loss; the spec is not a dln (or the loss is not mse), so leave --rank out.");
            }
            if (rank > dln.Widths.Min())
            {
                throw new CliUsageException($"--rank {rank} exceeds the narrowest layer of the spec ({dln.Widths.Min()}).");
            }
            exact = LearningCoefficients.DeepLinearNetwork([.. dln.Widths], rank);
        }
        description = new JsonObject
        {
            ["name"] = ModelName,
            ["checkpoint"] = Path.GetFullPath(checkpointPath),
            ["checkpoint_sha256"] = Sha256(checkpointPath),
            ["data"] = Path.GetFullPath(dataPath),
            ["data_sha256"] = Sha256(dataPath),
            ["spec"] = JsonNode.Parse(spec.ToJson()),
            ["loss"] = loss,
            ["rank"] = teacherRank,
        };
        string text = $"{spec.Kind} from {Path.GetFileName(checkpointPath)} on {Path.GetFileName(dataPath)} ({loss} loss)";
        return new BuiltinModel(text, chainedLoss, wStar, exact, DefaultStepSize(spec, x, chainedLoss.SampleCount), null);
    }

    private sealed record DataFile(string Path, NamedArray X, NamedArray? Y);

    private static ModelSpec ReadSpec(string checkpointPath, string? specPath)
    {
        if (specPath is null)
        {
            return Checkpoint.ReadSpec(checkpointPath) ?? throw new CliUsageException(
                $"--checkpoint {checkpointPath} has no embedded model spec; pass --spec model.json, e.g. {{\"kind\":\"dln\",\"widths\":[10,20,10]}} (see docs/interop.md).");
        }
        RequireFile(specPath, "--spec");
        try
        {
            return ModelSpec.Parse(File.ReadAllText(specPath));
        }
        catch (ModelSpecException ex)
        {
            throw new CliUsageException($"--spec {specPath}: {ex.Message}");
        }
    }

    private static string DefaultLoss(ModelSpec spec, NamedArray? y) => spec switch
    {
        TransformerSpec => "cross-entropy",
        MlpSpec or DeepLinearSpec when y is not null && IsInteger(y) => "cross-entropy",
        _ => "mse",
    };

    private static IChainedLoss<double> Rows(ModelSpec spec, DataFile data, string loss, int inputs, int outputs) =>
        loss == "cross-entropy" ? ClassifierLoss(spec, data, inputs, outputs) : RegressionLoss(spec, data, loss, inputs, outputs, allowMissingTargets: false);

    private static IChainedLoss<double> RegressionLoss(ModelSpec spec, DataFile data, string loss, int inputs, int outputs, bool allowMissingTargets)
    {
        if (loss != "mse")
        {
            throw new CliUsageException($"--loss {loss} does not apply to a {spec.Kind} model; use --loss mse.");
        }
        double[] x = FloatRows(data, data.X, "x", inputs, $"the spec's input width {inputs}");
        int n = x.Length / inputs;
        double[] y;
        if (data.Y is null)
        {
            y = allowMissingTargets ? x
                : throw new CliUsageException($"--data {data.Path} has no array 'y' (the targets, float [{n}, {outputs}]).");
        }
        else
        {
            y = FloatRows(data, data.Y, "y", outputs, $"the spec's output width {outputs}", rows: n);
        }
        return new EngineChainedLoss<double>(() => Layer(spec), x, inputs, y, outputs,
            (tape, prediction, target, chains) => tape.Scale(tape.MseLoss(prediction, target, chains), outputs));
    }

    private static IChainedLoss<double> ClassifierLoss(ModelSpec spec, DataFile data, int inputs, int classes)
    {
        double[] x = FloatRows(data, data.X, "x", inputs, $"the spec's input width {inputs}");
        int n = x.Length / inputs;
        NamedArray y = data.Y ?? throw new CliUsageException($"--data {data.Path} has no array 'y' (the class labels, integers [{n}]).");
        int[] labels = Integers(data, y, "y", [n], $"one class label per row of x ({n})", classes, "the spec's output width (number of classes)");
        // EngineChainedLoss hands targets to the loss as rows of T; labels are small integers, exact in double.
        double[] targets = [.. labels.Select(l => (double)l)];
        return new EngineChainedLoss<double>(() => Layer(spec), x, inputs, targets, 1, CrossEntropyOverLabelRows);
    }

    /// <summary>Cross-entropy of logits [C, m, K] against the class labels carried as a [C, m, 1] target node.</summary>
    private static Engine.Autodiff.Node<double> CrossEntropyOverLabelRows(Engine.Autodiff.Tape<double> tape, Engine.Autodiff.Node<double> logits, Engine.Autodiff.Node<double> target, int chains)
    {
        ReadOnlySpan<double> values = target.Value;
        // CrossEntropy copies the labels, so a pooled buffer can go back right after; no allocation per step.
        int[] labels = System.Buffers.ArrayPool<int>.Shared.Rent(values.Length);
        try
        {
            for (int i = 0; i < values.Length; i++)
            {
                labels[i] = (int)values[i];
            }
            return tape.CrossEntropy(logits, labels.AsSpan(0, values.Length), chains);
        }
        finally
        {
            System.Buffers.ArrayPool<int>.Shared.Return(labels);
        }
    }

    private static IChainedLoss<double> TransformerLoss(TransformerSpec spec, DataFile data, string loss)
    {
        if (loss != "cross-entropy")
        {
            throw new CliUsageException("--loss mse does not apply to a transformer; its loss is the next-token cross-entropy (--loss cross-entropy).");
        }
        if (data.X.Shape.Count != 2)
        {
            throw new CliUsageException($"--data {data.Path}: array 'x' has shape {Shape(data.X)}, but a transformer needs token sequences [n, T] with T ≤ context {spec.Context}.");
        }
        int n = data.X.Shape[0], length = data.X.Shape[1];
        if (length < 1 || length > spec.Context)
        {
            throw new CliUsageException($"--data {data.Path}: array 'x' has shape {Shape(data.X)}: sequences of length {length}, but the spec's context is {spec.Context}; use 1 ≤ T ≤ {spec.Context}.");
        }
        int[] tokens = Integers(data, data.X, "x", [n, length], "token sequences [n, T]", spec.Vocabulary, "the spec's vocab");
        NamedArray y = data.Y ?? throw new CliUsageException($"--data {data.Path} has no array 'y' (the next tokens, integers [{n}, {length}]).");
        int[] targets = Integers(data, y, "y", [n, length], $"the shape of x, {Shape(data.X)}", spec.Vocabulary, "the spec's vocab");
        return new TokenSequenceChainedLoss<double>(() => (Engine.Layers.DecoderTransformer<double>)SpecModels.Create<double>(spec), tokens, targets, length);
    }

    private static Layer<double> Layer(ModelSpec spec) => SpecModels.Create<double>(spec) as Layer<double>
        ?? throw new CliUsageException($"A {spec.Kind} model does not take rows of numbers as input.");

    /// <summary>A float array [n, width] (or [n] when width is 1) as doubles, checking its shape.</summary>
    private static double[] FloatRows(DataFile data, NamedArray a, string name, int width, string widthMeaning, int? rows = null)
    {
        bool shapeOk = a.Shape.Count == 2 ? a.Shape[1] == width : a.Shape.Count == 1 && width == 1;
        if (!shapeOk || a.Shape[0] < 1 || (rows is { } r && a.Shape[0] != r))
        {
            string want = rows is { } n ? $"[{n}, {width}]" : $"[n, {width}]";
            throw new CliUsageException($"--data {data.Path}: array '{name}' has shape {Shape(a)}, expected {want} ({widthMeaning}{(rows is null ? "" : ", one row per row of x")}).");
        }
        if (IsInteger(a))
        {
            throw new CliUsageException($"--data {data.Path}: array '{name}' holds integers ({a.DType}); this loss needs float inputs/targets (save them as float32 or float64, or use --loss cross-entropy for class labels).");
        }
        double[] values = a.ToDoubles();
        int bad = Array.FindIndex(values, v => !double.IsFinite(v));
        if (bad >= 0)
        {
            throw new CliUsageException($"--data {data.Path}: array '{name}' has a non-finite value ({values[bad]}) at flat index {bad}.");
        }
        return values;
    }

    private static int[] Integers(DataFile data, NamedArray a, string name, int[] shape, string shapeMeaning, int bound, string boundMeaning)
    {
        if (!a.Shape.SequenceEqual(shape))
        {
            throw new CliUsageException($"--data {data.Path}: array '{name}' has shape {Shape(a)}, expected [{string.Join(", ", shape)}] ({shapeMeaning}).");
        }
        if (!IsInteger(a))
        {
            throw new CliUsageException($"--data {data.Path}: array '{name}' holds {a.DType}; class labels and tokens must be integers (int32 or int64, e.g. torch.long).");
        }
        double[] values = a.ToDoubles();
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] < 0 || values[i] >= bound)
            {
                throw new CliUsageException($"--data {data.Path}: array '{name}' has value {values[i]} at flat index {i}, outside [0, {bound}) ({boundMeaning}).");
            }
            result[i] = (int)values[i];
        }
        return result;
    }

    /// <summary>
    /// A step size for the default nβ = n/ln n. The gradient of a squared-error loss changes with the weights at a rate
    /// ∝ E[x²] (the input scale), so ε ≈ 0.02 / (nβ·(1 + E[x²])) keeps ε·nβ·curvature small enough for Langevin steps
    /// to stay stable and the discretisation bias low: for the built-in DLN data (x ~ U[−10, 10], n = 10⁴) it gives
    /// 5.4e-7, the step the DLN tests use at rank > 0; for the tanh MLP of docs/examples/torch_to_slt.py (standard normal
    /// inputs, n = 512) 1.2e-4, where the acceptance diagnostic asks for ≈1.3e-4. Token inputs are not magnitudes, so a
    /// transformer uses the scale 1. The verdict says when to change it.
    /// </summary>
    private static double DefaultStepSize(ModelSpec spec, NamedArray x, int n)
    {
        double secondMoment = spec is TransformerSpec ? 1.0 : x.ToDoubles().Average(v => v * v);
        return 0.02 / (LocalizedPosterior.DefaultNBeta(Math.Max(n, 3)) * (1.0 + secondMoment));
    }

    private static bool IsInteger(NamedArray a) => a.DType is DType.I32 or DType.I64;

    private static void RequireFile(string path, string option)
    {
        if (!File.Exists(path))
        {
            throw new CliUsageException($"{option} {path}: no such file.");
        }
    }

    private static string Sha256(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static string Names(Dictionary<string, NamedArray> arrays) =>
        arrays.Count == 0 ? "no arrays" : string.Join(", ", arrays.Values.Select(a => $"'{a.Name}' {Shape(a)}"));

    private static string Shape(NamedArray a) => $"[{string.Join(", ", a.Shape)}]";
}
