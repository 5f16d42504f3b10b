using System.Numerics;
using SltSharp.Engine.Random;
using SltSharp.Sampling;

namespace SltSharp.Models;

/// <summary>
/// The normal-crossing regression model of the reference library's tests: y = x·f(w), f(w) = Π_j w_j^{p_j}, fitted
/// by the mean squared error L_B(w) = (1/m)·Σ_{i∈B} (y_i − x_i·f(w))².
/// </summary>
/// <remarks>
/// <para>Data convention (<see cref="CreateReferenceData"/>): as in the reference library's test fixture,
/// x_i ~ N(0, σ_x²) with σ_x = 2 (its <c>torch.normal(0, 2)</c> takes a standard deviation, so Var x = 4) and
/// y_i = σ_y·N(0, 1) with σ_y = 0.25: the true parameter is w* = 0 (f = 0) and y is pure noise. Both spreads are
/// parameters.</para>
/// <para>The full-data loss depends on the data only through Sxx = (1/n)Σx², Sxy = (1/n)Σxy and Syy: L_n(w) − L_n(0) =
/// Sxx·f² − 2·Sxy·f. Because Sxy ≠ 0 for noisy y (≈ σ_x·σ_y/√n), the finite-temperature target is tilted; the exact
/// value is <see cref="Theory.NormalCrossingExact.DataModelLlc"/>(p, Sxx, Sxy, nβ, γ).</para>
/// </remarks>
public sealed class NormalCrossingDataModel<T> : IReplicableChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _powers;
    private readonly T[] _x;
    private readonly T[] _y;
    private readonly int[] _identity;
    private readonly T _fullSxx, _fullSxy, _fullSyy;

    /// <summary>Creates the model over the given data (x and y of equal length n ≥ 1).</summary>
    public NormalCrossingDataModel(ReadOnlySpan<int> powers, T[] x, T[] y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
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
        if (x.Length == 0 || x.Length != y.Length)
        {
            throw new ArgumentException($"x ({x.Length}) and y ({y.Length}) need the same, positive length.", nameof(x));
        }
        _powers = powers.ToArray();
        _x = x;
        _y = y;
        double sxx = 0, sxy = 0, syy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double xi = double.CreateTruncating(x[i]), yi = double.CreateTruncating(y[i]);
            sxx += xi * xi;
            sxy += xi * yi;
            syy += yi * yi;
        }
        Sxx = sxx / x.Length;
        Sxy = sxy / x.Length;
        Syy = syy / x.Length;
        _identity = Enumerable.Range(0, x.Length).ToArray();
        T fx = T.Zero, fy = T.Zero, fz = T.Zero;
        for (int i = 0; i < x.Length; i++)
        {
            fx += x[i] * x[i];
            fy += x[i] * y[i];
            fz += y[i] * y[i];
        }
        T invN = T.One / T.CreateTruncating(x.Length);
        (_fullSxx, _fullSxy, _fullSyy) = (fx * invN, fy * invN, fz * invN);
    }

    /// <summary>
    /// The reference library's dataset: n samples, x ~ N(0, <paramref name="inputStd"/>²), y = <paramref name="noiseStd"/>·N(0,1),
    /// drawn from <c>Rng(seed, 0)</c> (x) and <c>Rng(seed, 1)</c> (y).
    /// </summary>
    public static NormalCrossingDataModel<T> CreateReferenceData(ReadOnlySpan<int> powers, int n, ulong seed, double inputStd = 2.0, double noiseStd = 0.25)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        if (!(inputStd > 0) || !(noiseStd >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(inputStd), "inputStd must be > 0 and noiseStd ≥ 0.");
        }
        var x = new T[n];
        var y = new T[n];
        new Rng(seed, 0).FillGaussian(x.AsSpan(), T.CreateTruncating(inputStd));
        new Rng(seed, 1).FillGaussian(y.AsSpan(), T.CreateTruncating(noiseStd));
        return new NormalCrossingDataModel<T>(powers, x, y);
    }

    /// <summary>The powers p_j of f(w) = Π w_j^{p_j}.</summary>
    public ReadOnlySpan<int> Powers => _powers;

    /// <summary>(1/n)Σ x_i².</summary>
    public double Sxx { get; }

    /// <summary>(1/n)Σ x_i·y_i.</summary>
    public double Sxy { get; }

    /// <summary>(1/n)Σ y_i² = L_n(0).</summary>
    public double Syy { get; }

    /// <inheritdoc />
    public int ParameterCount => _powers.Length;

    /// <inheritdoc />
    public int SampleCount => _x.Length;

    /// <inheritdoc />
    public void Evaluate(ReadOnlySpan<T> parameters, int chains, ReadOnlySpan<int> batch, Span<T> losses, Span<T> gradients)
    {
        int p = _powers.Length;
        int m = ModelGuards.CheckShapes(p, parameters, chains, batch, losses, gradients);
        if (m == 0)
        {
            throw new ArgumentException("Each chain needs a non-empty batch.", nameof(batch));
        }
        T invM = T.One / T.CreateTruncating(m);
        for (int c = 0; c < chains; c++)
        {
            var w = parameters.Slice(c * p, p);
            T f = T.One;
            for (int j = 0; j < p; j++)
            {
                f *= Pow(w[j], _powers[j]);
            }
            // The batch enters through three sums, so the per-sample loss (y − x·f)² need not be formed. The full dataset
            // in order (what full-batch samplers pass) reuses sums precomputed in the same order, so both paths agree bitwise.
            var chainBatch = batch.Slice(c * m, m);
            T sxx, sxy, syy;
            if (m == _x.Length && chainBatch.SequenceEqual(_identity))
            {
                (sxx, sxy, syy) = (_fullSxx, _fullSxy, _fullSyy);
            }
            else
            {
                (sxx, sxy, syy) = (T.Zero, T.Zero, T.Zero);
                foreach (int i in chainBatch)
                {
                    T xi = _x[i], yi = _y[i];
                    sxx += xi * xi;
                    sxy += xi * yi;
                    syy += yi * yi;
                }
                sxx *= invM;
                sxy *= invM;
                syy *= invM;
            }
            T two = T.CreateTruncating(2);
            losses[c] = syy - (two * f * sxy) + (f * f * sxx);
            if (gradients.IsEmpty)
            {
                continue;
            }
            T dLdf = two * ((f * sxx) - sxy);
            var g = gradients.Slice(c * p, p);
            for (int j = 0; j < p; j++)
            {
                if (_powers[j] == 0)
                {
                    g[j] = T.Zero;
                    continue;
                }
                T rest = T.One;
                for (int i = 0; i < p; i++)
                {
                    if (i != j)
                    {
                        rest *= Pow(w[i], _powers[i]);
                    }
                }
                g[j] = dLdf * T.CreateTruncating(_powers[j]) * Pow(w[j], _powers[j] - 1) * rest;
            }
        }
    }

    /// <inheritdoc />
    public IChainedLoss<T> CreateReplica() => new NormalCrossingDataModel<T>(_powers, _x, _y);

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
