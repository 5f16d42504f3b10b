using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Layers;
using SltSharp.Models;
using SltSharp.Sampling;

namespace SltSharp.Training;

/// <summary>
/// A model and the synthetic data it is trained on: everything <see cref="TrainingSession"/> needs to train it, the
/// LLC estimator needs to sample around one of its checkpoints, and essential dynamics needs to read its outputs on a
/// fixed probe set. Built by <see cref="TrainingTasks"/> from a <see cref="TrainingTaskConfig"/>, so a recorded run can
/// rebuild its task exactly.
/// </summary>
public sealed class TrainingTask
{
    private readonly Func<IChainedLoss<double>>? _samplingLoss;
    private Layer<double>? _probeModel;
    private readonly Tape<double> _probeTape = new();

    /// <summary>Creates a task. Inputs and targets are n rows each (row-major); the probe inputs are rows of the same width.</summary>
    /// <param name="config">The configuration the task was built from.</param>
    /// <param name="description">One line for people.</param>
    /// <param name="spec">The architecture, stored in every checkpoint.</param>
    /// <param name="createModel">Creates a new, unbuilt model (one per use).</param>
    /// <param name="inputs">Training inputs, n×<paramref name="inputWidth"/>.</param>
    /// <param name="inputWidth">Values per input row.</param>
    /// <param name="targets">Training targets, n×<paramref name="targetWidth"/>.</param>
    /// <param name="targetWidth">Values per target row.</param>
    /// <param name="loss">The per-chain mean loss over a batch (the same for training and for sampling).</param>
    /// <param name="probeInputs">Fixed inputs on which essential dynamics reads the outputs.</param>
    /// <param name="initScale">Factor applied to the model's default initial weights (small init for saddle-to-saddle dynamics).</param>
    /// <param name="samplingLoss">A faster implementation of the same loss for sampling, with the same flat parameter layout
    /// (e.g. the hand-written deep linear network); null uses <see cref="EngineChainedLoss{T}"/>.</param>
    public TrainingTask(
        TrainingTaskConfig config, string description, ModelSpec spec, Func<Layer<double>> createModel,
        double[] inputs, int inputWidth, double[] targets, int targetWidth, ChainLossFunction<double> loss,
        double[] probeInputs, double initScale = 1.0, Func<IChainedLoss<double>>? samplingLoss = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(createModel);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(probeInputs);
        if (inputs.Length == 0 || inputs.Length % inputWidth != 0 || targets.Length != inputs.Length / inputWidth * targetWidth)
        {
            throw new ArgumentException($"Inputs must be n×{inputWidth} and targets n×{targetWidth} (n ≥ 1); got {inputs.Length} and {targets.Length} values.", nameof(inputs));
        }
        if (probeInputs.Length == 0 || probeInputs.Length % inputWidth != 0)
        {
            throw new ArgumentException($"Probe inputs must be rows of {inputWidth} values; got {probeInputs.Length} values.", nameof(probeInputs));
        }
        Config = config;
        Description = description;
        Spec = spec;
        CreateModel = createModel;
        Inputs = inputs;
        InputWidth = inputWidth;
        Targets = targets;
        TargetWidth = targetWidth;
        Loss = loss;
        ProbeInputs = probeInputs;
        InitScale = initScale;
        _samplingLoss = samplingLoss;
    }

    /// <summary>The configuration the task was built from.</summary>
    public TrainingTaskConfig Config { get; }

    /// <summary>One line for people, e.g. <c>deep linear network 5×5×5, teacher singular values 4, 1, 0.25</c>.</summary>
    public string Description { get; }

    /// <summary>The architecture, stored in every checkpoint's metadata.</summary>
    public ModelSpec Spec { get; }

    /// <summary>Creates a new, unbuilt model.</summary>
    public Func<Layer<double>> CreateModel { get; }

    /// <summary>Training inputs, n rows of <see cref="InputWidth"/>.</summary>
    public double[] Inputs { get; }

    /// <summary>Values per input row.</summary>
    public int InputWidth { get; }

    /// <summary>Training targets, n rows of <see cref="TargetWidth"/>.</summary>
    public double[] Targets { get; }

    /// <summary>Values per target row.</summary>
    public int TargetWidth { get; }

    /// <summary>The per-chain mean loss over a batch.</summary>
    public ChainLossFunction<double> Loss { get; }

    /// <summary>Fixed inputs for essential dynamics, rows of <see cref="InputWidth"/>.</summary>
    public double[] ProbeInputs { get; }

    /// <summary>Factor applied to the default initial weights.</summary>
    public double InitScale { get; }

    /// <summary>Number of training samples n.</summary>
    public int SampleCount => Inputs.Length / InputWidth;

    /// <summary>Number of probe inputs.</summary>
    public int ProbeCount => ProbeInputs.Length / InputWidth;

    /// <summary>The training loss as the samplers see it (flat layout: the model's parameters in state_dict order).</summary>
    public IChainedLoss<double> CreateSamplingLoss() =>
        _samplingLoss?.Invoke() ?? new EngineChainedLoss<double>(CreateModel, Inputs, InputWidth, Targets, TargetWidth, Loss);

    /// <summary>
    /// The model's outputs on the probe inputs at the flat parameter vector <paramref name="parameters"/>, concatenated
    /// probe by probe: one row of the essential-dynamics matrix.
    /// </summary>
    public double[] ProbeOutputs(ReadOnlySpan<double> parameters)
    {
        _probeModel ??= BuildOne();
        var set = _probeModel.Parameters;
        if (parameters.Length != set.CountPerChain)
        {
            throw new ArgumentException($"The model has {set.CountPerChain} parameters; got {parameters.Length}.", nameof(parameters));
        }
        set.CopyChainFrom(0, parameters);
        _probeTape.Reset();
        var output = _probeModel.Forward(_probeTape, _probeTape.Input(ProbeInputs, 1, ProbeCount, InputWidth));
        return output.Value.ToArray();
    }

    private Layer<double> BuildOne()
    {
        var model = CreateModel();
        model.Build(1, new Engine.Random.Rng(0));
        return model;
    }
}
