using System.Numerics;
using SltSharp.Sampling;

namespace SltSharp.Models;

/// <summary>
/// L(w) = ½·Σ_j a_j·(w_j − μ_j)², a data-free quadratic. Under the localized tempered posterior it gives a Gaussian
/// target with precision nβ·a_j + γ per coordinate, so sampler moments can be checked in closed form.
/// </summary>
public sealed class QuadraticPotential<T> : IReplicableChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _curvature;
    private readonly T[] _center;

    /// <summary>Creates the quadratic with curvatures a (≥ 0) and centre μ.</summary>
    public QuadraticPotential(ReadOnlySpan<T> curvature, ReadOnlySpan<T> center)
    {
        if (curvature.IsEmpty || curvature.Length != center.Length)
        {
            throw new ArgumentException($"curvature ({curvature.Length}) and center ({center.Length}) need the same, positive length.", nameof(curvature));
        }
        foreach (T a in curvature)
        {
            if (!(a >= T.Zero) || !T.IsFinite(a))
            {
                throw new ArgumentException("Curvatures must be finite and ≥ 0.", nameof(curvature));
            }
        }
        _curvature = curvature.ToArray();
        _center = center.ToArray();
    }

    /// <inheritdoc />
    public int ParameterCount => _curvature.Length;

    /// <inheritdoc />
    public int SampleCount => 1;

    /// <inheritdoc />
    public void Evaluate(ReadOnlySpan<T> parameters, int chains, ReadOnlySpan<int> batch, Span<T> losses, Span<T> gradients)
    {
        int p = _curvature.Length;
        ModelGuards.CheckShapes(p, parameters, chains, batch, losses, gradients);
        T half = T.CreateTruncating(0.5);
        for (int c = 0; c < chains; c++)
        {
            T sum = T.Zero;
            for (int j = 0; j < p; j++)
            {
                T d = parameters[(c * p) + j] - _center[j];
                sum += _curvature[j] * d * d;
                if (!gradients.IsEmpty)
                {
                    gradients[(c * p) + j] = _curvature[j] * d;
                }
            }
            losses[c] = half * sum;
        }
    }

    /// <inheritdoc />
    public IChainedLoss<T> CreateReplica() => new QuadraticPotential<T>(_curvature, _center);
}
