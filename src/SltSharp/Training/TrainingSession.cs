using System.Globalization;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Training;

/// <summary>Which optimizer trains the model.</summary>
public enum OptimizerKind
{
    /// <summary>Plain (or momentum) SGD, torch.optim.SGD.</summary>
    Sgd,

    /// <summary>torch.optim.Adam.</summary>
    Adam,
}

/// <summary>How a model is trained.</summary>
public sealed record TrainingOptions
{
    /// <summary>Optimizer steps.</summary>
    public long Steps { get; init; } = 1000;

    /// <summary>Where checkpoints go (step 0 and the last step always included).</summary>
    public CheckpointSchedule Schedule { get; init; } = new(CheckpointSpacing.Log, 20);

    /// <summary>The optimizer.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; } = 0.01;

    /// <summary>SGD momentum (0 = none).</summary>
    public double Momentum { get; init; }

    /// <summary>Minibatch size; 0 means the full dataset every step.</summary>
    public int BatchSize { get; init; }

    /// <summary>Seed of the initialisation (stream 0) and of the minibatches (one stream per step).</summary>
    public ulong Seed { get; init; }

    /// <summary>The full-data training loss is logged every this many steps (and at every checkpoint); 0 picks about
    /// 200 points over the run.</summary>
    public long LogEvery { get; init; }

    /// <summary>Data-parallel workers of a training step (0 = one per core; see <see cref="DataParallelGradient{T}"/>:
    /// small models and batches stay on one thread). A different count changes results at float rounding only.</summary>
    public int Threads { get; init; }

    /// <summary>The effective logging interval.</summary>
    public long EffectiveLogEvery => LogEvery > 0 ? LogEvery : Math.Max(1, Steps / 200);
}

/// <summary>
/// Trains one model of a <see cref="TrainingTask"/> step by step, and saves and restores the complete training state
/// (parameters, optimizer buffers, step) so that a resumed run is bit-for-bit the uninterrupted one.
/// </summary>
/// <remarks>
/// Determinism: the initialisation comes from <c>Rng(seed, 0)</c>, and the minibatch of update t (the one taking the
/// parameters from step t to t + 1) from its own stream <c>Rng(seed, 2³² + t)</c>, so it depends only on (seed, t) and
/// never on where a run was interrupted. The forward and backward passes and the optimizer are deterministic; the
/// minibatch gradient is computed data-parallel (<see cref="TrainingOptions.Threads"/>) with a fixed split and reduction
/// order, so a given thread count reproduces a run bit for bit, and different counts agree to rounding.
/// Step t names the parameters after t updates; step 0 is the initialisation.
/// </remarks>
public sealed class TrainingSession : IDisposable
{
    private const ulong BatchStreamBase = 1UL << 32;

    private readonly TrainingTask _task;
    private readonly Layer<double> _model;
    private readonly DataParallelGradient<double> _gradient;
    private readonly Tape<double> _evalTape = new();
    private readonly int[] _batch;
    private readonly int[] _all;
    private readonly HashSet<long> _checkpointSteps;
    private bool _restored;

