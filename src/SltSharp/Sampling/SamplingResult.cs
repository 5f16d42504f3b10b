namespace SltSharp.Sampling;

/// <summary>What the chain driver collected: per-chain traces of the kept draws and the fate of every chain.</summary>
public sealed class SamplingResult
{
    internal SamplingResult(int chains, int draws)
    {
        Losses = new double[chains][];
        Acceptances = new double[chains][];
        Distances = new double[chains][];
        GradientNorms = new double[chains][];
        for (int c = 0; c < chains; c++)
        {
            Losses[c] = new double[draws];
            Acceptances[c] = new double[draws];
            Distances[c] = new double[draws];
            GradientNorms[c] = new double[draws];
        }
        DrawsCompleted = new int[chains];
        StepCurvatures = new StepCurvature?[chains];
        Diverged = new bool[chains];
        DivergenceMessages = new string?[chains];
    }

    /// <summary>
    /// Rebuilds a result from per-chain traces computed elsewhere (e.g. chains of a resumed job read back from a
    /// results store), so that they are estimated exactly like a result of <see cref="ChainDriver.Run{T}"/>.
    /// </summary>
    /// <param name="losses">Loss per kept draw, [chain][draw]; a diverged chain holds only its completed draws.</param>
    /// <param name="acceptances">Acceptance per kept draw, aligned with <paramref name="losses"/>.</param>
    /// <param name="distances">||w − w*|| per kept draw.</param>
    /// <param name="gradientNorms">||∇L_B|| per kept draw.</param>
    /// <param name="divergenceMessages">Null for a surviving chain, the reason for a diverged one.</param>
    /// <param name="totalSteps">Chain-steps taken in total.</param>
    /// <param name="elapsed">Sampling wall time.</param>
    /// <param name="stepCurvatures">Per chain, the curvature measured at its states (null entries, or null for none).</param>
    public static SamplingResult FromChains(double[][] losses, double[][] acceptances, double[][] distances, double[][] gradientNorms,
        string?[] divergenceMessages, long totalSteps, TimeSpan elapsed, IReadOnlyList<StepCurvature?>? stepCurvatures = null)
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentNullException.ThrowIfNull(acceptances);
        ArgumentNullException.ThrowIfNull(distances);
        ArgumentNullException.ThrowIfNull(gradientNorms);
        ArgumentNullException.ThrowIfNull(divergenceMessages);
        int chains = losses.Length;
        if (acceptances.Length != chains || distances.Length != chains || gradientNorms.Length != chains || divergenceMessages.Length != chains)
        {
            throw new ArgumentException($"Every per-chain array needs {chains} chains (losses has {chains}, acceptances {acceptances.Length}, distances {distances.Length}, gradient norms {gradientNorms.Length}, messages {divergenceMessages.Length}).", nameof(losses));
        }
        var result = new SamplingResult(chains, 0);
        for (int c = 0; c < chains; c++)
        {
            int k = losses[c].Length;
            if (acceptances[c].Length != k || distances[c].Length != k || gradientNorms[c].Length != k)
            {
                throw new ArgumentException($"Chain {c} has {k} losses but {acceptances[c].Length} acceptances, {distances[c].Length} distances and {gradientNorms[c].Length} gradient norms; they must align.", nameof(losses));
            }
            result.Losses[c] = losses[c];
            result.Acceptances[c] = acceptances[c];
            result.Distances[c] = distances[c];
            result.GradientNorms[c] = gradientNorms[c];
            result.DrawsCompleted[c] = k;
            result.Diverged[c] = divergenceMessages[c] is not null;
            result.DivergenceMessages[c] = divergenceMessages[c];
            result.StepCurvatures[c] = stepCurvatures is not null && c < stepCurvatures.Count ? stepCurvatures[c] : null;
        }
        result.TotalStepsField = totalSteps;
        result.Elapsed = elapsed;
        return result;
    }

    /// <summary>Loss of each kept draw, [chain][draw]; a diverged chain's array holds only its completed draws.</summary>
    public double[][] Losses { get; }

    /// <summary>The sampler's acceptance estimate at each kept draw (NaN where undefined).</summary>
    public double[][] Acceptances { get; }

    /// <summary>||w − w*|| after each kept draw's step.</summary>
    public double[][] Distances { get; }

    /// <summary>||∇L_B|| at each kept draw.</summary>
    public double[][] GradientNorms { get; }

    /// <summary>Draws each chain completed (the requested number unless it diverged).</summary>
    public int[] DrawsCompleted { get; }

    /// <summary>
    /// Per chain, the curvature a step met at the chain's states (<see cref="StepCurvatureProbe"/>), measured after
    /// sampling for the verdict's step-bias check; null where it was not measured (other samplers, masks, diverged chains).
    /// </summary>
    public StepCurvature?[] StepCurvatures { get; }

    /// <summary>True for chains stopped as diverged.</summary>
    public bool[] Diverged { get; }

    /// <summary>For each diverged chain, a message naming the chain, the draw and step, and the reason.</summary>
    public string?[] DivergenceMessages { get; }

    /// <summary>Chains that did not diverge.</summary>
    public int SurvivingChains => Diverged.Count(d => !d);

    /// <summary>Chain-steps taken in total (all chains, burn-in included).</summary>
    public long TotalSteps => Interlocked.Read(ref TotalStepsField);

    internal long TotalStepsField;

    /// <summary>Wall-clock time of the sampling loop.</summary>
    public TimeSpan Elapsed { get; internal set; }

    /// <summary>Chain-steps per second, summed over chains.</summary>
    public double StepsPerSecond => TotalSteps / Math.Max(Elapsed.TotalSeconds, 1e-9);

    internal void Truncate(int chain)
    {
        int k = DrawsCompleted[chain];
        Losses[chain] = Losses[chain][..k];
        Acceptances[chain] = Acceptances[chain][..k];
        Distances[chain] = Distances[chain][..k];
        GradientNorms[chain] = GradientNorms[chain][..k];
    }
}

/// <summary>Thrown when every chain diverged, so there is nothing to estimate from.</summary>
public sealed class SamplingDivergedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public SamplingDivergedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public SamplingDivergedException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public SamplingDivergedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
