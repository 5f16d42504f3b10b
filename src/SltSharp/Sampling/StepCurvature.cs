using System.Numerics;
using SltSharp.Engine.Random;

namespace SltSharp.Sampling;

/// <summary>
/// The curvature a Langevin step of size ε meets at a chain's states, measured on the exact (full-data) potential
/// U = nβ·L_n + (γ/2)·||w − w*||²: what the step-bias and stability checks of the verdict are computed from
/// (<see cref="Diagnostics.StepBiasCheck"/>).
/// </summary>
/// <param name="Trace">Mean Hutchinson estimate of tr(nβ·∇²L_n) over the probes (γ removed): SGLD's first-order bias of λ̂ is ε·Trace/8.</param>
/// <param name="Probes">Hutchinson probes behind <paramref name="Trace"/> (states × proposals per state).</param>
/// <param name="TopCurvature">Largest eigenvalue of ∇²U found by power iteration (a lower bound: the Rayleigh quotient after a few iterations).</param>
/// <param name="MinibatchNoise">
/// tr(nβ²·Cov ∇L_B), the total variance of the minibatch gradient of nβ·L at the run's batch size (0 for full batches):
/// SGLD's minibatch noise adds ε·MinibatchNoise/8 to λ̂ on top of the discretisation bias (<see cref="Diagnostics.StepBiasCheck"/>).
/// </param>
public sealed record StepCurvature(double Trace, int Probes, double TopCurvature, double MinibatchNoise = 0)
{
    /// <summary>
    /// The chains' measurements as one: the probe-weighted mean trace and the largest top curvature (the stiffest state
    /// any chain reached decides stability). Null when no chain has a measurement.
    /// </summary>
    public static StepCurvature? Pool(IEnumerable<StepCurvature?> chains)
    {
        ArgumentNullException.ThrowIfNull(chains);
        var measured = chains.OfType<StepCurvature>().Where(c => c.Probes > 0 && double.IsFinite(c.Trace)).ToArray();
        if (measured.Length == 0)
        {
            return null;
        }
        int probes = measured.Sum(c => c.Probes);
        double trace = measured.Sum(c => c.Trace * c.Probes) / probes;
        double top = measured.Select(c => c.TopCurvature).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
        double noise = measured.Select(c => c.MinibatchNoise).Where(double.IsFinite).DefaultIfEmpty(0).Average();
        return new StepCurvature(trace, probes, top, noise);
    }
}

/// <summary>
/// Measures <see cref="StepCurvature"/> at a chain's states, and the exact Metropolis rejection of the Langevin proposal
/// there. One implementation for the verdict of every SGLD estimate (<see cref="Estimators.LlcEstimator"/>) and for
/// calibration (<see cref="Estimators.Calibration"/>).
/// </summary>
public static class StepCurvatureProbe
{
    /// <summary>States per chain the verdict's check uses: the middle, three quarters and the last of the kept draws.</summary>
    public const int StatesPerChain = 3;

    /// <summary>The most Hutchinson proposals per state (what calibration uses).</summary>
    public const int MaxProposalsPerState = 16;

    /// <summary>The fewest proposals per state (one antithetic pair), used even when the cost budget would allow less.</summary>
    public const int MinProposalsPerState = 2;

    /// <summary>
    /// Power-iteration steps for the top curvature at a chain's last state (one full-data gradient each). A few suffice for
    /// a stability check: the Rayleigh quotient converges from below, and only a top curvature near the edge matters.
    /// </summary>
    public const int PowerIterations = 6;

    /// <summary>
    /// Budget of the verdict's check as a fraction of the run's own gradient work (chain-steps × batch rows); the
    /// proposals per state shrink to fit it, down to <see cref="MinProposalsPerState"/>.
    /// </summary>
    public const double CostFraction = 0.1;

    /// <summary>
    /// Minibatches per state for the minibatch-noise variance: 8 give its trace to about ±50% (χ² with 8 degrees of freedom
    /// per state, pooled over a dozen states to about ±15%), plenty for a bias term the budget judges within a factor of 2,
    /// at 8·batch/n full-data gradients per state.
    /// </summary>
    public const int MinibatchesPerState = 8;

