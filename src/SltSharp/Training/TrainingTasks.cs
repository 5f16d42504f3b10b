using System.Globalization;
using System.Text.Json.Nodes;
using MathNet.Numerics.LinearAlgebra;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Random;
using SltSharp.Estimators;
using SltSharp.Models;
using SltSharp.Models.Tms;

namespace SltSharp.Training;

/// <summary>
/// What identifies a training task: the model kind, its sizes, the data and the initialisation scale. Stored as JSON
/// with every training run so that <c>slt trajectory</c> rebuilds the same data and model.
/// </summary>
public sealed record TrainingTaskConfig
{
    /// <summary>Model kind: <c>dln</c>, <c>mlp</c> or <c>tms</c> (<see cref="TrainingTasks.Models"/>).</summary>
    public string Model { get; init; } = "dln";

    /// <summary>Layer widths, input first (dln, mlp); ignored by tms (2 hidden, 6 features).</summary>
    public IReadOnlyList<int> Widths { get; init; } = [];

    /// <summary>dln: singular values of the teacher's product, largest first (their number is its rank).</summary>
    public IReadOnlyList<double> SingularValues { get; init; } = [];

    /// <summary>Number of training samples n.</summary>
    public int SampleCount { get; init; } = 1000;

    /// <summary>Seed of the data (inputs, teacher, probe set).</summary>
    public ulong DataSeed { get; init; }

    /// <summary>Factor applied to the default initial weights (dln: small, so that modes are learned one by one).</summary>
    public double InitScale { get; init; } = 1.0;

    /// <summary>Number of probe inputs for essential dynamics.</summary>
    public int ProbeCount { get; init; } = 64;

    /// <summary>The config as JSON (snake_case).</summary>
    public JsonObject ToJson() => new()
    {
        ["model"] = Model,
        ["widths"] = new JsonArray([.. Widths.Select(w => (JsonNode?)w)]),
        ["singular_values"] = new JsonArray([.. SingularValues.Select(s => (JsonNode?)s)]),
        ["n"] = SampleCount,
        ["data_seed"] = DataSeed,
        ["init_scale"] = InitScale,
        ["probe_count"] = ProbeCount,
    };

    /// <summary>Reads <see cref="ToJson"/>'s form back.</summary>
    /// <exception cref="FormatException">A field is missing or of the wrong type.</exception>
    public static TrainingTaskConfig FromJson(JsonObject json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return new TrainingTaskConfig
            {
                Model = (string?)json["model"] ?? throw new FormatException("The training task config has no 'model'."),
                Widths = [.. (json["widths"]?.AsArray() ?? []).Select(w => (int)w!)],
                SingularValues = [.. (json["singular_values"]?.AsArray() ?? []).Select(s => (double)s!)],
                SampleCount = (int)json["n"]!,
                DataSeed = (ulong)json["data_seed"]!,
                InitScale = (double)json["init_scale"]!,
                ProbeCount = (int)json["probe_count"]!,
            };
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new FormatException($"The training task config '{json.ToJsonString()}' is incomplete or malformed ({e.Message}).", e);
        }
    }
}

/// <summary>The built-in training tasks: their data generators, models and losses.</summary>
public static class TrainingTasks
{
    /// <summary>Model kinds <see cref="Create"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Models = ["dln", "mlp", "tms"];

