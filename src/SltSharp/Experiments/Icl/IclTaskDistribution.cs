using SltSharp.Engine.Random;

namespace SltSharp.Experiments.Icl;

/// <summary>
/// In-context linear regression (Raventós et al.; Hoogland et al.; Carroll et al.; slt-reference §4): a sequence holds
/// K pairs (x_k, y_k = tᵀx_k + ε), x ~ N(0, I_D), ε ~ N(0, σ²); the task t comes from a fixed set of M tasks drawn once
/// from N(0, I_D) (task diversity M), or fresh from N(0, I_D) for every sequence (M = ∞).
/// </summary>
/// <remarks>
/// Token encoding: 2K tokens of width D+1, interleaved [x_k, 0] then [0…0, y_k]; the model predicts y_k at the
/// position of x_k, which sees the earlier pairs and x_k but not y_k (causal attention). A sequence is stored as one
/// row of 2K·(D+1) values, its targets as a row of K values, which is what <c>EngineChainedLoss</c> consumes.
/// </remarks>
public sealed class IclTaskDistribution
{
    /// <summary>Creates the distribution; the M tasks (if finite) are drawn from <paramref name="taskSeed"/>.</summary>
    /// <param name="dimension">D, the input dimension.</param>
    /// <param name="pairs">K, the number of (x, y) pairs per sequence.</param>
    /// <param name="noiseVariance">σ².</param>
    /// <param name="taskCount">M, or null for M = ∞ (a fresh Gaussian task per sequence).</param>
    /// <param name="taskSeed">Seed of the task set.</param>
    public IclTaskDistribution(int dimension, int pairs, double noiseVariance, int? taskCount, ulong taskSeed)
    {
        if (dimension < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The input dimension D must be at least 1.");
        }
        if (pairs < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(pairs), pairs, "A sequence needs at least one (x, y) pair (K ≥ 1).");
        }
        if (!(noiseVariance > 0) || !double.IsFinite(noiseVariance))
        {
            throw new ArgumentOutOfRangeException(nameof(noiseVariance), noiseVariance, "The noise variance σ² must be a positive finite number (e.g. 0.125).");
        }
        if (taskCount is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(taskCount), taskCount, "The task diversity M must be at least 1 (or null for M = ∞).");
        }
        Dimension = dimension;
        Pairs = pairs;
        NoiseVariance = noiseVariance;
        TaskCount = taskCount;
        if (taskCount is int m)
        {
            Tasks = new double[m * dimension];
            new Rng(taskSeed, 0x7A5C).FillGaussian<double>(Tasks, 1.0);
        }
    }

    /// <summary>D.</summary>
    public int Dimension { get; }

    /// <summary>K.</summary>
    public int Pairs { get; }

    /// <summary>σ².</summary>
    public double NoiseVariance { get; }

    /// <summary>M, or null for M = ∞.</summary>
    public int? TaskCount { get; }

    /// <summary>The M tasks, row-major M×D (null for M = ∞).</summary>
    public double[]? Tasks { get; }

    /// <summary>Values per token: D + 1.</summary>
    public int TokenWidth => Dimension + 1;

    /// <summary>Tokens per sequence: 2K.</summary>
    public int SequenceLength => 2 * Pairs;

    /// <summary>Values per encoded sequence row: 2K·(D+1).</summary>
    public int RowWidth => SequenceLength * TokenWidth;

    /// <summary>"4", "16", ..., or "inf".</summary>
    public string TaskCountLabel => TaskCount?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "inf";

    /// <summary>
    /// Draws <paramref name="count"/> sequences from the training distribution (tasks from the M-set, or Gaussian
    /// when <paramref name="gaussianTasks"/> or M = ∞).
    /// </summary>
    /// <param name="count">Number of sequences.</param>
    /// <param name="rng">Randomness.</param>
    /// <param name="gaussianTasks">Draw every task fresh from N(0, I) even when M is finite (the task-agnostic
    /// evaluation distribution on which dMMSE and ridge differ).</param>
    public IclBatch Sample(int count, Rng rng, bool gaussianTasks = false)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var batch = new IclBatch(count, Dimension, Pairs);
        Fill(batch, rng, gaussianTasks);
        return batch;
    }

    /// <summary>Refills <paramref name="batch"/> in place (no allocation), as <see cref="Sample"/> would.</summary>
    public void Fill(IclBatch batch, Rng rng, bool gaussianTasks = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(rng);
        if (batch.Dimension != Dimension || batch.Pairs != Pairs)
        {
            throw new ArgumentException($"The batch holds D = {batch.Dimension}, K = {batch.Pairs}; this distribution has D = {Dimension}, K = {Pairs}.", nameof(batch));
        }
        int d = Dimension;
        double noise = Math.Sqrt(NoiseVariance);
        for (int s = 0; s < batch.Count; s++)
        {
            var task = batch.TaskVectors.AsSpan(s * d, d);
            if (Tasks is null || gaussianTasks)
            {
                for (int i = 0; i < d; i++)
                {
                    task[i] = rng.NextGaussian();
                }
            }
            else
            {
                Tasks.AsSpan(rng.NextInt(Tasks.Length / d) * d, d).CopyTo(task);
            }
            for (int k = 0; k < Pairs; k++)
            {
                var x = batch.X.AsSpan(((s * Pairs) + k) * d, d);
                double y = 0;
                for (int i = 0; i < d; i++)
                {
                    x[i] = rng.NextGaussian();
                    y += task[i] * x[i];
                }
                batch.Y[(s * Pairs) + k] = y + (noise * rng.NextGaussian());
            }
        }
    }

    /// <summary>Encodes the batch as token rows [count, 2K·(D+1)] and target rows [count, K] in precision T.</summary>
    public static (T[] Tokens, T[] Targets) Encode<T>(IclBatch batch)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(batch);
        var tokens = new T[batch.Count * 2 * batch.Pairs * (batch.Dimension + 1)];
        var targets = new T[batch.Count * batch.Pairs];
        EncodeInto(batch, tokens, targets);
        return (tokens, targets);
    }

    /// <summary>Encodes into caller buffers (see <see cref="Encode{T}"/>).</summary>
    public static void EncodeInto<T>(IclBatch batch, Span<T> tokens, Span<T> targets)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(batch);
        int d = batch.Dimension, k = batch.Pairs, w = d + 1;
        if (tokens.Length != batch.Count * 2 * k * w || targets.Length != batch.Count * k)
        {
            throw new ArgumentException($"Buffers must hold {batch.Count * 2 * k * w} token values and {batch.Count * k} targets.", nameof(tokens));
        }
        tokens.Clear();
        for (int s = 0; s < batch.Count; s++)
        {
            for (int j = 0; j < k; j++)
            {
                int xToken = ((s * 2 * k) + (2 * j)) * w;
                for (int i = 0; i < d; i++)
                {
                    tokens[xToken + i] = T.CreateTruncating(batch.X[(((s * k) + j) * d) + i]);
                }
                // The y-token follows its x-token: [0…0, y].
                tokens[xToken + w + d] = T.CreateTruncating(batch.Y[(s * k) + j]);
                targets[(s * k) + j] = T.CreateTruncating(batch.Y[(s * k) + j]);
            }
        }
    }
}

/// <summary>Sequences of in-context regression in plain form (double precision, for the exact baselines).</summary>
public sealed class IclBatch
{
    /// <summary>Allocates a batch.</summary>
    public IclBatch(int count, int dimension, int pairs)
    {
        Count = count;
        Dimension = dimension;
        Pairs = pairs;
        X = new double[count * pairs * dimension];
        Y = new double[count * pairs];
        TaskVectors = new double[count * dimension];
    }

    /// <summary>Number of sequences.</summary>
    public int Count { get; }

    /// <summary>D.</summary>
    public int Dimension { get; }

    /// <summary>K.</summary>
    public int Pairs { get; }

    /// <summary>Inputs, [count, K, D] row-major.</summary>
    public double[] X { get; }

    /// <summary>Labels, [count, K].</summary>
    public double[] Y { get; }

    /// <summary>The task of each sequence, [count, D] (for checks; a predictor never sees it).</summary>
    public double[] TaskVectors { get; }
}
