using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Sampling;

namespace SltSharp.Models;

/// <summary>
/// The next-token cross-entropy of a <see cref="DecoderTransformer{T}"/> over a dataset of n token sequences, as the
/// flat, chain-major <see cref="IChainedLoss{T}"/> the samplers see. A sample is one whole sequence: a minibatch of m
/// samples is m sequences, and the loss is the mean over their m·length predicted tokens (<c>nn.CrossEntropyLoss()</c>
/// on the flattened logits).
/// </summary>
/// <remarks>
/// The token counterpart of <see cref="EngineChainedLoss{T}"/> (whose inputs are rows of real numbers); model reuse,
/// parameter layout and the tape are <see cref="TapeChainedLoss{T, TModel}"/>'s.
/// </remarks>
public sealed class TokenSequenceChainedLoss<T> : TapeChainedLoss<T, DecoderTransformer<T>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _tokens;
    private readonly int[] _targets;
    private readonly int _length;
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
        : base(modelFactory, SequenceCount(tokens, targets, length))
    {
        if (length > SingleChainModel.ContextLength)
        {
            throw new ArgumentException($"Sequences of length {length} exceed the model's context length {SingleChainModel.ContextLength}.", nameof(length));
        }
        CheckIds(tokens, SingleChainModel.Vocabulary, nameof(tokens));
        CheckIds(targets, SingleChainModel.Vocabulary, nameof(targets));
        _tokens = tokens;
        _targets = targets;
        _length = length;
    }

    /// <inheritdoc />
    public override IChainedLoss<T> CreateReplica() => new TokenSequenceChainedLoss<T>(ModelFactory, _tokens, _targets, _length);

    /// <inheritdoc />
    protected override Node<T> Forward(Tape<T> tape, DecoderTransformer<T> model, ReadOnlySpan<int> batch, int chains, int m)
    {
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
        return model.Loss(tape, _batchTokens, _batchTargets, m, _length);
    }

    private static int SequenceCount(int[] tokens, int[] targets, int length)
    {
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
        return tokens.Length / length;
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
