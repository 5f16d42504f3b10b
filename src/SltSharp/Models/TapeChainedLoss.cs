using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Random;
using SltSharp.Sampling;

namespace SltSharp.Models;

/// <summary>
/// What every engine-model loss shares on its way to the samplers: one built model per chain count, the chain-major
/// parameter vector copied into the model's storage, the forward pass recorded on a tape, each chain's loss
/// back-propagated and losses and gradients copied out. Subclasses say only how a minibatch becomes a [C] loss node.
/// </summary>
/// <remarks>
/// The flat layout of one chain is the model's parameters in state_dict order, each row-major. After the first call
/// with a given (chains, m) nothing is allocated, because the tape reuses its nodes and buffers; alternating chain
/// counts (e.g. a 1-chain reference loss between C-chain steps) do not rebuild.
/// </remarks>
public abstract class TapeChainedLoss<T, TModel> : IReplicableChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TModel : Module<T>
{
    private readonly Func<TModel> _modelFactory;
    private readonly Tape<T> _tape = new();
    private readonly Dictionary<int, TModel> _models = [];

    /// <summary>Builds the single-chain model once, which fixes <see cref="ParameterCount"/>.</summary>
    /// <param name="modelFactory">Creates a fresh, unbuilt model; called once per chain count and once per replica.</param>
    /// <param name="sampleCount">n, the number of samples a batch index may name.</param>
    protected TapeChainedLoss(Func<TModel> modelFactory, int sampleCount)
    {
        ArgumentNullException.ThrowIfNull(modelFactory);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleCount);
        _modelFactory = modelFactory;
        SampleCount = sampleCount;
        _models[1] = BuildModel(1);
        ParameterCount = _models[1].Parameters.CountPerChain;
    }

    /// <inheritdoc />
    public int ParameterCount { get; }

    /// <inheritdoc />
    public int SampleCount { get; }

    /// <summary>The single-chain model (for sizes and names; its values are overwritten by every evaluation).</summary>
    protected TModel SingleChainModel => _models[1];

    /// <summary>The factory the model was made with, for <see cref="CreateReplica"/>.</summary>
    protected Func<TModel> ModelFactory => _modelFactory;

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
        var loss = Forward(_tape, model, batch, chains, m);
        if (loss.Length != chains)
        {
            throw new InvalidOperationException($"The loss must hold one value per chain ([{chains}]); it holds {loss.Length} values.");
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
    public abstract IChainedLoss<T> CreateReplica();

    /// <summary>
    /// Records the [C] per-chain mean loss of <paramref name="model"/> (built for <paramref name="chains"/> chains, holding
    /// the sampler's parameters) over the chain-major minibatch <paramref name="batch"/> ([C, m] sample indices).
    /// </summary>
    protected abstract Node<T> Forward(Tape<T> tape, TModel model, ReadOnlySpan<int> batch, int chains, int m);

    private TModel BuildModel(int chains)
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
