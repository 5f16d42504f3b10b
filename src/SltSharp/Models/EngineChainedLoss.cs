using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
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
/// Each chain's forward pass runs on its own minibatch rows; chains are independent, so each chain receives the gradient
/// of its own loss. Model reuse, parameter layout and the tape are <see cref="TapeChainedLoss{T, TModel}"/>'s.
/// </remarks>
public sealed class EngineChainedLoss<T> : TapeChainedLoss<T, Layer<T>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _inputs;
    private readonly T[] _targets;
    private readonly int _inputWidth;
    private readonly int _targetWidth;
    private readonly ChainLossFunction<T> _lossFunction;
    private readonly int[] _inputShape = new int[3];
    private readonly int[] _targetShape = new int[3];

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
        : base(modelFactory, RowCount(inputs, inputWidth, targets, targetWidth))
    {
        ArgumentNullException.ThrowIfNull(lossFunction);
        _inputs = inputs;
        _targets = targets;
        _inputWidth = inputWidth;
        _targetWidth = targetWidth;
        _lossFunction = lossFunction;
    }

    /// <summary>The names and per-chain shapes of the parameters, in the order of the flat layout.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> ParameterLayout =>
        [.. SingleChainModel.Parameters.Named().Select(p => (p.Name, p.Parameter.Shape.ToArray()))];

    /// <inheritdoc />
    public override IChainedLoss<T> CreateReplica() => new EngineChainedLoss<T>(ModelFactory, _inputs, _inputWidth, _targets, _targetWidth, _lossFunction);

    /// <inheritdoc />
    protected override Node<T> Forward(Tape<T> tape, Layer<T> model, ReadOnlySpan<int> batch, int chains, int m)
    {
        _inputShape[0] = chains;
        _inputShape[1] = m;
        _inputShape[2] = _inputWidth;
        _targetShape[0] = chains;
        _targetShape[1] = m;
        _targetShape[2] = _targetWidth;
        var x = tape.InputRows(_inputs, _inputWidth, batch, _inputShape);
        var y = tape.InputRows(_targets, _targetWidth, batch, _targetShape);
        return _lossFunction(tape, model.Forward(tape, x), y, chains);
    }

    private static int RowCount(T[] inputs, int inputWidth, T[] targets, int targetWidth)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
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
        return n;
    }
}