    /// <summary>Builds and initialises the model and the optimizer at step 0.</summary>
    /// <exception cref="ArgumentException">The options do not fit the task (batch larger than n, schedule larger than steps...).</exception>
    public TrainingSession(TrainingTask task, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Steps < 1)
        {
            throw new ArgumentException($"Training needs at least one step; got {options.Steps}.", nameof(options));
        }
        if (options.BatchSize < 0 || options.BatchSize > task.SampleCount)
        {
            throw new ArgumentException($"The batch size {options.BatchSize} must lie in [0, n = {task.SampleCount}] (0 = full batch).", nameof(options));
        }
        if (!(options.LearningRate > 0) || double.IsInfinity(options.LearningRate))
        {
            throw new ArgumentException($"The learning rate must be a finite number > 0; got {options.LearningRate}.", nameof(options));
        }
        _task = task;
        Options = options;
        CheckpointSteps = options.Schedule.Steps(options.Steps);
        _checkpointSteps = [.. CheckpointSteps];
        _model = task.CreateModel();
        _model.Build(1, new Rng(options.Seed, 0));
        if (task.InitScale != 1.0)
        {
            var values = _model.Parameters.Values;
            for (int i = 0; i < values.Length; i++)
            {
                values[i] *= task.InitScale;
            }
        }
        Optimizer = options.Optimizer == OptimizerKind.Adam
            ? new Adam<double>(_model.Parameters, options.LearningRate)
            : new Sgd<double>(_model.Parameters, options.LearningRate, options.Momentum);
        int n = task.SampleCount;
        _all = [.. Enumerable.Range(0, n)];
        _batch = options.BatchSize == 0 ? _all : new int[options.BatchSize];
        if (options.Threads < 0)
        {
            throw new ArgumentException($"The thread count must be ≥ 1, or 0 for one per core; got {options.Threads}.", nameof(options));
        }
        _gradient = new DataParallelGradient<double>(_model.Parameters, options.Threads, ShardLoss);
    }

    /// <summary>
    /// Shards each update's minibatch gradient is split into (1 when the work is too small to split, see
    /// <see cref="DataParallelGradient{T}.WorkersFor"/>): the float rounding of a run depends on it, not on the thread count itself.
    /// </summary>
    public int GradientShards => _gradient.WorkersFor(_batch.Length);

    /// <summary>Stops the data-parallel workers.</summary>
    public void Dispose() => _gradient.Dispose();

    /// <summary>The training settings.</summary>
    public TrainingOptions Options { get; }

    /// <summary>The task.</summary>
    public TrainingTask Task => _task;

    /// <summary>The checkpoint steps of the schedule, ascending.</summary>
    public IReadOnlyList<long> CheckpointSteps { get; }

    /// <summary>Updates taken so far (the current parameters are step <see cref="Step"/>).</summary>
    public long Step { get; private set; }

    /// <summary>The model's parameters (one chain).</summary>
    public ParameterSet<double> Parameters => _model.Parameters;

    /// <summary>The optimizer.</summary>
    public Optimizer<double> Optimizer { get; }

    /// <summary>The current parameters as one flat vector in state_dict order (the layout samplers use).</summary>
    public double[] FlatParameters()
    {
        var w = new double[Parameters.CountPerChain];
        Parameters.CopyChainTo(0, w);
        return w;
    }

    /// <summary>The loss on the whole training set at the current parameters.</summary>
    public double FullLoss()
    {
        int n = _task.SampleCount;
        _evalTape.Reset();
        var x = _evalTape.InputRows(_task.Inputs, _task.InputWidth, _all, 1, n, _task.InputWidth);
        var y = _evalTape.InputRows(_task.Targets, _task.TargetWidth, _all, 1, n, _task.TargetWidth);
        return _task.Loss(_evalTape, _model.Forward(_evalTape, x), y, 1).Value[0];
    }

    /// <summary>Saves the model (safetensors with the model spec and the step in its metadata) and the optimizer state.</summary>
    public void SaveCheckpoint(string modelPath, string optimizerPath)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["task"] = _task.Config.ToJson().ToJsonString(),
        };
        Checkpoint.Save(modelPath, Parameters, _task.Spec, metadata: metadata);
        OptimizerCheckpoint.Save(optimizerPath, Optimizer);
    }

    /// <summary>Restores the state saved by <see cref="SaveCheckpoint"/> at step <paramref name="step"/>.</summary>
    /// <exception cref="Engine.Formats.CheckpointFormatException">The files do not belong to this model and optimizer.</exception>
    public void Restore(long step, string modelPath, string optimizerPath)
    {
        if (step < 0 || step > Options.Steps)
        {
            throw new ArgumentOutOfRangeException(nameof(step), $"Step {step} is outside the run's 0..{Options.Steps}.");
        }
        Checkpoint.Load(modelPath, Parameters);
        OptimizerCheckpoint.Load(optimizerPath, Optimizer);
        if (Optimizer.StepCount != step)
        {
            throw new InvalidDataException($"The optimizer state in '{optimizerPath}' is from step {Optimizer.StepCount}, not {step}; the checkpoint files are mismatched.");
        }
        Step = step;
        _restored = true;
    }

    /// <summary>
    /// Trains from the current step to <see cref="TrainingOptions.Steps"/>. At every logging step (and every checkpoint
    /// step) it reports the full-data loss; at every checkpoint step it calls <paramref name="onCheckpoint"/> (not for the
    /// step a restored session starts at: that checkpoint exists).
    /// </summary>
    /// <param name="onLoss">(step, full-data loss), or null.</param>
    /// <param name="onCheckpoint">Called with the step when the parameters are at a checkpoint step, or null.</param>
    /// <param name="cancellationToken">Checked before every update.</param>
    public void Run(Action<long, double>? onLoss, Action<long>? onCheckpoint, CancellationToken cancellationToken = default)
    {
        long logEvery = Options.EffectiveLogEvery;
        bool first = true;
        while (true)
        {
            bool isCheckpoint = _checkpointSteps.Contains(Step) && !(first && _restored);
            if (onLoss is not null && (Step % logEvery == 0 || isCheckpoint || Step == Options.Steps) && !(first && _restored))
            {
                double loss = FullLoss();
                onLoss(Step, loss);
            }
            if (isCheckpoint)
            {
                onCheckpoint?.Invoke(Step);
            }
            first = false;
            if (Step >= Options.Steps)
            {
                break;
            }
            cancellationToken.ThrowIfCancellationRequested();
            Update();
        }
    }

    /// <summary>The mean loss over rows [start, start + count) of the current minibatch (one data-parallel shard).</summary>
    private Node<double> ShardLoss(Tape<double> tape, int shard, int start, int count)
    {
        var rows = _batch.AsSpan(start, count);
        var x = tape.InputRows(_task.Inputs, _task.InputWidth, rows, 1, count, _task.InputWidth);
        var y = tape.InputRows(_task.Targets, _task.TargetWidth, rows, 1, count, _task.TargetWidth);
        return _task.Loss(tape, _model.Forward(tape, x), y, 1);
    }

    /// <summary>One optimizer update on the minibatch of the current step.</summary>
    private void Update()
    {
        int m = _batch.Length;
        if (!ReferenceEquals(_batch, _all))
        {
            var rng = new Rng(Options.Seed, BatchStreamBase + (ulong)Step);
            for (int i = 0; i < m; i++)
            {
                _batch[i] = rng.NextInt(_task.SampleCount);
            }
        }
        double loss = _gradient.Compute(m)[0];
        if (!double.IsFinite(loss))
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"Training diverged at step {Step} (loss {loss}); lower the learning rate (--lr {Options.LearningRate:G3})."));
        }
        Optimizer.Step();
        Step++;
    }
}
