using System.Diagnostics;
using System.Globalization;
using SltSharp.Sampling;
using Spectre.Console;

namespace SltSharp.Cli;

/// <summary>
/// Progress of a long command, on stderr so that stdout stays the command's result (one JSON object with --json): a
/// Spectre.Console bar with ETA when stderr is a terminal, plain lines every few seconds otherwise (logs, CI), nothing
/// when quiet. Thread-safe: chains on several threads may advance it at once.
/// </summary>
/// <example>
/// <code>
/// using var progress = ProgressReporter.Start(context, "training 3 models × 10000 steps", 30_000, quiet);
/// for (...) { ...; progress.Advance(); }
/// </code>
/// Sampling loops take <see cref="ForChains"/> as their <c>Progress</c> option.
/// </example>
public sealed class ProgressReporter : IDisposable
{
    /// <summary>How often the plain (non-terminal) mode writes a line.</summary>
    public static readonly TimeSpan DefaultLogInterval = TimeSpan.FromSeconds(5);

    private readonly string _label;
    private long _total;
#pragma warning disable CA2213 // The log writer belongs to the caller (the command's stderr), which outlives this reporter.
    private readonly TextWriter? _log;
#pragma warning restore CA2213
    private readonly TimeSpan _logInterval;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource? _barDone;
    private readonly Task? _barRenderer;
    private readonly IAnsiConsole? _terminal;
    private ProgressTask? _bar;
    private string? _status;
    private long _done;
    private long _firstDone = -1;
    private TimeSpan _firstTime;
    private TimeSpan _lastLine;
    private bool _disposed;

