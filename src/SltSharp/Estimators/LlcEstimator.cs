using System.Numerics;
using SltSharp.Diagnostics;
using SltSharp.Sampling;

namespace SltSharp.Estimators;

/// <summary>
/// The local learning coefficient estimator of Lau et al.: λ̂(w*) = nβ·(E[L] − L(w*)) with E over draws of the
/// localized tempered posterior and L(w*) taken on the full data before sampling.
/// </summary>
public static class LlcEstimator
{
    private const int ReferenceChunk = 4096;

    /// <summary>Estimates the LLC of <paramref name="loss"/> at <paramref name="wStar"/>.</summary>
    /// <param name="loss">The loss (a model over its dataset), chain-batched.</param>
    /// <param name="wStar">w*, the parameter at which the LLC is measured (P values).</param>
    /// <param name="options">Sampler, posterior and driver settings.</param>
    /// <param name="observer">Optional callback for every kept draw.</param>
    public static LlcResult Estimate<T>(IChainedLoss<T> loss, ReadOnlySpan<T> wStar, LlcOptions options, DrawObserver<T>? observer = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ChainIndices is not null)
        {
            throw new ArgumentException("ChainIndices selects a subset of chains: call LlcEstimator.Sample for the subset and Combine for all chains.", nameof(options));
        }
        var sample = Sample(loss, wStar, options, observer);
        return Combine(sample.Sampling, sample.NBeta, sample.ReferenceLoss, options, sample.SamplerName);
    }

    /// <summary>
    /// The sampling half of <see cref="Estimate{T}"/>: samples the chains (all, or <see cref="LlcOptions.ChainIndices"/>)
    /// and returns their traces without estimating. Chain c depends only on (seed, c), so chains sampled in separate
    /// calls (e.g. before and after an interruption) and passed to <see cref="Combine"/> give the same estimate as one call.
    /// </summary>
    /// <param name="loss">The loss (a model over its dataset), chain-batched.</param>
    /// <param name="wStar">w*, the parameter at which the LLC is measured (P values).</param>
    /// <param name="options">Sampler, posterior and driver settings.</param>
    /// <param name="observer">Optional callback for every kept draw (chain numbers are result slots).</param>
    public static LlcSample Sample<T>(IChainedLoss<T> loss, ReadOnlySpan<T> wStar, LlcOptions options, DrawObserver<T>? observer = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(options);
        if (wStar.Length != loss.ParameterCount)
        {
            throw new ArgumentException($"w* has {wStar.Length} values but the model has {loss.ParameterCount} parameters.", nameof(wStar));
        }
        double nBeta = options.NBeta ?? LocalizedPosterior.DefaultNBeta(loss.SampleCount);
        var posterior = new LocalizedPosterior(nBeta, options.Localization, options.WeightDecay);
        ISampler<T> sampler = CreateSampler<T>(options, posterior);

        T[] mask = [];
        if (options.ParameterMask is { } selected)
        {
            if (selected.Length != loss.ParameterCount)
            {
                throw new ArgumentException($"ParameterMask has {selected.Length} entries but the model has {loss.ParameterCount} parameters.", nameof(options));
            }
            mask = selected.Select(b => b ? T.One : T.Zero).ToArray();
        }

        double reference = options.ReferenceLoss ?? FullDataLoss(loss, wStar);
        if (!double.IsFinite(reference))
        {
            throw new ArgumentException($"L(w*) = {reference} is not finite: check w* and the data.", nameof(wStar));
        }
        bool checkStep = options.CheckStepBias && options.Sampler == SamplerKind.Sgld && options.ParameterMask is null;
        int slots = options.ChainIndices?.Count ?? options.Chains;
        var states = new T[slots][][];
        int[] at = [options.Draws / 2, 3 * options.Draws / 4, options.Draws - 1];
        DrawObserver<T>? watch = observer;
        if (checkStep)
        {
            for (int c = 0; c < slots; c++)
            {
                states[c] = new T[at.Length][];
            }
            watch = (chain, draw, position) =>
            {
                observer?.Invoke(chain, draw, position);
                for (int k = 0; k < at.Length; k++)
                {
                    if (at[k] == draw)
                    {
                        states[chain][k] = position.ToArray();
                    }
                }
            };
        }
        var sampling = ChainDriver.Run(sampler, loss, wStar, reference, options.ToSamplingOptions(), mask, watch);
        if (checkStep)
        {
            MeasureStepCurvature(loss, wStar.ToArray(), states, sampling, nBeta, options);
        }
        return new LlcSample(sampling, nBeta, reference, sampler.Name);
    }

    // The curvature a step meets at each surviving chain's states, for the verdict's step-bias check. Chain c uses its own
    // stream (StepCurvatureProbe.StreamOffset + c), so a chain measured in another call (a resumed job) measures the
    // same. Chains are spread over the run's threads (replicas of the loss), like the sampling.
    private static void MeasureStepCurvature<T>(IChainedLoss<T> loss, T[] anchor, T[][][] states, SamplingResult sampling, double nBeta, LlcOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = loss.SampleCount;
        int batch = options.BatchSize is { } m && m < n ? m : n;
        int proposals = StepCurvatureProbe.ProposalsFor(options.Burnin + ((long)options.Draws * options.Thinning), batch, n);
        void Measure(IChainedLoss<T> chainLoss, int slot)
        {
            var kept = states[slot].Where(s => s is not null).ToArray();
            if (sampling.Diverged[slot] || kept.Length == 0)
            {
                return;
            }
            int chain = options.ChainIndices?[slot] ?? slot;
            sampling.StepCurvatures[slot] = StepCurvatureProbe.Measure(chainLoss, anchor, kept, options.StepSize, nBeta, options.Localization, options.Seed, chain, proposals, batch);
        }
        int slots = states.Length;
        if (options.Threads > 1 && slots > 1 && loss is IReplicableChainedLoss<T> replicable)
        {
            Parallel.For(0, slots, new ParallelOptions { MaxDegreeOfParallelism = options.Threads }, slot => Measure(replicable.CreateReplica(), slot));
        }
        else
        {
            for (int slot = 0; slot < slots; slot++)
            {
                Measure(loss, slot);
            }
        }
    }

    /// <summary>
    /// The estimating half of <see cref="Estimate{T}"/>: λ̂, standard errors, running estimates and diagnostics from the
    /// traces of all <paramref name="options"/>.Chains chains (slot c = chain c).
    /// </summary>
    /// <param name="sampling">Traces of every chain, in chain order.</param>
    /// <param name="nBeta">nβ the chains were sampled at.</param>
    /// <param name="reference">L(w*).</param>
    /// <param name="options">The settings the chains were sampled with.</param>
    /// <param name="samplerName">The sampler's name.</param>
    /// <exception cref="SamplingDivergedException">Every chain diverged.</exception>
    public static LlcResult Combine(SamplingResult sampling, double nBeta, double reference, LlcOptions options, string samplerName)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(options);
        if (sampling.Losses.Length != options.Chains)
        {
            throw new ArgumentException($"Combine needs all {options.Chains} chains; got {sampling.Losses.Length}.", nameof(sampling));
        }
        if (sampling.SurvivingChains == 0)
        {
            throw new SamplingDivergedException(
                $"All {options.Chains} chains diverged, nothing to estimate. Lower the step size (ε = {options.StepSize:G3}) or raise the localization γ. " +
                string.Join(" ", sampling.DivergenceMessages));
        }
        var survivors = Enumerable.Range(0, options.Chains).Where(c => !sampling.Diverged[c]).ToArray();
        var traces = survivors.Select(c => sampling.Losses[c]).ToArray();
        var estimates = traces.Select(t => nBeta * (t.Average() - reference)).ToArray();
        var running = traces.Select(t =>
        {
            var r = new double[t.Length];
            double sum = 0;
            for (int k = 0; k < t.Length; k++)
            {
                sum += t[k];
                r[k] = nBeta * ((sum / (k + 1)) - reference);
            }
            return r;
        }).ToArray();
        double mean = estimates.Average();
        double se = estimates.Length > 1
            ? Math.Sqrt(estimates.Sum(e => (e - mean) * (e - mean)) / (estimates.Length - 1) / estimates.Length)
            : double.NaN;

        var diagnostics = SamplingDiagnostics.Compute(traces, survivors.Select(c => sampling.Acceptances[c]).ToArray(),
            nBeta, reference, options.StepSize, options.Sampler == SamplerKind.Mala, options.Chains,
            StepCurvature.Pool(survivors.Select(c => sampling.StepCurvatures[c])), options.Localization);
        double mcse = double.NaN;
        if (double.IsFinite(diagnostics.Ess) && diagnostics.Ess > 0)
        {
            var pooled = traces.SelectMany(t => t).ToArray();
            mcse = nBeta * Math.Sqrt(ConvergenceDiagnostics.Variance(pooled) / diagnostics.Ess);
        }

        return new LlcResult
        {
            Mean = mean,
            StandardError = se,
            MonteCarloStandardError = mcse,
            ChainEstimates = estimates,
            SurvivingChains = survivors,
            RunningEstimates = running,
            Sampling = sampling,
            NBeta = nBeta,
            ReferenceLoss = reference,
            Diagnostics = diagnostics,
            SamplerName = samplerName,
        };
    }

    /// <summary>
    /// Data-refined LLC (Wang et al.): sampling and evaluation both use <paramref name="refinedLoss"/>, the same model
    /// over another dataset (another distribution q'); w* stays the parameter trained on the original data.
    /// L(w*) is taken on the refined data, so the estimate measures degeneracy as seen by q'.
    /// </summary>
    public static LlcResult EstimateDataRefined<T>(IChainedLoss<T> refinedLoss, ReadOnlySpan<T> wStar, LlcOptions options, DrawObserver<T>? observer = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ReferenceLoss is not null)
        {
            throw new ArgumentException("A data-refined LLC must compute L(w*) on the refined data; leave ReferenceLoss null.", nameof(options));
        }
        return Estimate(refinedLoss, wStar, options, observer);
    }

    /// <summary>
    /// Weight-refined LLC (Wang et al.): only the parameters where <paramref name="moving"/> is true are sampled; the
    /// others stay at w*.
    /// </summary>
    public static LlcResult EstimateWeightRefined<T>(IChainedLoss<T> loss, ReadOnlySpan<T> wStar, bool[] moving, LlcOptions options, DrawObserver<T>? observer = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(options);
        return Estimate(loss, wStar, options with { ParameterMask = moving }, observer);
    }

    /// <summary>
    /// WBIC at β = 1/ln n (slt-reference §3): samples at nβ = n/ln n and returns E[n·L_n] and
    /// λ = (WBIC − n·L_n(w*))/ln n. The loss must be the mean negative log-likelihood for WBIC to be the free-energy
    /// approximation; for other losses it is the same quantity in the loss's units.
    /// </summary>
    public static WbicResult EstimateWbic<T>(IChainedLoss<T> loss, ReadOnlySpan<T> wStar, LlcOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(options);
        int n = loss.SampleCount;
        double nBeta = LocalizedPosterior.DefaultNBeta(n);
        if (options.NBeta is { } given && Math.Abs(given - nBeta) > 1e-9 * nBeta)
        {
            throw new ArgumentException($"WBIC needs nβ = n/ln n = {nBeta:G6}; leave NBeta null (it was {given}).", nameof(options));
        }
        var run = Estimate(loss, wStar, options with { NBeta = nBeta });
        double ln = Math.Log(n);
        // WBIC = n·E[L] = n·L(w*) + ln n·λ̂, since nβ·(E[L] − L*) = λ̂ with nβ = n/ln n.
        double wbic = (n * run.ReferenceLoss) + (ln * run.Mean);
        return new WbicResult(wbic, run.Mean, ln * run.StandardError, run);
    }

    /// <summary>L_n(w) on the full data, evaluated in chunks (one chain) so that memory stays bounded.</summary>
    public static double FullDataLoss<T>(IChainedLoss<T> loss, ReadOnlySpan<T> w)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        int n = loss.SampleCount;
        int chunk = Math.Min(n, ReferenceChunk);
        var batch = new int[chunk];
        var value = new T[1];
        double total = 0;
        for (int start = 0; start < n; start += chunk)
        {
            int size = Math.Min(chunk, n - start);
            var slice = batch.AsSpan(0, size);
            for (int i = 0; i < size; i++)
            {
                slice[i] = start + i;
            }
            loss.Evaluate(w, 1, slice, value, []);
            total += double.CreateTruncating(value[0]) * size;
        }
        return total / n;
    }

    private static ISampler<T> CreateSampler<T>(LlcOptions options, LocalizedPosterior posterior)
        where T : unmanaged, IFloatingPointIeee754<T>
        => options.Sampler switch
        {
            SamplerKind.Sgld => new Sgld<T>(posterior, options.StepSize, options.BoxRadius),
            SamplerKind.PreconditionedSgld => new PreconditionedSgld<T>(posterior, options.StepSize, options.PreconditionerDecay, options.PreconditionerStabilizer),
            SamplerKind.Sgnht => new Sgnht<T>(posterior, options.StepSize, options.Diffusion),
            SamplerKind.Mala => new Mala<T>(posterior, options.StepSize),
            _ => throw new ArgumentException($"Unknown sampler {options.Sampler}.", nameof(options)),
        };
}
