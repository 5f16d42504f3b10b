using System.Numerics;

namespace SltSharp.Sampling;

/// <summary>
/// An empirical loss L(w) = (1/m)·Σ_{i∈B} ℓ_i(w) over a flat parameter vector, evaluated for C chains at once.
/// This is what every sampler sees of a model: the model may be a closed-form polynomial, a hand-written network or
/// an autodiff graph with a chain dimension.
/// </summary>
/// <remarks>
/// Layout is chain-major: chain c owns <c>parameters[c·P .. (c+1)·P)</c> with P = <see cref="ParameterCount"/>.
/// Batch indices are chain-major too: chain c uses <c>batch[c·m .. (c+1)·m)</c> with m = batch.Length / chains,
/// so each chain can draw its own minibatch from its own stream.
/// Implementations reuse internal buffers: after the first call with a given (chains, m) they allocate nothing.
/// </remarks>
public interface IChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>P, the number of parameters of one copy of the model.</summary>
    int ParameterCount { get; }

    /// <summary>n, the number of samples in the dataset the loss is defined on.</summary>
    int SampleCount { get; }

    /// <summary>
    /// Writes the mean loss over each chain's batch into <paramref name="losses"/> (length C) and, when
    /// <paramref name="gradients"/> is not empty, its gradient with respect to the parameters (length C·P).
    /// </summary>
    void Evaluate(ReadOnlySpan<T> parameters, int chains, ReadOnlySpan<int> batch, Span<T> losses, Span<T> gradients);
}