    private ProgressReporter(string label, long total, TextWriter? log, TimeSpan logInterval, IAnsiConsole? terminal)
    {
        _label = label;
        _total = Math.Max(total, 1);
        _log = log;
        _logInterval = logInterval;
        _terminal = terminal;
        if (terminal is not null)
        {
            _barDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var barReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // Spectre's progress display owns the thread that renders it, so it runs beside the work until Dispose.
            _barRenderer = Task.Run(() => terminal.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    _bar = ctx.AddTask(Markup.Escape(label), maxValue: _total);
                    barReady.SetResult();
                    await _barDone.Task.ConfigureAwait(false);
                    _bar.Value = Interlocked.Read(ref _done);
                    ctx.Refresh();
                }));
            // Wait until the bar exists (or the renderer failed) so that early Advance calls are not lost.
            Task.WaitAny(barReady.Task, _barRenderer);
        }
    }

    /// <summary>Units done so far.</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>
    /// Starts reporting <paramref name="total"/> units of work named <paramref name="label"/> (e.g. "sampling 4 chains ×
    /// 5000 draws") for a command run in <paramref name="context"/>: a bar on a terminal, lines to the context's error
    /// writer otherwise, nothing when <paramref name="quiet"/>.
    /// </summary>
    public static ProgressReporter Start(CliContext context, string label, long total, bool quiet)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (quiet)
        {
            return Silent(label, total);
        }
        if (context.IsErrorTerminal)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            return new ProgressReporter(label, total, null, DefaultLogInterval, console);
        }
        return Plain(context.Error, label, total, DefaultLogInterval);
    }

    /// <summary>Plain periodic lines to <paramref name="log"/> (every <paramref name="interval"/>, plus a last line at the end).</summary>
    public static ProgressReporter Plain(TextWriter log, string label, long total, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(log);
        return new ProgressReporter(label, total, log, interval, null);
    }

    /// <summary>A reporter that shows nothing (still counts).</summary>
    public static ProgressReporter Silent(string label, long total) => new(label, total, null, DefaultLogInterval, null);

    /// <summary>Units in all (may grow when the work turns out larger, e.g. a grid sized after a probe).</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>Adds <paramref name="units"/> finished units.</summary>
    public void Advance(long units = 1) => Report(Interlocked.Add(ref _done, units));

    /// <summary>
    /// Raises the count of finished units to <paramref name="done"/> (never lowers it): for work whose inner reports do
    /// not cover everything, e.g. a checkpoint whose estimate was already stored.
    /// </summary>
    public void AdvanceTo(long done)
    {
        long before = Interlocked.Read(ref _done);
        while (done > before)
        {
            long seen = Interlocked.CompareExchange(ref _done, done, before);
            if (seen == before)
            {
                Report(done);
                return;
            }
            before = seen;
        }
    }

    /// <summary>Sets the number of units in all, for work whose size is known only once it has started.</summary>
    public void SetTotal(long total)
    {
        Interlocked.Exchange(ref _total, Math.Max(total, 1));
        if (_bar is { } bar)
        {
            bar.MaxValue = Math.Max(total, 1);
        }
    }

    /// <summary>
    /// A short state shown after the label (e.g. the current loss): in the bar's description on a terminal, in the next
    /// periodic line otherwise.
    /// </summary>
    public string? Status
    {
        get => Volatile.Read(ref _status);
        set
        {
            Volatile.Write(ref _status, value);
            if (_bar is { } bar)
            {
                bar.Description = Markup.Escape(value is null ? _label : $"{_label} ({value})");
            }
        }
    }

    /// <summary>
    /// A line worth keeping while the work goes on (a finished checkpoint, a trained sample size): printed above the bar
    /// on a terminal, as its own line in the plain log, not at all when quiet.
    /// </summary>
    public void Note(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (_terminal is not null)
        {
            // Spectre's live display prints console writes above the bar and redraws it below.
            _terminal.WriteLine(line);
            return;
        }
        if (_log is not null)
        {
            lock (_gate)
            {
                _log.WriteLine(line);
            }
        }
    }

    /// <summary>
    /// An <see cref="IProgress{T}"/> for work that reports (done, total) in its own units, e.g. calibration cells: it sets
    /// this reporter's total and done to those numbers.
    /// </summary>
    public IProgress<(int Done, int Total)> ForCounts() => new CountProgress(this);

    /// <summary>
    /// An <see cref="IProgress{T}"/> for a sampler's <c>Progress</c> option over <paramref name="chains"/> chains: each
    /// report says how many draws one chain has finished, and the reporter shows their sum out of chains × draws.
    /// </summary>
    public IProgress<SamplingProgress> ForChains(int chains)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chains);
        var draws = new int[chains];
        return new ChainProgress(this, draws);
    }

    /// <summary>Stops the bar (leaving it at its final value) or, when all units are done, writes the closing plain line.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        if (_barRenderer is not null)
        {
            _barDone!.TrySetResult();
            try
            {
                _barRenderer.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
                // A terminal that cannot render is not a reason to fail the command whose work is done.
            }
        }
        else if (_log is not null && Done >= Total)
        {
            // Only finished work gets a closing line: after a failure the error message is the one line to read.
            lock (_gate)
            {
                _log.WriteLine(Line(final: true));
            }
        }
    }

    private void Report(long done)
    {
        if (_bar is { } bar)
        {
            bar.Value = done;
            return;
        }
        if (_log is null)
        {
            return;
        }
        TimeSpan now = _clock.Elapsed;
        if (Interlocked.Read(ref _firstDone) < 0)
        {
            lock (_gate)
            {
                if (_firstDone < 0)
                {
                    // The rate for the ETA is measured from the first report on: work before it (burn-in, loading) is not
                    // part of the total and would make the estimate far too long.
                    _firstTime = now;
                    _firstDone = done;
                }
            }
        }
        if (now - _lastLine < _logInterval)
        {
            return;
        }
        lock (_gate)
        {
            if (_disposed || now - _lastLine < _logInterval)
            {
                return;
            }
            _lastLine = now;
            _log.WriteLine(Line(final: false));
        }
    }

    private string Line(bool final)
    {
        long done = Interlocked.Read(ref _done);
        long total = Total;
        double seconds = _clock.Elapsed.TotalSeconds;
        double fraction = Math.Clamp((double)done / total, 0, 1);
        string status = Status is { } st ? $" ({st})" : "";
        if (final)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{_label}: {done}/{total} ({fraction:P0}) in {seconds:F1} s{status}");
        }
        long measured = done - _firstDone;
        double measuredSeconds = seconds - _firstTime.TotalSeconds;
        string eta = _firstDone >= 0 && measured > 0 && done < total && measuredSeconds > 0
            ? string.Create(CultureInfo.InvariantCulture, $", about {measuredSeconds * (total - done) / measured:F0} s left")
            : "";
        return string.Create(CultureInfo.InvariantCulture, $"{_label}: {done}/{total} ({fraction:P0}), {seconds:F0} s{eta}{status}");
    }

    private sealed class ChainProgress(ProgressReporter owner, int[] draws) : IProgress<SamplingProgress>
    {
        public void Report(SamplingProgress value)
        {
            if ((uint)value.Chain >= (uint)draws.Length)
            {
                return;
            }
            // Each chain reports its own running count, in draws with burn-in steps counted pro rata (DrawEquivalents), so
            // the bar moves during burn-in; only the increase since its last report is new work. A count below the last one
            // means the chain index started a new estimate (the next checkpoint, the next model): all of it is new.
            int count = value.DrawEquivalents;
            int before = Interlocked.Exchange(ref draws[value.Chain], count);
            if (count > before)
            {
                owner.Advance(count - before);
            }
            else if (count < before)
            {
                owner.Advance(count);
            }
        }
    }

    private sealed class CountProgress(ProgressReporter owner) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value)
        {
            if (value.Total != owner.Total)
            {
                owner.SetTotal(value.Total);
            }
            owner.AdvanceTo(value.Done);
        }
    }
}
