using System.Diagnostics;
using System.Numerics;
using SltSharp.Engine.Random;

namespace SltSharp.Sampling;

/// <summary>
/// Runs C chains of a sampler: burn-in, thinning, per-chain minibatches, divergence handling, progress and collection.
/// </summary>
/// <remarks>
/// <para>Chains are batched: one <see cref="IChainedLoss{T}.Evaluate"/> call per step covers every chain of a group.
/// With <see cref="SamplingOptions.Threads"/> = k the chains are split into k contiguous groups, each with its own loss
/// replica (<see cref="IReplicableChainedLoss{T}"/>) and sampler state, run on separate threads without any
/// synchronisation between steps.</para>
/// <para>Why results do not depend on the thread count: chain c draws its noise, its minibatches and its MALA uniforms
/// only from <c>Rng(seed, c)</c>, in an order fixed by its own step sequence; a model's loss for chain c depends only on
/// chain c's parameters and batch (the chain-major contract of <see cref="IChainedLoss{T}"/>); all reductions are per
/// chain, in a fixed order; and every cross-chain statistic is computed afterwards, in chain order. So the group a chain
/// runs in changes nothing it computes.</para>
/// <para>Divergence: a chain whose loss or position is NaN/∞, or whose nβ·(L_B − L(w*)) exceeds the bound, is stopped
/// with a message naming the chain, the draw and the step; the others continue. If all chains diverge a
/// <see cref="SamplingDivergedException"/> lists what happened.</para>
/// </remarks>
public static class ChainDriver
{
    /// <summary>
    /// Samples <paramref name="options"/>.Chains chains of <paramref name="sampler"/> on <paramref name="loss"/> around
    /// <paramref name="anchor"/>. <paramref name="referenceLoss"/> is L(w*), used only for the divergence bound.
    /// </summary>
    public static SamplingResult Run<T>(ISampler<T> sampler, IChainedLoss<T> loss, ReadOnlySpan<T> anchor, double referenceLoss,
        SamplingOptions options, ReadOnlySpan<T> mask = default, DrawObserver<T>? observer = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (anchor.Length != loss.ParameterCount)
        {
            throw new ArgumentException($"w* has {anchor.Length} values but the model has {loss.ParameterCount} parameters.", nameof(anchor));
        }
        int chains = options.Chains;
        int groups = Math.Min(options.Threads, chains);
        var losses = new IChainedLoss<T>[groups];
        losses[0] = loss;
        for (int g = 1; g < groups; g++)
        {
            losses[g] = loss is IReplicableChainedLoss<T> replicable
                ? replicable.CreateReplica()
                : throw new ArgumentException(
                    $"Threads = {options.Threads} needs a loss that implements IReplicableChainedLoss (one replica per thread); {loss.GetType().Name} does not. Use Threads = 1.",
                    nameof(loss));
        }

        int n = loss.SampleCount;
        int m = sampler.RequiresFullBatch || options.BatchSize is null || options.BatchSize >= n ? n : options.BatchSize.Value;
        bool fullBatch = m == n;
        double bound = options.DivergenceBound ?? (1e4 * (loss.ParameterCount + 1));
        var result = new SamplingResult(chains, options.Draws);
        var anchorCopy = anchor.ToArray();
        var maskCopy = mask.ToArray();

        var stopwatch = Stopwatch.StartNew();
        if (groups == 1)
        {
            RunGroup(sampler, losses[0], anchorCopy, maskCopy, 0, chains, m, fullBatch, referenceLoss, bound, options, observer, result);
        }
        else
        {
            var work = new Action[groups];
            for (int g = 0; g < groups; g++)
            {
                int start = g * chains / groups, end = (g + 1) * chains / groups;
                var groupLoss = losses[g];
                work[g] = () => RunGroup(sampler, groupLoss, anchorCopy, maskCopy, start, end, m, fullBatch, referenceLoss, bound, options, observer, result);
            }
            Parallel.Invoke(new ParallelOptions { MaxDegreeOfParallelism = groups }, work);
        }
        stopwatch.Stop();
        result.Elapsed = stopwatch.Elapsed;

        for (int c = 0; c < chains; c++)
        {
            if (result.Diverged[c])
            {
                result.Truncate(c);
            }
        }
        if (result.SurvivingChains == 0 && options.ChainIndices is null)
        {
            throw new SamplingDivergedException(
                $"All {chains} chains diverged, nothing to estimate. Lower the step size (ε = {StepSizeOf(sampler)}) or raise the localization γ. " +
                string.Join(" ", result.DivergenceMessages));
        }
        return result;
    }

    private static string StepSizeOf<T>(ISampler<T> sampler)
        where T : unmanaged, IFloatingPointIeee754<T>
        => sampler switch
        {
            Sgld<T> s => s.StepSize.ToString("G3"),
            PreconditionedSgld<T> s => s.StepSize.ToString("G3"),
            Sgnht<T> s => s.StepSize.ToString("G3"),
            Mala<T> s => s.StepSize.ToString("G3"),
            _ => "?",
        };

