namespace SltSharp.Sampling;

/// <summary>How each chain draws its minibatches.</summary>
public enum BatchSampling
{
    /// <summary>
    /// Each chain walks through its own random permutation of the data (reshuffled with its own stream when fewer than m
    /// samples remain), like a shuffling data loader: every batch is a uniformly random m-subset without repeats.
    /// </summary>
    WithoutReplacement,

    /// <summary>Each index of each batch is drawn uniformly with replacement from the chain's stream.</summary>
    WithReplacement,
}

/// <summary>
/// Progress of one chain: <paramref name="Draw"/> of <paramref name="TotalDraws"/> draws collected, and <paramref name="Step"/>
/// of <paramref name="TotalSteps"/> sampler steps (burn-in included) behind them. The chain driver also reports during
/// burn-in (with <paramref name="Draw"/> = 0), so that a display counting <see cref="DrawEquivalents"/> moves then too.
/// </summary>
/// <param name="Chain">The chain (result slot).</param>
/// <param name="Draw">Draws collected.</param>
/// <param name="TotalDraws">Draws the chain will collect.</param>
/// <param name="Step">Steps taken (after draw d: burn-in + d × thinning); 0 when not reported.</param>
/// <param name="TotalSteps">Burn-in + draws × thinning; 0 when not reported.</param>
public readonly record struct SamplingProgress(int Chain, int Draw, int TotalDraws, long Step = 0, long TotalSteps = 0)
{
    /// <summary>The work done in units of draws, burn-in included: Step/TotalSteps × TotalDraws (Draw when steps are not reported).</summary>
    public int DrawEquivalents => TotalSteps > 0 ? (int)(Math.Min(Step, TotalSteps) * TotalDraws / TotalSteps) : Draw;
}

/// <summary>
/// Called for every kept draw with the draw's position (the one whose loss is recorded for that draw). Called on the
/// thread that runs the chain's group: calls for one chain are sequential, calls for different chains may be concurrent.
/// </summary>
public delegate void DrawObserver<T>(int chain, int draw, ReadOnlySpan<T> position);

/// <summary>Settings of the chain driver.</summary>
public sealed record SamplingOptions
{
    /// <summary>C, the number of chains (≥ 1).</summary>
    public int Chains { get; init; } = 4;

    /// <summary>Steps discarded before the first draw (≥ 0).</summary>
    public int Burnin { get; init; }

    /// <summary>Draws kept per chain (≥ 1).</summary>
    public int Draws { get; init; } = 200;

    /// <summary>Steps per kept draw after burn-in (≥ 1).</summary>
    public int Thinning { get; init; } = 1;

    /// <summary>Minibatch size m; null or ≥ n means the full dataset at every step.</summary>
    public int? BatchSize { get; init; }

    /// <summary>How minibatches are drawn.</summary>
    public BatchSampling BatchSampling { get; init; } = BatchSampling.WithoutReplacement;

    /// <summary>The seed; chain c uses <c>Rng(Seed, c)</c> for its noise and its minibatches.</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// Threads: chains are split into this many contiguous groups (at most C), each run on its own thread with its own
    /// loss replica. Results do not depend on it.
    /// </summary>
    public int Threads { get; init; } = 1;

    /// <summary>
    /// A chain is stopped as diverged when nβ·(L_B(w_t) − L(w*)) exceeds this bound (or anything is NaN/∞).
    /// Null means 1e4·(P + 1): at equilibrium E[nβ(L − L*)] = λ ≤ P/2, so only a runaway chain gets near it.
    /// </summary>
    public double? DivergenceBound { get; init; }

    /// <summary>Optional per-draw progress callback (called from worker threads when <see cref="Threads"/> &gt; 1).</summary>
    public IProgress<SamplingProgress>? Progress { get; init; }

    /// <summary>
    /// Null: run chains 0..C−1. Otherwise run only these chain indices (exactly <see cref="Chains"/> of them, distinct,
    /// ≥ 0): slot i of the result is chain <c>ChainIndices[i]</c>, sampled with <c>Rng(Seed, ChainIndices[i])</c> and
    /// therefore identical to that chain of a full run. A resumed job uses this to compute only its missing chains;
    /// a subset in which every chain diverged is returned rather than thrown, since the caller combines subsets.
    /// </summary>
    public IReadOnlyList<int>? ChainIndices { get; init; }

    /// <summary>The global index of the chain in result slot <paramref name="slot"/>.</summary>
    internal int ChainIndex(int slot) => ChainIndices is null ? slot : ChainIndices[slot];

    internal void Validate()
    {
        if (Chains < 1)
        {
            throw new ArgumentException($"Chains = {Chains}: at least 1 chain is needed (4–8 is typical).", nameof(Chains));
        }
        if (ChainIndices is { } indices
            && (indices.Count != Chains || indices.Any(i => i < 0) || indices.Distinct().Count() != indices.Count))
        {
            throw new ArgumentException(
                $"ChainIndices [{string.Join(", ", indices)}] must hold exactly Chains = {Chains} distinct indices ≥ 0.", nameof(ChainIndices));
        }
        if (Burnin < 0)
        {
            throw new ArgumentException($"Burnin = {Burnin}: must be ≥ 0.", nameof(Burnin));
        }
        if (Draws < 1)
        {
            throw new ArgumentException($"Draws = {Draws}: at least 1 draw per chain is needed (hundreds are typical).", nameof(Draws));
        }
        if (Thinning < 1)
        {
            throw new ArgumentException($"Thinning = {Thinning}: must be ≥ 1 (1 keeps every step).", nameof(Thinning));
        }
        if (BatchSize is < 1)
        {
            throw new ArgumentException($"BatchSize = {BatchSize}: must be ≥ 1, or null for the full dataset.", nameof(BatchSize));
        }
        if (Threads < 1)
        {
            throw new ArgumentException($"Threads = {Threads}: must be ≥ 1.", nameof(Threads));
        }
        if (DivergenceBound is { } b && !(b > 0))
        {
            throw new ArgumentException($"DivergenceBound = {b}: must be > 0 or null for the default.", nameof(DivergenceBound));
        }
    }
}
