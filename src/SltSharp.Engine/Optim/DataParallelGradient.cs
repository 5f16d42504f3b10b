using System.Diagnostics;
using System.Numerics;
using System.Runtime.ExceptionServices;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Linalg;

namespace SltSharp.Engine.Optim;

/// <summary>
/// Records the loss of one shard of a minibatch on <paramref name="tape"/>: rows
/// [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of the batch. The returned node must
/// be the MEAN over those rows (per chain: shape [C] or a scalar), so that shards combine with weights count / rows.
/// Called concurrently for different shards: it may read shared data and the model, but must keep any scratch per shard.
/// </summary>
public delegate Node<T> ShardLossFunction<T>(Tape<T> tape, int shard, int start, int count)
    where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>
/// The gradient of a minibatch's mean loss computed data-parallel: the batch is split into fixed contiguous shards, one
/// per worker; each worker records and back-propagates its shard on its own tape against the shared parameters, and the
/// shard gradients are summed in shard order with weights count / rows. The result lands in the parameter set's
/// gradient buffer, ready for an <see cref="Optimizer{T}"/> step.
/// </summary>
/// <remarks>
/// <para>Determinism: the split depends only on the number of rows and workers, and the reduction order is fixed, so the
/// same inputs and worker count give bit-identical gradients whatever the timing. A different worker count sums in a
/// different order: the mean loss is Σ_s (m_s/m)·mean_s instead of one mean, and the gradient is a sum of shard sums,
/// so results differ from one worker at float rounding (relative ~1e-7 in float, ~1e-16 in double per step; in
/// training those differences then grow like any perturbation of the trajectory). With one worker the computation is
/// exactly the plain single-tape one.</para>
/// <para>Threads: worker 0 is the calling thread, the others are persistent background threads started at the first step
/// that splits; one step
/// costs one start signal and one completion wait (spin briefly, then block), and nothing is allocated after the first
/// step. Small work (parameters × rows below <see cref="MinParallelWork"/>, or fewer than
/// <see cref="MinRowsPerShard"/> rows per shard) runs on the calling thread alone, where the hand-off would cost more
/// than it saves. With more than one worker OpenBLAS is set to one thread, so workers do not oversubscribe the
/// cores.</para>
/// <para>Not thread-safe itself: one caller at a time. Dispose it to stop the workers.</para>
/// </remarks>
public sealed class DataParallelGradient<T> : IDisposable
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Below this many parameters × batch rows (≈ a sixth of a dense network's FLOPs per step, so about
    /// 1.5 MFLOP ≈ 30 µs on one core) one worker is used: the cross-thread hand-off costs ~5–20 µs.</summary>
    public const long MinParallelWork = 1L << 18;

    /// <summary>Fewest batch rows a shard gets; smaller batches use fewer workers.</summary>
    public const int MinRowsPerShard = 8;

    private static readonly long s_spinTicks = Stopwatch.Frequency / 5000; // wait 200 µs before blocking...
    private static readonly long s_busySpinTicks = Stopwatch.Frequency / 50000; // ...busy for the first 20 µs

    private readonly ParameterSet<T> _parameters;
    private readonly ShardLossFunction<T> _loss;
    private readonly Tape<T>[] _tapes;
    private readonly T[][] _gradients; // [0] is unused: worker 0 accumulates into the parameter set's own buffer
    private readonly T[][] _shardLosses;
    private readonly T[][] _seeds;
    private readonly int[] _start;
    private readonly int[] _count;
    private readonly Thread?[] _threads;
    private readonly ExceptionDispatchInfo?[] _errors;
    private readonly int[] _done;
    private readonly object _gate = new();
    private T[] _losses = [];
    private int _generation;
    private int _rows;
    private int _active;
    private volatile bool _disposed;

    /// <summary>Creates the workers.</summary>
    /// <param name="parameters">The model's parameters (shared read-only by the workers during a step).</param>
    /// <param name="workers">Most workers to use (the calling thread included); 0 means one per core.</param>
    /// <param name="loss">Records one shard's mean loss.</param>
    public DataParallelGradient(ParameterSet<T> parameters, int workers, ShardLossFunction<T> loss)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(loss);
        if (workers < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(workers), workers, "The worker count must be ≥ 1, or 0 for one per core.");
        }
        _parameters = parameters;
        _loss = loss;
        Workers = workers == 0 ? Environment.ProcessorCount : workers;
        _tapes = new Tape<T>[Workers];
        _gradients = new T[Workers][];
        _shardLosses = new T[Workers][];
        _seeds = new T[Workers][];
        _start = new int[Workers];
        _count = new int[Workers];
        _errors = new ExceptionDispatchInfo?[Workers];
        _done = new int[Workers];
        _threads = new Thread?[Workers - 1];
        for (int w = 0; w < Workers; w++)
        {
            _tapes[w] = new Tape<T>();
            _gradients[w] = w == 0 ? [] : new T[parameters.Count];
            _shardLosses[w] = [];
            _seeds[w] = [];
            if (w > 0)
            {
                _tapes[w].RedirectGradients(parameters, _gradients[w]);
            }
        }
    }

    /// <summary>The most workers a step uses (the calling thread included).</summary>
    public int Workers { get; }

    /// <summary>Workers the last step used (1 when the work was too small to split).</summary>
    public int LastWorkers => Math.Max(1, _active);

    /// <summary>The workers a batch of <paramref name="rows"/> rows would use (the size gate).</summary>
    public int WorkersFor(int rows)
    {
        long work = (long)_parameters.Count * rows;
        if (Workers == 1 || work < MinParallelWork)
        {
            return 1;
        }
        return Math.Clamp(rows / MinRowsPerShard, 1, Workers);
    }

    /// <summary>
    /// Overwrites the parameter gradients with the gradient of the mean loss over <paramref name="rows"/> batch rows and
    /// returns that loss per chain (valid until the next call).
    /// </summary>
    public ReadOnlySpan<T> Compute(int rows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        int active = WorkersFor(rows);
        _rows = rows;
        _active = active;
        int baseCount = rows / active, extra = rows % active, start = 0;
        for (int w = 0; w < active; w++)
        {
            _start[w] = start;
            _count[w] = baseCount + (w < extra ? 1 : 0);
            start += _count[w];
        }
        _parameters.ZeroGradients();
        if (active == 1)
        {
            RunShard(0);
            return Combine(1);
        }

        StartWorkers();
        int generation;
        lock (_gate)
        {
            generation = ++_generation;
            Monitor.PulseAll(_gate);
        }
        RunShard(0);
        for (int w = 1; w < active; w++)
        {
            WaitUntil(ref _done[w], generation);
        }
        for (int w = 0; w < active; w++)
        {
            _errors[w]?.Throw();
        }
        var grad = _parameters.Gradients;
        for (int w = 1; w < active; w++)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(grad, _gradients[w], grad);
        }
        return Combine(active);
    }

    /// <summary>Stops the workers.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        lock (_gate)
        {
            _generation++;
            Monitor.PulseAll(_gate);
        }
        foreach (var t in _threads)
        {
            t?.Join();
        }
    }

    /// <summary>Starts the worker threads at the first step that splits (small models never start any), and keeps OpenBLAS on one thread.</summary>
    private void StartWorkers()
    {
        // Checked every step (one cached read): something else may have raised OpenBLAS's threads since.
        if (OpenBlas.IsAvailable && OpenBlas.CachedNumThreads != 1)
        {
            OpenBlas.SetNumThreads(1);
        }
        if (_threads.Length == 0 || _threads[0] is not null)
        {
            return;
        }
        for (int w = 1; w < Workers; w++)
        {
            int worker = w;
            _threads[w - 1] = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"SltSharp data-parallel worker {w}" };
            _threads[w - 1]!.Start();
        }
    }

    private ReadOnlySpan<T> Combine(int active)
    {
        int chains = _shardLosses[0].Length;
        if (_losses.Length != chains)
        {
            _losses = new T[chains];
        }
        _losses.AsSpan().Clear();
        for (int w = 0; w < active; w++)
        {
            T weight = active == 1 ? T.One : T.CreateTruncating(_count[w]) / T.CreateTruncating(_rows);
            for (int c = 0; c < chains; c++)
            {
                _losses[c] += weight * _shardLosses[w][c];
            }
        }
        return _losses;
    }

    private void RunShard(int w)
    {
        _errors[w] = null;
        try
        {
            var tape = _tapes[w];
            tape.Reset();
            var loss = _loss(tape, w, _start[w], _count[w]);
            var value = loss.Value;
            if (_shardLosses[w].Length != value.Length)
            {
                _shardLosses[w] = new T[value.Length];
                _seeds[w] = new T[value.Length];
            }
            value.CopyTo(_shardLosses[w]);
            if (w > 0)
            {
                _gradients[w].AsSpan().Clear();
            }
            if (_active == 1)
            {
                tape.Backward(loss);
            }
            else
            {
                // The mean over the batch is Σ_s (m_s/m)·mean_s: each shard back-propagates its weight.
                _seeds[w].AsSpan().Fill(T.CreateTruncating(_count[w]) / T.CreateTruncating(_rows));
                tape.Backward(loss, _seeds[w]);
            }
        }
        catch (Exception e) when (w > 0)
        {
            _errors[w] = ExceptionDispatchInfo.Capture(e);
        }
    }

    private void WorkerLoop(int w)
    {
        int seen = 0;
        while (true)
        {
            WaitForChange(ref _generation, seen);
            seen = Volatile.Read(ref _generation);
            if (_disposed)
            {
                return;
            }
            if (w < _active)
            {
                RunShard(w);
            }
            lock (_gate)
            {
                Volatile.Write(ref _done[w], seen);
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Waits until <paramref name="field"/> differs from <paramref name="seen"/>.</summary>
    private void WaitForChange(ref int field, int seen)
    {
        long start = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref field) == seen)
        {
            if (!Pause(start))
            {
                lock (_gate)
                {
                    while (Volatile.Read(ref field) == seen)
                    {
                        Monitor.Wait(_gate);
                    }
                }
                return;
            }
        }
    }

    /// <summary>Waits until <paramref name="field"/> equals <paramref name="value"/>.</summary>
    private void WaitUntil(ref int field, int value)
    {
        long start = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref field) != value)
        {
            if (!Pause(start))
            {
                lock (_gate)
                {
                    while (Volatile.Read(ref field) != value)
                    {
                        Monitor.Wait(_gate);
                    }
                }
                return;
            }
        }
    }

    /// <summary>
    /// One pause of a spin-then-block wait begun at <paramref name="start"/>: busy-spin for the first ~20 µs (a step's
    /// hand-off on an idle machine), then yield the core (on a loaded machine the thread waited for may need it) until
    /// ~200 µs; false when it is time to block.
    /// </summary>
    private static bool Pause(long start)
    {
        long elapsed = Stopwatch.GetTimestamp() - start;
        if (elapsed > s_spinTicks)
        {
            return false;
        }
        if (elapsed > s_busySpinTicks)
        {
            Thread.Yield();
        }
        else
        {
            Thread.SpinWait(20);
        }
        return true;
    }
}
