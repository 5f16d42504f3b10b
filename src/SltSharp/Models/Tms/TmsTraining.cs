using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Models.Tms;

/// <summary>The optimizer a TMS training run uses.</summary>
public enum TmsOptimizer
{
    /// <summary>Plain SGD (no momentum).</summary>
    Sgd,

    /// <summary>Adam with torch's defaults apart from the learning rate.</summary>
    Adam,
}

/// <summary>How <see cref="TmsTraining.Train"/> trains each seed.</summary>
public sealed record TmsTrainingOptions
{
    /// <summary>Optimizer steps per seed.</summary>
    public int Steps { get; init; } = 20_000;

    /// <summary>Minibatch size (drawn with replacement); at or above n every step uses the whole training set.</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>The optimizer.</summary>
    public TmsOptimizer Optimizer { get; init; } = TmsOptimizer.Adam;

    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; } = 0.01;

    /// <summary>Standard deviation of the N(0, σ²) entries of the initial W (biases start at 0).</summary>
    public double InitScale { get; init; } = 0.1;

    /// <summary>Steps at which W is kept (0 = the initialisation); sorted, within [0, <see cref="Steps"/>].</summary>
    public IReadOnlyList<int>? CheckpointSteps { get; init; }

    /// <summary>Threads the seeds are spread over; results do not depend on it.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Master seed: seed index s draws its initialisation, data and minibatches from streams of (Seed, s).</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// Told how many seed-steps (one optimizer step of one seed) were just done, every few hundred steps and when a group of
    /// seeds finishes; a call of <see cref="TmsTraining.Train"/> reports seeds × <see cref="Steps"/> in all. May be null.
    /// </summary>
    public IProgress<long>? Progress { get; init; }
}

/// <summary>One trained seed: its parameters at every checkpoint step.</summary>
/// <param name="SeedIndex">The seed index (its random streams are those of (master seed, SeedIndex)).</param>
/// <param name="Checkpoints">(W, b) at each checkpoint step, in the order of the steps.</param>
public sealed record TmsTrainedSeed(int SeedIndex, IReadOnlyList<TmsParameters> Checkpoints);

/// <summary>
/// Trains many seeds of the toy model of superposition (2×6, slt-reference §2c) from random initialisations on their own
/// training sets of n samples, keeping W at chosen steps, so that the k-gon each seed reaches can be counted.
/// </summary>
/// <remarks>
/// The seeds of a thread run as the chains of one batched model (the engine's chain dimension), so one optimizer step
/// updates all of them; Adam and SGD act coordinate-wise, so each chain follows exactly its own trajectory. Seed s uses
/// only streams derived from (Seed, s): its training set is the first n samples of one long sequence (so training sets
/// at different n are nested: common random numbers across n), its initial W and its minibatches come from separate
/// streams. Hence results do not depend on the thread count or on which other seeds are trained.
/// </remarks>
public static class TmsTraining
{
    private const int Hidden = 2;
    private const int Features = 6;