    /// <summary>Builds the task a config describes.</summary>
    /// <exception cref="ArgumentException">The config does not describe a valid task (the message names the field).</exception>
    public static TrainingTask Create(TrainingTaskConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.SampleCount < 1)
        {
            throw new ArgumentException($"The dataset needs at least one sample; got n = {config.SampleCount}.", nameof(config));
        }
        if (config.ProbeCount < 1)
        {
            throw new ArgumentException($"Essential dynamics needs at least one probe input; got {config.ProbeCount}.", nameof(config));
        }
        if (!(config.InitScale > 0) || double.IsInfinity(config.InitScale))
        {
            throw new ArgumentException($"The initialisation scale must be a finite number > 0; got {config.InitScale}.", nameof(config));
        }
        return config.Model switch
        {
            "dln" => DeepLinear(config),
            "mlp" => Mlp(config),
            "tms" => Tms(config),
            _ => throw new ArgumentException($"Unknown model '{config.Model}'; the training tasks are {string.Join(", ", Models)}.", nameof(config)),
        };
    }

    /// <summary>
    /// The sampler configuration <c>slt trajectory</c> uses for a task unless told otherwise (one configuration for every
    /// checkpoint, so the curve compares like with like).
    /// </summary>
    /// <remarks>
    /// dln: checkpoints of saddle-to-saddle training sit at saddles and, in between, mid-transition where the gradient is
    /// large. Near a saddle the loss has negative curvature up to 2·s_max (s_max the teacher's largest singular value) and
    /// the localized posterior exists only if γ exceeds nβ times it; otherwise chains slide downhill and λ̂ plunges to large
    /// negative values (measured on the default run: λ̂ ≈ −2300 at step 0 with nβ = n/ln n = 145, γ = 100). nβ = 2, γ = 50
    /// keeps γ above 3·nβ·8 for the default teacher, so λ̂ stays finite everywhere; it then counts directions stiffer than
    /// γ/nβ (an effective dimension at that resolution) rather than reaching Aoyagi's λ, which is what a curve over training
    /// needs. On the default run it rises from −0.6 to 1.2 as the first mode is learned and to 1.66 with the other two
    /// (two type-A stages). The other tasks' defaults (nβ = n/ln n, γ = 100) are reasonable starting points, not calibrated.
    /// </remarks>
    public static LlcOptions DefaultLlcOptions(TrainingTaskConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Model switch
        {
            "dln" => new LlcOptions { StepSize = 1e-3, NBeta = 2, Localization = 50, Chains = 4, Draws = 400, Burnin = 200, BatchSize = null },
            "mlp" => new LlcOptions { StepSize = 1e-3, Localization = 100, Chains = 4, Draws = 400, Burnin = 200, BatchSize = 100 },
            _ => new LlcOptions { StepSize = 1e-3, Localization = 100, Chains = 4, Draws = 400, Burnin = 200, BatchSize = 500 },
        };
    }

    /// <summary>
    /// Saxe et al.'s setting: a deep linear network learns a teacher y = U·diag(s)·Vᵀ·x with prescribed singular values s
    /// from x ~ N(0, I) (noiseless). From small initialisation each singular mode is learned in turn, larger first, with
    /// plateaus in between: saddle-to-saddle dynamics. Loss: squared error summed over outputs, averaged over samples,
    /// the loss of <see cref="DeepLinearNetwork{T}"/>, which is used (same flat layout) for sampling.
    /// </summary>
    private static TrainingTask DeepLinear(TrainingTaskConfig config)
    {
        int[] widths = [.. config.Widths];
        if (widths.Length < 2 || widths.Any(w => w < 1))
        {
            throw new ArgumentException($"A deep linear network needs at least two positive widths (input and output), e.g. 5,5,5; got [{string.Join(",", widths)}].", nameof(config));
        }
        double[] s = [.. config.SingularValues];
        if (s.Length > widths.Min() || s.Any(v => !(v > 0) || double.IsInfinity(v)))
        {
            throw new ArgumentException($"The teacher's singular values must be finite and > 0, at most {widths.Min()} of them (the narrowest width); got [{string.Join(",", s)}].", nameof(config));
        }
        int din = widths[0], dout = widths[^1], n = config.SampleCount, r = s.Length;
        var u = Orthonormal(dout, r, new Rng(config.DataSeed, 10));
        var v = Orthonormal(din, r, new Rng(config.DataSeed, 11));
        var teacher = new double[dout * din];
        for (int o = 0; o < dout; o++)
        {
            for (int i = 0; i < din; i++)
            {
                double acc = 0;
                for (int k = 0; k < r; k++)
                {
                    acc += u[o, k] * s[k] * v[i, k];
                }
                teacher[(o * din) + i] = acc;
            }
        }
        var x = Gaussian(n * din, new Rng(config.DataSeed, 1));
        var y = Apply(teacher, dout, din, x);
        var probe = Gaussian(config.ProbeCount * din, new Rng(config.DataSeed, 2));
        string description = string.Create(CultureInfo.InvariantCulture,
            $"deep linear network {string.Join("×", widths)} learning a teacher with singular values {(r == 0 ? "(none)" : string.Join(", ", s))} from x ~ N(0, I), n = {n}, init scale {config.InitScale:G3}");
        return new TrainingTask(config, description, new DeepLinearSpec(widths), () => Sequential<double>.DeepLinear(widths),
            x, din, y, dout, SumOverOutputs(dout), probe, config.InitScale,
            () => new DeepLinearNetwork<double>(widths, x, y));
    }

    /// <summary>
    /// Teacher–student regression with a ReLU MLP: the teacher is an MLP of the same widths with its own random
    /// initialisation (seed stream 3 of the data seed), inputs x ~ N(0, I), noiseless targets.
    /// </summary>
    private static TrainingTask Mlp(TrainingTaskConfig config)
    {
        int[] widths = [.. config.Widths];
        if (widths.Length < 2 || widths.Any(w => w < 1))
        {
            throw new ArgumentException($"An MLP needs at least two positive widths (input and output), e.g. 2,16,1; got [{string.Join(",", widths)}].", nameof(config));
        }
        int din = widths[0], dout = widths[^1], n = config.SampleCount;
        var spec = new MlpSpec(widths);
        var teacher = spec.CreateModule<double>();
        teacher.Build(1, new Rng(config.DataSeed, 3));
        var x = Gaussian(n * din, new Rng(config.DataSeed, 1));
        var tape = new Tape<double>();
        var y = ((Layer<double>)teacher).Forward(tape, tape.Input(x, 1, n, din)).Value.ToArray();
        var probe = Gaussian(config.ProbeCount * din, new Rng(config.DataSeed, 2));
        string description = $"ReLU MLP {string.Join("×", widths)} learning a random teacher MLP of the same widths from x ~ N(0, I), n = {n}";
        return new TrainingTask(config, description, spec, () => (Layer<double>)spec.CreateModule<double>(),
            x, din, y, dout, SumOverOutputs(dout), probe, config.InitScale);
    }

    /// <summary>The toy model of superposition (6 features, 2 hidden) on its sparse data (slt-reference §2c).</summary>
    private static TrainingTask Tms(TrainingTaskConfig config)
    {
        const int features = 6, hidden = 2;
        var x = TmsTask.GenerateData<double>(config.SampleCount, config.DataSeed, features);
        // The probe set: every feature at a few intensities, so each feature's reconstruction is visible.
        int perFeature = Math.Max(1, config.ProbeCount / features);
        var probe = new double[perFeature * features * features];
        for (int f = 0; f < features; f++)
        {
            for (int k = 0; k < perFeature; k++)
            {
                probe[(((f * perFeature) + k) * features) + f] = (k + 1.0) / perFeature;
            }
        }
        string description = $"toy model of superposition {hidden}×{features} on x = μ·e_i (μ ~ U[0,1]), n = {config.SampleCount}";
        return new TrainingTask(config with { ProbeCount = perFeature * features }, description, new TmsSpec(features, hidden),
            () => new TmsModel<double>(hidden, features), x, features, x, features, SumOverOutputs(features), probe, config.InitScale);
    }

    /// <summary>Squared error summed over outputs and averaged over samples (MseLoss averages over both, hence the factor).</summary>
    private static ChainLossFunction<double> SumOverOutputs(int outputs) =>
        (tape, prediction, target, chains) => tape.Scale(tape.MseLoss(prediction, target, chains), outputs);

    private static double[] Gaussian(int count, Rng rng)
    {
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = rng.NextGaussian();
        }
        return values;
    }

    /// <summary>Rows of x (n×din) times the teacher (dout×din) transposed: n×dout.</summary>
    private static double[] Apply(double[] w, int dout, int din, double[] x)
    {
        int n = x.Length / din;
        var y = new double[n * dout];
        for (int s = 0; s < n; s++)
        {
            for (int o = 0; o < dout; o++)
            {
                double acc = 0;
                for (int i = 0; i < din; i++)
                {
                    acc += w[(o * din) + i] * x[(s * din) + i];
                }
                y[(s * dout) + o] = acc;
            }
        }
        return y;
    }

    /// <summary>A rows×cols matrix with orthonormal columns (QR of a Gaussian matrix).</summary>
    private static Matrix<double> Orthonormal(int rows, int cols, Rng rng)
    {
        if (cols == 0)
        {
            return Matrix<double>.Build.Dense(rows, 0);
        }
        var g = Matrix<double>.Build.Dense(rows, cols, (_, _) => rng.NextGaussian());
        return g.QR(MathNet.Numerics.LinearAlgebra.Factorization.QRMethod.Thin).Q;
    }
}