    /// <summary>RNG streams of the check: chain c uses <c>Rng(seed, StreamOffset + c)</c>, apart from the chains' own streams and the acceptance probe's.</summary>
    public const ulong StreamOffset = 1UL << 41;

    /// <summary>
    /// Proposals per state that keep the check within <see cref="CostFraction"/> of a chain's sampling work: a chain of
    /// <paramref name="stepsPerChain"/> steps on batches of <paramref name="batchSize"/> rows out of
    /// <paramref name="sampleCount"/> does stepsPerChain·batchSize/sampleCount full-data gradients' worth of work; the check
    /// costs <see cref="StatesPerChain"/>·(proposals + 1) + <see cref="PowerIterations"/> full-data gradients per chain.
    /// </summary>
    public static int ProposalsFor(long stepsPerChain, int batchSize, int sampleCount)
    {
        double budget = CostFraction * stepsPerChain * batchSize / Math.Max(1, sampleCount);
        double proposals = Math.Floor((budget - PowerIterations) / StatesPerChain) - 1;
        int even = 2 * (int)Math.Floor(Math.Clamp(double.IsFinite(proposals) ? proposals : MinProposalsPerState, MinProposalsPerState, MaxProposalsPerState) / 2);
        return even; // proposals come in antithetic pairs
    }

    /// <summary>Full-data gradients the check costs per chain with <paramref name="proposals"/> proposals per state.</summary>
    public static int GradientsPerChain(int proposals) => (StatesPerChain * (proposals + 1)) + PowerIterations;

    /// <summary>
    /// The curvature at one chain's <paramref name="states"/>: the Hutchinson trace from <paramref name="proposals"/>
    /// Langevin proposals per state, the top eigenvalue of ∇²U by power iteration at the last state, and (when
    /// <paramref name="batchSize"/> is below n) the variance of the minibatch gradient at every state.
    /// </summary>
    public static StepCurvature Measure<T>(IChainedLoss<T> loss, T[] anchor, T[][] states, double eps, double nBeta, double gamma, ulong seed, int chain, int proposals, int batchSize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(anchor);
        ArgumentNullException.ThrowIfNull(states);
        if (states.Length == 0)
        {
            return new StepCurvature(double.NaN, 0, double.NaN);
        }
        var rng = new Rng(seed, StreamOffset + (ulong)chain);
        var (_, trace) = ExactRejectionAndCurvature(loss, anchor, states, eps, nBeta, gamma, rng, proposals);
        double top = TopCurvature(loss, anchor, states[^1], eps, nBeta, gamma, rng, PowerIterations);
        double noise = batchSize < loss.SampleCount ? states.Average(w => MinibatchNoise(loss, w, nBeta, batchSize, rng, MinibatchesPerState)) : 0;
        return new StepCurvature(trace, states.Length * proposals, top, noise);
    }

