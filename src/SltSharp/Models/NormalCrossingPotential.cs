using System.Numerics;
using SltSharp.Sampling;

namespace SltSharp.Models;

/// <summary>
/// The normal-crossing potential K(w) = Π_j w_j^{2k_j}: a "loss" with no data, so every minibatch loss is the exact loss.
/// Its learning coefficient at 0 is 1/(2·max k_j) (multiplicity = number of j attaining the max), and
/// <see cref="Theory.NormalCrossingExact.PotentialLlc"/> gives the exact finite-temperature value.
/// </summary>
/// <remarks><see cref="SampleCount"/> is 1 and batch indices are ignored; give nβ explicitly when sampling it.</remarks>
public sealed class NormalCrossingPotential<T> : IReplicableChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _powers;

    /// <summary>Creates K(w) = Π_j w_j^{2·powers[j]}.</summary>
    public NormalCrossingPotential(ReadOnlySpan<int> powers)
    {
        if (powers.IsEmpty)
        {
            throw new ArgumentException("At least one coordinate is needed.", nameof(powers));
        }
        foreach (int p in powers)
        {
            if (p < 0)
            {
                throw new ArgumentException($"Powers must be ≥ 0, got {p}.", nameof(powers));
            }
        }
        _powers = powers.ToArray();
    }

    /// <summary>The powers k_j.</summary>
    public ReadOnlySpan<int> Powers => _powers;

    /// <inheritdoc />
    public int ParameterCount => _powers.Length;

    /// <inheritdoc />
    public int SampleCount => 1;

    /// <inheritdoc />
    public void Evaluate(ReadOnlySpan<T> parameters, int chains, ReadOnlySpan<int> batch, Span<T> losses, Span<T> gradients)
    {
        int p = _powers.Length;
        ModelGuards.CheckShapes(p, parameters, chains, batch, losses, gradients);
        for (int c = 0; c < chains; c++)
        {
            var w = parameters.Slice(c * p, p);
            T k = T.One;
            for (int j = 0; j < p; j++)
            {
                k *= Pow(w[j], 2 * _powers[j]);
            }
            losses[c] = k;
            if (gradients.IsEmpty)
            {
                continue;
            }
            var g = gradients.Slice(c * p, p);
            for (int j = 0; j < p; j++)
            {
                if (_powers[j] == 0)
                {
                    g[j] = T.Zero;
                    continue;
                }
                // Product over the other coordinates, without dividing (w_j may be 0).
                T rest = T.One;
                for (int i = 0; i < p; i++)
                {
                    if (i != j)
                    {
                        rest *= Pow(w[i], 2 * _powers[i]);
                    }
                }
                g[j] = T.CreateTruncating(2 * _powers[j]) * Pow(w[j], (2 * _powers[j]) - 1) * rest;
            }
        }
    }

    /// <inheritdoc />
    public IChainedLoss<T> CreateReplica() => new NormalCrossingPotential<T>(_powers);

    private static T Pow(T x, int e)
    {
        T r = T.One;
        for (int i = 0; i < e; i++)
        {
            r *= x;
        }
        return r;
    }
}
