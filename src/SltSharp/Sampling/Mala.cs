using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Random;

namespace SltSharp.Sampling;

/// <summary>
/// The Metropolis-adjusted Langevin algorithm on the full-data localized tempered posterior: propose
/// w' = w − (ε/2)∇U(w) + √ε·ξ, accept with probability
/// min(1, exp(U(w) − U(w') + [||w' − w + (ε/2)∇U(w)||² − ||w − w' + (ε/2)∇U(w')||²]/(2ε))),
/// where U(w) = nβ·L_n(w) + (γ/2)||w − w*||² + (λ_wd/2)||w||². The chain is exactly invariant for the target, so its
/// only error is Monte Carlo error: it is the reference sampler for the unadjusted ones.
/// </summary>
/// <remarks>
/// The driver passes the full dataset as the batch (<see cref="RequiresFullBatch"/>). The value and gradient at the
/// current point are cached, so each step costs one batched evaluation (plus one at the first step).
/// <see cref="StepInfo.Loss"/> is L_n at the position held at the start of the step; <see cref="StepInfo.Acceptance"/>
/// is the exact acceptance probability of this step's proposal. A non-finite proposal is rejected, never accepted.
/// </remarks>
public sealed class Mala<T> : ISampler<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the sampler.</summary>
    /// <param name="posterior">The target.</param>
    /// <param name="stepSize">ε &gt; 0 (aim for an acceptance rate around 0.6–0.9).</param>
    public Mala(LocalizedPosterior posterior, double stepSize)
    {
        ArgumentNullException.ThrowIfNull(posterior);
        SamplerGuards.Positive(stepSize, nameof(stepSize), "the step size ε must be finite and > 0; tune it for an acceptance rate of 0.6–0.9");
        Posterior = posterior;
        StepSize = stepSize;
    }

    /// <inheritdoc />
    public string Name => "MALA";

    /// <inheritdoc />
    public LocalizedPosterior Posterior { get; }

    /// <summary>ε.</summary>
    public double StepSize { get; }

    /// <inheritdoc />
    public bool RequiresFullBatch => true;

    /// <inheritdoc />
    public SamplerState<T> Init(ReadOnlySpan<T> anchor, Rng[] rngs, ReadOnlySpan<T> mask = default, ReadOnlySpan<T> initialPositions = default)
        => new State(anchor, rngs, mask, initialPositions);

    /// <inheritdoc />
    public void Step(SamplerState<T> state, IChainedLoss<T> loss, ReadOnlySpan<int> batch, Span<StepInfo> info)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (state is not State s)
        {
            throw new ArgumentException("This state was not created by Mala.Init.", nameof(state));
        }
        int p = s.ParameterCount;
        Langevin.ValidateBatch(batch, s.Chains);
        Langevin.ValidateInfo(info.Length, s.Chains);
        double eps = StepSize;

        if (!s.Initialized)
        {
            loss.Evaluate(s.Positions, s.Chains, batch, s.Losses, s.Gradients);
            for (int c = 0; c < s.Chains; c++)
            {
                var drift = s.CurrentDrift.AsSpan(c * p, p);
                double l = double.CreateTruncating(s.Losses[c]);
                s.CurrentLoss[c] = l;
                s.CurrentGradientNorm[c] = double.CreateTruncating(TensorPrimitives.Norm<T>(s.Gradients.AsSpan(c * p, p)));
                s.CurrentPotential[c] = Langevin.PotentialAndDrift(Posterior, s.Position(c), s.Anchor, s.Gradients.AsSpan(c * p, p), l, s.Mask, s.Diff, drift);
            }
            s.Initialized = true;
        }

        T noiseScale = T.CreateTruncating(Math.Sqrt(eps));
        for (int c = 0; c < s.Chains; c++)
        {
            var proposal = s.Proposal.AsSpan(c * p, p);
            var w = s.Position(c);
            if (!s.Active[c])
            {
                w.CopyTo(proposal);
                continue;
            }
            GaussianNoise.Fill(s.Rngs[c], s.Noise.AsSpan(), s.NoiseScratch);
            TensorPrimitives.Multiply(s.Noise, noiseScale, s.Noise);
            if (s.Mask is not null)
            {
                TensorPrimitives.Multiply(s.Noise, s.Mask, s.Noise);
            }
            double forward = double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(s.Noise));
            s.Forward[c] = forward;
            info[c].NoiseNorm = Math.Sqrt(forward);
            TensorPrimitives.MultiplyAdd(s.CurrentDrift.AsSpan(c * p, p), T.CreateTruncating(-0.5 * eps), w, proposal);
            TensorPrimitives.Add(proposal, s.Noise, proposal);
        }

        loss.Evaluate(s.Proposal, s.Chains, batch, s.Losses, s.Gradients);

        for (int c = 0; c < s.Chains; c++)
        {
            ref StepInfo inf = ref info[c];
            if (!s.Active[c])
            {
                inf = new StepInfo { Loss = double.NaN, Acceptance = double.NaN, Distance = double.NaN };
                continue;
            }
            var w = s.Position(c);
            var proposal = s.Proposal.AsSpan(c * p, p);
            var g = s.Gradients.AsSpan(c * p, p);
            inf.Loss = s.CurrentLoss[c];
            inf.GradientNorm = s.CurrentGradientNorm[c];

            double proposedLoss = double.CreateTruncating(s.Losses[c]);
            double proposedPotential = Langevin.PotentialAndDrift(Posterior, proposal, s.Anchor, g, proposedLoss, s.Mask, s.Diff, s.Drift);
            TensorPrimitives.Subtract(w, proposal, s.Work);
            TensorPrimitives.MultiplyAdd(s.Drift, T.CreateTruncating(0.5 * eps), s.Work, s.Work);
            double reverse = double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(s.Work));
            double logRatio = s.CurrentPotential[c] - proposedPotential + ((s.Forward[c] - reverse) / (2 * eps));
            if (!double.IsFinite(proposedPotential) || !double.IsFinite(reverse))
            {
                logRatio = double.NegativeInfinity;
            }
            double acceptance = Langevin.AcceptanceFromLogRatio(logRatio);
            inf.Acceptance = acceptance;
            if (s.Rngs[c].NextDouble() < acceptance)
            {
                proposal.CopyTo(w);
                s.Drift.AsSpan().CopyTo(s.CurrentDrift.AsSpan(c * p, p));
                s.CurrentPotential[c] = proposedPotential;
                s.CurrentLoss[c] = proposedLoss;
                s.CurrentGradientNorm[c] = double.CreateTruncating(TensorPrimitives.Norm<T>(g));
            }
            inf.Distance = Langevin.Distance<T>(w, s.Anchor, s.Diff);
            inf.Diverged = !double.IsFinite(inf.Loss) || !double.IsFinite(inf.Distance);
        }
        s.StepCount++;
    }

    private sealed class State : SamplerState<T>
    {
        public State(ReadOnlySpan<T> anchor, Rng[] rngs, ReadOnlySpan<T> mask, ReadOnlySpan<T> initial)
            : base(anchor, rngs, mask, initial)
        {
            Proposal = new T[Chains * ParameterCount];
            CurrentDrift = new T[Chains * ParameterCount];
            CurrentPotential = new double[Chains];
            CurrentLoss = new double[Chains];
            CurrentGradientNorm = new double[Chains];
            Forward = new double[Chains];
        }

        public bool Initialized { get; set; }
        public T[] Proposal { get; }
        public T[] CurrentDrift { get; }
        public double[] CurrentPotential { get; }
        public double[] CurrentLoss { get; }
        public double[] CurrentGradientNorm { get; }
        public double[] Forward { get; }
    }
}
