using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Random;
using SltSharp.Sampling;

namespace SltSharp.Models;

/// <summary>
/// The next-token cross-entropy of a <see cref="DecoderTransformer{T}"/> over a dataset of n token sequences, as the
/// flat, chain-major <see cref="IChainedLoss{T}"/> the samplers see. A sample is one whole sequence: a minibatch of m
/// samples is m sequences, and the loss is the mean over their m·length predicted tokens (<c>nn.CrossEntropyLoss()</c>
/// on the flattened logits).
/// </summary>
/// <remarks>
/// The token counterpart of <see cref="EngineChainedLoss{T}"/> (whose inputs are rows of real numbers): the same
/// parameter layout (state_dict order, each tensor row-major), the same one-model-per-chain-count reuse, so that after the
/// first call with a given (chains, m) nothing is allocated.
/// </remarks>
public sealed class TokenSequenceChainedLoss<T> : IReplicableChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Func<DecoderTransformer<T>> _modelFactory;
    private readonly int[] _tokens;
    private readonly int[] _targets;
    private readonly int _length;
    private readonly Tape<T> _tape = new();
    private readonly Dictionary<int, DecoderTransformer<T>> _models = [];
    private int[] _batchTokens = [];
    private int[] _batchTargets = [];

    /// <summary>
    /// Wraps a transformer over n sequences: <paramref name="tokens"/> and <paramref name="targets"/> are n×<paramref name="length"/>
    /// row-major token ids (targets[i, t] is the token to predict after tokens[i, 0..t]). The arrays are shared with
    /// every replica, not copied.
    /// </summary>
    /// <exception cref="ArgumentException">The arrays do not hold n whole sequences, a token id is outside the
    /// vocabulary, or the length exceeds the model's context.</exception>
    public TokenSequenceChainedLoss(Func<DecoderTransformer<T>> modelFactory, int[] tokens, int[] targets, int length)
    {
        ArgumentNullException.ThrowIfNull(modelFactory);
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        if (tokens.Length == 0 || tokens.Length % length != 0)
        {
            throw new ArgumentException($"tokens must hold n sequences of length {length} (n ≥ 1); got {tokens.Length} values.", nameof(tokens));
        }
        if (targets.Length != tokens.Length)
        {
            throw new ArgumentException($"targets must have the shape of tokens ({tokens.Length} values); got {targets.Length}.", nameof(targets));
        }
        _modelFactory = modelFactory;
        _tokens = tokens;
        _targets = targets;
        _length = length;
        SampleCount = tokens.Length / length;
        var single = BuildModel(1);
        _models[1] = single;
        if (length > single.ContextLength)
        {
            throw new ArgumentException($"Sequences of length {length} exceed the model's context length {single.ContextLength}.", nameof(length));
        }
        CheckIds(tokens, single.Vocabulary, nameof(tokens));
        CheckIds(targets, single.Vocabulary, nameof(targets));
        ParameterCount = single.Parameters.CountPerChain;
    }

    /// <inheritdoc />
    public int ParameterCount { get; }

    /// <inheritdoc />
    public int SampleCount { get; }

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
        int count = batch.Length * _length;
        if (_batchTokens.Length != count)
        {
            _batchTokens = new int[count];
            _batchTargets = new int[count];
        }
        // Batch indices are chain-major ([C, m]), which is the [C, B, T] layout the transformer takes.
        for (int r = 0; r < batch.Length; r++)
        {
            int row = batch[r];
            if ((uint)row >= (uint)SampleCount)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), $"Sample index {row} at position {r} is outside the {SampleCount} sequences.");
            }
            _tokens.AsSpan(row * _length, _length).CopyTo(_batchTokens.AsSpan(r * _length));
            _targets.AsSpan(row * _length, _length).CopyTo(_batchTargets.AsSpan(r * _length));
        }
        var set = model.Parameters;
        set.CopyChainsFrom(parameters);
        _tape.Reset();
        var loss = model.Loss(_tape, _batchTokens, _batchTargets, m, _length);
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
    public IChainedLoss<T> CreateReplica() => new TokenSequenceChainedLoss<T>(_modelFactory, _tokens, _targets, _length);

    private DecoderTransformer<T> BuildModel(int chains)
    {
        var model = _modelFactory() ?? throw new InvalidOperationException("The model factory returned null.");
        if (model.IsBuilt)
        {
            throw new InvalidOperationException("The model factory must return a new, unbuilt model each time (the adapter builds it for its chain count).");
        }
        model.Build(chains, new Rng(0));
        return model;
    }

    private static void CheckIds(int[] ids, int vocabulary, string name)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)vocabulary)
            {
                throw new ArgumentException($"{name}[{i}] = {ids[i]} is not a token id of the vocabulary [0, {vocabulary}).", name);
            }
        }
    }
}
