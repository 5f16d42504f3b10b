using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Random;

namespace SltSharp.Sampling;

/// <summary>
/// RMSprop-preconditioned SGLD (pSGLD, Li, Chen, Carlson &amp; Carin, AAAI 2016), per chain and per coordinate:
/// <code>
/// V ← α·V + (1 − α)·g⊙g                 g = ∇L_B(w), the mean minibatch loss gradient (V = g⊙g at the first step)
/// G = 1 / (δ + √V)
/// w ← w − (ε/2)·G⊙∇U_B(w) + √(ε·G)⊙ξ,   ξ ~ N(0, I)
/// </code>
/// with ∇U_B = nβ·∇L_B + γ(w − w*) + λ_wd·w. As in Li et al.'s practical algorithm the correction term Γ(w) = Σ_j ∂G_jj/∂w_j
/// is omitted (it is small when V changes slowly, α close to 1).
/// </summary>
/// <remarks>
/// At an exact critical point the first gradients vanish and G starts at 1/δ: raise δ, or start slightly off w*, if the
/// first steps are too large. The pseudo-MALA acceptance uses the Gaussian proposal N(w − (ε/2)G∇U, εG) with the
/// preconditioner of the move in both directions (see <see cref="Sgld{T}"/> for the one-step-late convention).
/// </remarks>
public sealed class PreconditionedSgld<T> : ISampler<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the sampler.</summary>
    /// <param name="posterior">The target.</param>
    /// <param name="stepSize">ε &gt; 0.</param>
    /// <param name="decay">α in (0, 1), the RMSprop averaging factor (Li et al. use 0.99).</param>
    /// <param name="stabilizer">δ &gt; 0 (Li et al.'s λ, 1e-5 there).</param>
    public PreconditionedSgld(LocalizedPosterior posterior, double stepSize, double decay = 0.99, double stabilizer = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(posterior);
        SamplerGuards.Positive(stepSize, nameof(stepSize), "the step size ε must be finite and > 0, typically 1e-6 to 1e-2 for pSGLD");
        if (!(decay > 0 && decay < 1))
        {
            throw new ArgumentException($"decay = {decay} is invalid: the RMSprop factor α must lie in (0, 1), typically 0.99.", nameof(decay));
        }
        SamplerGuards.Positive(stabilizer, nameof(stabilizer), "δ must be finite and > 0, typically 1e-5 to 1e-2");
        Posterior = posterior;
        StepSize = stepSize;
        Decay = decay;
        Stabilizer = stabilizer;
    }

    /// <inheritdoc />
    public string Name => "pSGLD";

    /// <inheritdoc />
    public LocalizedPosterior Posterior { get; }

    /// <summary>ε.</summary>
    public double StepSize { get; }

    /// <summary>α.</summary>
    public double Decay { get; }

    /// <summary>δ.</summary>
    public double Stabilizer { get; }

    /// <inheritdoc />
    public bool RequiresFullBatch => false;

    /// <inheritdoc />
    public SamplerState<T> Init(ReadOnlySpan<T> anchor, Rng[] rngs, ReadOnlySpan<T> mask = default, ReadOnlySpan<T> initialPositions = default)
        => new State(anchor, rngs, mask, initialPositions);

    /// <inheritdoc />
    public void Step(SamplerState<T> state, IChainedLoss<T> loss, ReadOnlySpan<int> batch, Span<StepInfo> info)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (state is not State s)
        {
            throw new ArgumentException("This state was not created by PreconditionedSgld.Init.", nameof(state));
        }
        int p = s.ParameterCount;
        Langevin.ValidateBatch(batch, s.Chains);
        Langevin.ValidateInfo(info.Length, s.Chains);
        loss.Evaluate(s.Positions, s.Chains, batch, s.Losses, s.Gradients);

        double eps = StepSize;
        T halfEps = T.CreateTruncating(0.5 * eps);
        T delta = T.CreateTruncating(Stabilizer);
        for (int c = 0; c < s.Chains; c++)
        {
            ref StepInfo inf = ref info[c];
            if (!s.Active[c])
            {
                inf = new StepInfo { Loss = double.NaN, Acceptance = double.NaN, Distance = double.NaN };
                continue;
            }
            var w = s.Position(c);
            var g = s.Gradients.AsSpan(c * p, p);
            var v = s.Second.AsSpan(c * p, p);
            var previous = s.Previous.AsSpan(c * p, p);
            var pre = s.Preconditioner;
            double lossValue = double.CreateTruncating(s.Losses[c]);
            inf.Loss = lossValue;
            inf.GradientNorm = double.CreateTruncating(TensorPrimitives.Norm<T>(g));
            double u = Langevin.PotentialAndDrift(Posterior, w, s.Anchor, g, lossValue, s.Mask, s.Diff, s.Drift);

            if (s.HasPrevious[c])
            {
                ComputePreconditioner(v, delta, pre); // G of the previous move (V not yet updated)
                TensorPrimitives.Multiply(pre, s.Drift, s.Work);
                TensorPrimitives.MultiplyAdd(s.Work, halfEps, previous, s.Work);
                TensorPrimitives.Subtract(s.Work, w, s.Work); // w_t − w_{t+1} + (ε/2)G∇U(w_{t+1})
                TensorPrimitives.Multiply(s.Work, s.Work, s.Work);
                TensorPrimitives.Divide(s.Work, pre, s.Work);
                double reverse = double.CreateTruncating(TensorPrimitives.Sum<T>(s.Work));
                inf.Acceptance = Langevin.AcceptanceFromLogRatio(s.PreviousPotential[c] - u + ((s.PreviousForward[c] - reverse) / (2 * eps)));
                // V ← αV + (1−α)g²
                TensorPrimitives.Multiply(g, g, s.Work);
                TensorPrimitives.Multiply(s.Work, T.CreateTruncating(1 - Decay), s.Work);
                TensorPrimitives.MultiplyAdd(v, T.CreateTruncating(Decay), s.Work, v);
            }
            else
            {
                inf.Acceptance = double.NaN;
                TensorPrimitives.Multiply(g, g, v);
            }
            ComputePreconditioner(v, delta, pre);
            w.CopyTo(previous);
            s.PreviousPotential[c] = u;

            // noise √(εG)·ξ; its G-weighted square norm is ε·||ξ||² (masked)
            GaussianNoise.Fill(s.Rngs[c], s.Noise.AsSpan(), s.NoiseScratch);
            if (s.Mask is not null)
            {
                TensorPrimitives.Multiply(s.Noise, s.Mask, s.Noise);
            }
            s.PreviousForward[c] = eps * double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(s.Noise));
            TensorPrimitives.Multiply(pre, T.CreateTruncating(eps), s.Work);
            TensorPrimitives.Sqrt(s.Work, s.Work);
            TensorPrimitives.Multiply(s.Noise, s.Work, s.Noise);
            inf.NoiseNorm = double.CreateTruncating(TensorPrimitives.Norm<T>(s.Noise));

            TensorPrimitives.Multiply(pre, s.Drift, s.Work);
            TensorPrimitives.MultiplyAdd(s.Work, -halfEps, w, w);
            TensorPrimitives.Add(w, s.Noise, w);
            s.HasPrevious[c] = true;
            inf.Distance = Langevin.Distance<T>(w, s.Anchor, s.Diff);
            inf.Diverged = !double.IsFinite(lossValue) || !double.IsFinite(inf.Distance);
        }
        s.StepCount++;
    }

    private static void ComputePreconditioner(ReadOnlySpan<T> v, T delta, Span<T> destination)
    {
        TensorPrimitives.Sqrt(v, destination);
        TensorPrimitives.Add(destination, delta, destination);
        TensorPrimitives.Reciprocal(destination, destination);
    }

    private sealed class State : SamplerState<T>
    {
        public State(ReadOnlySpan<T> anchor, Rng[] rngs, ReadOnlySpan<T> mask, ReadOnlySpan<T> initial)
            : base(anchor, rngs, mask, initial)
        {
            Previous = new T[Chains * ParameterCount];
            Second = new T[Chains * ParameterCount];
            Preconditioner = new T[ParameterCount];
            PreviousPotential = new double[Chains];
            PreviousForward = new double[Chains];
            HasPrevious = new bool[Chains];
        }

        public T[] Previous { get; }
        public T[] Second { get; }
        public T[] Preconditioner { get; }
        public double[] PreviousPotential { get; }
        public double[] PreviousForward { get; }
        public bool[] HasPrevious { get; }
    }
}
