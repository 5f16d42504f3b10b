using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Random;
using SltSharp.Sampling;

namespace SltSharp.Models;

/// <summary>
/// Records a per-chain loss on the tape: given the model's prediction [C, m, outputs] and the targets [C, m, targets],
/// returns a [C] node holding each chain's mean loss over its m samples (e.g. <c>tape.MseLoss(prediction, target, chains)</c>).
/// </summary>
public delegate Node<T> ChainLossFunction<T>(Tape<T> tape, Node<T> prediction, Node<T> target, int chains)
    where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>
/// Turns an engine model (a <see cref="Layer{T}"/> built on a tape), a dataset of input and target rows and a loss
/// function into the flat, chain-major <see cref="IChainedLoss{T}"/> every sampler sees.
/// </summary>
/// <remarks>
/// Each call copies the chain-major parameter vector into the model's parameter-major storage, runs the forward pass
/// with each chain's own minibatch rows, back-propagates the [C] loss (chains are independent, so each chain receives
/// the gradient of its own loss) and copies losses and gradients out. The model is built once per chain count; after
/// the first call with a given (chains, m) nothing is allocated, because the tape reuses its nodes and buffers.
/// The flat layout of one chain is the model's parameters in state_dict order, each row-major.
/// </remarks>
public sealed class EngineChainedLoss<T> : IReplicableChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Func<Layer<T>> _modelFactory;
    private readonly T[] _inputs;
    private readonly T[] _targets;
    private readonly int _inputWidth;
    private readonly int _targetWidth;
    private readonly ChainLossFunction<T> _lossFunction;
    private readonly Tape<T> _tape = new();
    private readonly int[] _inputShape = new int[3];
    private readonly int[] _targetShape = new int[3];
    // One built model per chain count seen, so that alternating counts (e.g. a 1-chain reference loss between C-chain
    // steps) do not rebuild and reallocate.
    private readonly Dictionary<int, Layer<T>> _models = [];

    /// <summary>
    /// Wraps a model over a dataset of n rows: <paramref name="inputs"/> is n×<paramref name="inputWidth"/> and
    /// <paramref name="targets"/> n×<paramref name="targetWidth"/>, both row-major (they may be the same array, as for an
    /// autoencoder). The arrays are shared, not copied, with every replica.
    /// </summary>
    /// <param name="modelFactory">Creates a fresh, unbuilt model; called once per chain count and once per replica.</param>
    /// <param name="inputs">Input rows.</param>
    /// <param name="inputWidth">Values per input row.</param>
    /// <param name="targets">Target rows.</param>
    /// <param name="targetWidth">Values per target row.</param>
    /// <param name="lossFunction">The per-chain mean loss over a batch.</param>
    public EngineChainedLoss(Func<Layer<T>> modelFactory, T[] inputs, int inputWidth, T[] targets, int targetWidth, ChainLossFunction<T> lossFunction)
    {
        ArgumentNullException.ThrowIfNull(modelFactory);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(lossFunction);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetWidth);
        if (inputs.Length == 0 || inputs.Length % inputWidth != 0)
        {
            throw new ArgumentException($"inputs must hold n rows of {inputWidth} values (n ≥ 1); got {inputs.Length} values.", nameof(inputs));
        }
        int n = inputs.Length / inputWidth;
        if (targets.Length != n * targetWidth)
        {
            throw new ArgumentException($"targets must hold one row of {targetWidth} values per input row ({n} rows, {n * targetWidth} values); got {targets.Length}.", nameof(targets));
        }
        _modelFactory = modelFactory;
        _inputs = inputs;
        _targets = targets;
        _inputWidth = inputWidth;
        _targetWidth = targetWidth;
        _lossFunction = lossFunction;
        SampleCount = n;
        var single = BuildModel(1);
        _models[1] = single;
        ParameterCount = single.Parameters.CountPerChain;
    }

    /// <inheritdoc />
    public int ParameterCount { get; }

    /// <inheritdoc />
    public int SampleCount { get; }

    /// <summary>The names and per-chain shapes of the parameters, in the order of the flat layout.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> ParameterLayout =>
        [.. _models[1].Parameters.Named().Select(p => (p.Name, p.Parameter.Shape.ToArray()))];

    /// <inheritdoc />
    public void Evaluate(ReadOnlySpan<T> parameters, int chains, ReadOnlySpan<int> batch, Span<T> losses, Span<T> gradients)
    {
        int m = ModelGuards.CheckShapes(ParameterCount, parameters, chains, batch, losses, gradients);
        if (m == 0)
        {
            throw new ArgumentException("Each chain needs a non-empty batch.", nameof(batch));
        }
        if (!_models.TryGetValue(chains, out var model))
        {
            model = BuildModel(chains);
            _models[chains] = model;
        }
        var set = model.Parameters;
        set.CopyChainsFrom(parameters);
        _tape.Reset();
        _inputShape[0] = chains;
        _inputShape[1] = m;
        _inputShape[2] = _inputWidth;
        _targetShape[0] = chains;
        _targetShape[1] = m;
        _targetShape[2] = _targetWidth;
        var x = _tape.InputRows(_inputs, _inputWidth, batch, _inputShape);
        var y = _tape.InputRows(_targets, _targetWidth, batch, _targetShape);
        var loss = _lossFunction(_tape, model.Forward(_tape, x), y, chains);
        if (loss.Length != chains)
        {
            throw new InvalidOperationException($"The loss function must return one loss per chain ([{chains}]); it returned {loss.Length} values.");
        }
        loss.Value.CopyTo(losses);
        if (gradients.IsEmpty)
        {
            return;
        }
        set.ZeroGradients();
        _tape.Backward(loss);
        set.CopyGradientChainsTo(gradients);
    }

    /// <inheritdoc />
    public IChainedLoss<T> CreateReplica() => new EngineChainedLoss<T>(_modelFactory, _inputs, _inputWidth, _targets, _targetWidth, _lossFunction);

    private Layer<T> BuildModel(int chains)
    {
        var model = _modelFactory() ?? throw new InvalidOperationException("The model factory returned null.");
        if (model.IsBuilt)
        {
            throw new InvalidOperationException("The model factory must return a new, unbuilt model each time (the adapter builds it for its chain count).");
        }
        // Initial values are irrelevant: every evaluation overwrites them with the sampler's parameters.
        model.Build(chains, new Rng(0));
        return model;
    }
}
