using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Random;

namespace SltSharp.Sampling;

/// <summary>
/// Stochastic gradient Nosé–Hoover thermostat (Ding, Fang, Babbush, Chen, Skeel &amp; Neven, NeurIPS 2014), per chain,
/// with step h and diffusion A, exactly as in their Algorithm 1:
/// <code>
/// p ← p − ξ·p·h − ∇U_B(w)·h + √(2A·h)·N(0, I)
/// w ← w + p·h
/// ξ ← ξ + (pᵀp/d − 1)·h
/// </code>
/// where d is the number of free parameters. The thermostat ξ is applied to the momentum (the reference library computes
/// it but never applies it); it adapts the friction until the kinetic temperature pᵀp/d is 1, which absorbs the
/// unknown minibatch-gradient noise. p starts as N(0, I) and ξ as A.
/// </summary>
/// <remarks>There is no Langevin proposal density to compare, so <see cref="StepInfo.Acceptance"/> is NaN.</remarks>
public sealed class Sgnht<T> : ISampler<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the sampler.</summary>
    /// <param name="posterior">The target.</param>
    /// <param name="stepSize">h &gt; 0 (roughly √ε of an SGLD run of similar resolution, typically 1e-4 to 1e-2).</param>
    /// <param name="diffusion">A &gt; 0, the injected-noise level and initial thermostat (Ding et al. use ~1).</param>
    public Sgnht(LocalizedPosterior posterior, double stepSize, double diffusion = 1.0)
    {
        ArgumentNullException.ThrowIfNull(posterior);
        SamplerGuards.Positive(stepSize, nameof(stepSize), "the step size h must be finite and > 0, typically 1e-4 to 1e-2");
        SamplerGuards.Positive(diffusion, nameof(diffusion), "the diffusion A must be finite and > 0, typically 0.1 to 10");
        Posterior = posterior;
        StepSize = stepSize;
        Diffusion = diffusion;
    }

    /// <inheritdoc />
    public string Name => "SGNHT";

    /// <inheritdoc />
    public LocalizedPosterior Posterior { get; }

    /// <summary>h.</summary>
    public double StepSize { get; }

    /// <summary>A.</summary>
    public double Diffusion { get; }

    /// <inheritdoc />
    public bool RequiresFullBatch => false;

    /// <summary>The thermostat ξ of chain <paramref name="chain"/> in a state made by this sampler.</summary>
    public static double Thermostat(SamplerState<T> state, int chain)
        => state is State s ? s.Xi[chain] : throw new ArgumentException("This state was not created by Sgnht.Init.", nameof(state));

    /// <inheritdoc />
    public SamplerState<T> Init(ReadOnlySpan<T> anchor, Rng[] rngs, ReadOnlySpan<T> mask = default, ReadOnlySpan<T> initialPositions = default)
    {
        var s = new State(anchor, rngs, mask, initialPositions);
        for (int c = 0; c < s.Chains; c++)
        {
            var momentum = s.Momentum.AsSpan(c * s.ParameterCount, s.ParameterCount);
            GaussianNoise.Fill(s.Rngs[c], momentum, s.NoiseScratch);
            if (s.Mask is not null)
            {
                TensorPrimitives.Multiply(momentum, s.Mask, momentum);
            }
            s.Xi[c] = Diffusion;
        }
        return s;
    }

    /// <inheritdoc />
    public void Step(SamplerState<T> state, IChainedLoss<T> loss, ReadOnlySpan<int> batch, Span<StepInfo> info)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (state is not State s)
        {
            throw new ArgumentException("This state was not created by Sgnht.Init.", nameof(state));
        }
        int p = s.ParameterCount;
        Langevin.ValidateBatch(batch, s.Chains);
        Langevin.ValidateInfo(info.Length, s.Chains);
        loss.Evaluate(s.Positions, s.Chains, batch, s.Losses, s.Gradients);

        double h = StepSize;
        T noiseScale = T.CreateTruncating(Math.Sqrt(2 * Diffusion * h));
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
            var momentum = s.Momentum.AsSpan(c * p, p);
            double lossValue = double.CreateTruncating(s.Losses[c]);
            inf.Loss = lossValue;
            inf.GradientNorm = double.CreateTruncating(TensorPrimitives.Norm<T>(g));
            inf.Acceptance = double.NaN;
            Langevin.PotentialAndDrift(Posterior, w, s.Anchor, g, lossValue, s.Mask, s.Diff, s.Drift);

            GaussianNoise.Fill(s.Rngs[c], s.Noise.AsSpan(), s.NoiseScratch);
            TensorPrimitives.Multiply(s.Noise, noiseScale, s.Noise);
            if (s.Mask is not null)
            {
                TensorPrimitives.Multiply(s.Noise, s.Mask, s.Noise);
            }
            inf.NoiseNorm = double.CreateTruncating(TensorPrimitives.Norm<T>(s.Noise));

            // p ← (1 − ξh)·p − h·∇U + noise
            TensorPrimitives.Multiply(momentum, T.CreateTruncating(1 - (s.Xi[c] * h)), momentum);
            TensorPrimitives.MultiplyAdd(s.Drift, T.CreateTruncating(-h), momentum, momentum);
            TensorPrimitives.Add(momentum, s.Noise, momentum);
            // w ← w + h·p
            TensorPrimitives.MultiplyAdd(momentum, T.CreateTruncating(h), w, w);
            // ξ ← ξ + (pᵀp/d − 1)·h
            double kinetic = double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(momentum)) / s.FreeParameterCount;
            s.Xi[c] += (kinetic - 1) * h;

            inf.Distance = Langevin.Distance<T>(w, s.Anchor, s.Diff);
            inf.Diverged = !double.IsFinite(lossValue) || !double.IsFinite(inf.Distance) || !double.IsFinite(s.Xi[c]);
        }
        s.StepCount++;
    }

    private sealed class State : SamplerState<T>
    {
        public State(ReadOnlySpan<T> anchor, Rng[] rngs, ReadOnlySpan<T> mask, ReadOnlySpan<T> initial)
            : base(anchor, rngs, mask, initial)
        {
            Momentum = new T[Chains * ParameterCount];
            Xi = new double[Chains];
        }

        public T[] Momentum { get; }
        public double[] Xi { get; }
    }
}