    /// <summary>
    /// tr(nβ²·Cov ∇L_B) at <paramref name="w"/> for minibatches of <paramref name="batchSize"/> rows drawn as the samplers
    /// draw them by default (uniformly with replacement; without replacement the variance is (n − B)/(n − 1) of this, 1%
    /// less at batch 100 of 10⁴): the mean of ||nβ(∇L_B − ∇L_n)||² over <paramref name="minibatches"/> random batches (unbiased:
    /// the full-data gradient ∇L_n is the batches' exact mean, not estimated from them).
    /// </summary>
    /// <remarks>
    /// Why it biases λ̂: the SGLD update adds (ε/2)·nβ·(∇L_B − ∇L_n) to the injected noise √ε·ξ, a covariance (ε²/4)·S with
    /// S = nβ²·Cov ∇L_B. For a quadratic potential the Langevin diffusion with noise covariance ε·I + (ε²/4)·S has
    /// E[U] = P/2 + tr(S)·ε/8 (the trace of its Lyapunov equation), so λ̂ gains ε·tr(S)/8, whatever the curvatures: the
    /// minibatch's share next to the discretisation's ε·tr(nβ∇²L)/8. For a noiseless teacher with squared error both grow
    /// with the residuals: their ratio is about 2λ/(outputs × batch), negligible for small models but 0.4 for the 10⁴-
    /// parameter DLN 50⁵ (λ = 950) at batch 100.
    /// </remarks>
    public static double MinibatchNoise<T>(IChainedLoss<T> loss, T[] w, double nBeta, int batchSize, Rng rng, int minibatches)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(rng);
        int n = loss.SampleCount, p = w.Length;
        var full = new double[p];
        // The full-data gradient of nβ·L (γ = 0: the localization term is the same for every batch).
        Potential(loss, w, w, nBeta, 0, full);
        var batch = new int[batchSize];
        var value = new T[1];
        var grad = new T[p];
        double sum = 0;
        for (int k = 0; k < minibatches; k++)
        {
            rng.FillIndices(batch, n);
            loss.Evaluate(w, 1, batch, value, grad);
            for (int j = 0; j < p; j++)
            {
                double d = (nBeta * double.CreateTruncating(grad[j])) - full[j];
                sum += d * d;
            }
        }
        return sum / minibatches;
    }

    /// <summary>
    /// Mean Metropolis rejection 1 − E[min(1, α)] of the Langevin proposal w' = w − (ε/2)∇U(w) + √ε·ξ for the exact
    /// U = nβ·L_n + (γ/2)||w − w*||² over <paramref name="proposals"/> proposals from each state, and from the same
    /// proposals a Hutchinson estimate of tr(nβ·∇²L_n): with w' − w = √ε·ξ − (ε/2)∇U,
    /// ξ·(∇U(w') − ∇U(w))/√ε = ξᵀ∇²U ξ + O(√ε) has mean tr ∇²U = tr(nβ∇²L) + γP.
    /// </summary>
    public static (double Rejection, double Trace) ExactRejectionAndCurvature<T>(IChainedLoss<T> loss, T[] anchor, T[][] states, double eps, double nBeta, double gamma, Rng rng, int proposals)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(anchor);
        ArgumentNullException.ThrowIfNull(states);
        ArgumentNullException.ThrowIfNull(rng);
        if (states.Length == 0 || proposals < 1)
        {
            return (double.NaN, double.NaN);
        }
        int p = anchor.Length;
        double traceSum = 0, sum = 0;
        int count = 0;
        var xi = new double[p];
        var g0 = new double[p];
        var g1 = new double[p];
        var w1 = new T[p];
        foreach (var w0 in states)
        {
            double u0 = Potential(loss, anchor, w0, nBeta, gamma, g0);
            for (int k = 0; k < proposals; k++)
            {
                // Antithetic pairs (ξ, −ξ): the trace estimate's noise term −(√ε/2)·ξᵀ∇²U·∇U(w), which dominates far from w*
                // or near the stability edge ((0,1) normal crossing at ε = 3.3e-3: 7700·ξ against a trace of 1180), flips
                // sign within a pair and cancels; both halves are still draws of the proposal, so the rejection stays unbiased.
                for (int j = 0; j < p; j++)
                {
                    xi[j] = k % 2 == 0 ? rng.NextGaussian() : -xi[j];
                    w1[j] = T.CreateTruncating(double.CreateTruncating(w0[j]) - (0.5 * eps * g0[j]) + (Math.Sqrt(eps) * xi[j]));
                }
                double u1 = Potential(loss, anchor, w1, nBeta, gamma, g1);
                double quadratic = 0;
                for (int j = 0; j < p; j++)
                {
                    quadratic += xi[j] * (g1[j] - g0[j]);
                }
                traceSum += (quadratic / Math.Sqrt(eps)) - (gamma * p);
                // log q(w0 | w1) − log q(w1 | w0) for the Gaussian proposal kernels.
                double forward = 0, backward = 0;
                for (int j = 0; j < p; j++)
                {
                    double a = double.CreateTruncating(w0[j]), b = double.CreateTruncating(w1[j]);
                    double f = b - a + (0.5 * eps * g0[j]);
                    double r = a - b + (0.5 * eps * g1[j]);
                    forward += f * f;
                    backward += r * r;
                }
                double logAlpha = u0 - u1 + ((forward - backward) / (2 * eps));
                double accept = double.IsNaN(logAlpha) ? 0 : Math.Min(1, Math.Exp(logAlpha));
                sum += 1 - accept;
                count++;
            }
        }
        return (sum / count, traceSum / count);
    }

    /// <summary>
    /// The largest eigenvalue of ∇²U at <paramref name="w"/> by power iteration, each Hessian-vector product a forward
    /// difference of ∇U over a displacement √ε (the length of one step's noise in a single direction, so the curvature is
    /// the one a step meets, as in the Hutchinson trace). Returns the last Rayleigh quotient (0 if ∇²U v vanishes).
    /// </summary>
    public static double TopCurvature<T>(IChainedLoss<T> loss, T[] anchor, T[] w, double eps, double nBeta, double gamma, Rng rng, int iterations)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(rng);
        int p = anchor.Length;
        double h = Math.Sqrt(eps);
        var g0 = new double[p];
        var g1 = new double[p];
        var v = new double[p];
        var shifted = new T[p];
        Potential(loss, anchor, w, nBeta, gamma, g0);
        for (int j = 0; j < p; j++)
        {
            v[j] = rng.NextGaussian();
        }
        Normalize(v);
        double rayleigh = double.NaN;
        for (int it = 0; it < iterations; it++)
        {
            for (int j = 0; j < p; j++)
            {
                shifted[j] = T.CreateTruncating(double.CreateTruncating(w[j]) + (h * v[j]));
            }
            Potential(loss, anchor, shifted, nBeta, gamma, g1);
            rayleigh = 0;
            for (int j = 0; j < p; j++)
            {
                g1[j] = (g1[j] - g0[j]) / h;
                rayleigh += v[j] * g1[j];
            }
            if (Normalize(g1) == 0)
            {
                return 0;
            }
            Array.Copy(g1, v, p);
        }
        return rayleigh;
    }

    private static double Normalize(double[] v)
    {
        double norm = Math.Sqrt(v.Sum(x => x * x));
        if (norm > 0 && double.IsFinite(norm))
        {
            for (int j = 0; j < v.Length; j++)
            {
                v[j] /= norm;
            }
            return norm;
        }
        return 0;
    }

    /// <summary>U(w) = nβ·L_n(w) + (γ/2)||w − w*||² on the full data (in chunks), with its gradient.</summary>
    public static double Potential<T>(IChainedLoss<T> loss, T[] anchor, T[] w, double nBeta, double gamma, double[] gradient)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(anchor);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(gradient);
        int n = loss.SampleCount, p = anchor.Length, chunk = Math.Min(n, 4096);
        Array.Clear(gradient);
        var value = new T[1];
        var grad = new T[p];
        var batch = new int[chunk];
        double total = 0;
        for (int start = 0; start < n; start += chunk)
        {
            int size = Math.Min(chunk, n - start);
            for (int i = 0; i < size; i++)
            {
                batch[i] = start + i;
            }
            loss.Evaluate(w, 1, batch.AsSpan(0, size), value, grad);
            double weight = (double)size / n;
            total += weight * double.CreateTruncating(value[0]);
            for (int j = 0; j < p; j++)
            {
                gradient[j] += weight * double.CreateTruncating(grad[j]);
            }
        }
        double u = nBeta * total;
        for (int j = 0; j < p; j++)
        {
            double d = double.CreateTruncating(w[j]) - double.CreateTruncating(anchor[j]);
            gradient[j] = (nBeta * gradient[j]) + (gamma * d);
            u += 0.5 * gamma * d * d;
        }
        return u;
    }
}
