using System.Numerics;
using SltSharp.Engine.Random;

namespace SltSharp.Sampling;

/// <summary>
/// Everything the next step of a group of C chains needs: positions (chain-major, C·P), the anchor w*, each chain's
/// random stream, an optional parameter mask, and preallocated buffers so that a step allocates nothing.
/// Samplers derive from it to add their own state (thermostat, preconditioner, cached gradients…).
/// </summary>
public class SamplerState<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the common state; <paramref name="initialPositions"/> is C·P values, or empty to start every chain at w*.</summary>
    protected internal SamplerState(ReadOnlySpan<T> anchor, Rng[] rngs, ReadOnlySpan<T> mask, ReadOnlySpan<T> initialPositions)
    {
        ArgumentNullException.ThrowIfNull(rngs);
        if (rngs.Length == 0)
        {
            throw new ArgumentException("At least one chain (one Rng) is needed.", nameof(rngs));
        }
        if (anchor.IsEmpty)
        {
            throw new ArgumentException("The anchor w* must have at least one parameter.", nameof(anchor));
        }
        int p = anchor.Length, c = rngs.Length;
        if (!mask.IsEmpty && mask.Length != p)
        {
            throw new ArgumentException($"The parameter mask has {mask.Length} entries but the model has {p} parameters.", nameof(mask));
        }
        if (!initialPositions.IsEmpty && initialPositions.Length != c * p)
        {
            throw new ArgumentException($"initialPositions has {initialPositions.Length} values, expected chains·P = {c * p}.", nameof(initialPositions));
        }
        foreach (T v in anchor)
        {
            if (!T.IsFinite(v))
            {
                throw new ArgumentException("The anchor w* contains NaN or infinity.", nameof(anchor));
            }
        }
        Chains = c;
        ParameterCount = p;
        Anchor = anchor.ToArray();
        Rngs = rngs;
        Positions = new T[c * p];
        for (int i = 0; i < c; i++)
        {
            if (initialPositions.IsEmpty)
            {
                anchor.CopyTo(Positions.AsSpan(i * p, p));
            }
            else
            {
                initialPositions.Slice(i * p, p).CopyTo(Positions.AsSpan(i * p, p));
            }
        }
        FreeParameterCount = p;
        if (!mask.IsEmpty)
        {
            Mask = new T[p];
            FreeParameterCount = 0;
            for (int j = 0; j < p; j++)
            {
                bool free = mask[j] != T.Zero;
                Mask[j] = free ? T.One : T.Zero;
                FreeParameterCount += free ? 1 : 0;
                if (!free)
                {
                    for (int i = 0; i < c; i++)
                    {
                        Positions[(i * p) + j] = Anchor[j]; // frozen coordinates sit at w*
                    }
                }
            }
            if (FreeParameterCount == 0)
            {
                throw new ArgumentException("The parameter mask freezes every parameter; select at least one to sample.", nameof(mask));
            }
        }
        Active = new bool[c];
        Array.Fill(Active, true);
        Losses = new T[c];
        Gradients = new T[c * p];
        Diff = new T[p];
        Drift = new T[p];
        Work = new T[p];
        Noise = new T[p];
        NoiseScratch = new T[GaussianNoise.ScratchLength(p)];
    }

    /// <summary>C, the number of chains in this state.</summary>
    public int Chains { get; }

    /// <summary>P, the number of parameters per chain.</summary>
    public int ParameterCount { get; }

    /// <summary>The number of parameters the mask lets move (P without a mask).</summary>
    public int FreeParameterCount { get; }

    /// <summary>Current positions, chain-major (C·P).</summary>
    public T[] Positions { get; }

    /// <summary>The anchor w* (P).</summary>
    public T[] Anchor { get; }

    /// <summary>1 for parameters that move, 0 for those frozen at w*; null when all move.</summary>
    public T[]? Mask { get; }

    /// <summary>Each chain's own random stream.</summary>
    public Rng[] Rngs { get; }

    /// <summary>False for chains the driver has stopped (diverged); their positions are no longer updated.</summary>
    public bool[] Active { get; }

    /// <summary>
    /// Set by <see cref="ChainDriver"/> when a fixed-batch <see cref="AcceptanceProbe{T}"/> supplies the acceptance
    /// diagnostic, which then discards the per-step <see cref="StepInfo.Acceptance"/>: a sampler may skip that estimate
    /// (and report NaN). SGLD's fused update then neither keeps the previous position nor forms the reverse residual:
    /// its one pass reads or writes five parameter-sized arrays instead of seven. Positions and every other diagnostic
    /// are unchanged.
    /// </summary>
    internal bool PerStepAcceptanceUnused { get; set; }

    /// <summary>Steps taken so far.</summary>
    public long StepCount { get; internal set; }

    /// <summary>Per-chain losses of the last evaluation.</summary>
    protected internal T[] Losses { get; }

    /// <summary>Per-chain gradients of the last evaluation (C·P).</summary>
    protected internal T[] Gradients { get; }

    /// <summary>Scratch: w − w* of the chain being updated.</summary>
    protected internal T[] Diff { get; }

    /// <summary>Scratch: the drift ∇U of the chain being updated.</summary>
    protected internal T[] Drift { get; }

    /// <summary>Scratch for sampler-specific vector work.</summary>
    protected internal T[] Work { get; }

    /// <summary>Scratch: the noise of the chain being updated.</summary>
    protected internal T[] Noise { get; }

    /// <summary>Scratch for <see cref="GaussianNoise"/>.</summary>
    protected internal T[] NoiseScratch { get; }

    /// <summary>Chain <paramref name="chain"/>'s position.</summary>
    public Span<T> Position(int chain) => Positions.AsSpan(chain * ParameterCount, ParameterCount);

    /// <summary>Stops chain <paramref name="chain"/> and parks it at w* so that later batched evaluations stay finite.</summary>
    public void Deactivate(int chain)
    {
        Active[chain] = false;
        Anchor.CopyTo(Position(chain));
    }
}

/// <summary>A sampler in the blackjax style: <c>Init</c> builds the state of C chains, <c>Step</c> advances all of them.</summary>
public interface ISampler<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A short name (SGLD, pSGLD, SGNHT, MALA).</summary>
    string Name { get; }

    /// <summary>The target distribution.</summary>
    LocalizedPosterior Posterior { get; }

    /// <summary>True when the sampler needs the full-data loss at every step (MALA).</summary>
    bool RequiresFullBatch { get; }

    /// <summary>
    /// The state of <c>rngs.Length</c> chains anchored at <paramref name="anchor"/>. <paramref name="mask"/> (optional,
    /// length P) selects the parameters that move (nonzero) for weight-restricted sampling; the others stay at w*.
    /// <paramref name="initialPositions"/> (optional, C·P) defaults to w* for every chain.
    /// </summary>
    SamplerState<T> Init(ReadOnlySpan<T> anchor, Rng[] rngs, ReadOnlySpan<T> mask = default, ReadOnlySpan<T> initialPositions = default);

    /// <summary>
    /// Advances every active chain by one step with one batched evaluation of <paramref name="loss"/> on
    /// <paramref name="batch"/> (chain-major, m indices per chain) and writes one <see cref="StepInfo"/> per chain.
    /// Allocates nothing.
    /// </summary>
    void Step(SamplerState<T> state, IChainedLoss<T> loss, ReadOnlySpan<int> batch, Span<StepInfo> info);
}