    private static void RunGroup<T>(ISampler<T> sampler, IChainedLoss<T> loss, T[] anchor, T[] mask, int start, int end, int m,
        bool fullBatch, double referenceLoss, double bound, SamplingOptions options, DrawObserver<T>? observer, SamplingResult result)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chains = end - start;
        int n = loss.SampleCount;
        var rngs = new Rng[chains];
        for (int i = 0; i < chains; i++)
        {
            rngs[i] = new Rng(options.Seed, (ulong)options.ChainIndex(start + i));
        }
        var state = sampler.Init(anchor, rngs, mask);
        var info = new StepInfo[chains];
        var batch = new int[chains * m];
        int[][]? permutations = null;
        int[]? cursors = null;
        if (fullBatch)
        {
            for (int i = 0; i < chains; i++)
            {
                for (int j = 0; j < m; j++)
                {
                    batch[(i * m) + j] = j;
                }
            }
        }
        else if (options.BatchSampling == BatchSampling.WithoutReplacement)
        {
            permutations = new int[chains][];
            cursors = new int[chains];
            for (int i = 0; i < chains; i++)
            {
                permutations[i] = Enumerable.Range(0, n).ToArray();
                cursors[i] = n; // forces a shuffle before the first batch
            }
        }

        double nBeta = sampler.Posterior.NBeta;
        var probe = AcceptanceProbe<T>.Create(sampler, loss, anchor, state.Mask, start, chains, m, fullBatch, options);
        var probed = probe is null ? null : new double[chains];
        state.PerStepAcceptanceUnused = probe is not null;
        long totalSteps = (long)options.Burnin + ((long)options.Draws * options.Thinning);
        // Burn-in is reported about 50 times per chain (and at its end), so a progress display does not sit at 0 through it.
        long burninEvery = Math.Max(1, options.Burnin / 50);
        int active = chains;
        long stepsTaken = 0;
        for (long step = 0; step < totalSteps && active > 0; step++)
        {
            long afterBurnin = step - options.Burnin;
            bool isDraw = afterBurnin >= 0 && afterBurnin % options.Thinning == 0;
            int draw = isDraw ? (int)(afterBurnin / options.Thinning) : -1;
            for (int i = 0; i < chains; i++)
            {
                if (!state.Active[i])
                {
                    continue;
                }
                if (!fullBatch)
                {
                    var slice = batch.AsSpan(i * m, m);
                    if (permutations is null)
                    {
                        rngs[i].FillIndices(slice, n);
                    }
                    else
                    {
                        if (cursors![i] + m > n)
                        {
                            rngs[i].Shuffle(permutations[i].AsSpan());
                            cursors[i] = 0;
                        }
                        permutations[i].AsSpan(cursors[i], m).CopyTo(slice);
                        cursors[i] += m;
                    }
                }
                if (isDraw && observer is not null)
                {
                    observer(start + i, draw, state.Position(i));
                }
            }

            sampler.Step(state, loss, batch, info);
            stepsTaken += active;
            bool probeNow = probe is not null && isDraw && draw % probe.ProbeEvery == 0;
            if (probeNow)
            {
                probe!.Measure(state, probed!);
            }

            for (int i = 0; i < chains; i++)
            {
                if (!state.Active[i])
                {
                    continue;
                }
                int chain = start + i;
                ref readonly StepInfo inf = ref info[i];
                double excess = nBeta * (inf.Loss - referenceLoss);
                if (inf.Diverged || excess > bound)
                {
                    string where = isDraw ? $"draw {draw}" : afterBurnin < 0 ? "burn-in" : $"after draw {afterBurnin / options.Thinning}";
                    string why = inf.Diverged
                        ? $"loss = {inf.Loss:G4}, distance from w* = {inf.Distance:G4} (not finite)"
                        : $"nβ·(L − L(w*)) = {excess:G4} exceeds the divergence bound {bound:G4}";
                    result.Diverged[chain] = true;
                    result.DivergenceMessages[chain] = $"Chain {options.ChainIndex(chain)} diverged at {where} (step {step + 1} of {totalSteps}): {why}.";
                    state.Deactivate(i);
                    active--;
                    continue;
                }
                if (isDraw)
                {
                    result.Losses[chain][draw] = inf.Loss;
                    // Minibatch SGLD: the fixed-batch probe replaces the per-step estimate (NaN at unprobed draws).
                    result.Acceptances[chain][draw] = probe is null ? inf.Acceptance : probeNow ? probed![i] : double.NaN;
                    result.Distances[chain][draw] = inf.Distance;
                    result.GradientNorms[chain][draw] = inf.GradientNorm;
                    result.DrawsCompleted[chain] = draw + 1;
                    options.Progress?.Report(new SamplingProgress(chain, draw + 1, options.Draws, options.Burnin + ((long)(draw + 1) * options.Thinning), totalSteps));
                }
                else if (afterBurnin < 0 && options.Progress is not null && ((step + 1) % burninEvery == 0 || step + 1 == options.Burnin))
                {
                    options.Progress.Report(new SamplingProgress(chain, 0, options.Draws, step + 1, totalSteps));
                }
            }
        }
        Interlocked.Add(ref result.TotalStepsField, stepsTaken);
    }
}
