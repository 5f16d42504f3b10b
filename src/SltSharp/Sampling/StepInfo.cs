namespace SltSharp.Sampling;

/// <summary>What one sampler step reports for one chain.</summary>
/// <remarks>All values are in double whatever the sampler's element type.</remarks>
public struct StepInfo
{
    /// <summary>The (minibatch) loss L_B(w_t) at the position the chain held at the start of the step: the draw's loss.</summary>
    public double Loss;

    /// <summary>||∇L_B(w_t)||, the gradient norm of the loss alone (without nβ, localization or weight decay).</summary>
    public double GradientNorm;

    /// <summary>The norm of the Gaussian noise injected in this step.</summary>
    public double NoiseNorm;

    /// <summary>||w_{t+1} − w*|| after the step.</summary>
    public double Distance;

    /// <summary>
    /// The Metropolis acceptance probability of a move: exact for MALA; for unadjusted Langevin samplers the pseudo-MALA
    /// estimate of the previous move (see <see cref="Sgld{T}"/>); NaN where undefined (first step, SGNHT).
    /// </summary>
    public double Acceptance;

    /// <summary>True when the loss or the new position is not finite.</summary>
    public bool Diverged;
}