    /// <summary>Step 0 and about <paramref name="perDecade"/> log-spaced steps per decade up to <paramref name="steps"/> (always included).</summary>
    public static int[] LogSpacedSteps(int steps, int perDecade)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perDecade);
        var result = new SortedSet<int> { 0, steps };
        double decades = Math.Log10(steps);
        int points = (int)Math.Ceiling(decades * perDecade);
        for (int i = 0; i <= points; i++)
        {
            result.Add((int)Math.Min(steps, Math.Round(Math.Pow(10, decades * i / Math.Max(1, points)))));
        }
        return [.. result];
    }

    /// <summary>Steps between cancellation checks and progress reports.</summary>
    private const int ProgressEvery = 500;

    /// <summary>Trains seeds 0..<paramref name="seeds"/>−1 on n samples each.</summary>
    /// <param name="n">Training-set size.</param>
    /// <param name="seeds">Number of seeds.</param>
    /// <param name="options">Settings.</param>
    /// <param name="cancellationToken">Checked every 500 steps.</param>
    public static IReadOnlyList<TmsTrainedSeed> Train(int n, int seeds, TmsTrainingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seeds);
        if (options.Steps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Steps, "Training needs at least one step.");
        }
        if (options.BatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "The minibatch size must be at least 1.");
        }
        if (!(options.LearningRate > 0) || !(options.InitScale >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "The learning rate must be > 0 and the initialisation scale ≥ 0.");
        }
        int[] checkpoints = [.. options.CheckpointSteps ?? LogSpacedSteps(options.Steps, 4)];
        if (checkpoints.Length == 0 || checkpoints.Any(s => s < 0 || s > options.Steps) || checkpoints.Zip(checkpoints.Skip(1)).Any(p => p.First >= p.Second))
        {
            throw new ArgumentException($"Checkpoint steps must be increasing and within [0, {options.Steps}].", nameof(options));
        }

        int threads = Math.Clamp(options.Threads, 1, seeds);
        var results = new TmsTrainedSeed[seeds];
        // Contiguous seed groups, one per thread; a group trains as one batched model.
        var groups = Enumerable.Range(0, threads)
            .Select(t => Enumerable.Range(0, seeds).Where(s => s * threads / seeds == t).ToArray())
            .Where(g => g.Length > 0)
            .ToArray();
        Parallel.ForEach(groups, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancellationToken }, group =>
        {
            foreach (var trained in TrainGroup(n, group, checkpoints, options, cancellationToken))
            {
                results[trained.SeedIndex] = trained;
            }
        });
        return results;
    }

    /// <summary>The training set of seed <paramref name="seedIndex"/> (n rows of 6), the first n samples of its sequence.</summary>
    public static double[] TrainingSet(int n, int seedIndex, ulong masterSeed) =>
        TmsTask.GenerateData<double>(n, DataSeed(masterSeed, seedIndex), Features);

    private static ulong DataSeed(ulong masterSeed, int seedIndex) => new Rng(masterSeed, (ulong)seedIndex).Split(2).NextUInt64();

    private static List<TmsTrainedSeed> TrainGroup(int n, int[] group, int[] checkpoints, TmsTrainingOptions options, CancellationToken cancellationToken)
    {
        int chains = group.Length;
        int m = Math.Min(options.BatchSize, n);
        bool fullBatch = m == n;
        int perChain = (Hidden * Features) + Features;

        var model = new TmsModel<double>(Hidden, Features);
        var set = model.Build(chains, new Rng(0));
        var start = new double[chains * perChain];
        var data = new double[chains * n * Features];
        var batchRngs = new Rng[chains];
        for (int c = 0; c < chains; c++)
        {
            var seedRng = new Rng(options.Seed, (ulong)group[c]);
            var init = seedRng.Split(0);
            for (int i = 0; i < Hidden * Features; i++)
            {
                start[(c * perChain) + i] = options.InitScale * init.NextGaussian();
            }
            batchRngs[c] = seedRng.Split(1);
            TrainingSet(n, group[c], options.Seed).CopyTo(data, c * n * Features);
        }
        set.CopyChainsFrom(start);
        Optimizer<double> optimizer = options.Optimizer == TmsOptimizer.Adam
            ? new Adam<double>(set, options.LearningRate)
            : new Sgd<double>(set, options.LearningRate);

        var rows = new int[chains * m];
        if (fullBatch)
        {
            for (int c = 0; c < chains; c++)
            {
                for (int i = 0; i < m; i++)
                {
                    rows[(c * m) + i] = (c * n) + i;
                }
            }
        }
        int[] shape = [chains, m, Features];
        var tape = new Tape<double>();
        var kept = Enumerable.Range(0, chains).Select(_ => new List<TmsParameters>(checkpoints.Length)).ToArray();
        var flat = new double[chains * perChain];
        int next = 0;

        void Keep()
        {
            set.CopyChainsTo(flat);
            for (int c = 0; c < chains; c++)
            {
                kept[c].Add(TmsParameters.FromFlat(Hidden, Features, flat.AsSpan(c * perChain, perChain)));
            }
            next++;
        }

        if (checkpoints[0] == 0)
        {
            Keep();
        }
        int reported = 0;
        for (int step = 1; step <= options.Steps && next < checkpoints.Length; step++)
        {
            if (!fullBatch)
            {
                for (int c = 0; c < chains; c++)
                {
                    var slice = rows.AsSpan(c * m, m);
                    batchRngs[c].FillIndices(slice, n);
                    for (int i = 0; i < m; i++)
                    {
                        slice[i] += c * n;
                    }
                }
            }
            tape.Reset();
            var x = tape.InputRows(data, Features, rows, shape);
            var y = tape.InputRows(data, Features, rows, shape);
            // The TMS loss sums the squared error over features; MseLoss averages over them.
            var loss = tape.Scale(tape.MseLoss(model.Forward(tape, x), y, chains), Features);
            optimizer.ZeroGrad();
            tape.Backward(loss);
            optimizer.Step();
            if (step == checkpoints[next])
            {
                Keep();
            }
            if (step % ProgressEvery == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                options.Progress?.Report((long)ProgressEvery * chains);
                reported += ProgressEvery;
            }
        }
        // Training stops at the last checkpoint; the steps after it count as done.
        options.Progress?.Report((long)(options.Steps - reported) * chains);
        return [.. group.Select((s, c) => new TmsTrainedSeed(s, kept[c]))];
    }
}
