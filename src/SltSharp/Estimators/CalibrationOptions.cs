namespace SltSharp.Estimators;

/// <summary>
/// Settings of a hyperparameter sweep (<see cref="Calibration.Run{T}"/>). The defaults are chosen so that a sweep costs
/// a small fraction of the estimate it prepares; every number is documented in docs/sampling-and-llc.md.
/// </summary>
public sealed record CalibrationOptions
{
    /// <summary>
    /// Explicit step sizes of the grid. Null: the grid is found by the step-size probe (a half-decade ladder from
    /// <see cref="ProbeStart"/> downwards) and spans <see cref="GridAbove"/> half-decades above and
    /// <see cref="GridBelow"/> below the largest step at which no probe chain diverged.
    /// </summary>
    public IReadOnlyList<double>? StepSizes { get; init; }

    /// <summary>The largest step size the probe tries.</summary>
    public double ProbeStart { get; init; } = 1.0;

    /// <summary>The smallest step size the probe tries before giving up.</summary>
    public double ProbeEnd { get; init; } = 1e-12;

    /// <summary>Steps per chain of each probe rung (no burn-in: the probe only reads acceptance and divergence).</summary>
    public int ProbeSteps { get; init; } = 200;

    /// <summary>Half-decades of the grid above the probe's step size (these cells show where sampling breaks down).</summary>
    public int GridAbove { get; init; } = 1;

    /// <summary>Half-decades of the grid below the probe's step size.</summary>
    public int GridBelow { get; init; } = 4;

    /// <summary>nβ values of the grid as multiples of the base nβ (n/ln n unless the base options fix it).</summary>
    public IReadOnlyList<double> NBetaMultipliers { get; init; } = [1.0];

    /// <summary>Localizations γ of the grid; null: the base options' γ only. Smaller γ is preferred (less bias).</summary>
    public IReadOnlyList<double>? Localizations { get; init; }

    /// <summary>Chains per cell (R-hat needs at least 2).</summary>
    public int CellChains { get; init; } = 4;

    /// <summary>Burn-in steps per chain of each cell.</summary>
    public int CellBurnin { get; init; } = 1_000;

    /// <summary>Kept draws per chain of each cell.</summary>
    public int CellDraws { get; init; } = 400;

    /// <summary>Steps per kept draw of each cell.</summary>
    public int CellThinning { get; init; } = 5;

    /// <summary>
    /// Unadjusted samplers: the relative discretisation bias b of λ̂ the chosen step may cause. A Langevin step inflates
    /// the variance of a direction of curvature q by ≈ εq/4, so λ̂ gains ≈ ε·tr(nβ∇²L)/8; the trace is measured at the
    /// states a calibration cell reached, and ε = 8bλ̂/tr.
    /// </summary>
    public double BiasBudget { get; init; } = 0.02;

    /// <summary>
    /// Unadjusted samplers: the largest exact Metropolis rejection of the Langevin step the chosen ε may have (extrapolated
    /// as ε^{3/2} from the cell the bias model used). Guards the bias model, which is first order in ε.
    /// </summary>
    public double MaxRejection { get; init; } = 0.3;

    /// <summary>
    /// For <see cref="Calibration.EstimateAuto{T}"/> with unadjusted samplers: the final run is repeated at a smaller step
    /// when the bias ε·tr(nβ∇²L)/8 measured at its chains' last positions exceeds this many times <see cref="BiasBudget"/>
    /// (the trace from a few states is noisy; a factor 2 leaves room for that without accepting a bias that matters).
    /// </summary>
    public double EquilibriumBiasTolerance { get; init; } = 2.0;

    /// <summary>
    /// For <see cref="Calibration.EstimateAuto{T}"/>: how many times the final run may be repeated at a smaller step
    /// because of the bias measured where its chains ended up (see <see cref="EquilibriumBiasTolerance"/>; MALA: because
    /// its worst decile of acceptance fell short of <see cref="MalaWorstDecileAcceptance"/>). The first
    /// order model underestimates a large step's bias (DLN 5×3×5, r = 0, ε = 3.6e-5: predicted 8–17%, measured 23%),
    /// so a second correction may be needed.
    /// </summary>
    public int MaxStepCorrections { get; init; } = 2;

    /// <summary>
    /// For <see cref="Calibration.EstimateAuto{T}"/> with unadjusted samplers: the final run's burn-in covers at least
    /// this Langevin time (ε × steps) times 1/γ, the time scale on which the localization confines the flat directions.
    /// </summary>
    public double BurninLangevinTime { get; init; } = 0.25;

    /// <summary>
    /// For <see cref="Calibration.EstimateAuto{T}"/>: how many times the final run may be repeated with twice the steps
    /// when its own diagnostics show it has not converged (drift between halves, R-hat, or a Monte Carlo error above
    /// twice the target).
    /// </summary>
    public int MaxExtensions { get; init; } = 2;

    /// <summary>
    /// Minibatch samplers (whose acceptance estimate mostly measures minibatch noise): the chosen step as a fraction of the
    /// stability edge, the largest grid step at which no chain diverged or spiked. Default one half-decade below it.
    /// </summary>
    public double EdgeFraction { get; init; } = 0.316;

    /// <summary>The acceptance MALA's chosen step must reach (MALA is exact: ε sets only efficiency; optimum ≈ 0.57).</summary>
    public double MalaTargetAcceptance { get; init; } = 0.6;

    /// <summary>
    /// MALA: the acceptance probability that all but the worst 10% of draws must reach, in the chosen cell and again in the
    /// final run (whose step is cut by a half-decade, at most <see cref="MaxStepCorrections"/> times, when it falls short).
    /// On a singular posterior the curvature varies by decades between the crossing and the far ends of the valleys, and a
    /// step that suits the bulk is almost always rejected out there: the chains stick where they arrive and rarely
    /// arrive, all of them alike, so the mean acceptance, R-hat and the loss's ESS look fine while λ̂ comes out low
    /// (normal-crossing data model (2,2), n = 1000: ε = 0.0316 with mean acceptance 0.80 but a worst decile of 0, λ̂
    /// −7.1%; ε = 0.01, worst decile 0.83, +0.5%). See docs/sampling-and-llc.md.
    /// </summary>
    public double MalaWorstDecileAcceptance { get; init; } = 0.5;

    /// <summary>
    /// Relative change of λ̂ allowed between a step and the next smaller one (beyond 2 standard errors of the
    /// difference) before the larger step is rejected for discretisation bias.
    /// </summary>
    public double FlatnessTolerance { get; init; } = 0.03;

    /// <summary>Cells run in parallel (each on one thread); the loss must be replicable for more than 1.</summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>
    /// For <see cref="Calibration.EstimateAuto{T}"/>: the Monte Carlo standard error the final run aims for, relative
    /// to λ̂; the run is lengthened (never shortened) from the chosen cell's effective sample size to reach it.
    /// </summary>
    public double TargetRelativeError { get; init; } = 0.015;

    /// <summary>For <see cref="Calibration.EstimateAuto{T}"/>: the most steps per chain (burn-in included) the final run may take.</summary>
    public long MaxStepsPerChain { get; init; } = 400_000;

    /// <summary>Progress: called after each cell with (cells done, cells in all).</summary>
    public IProgress<(int Done, int Total)>? Progress { get; init; }

    internal void Validate()
    {
        static void Require(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }
        Require(StepSizes is null || (StepSizes.Count > 0 && StepSizes.All(e => e > 0 && double.IsFinite(e))), "StepSizes must be finite numbers > 0 (or null for the probe).");
        Require(ProbeStart > ProbeEnd && ProbeEnd > 0, $"ProbeStart ({ProbeStart}) must exceed ProbeEnd ({ProbeEnd}) > 0.");
        Require(ProbeSteps >= 10, $"ProbeSteps = {ProbeSteps}: at least 10 steps are needed for an acceptance estimate.");
        Require(GridAbove >= 0 && GridBelow >= 1, $"GridAbove ({GridAbove}) must be ≥ 0 and GridBelow ({GridBelow}) ≥ 1.");
        Require(NBetaMultipliers.Count > 0 && NBetaMultipliers.All(m => m > 0 && double.IsFinite(m)), "NBetaMultipliers must be finite numbers > 0, e.g. 0.5,1,2.");
        Require(Localizations is null || (Localizations.Count > 0 && Localizations.All(g => g >= 0 && double.IsFinite(g))), "Localizations must be finite numbers ≥ 0.");
        Require(CellChains >= 2, $"CellChains = {CellChains}: R-hat needs at least 2 chains per cell.");
        Require(CellBurnin >= 0 && CellDraws >= 50 && CellThinning >= 1, $"Cells need burn-in ≥ 0, ≥ 50 draws and thinning ≥ 1 (got {CellBurnin}, {CellDraws}, {CellThinning}).");
        Require(MalaTargetAcceptance is > 0 and < 1, "MalaTargetAcceptance must lie in (0, 1).");
        Require(MalaWorstDecileAcceptance is >= 0 and < 1, "MalaWorstDecileAcceptance must lie in [0, 1) (0 switches the check off).");
        Require(BiasBudget is > 0 and < 1 && MaxRejection is > 0 and < 1 && EdgeFraction is > 0 and <= 1 && FlatnessTolerance > 0, "BiasBudget and MaxRejection must lie in (0, 1), EdgeFraction in (0, 1] and FlatnessTolerance be > 0.");
        Require(Parallelism >= 1, $"Parallelism = {Parallelism}: must be ≥ 1.");
        Require(TargetRelativeError > 0 && MaxStepsPerChain > 0, "TargetRelativeError and MaxStepsPerChain must be > 0.");
        Require(EquilibriumBiasTolerance >= 1, $"EquilibriumBiasTolerance = {EquilibriumBiasTolerance}: must be ≥ 1 (a multiple of BiasBudget).");
        Require(MaxStepCorrections >= 0, $"MaxStepCorrections = {MaxStepCorrections}: must be ≥ 0.");
        Require(BurninLangevinTime >= 0 && MaxExtensions >= 0, "BurninLangevinTime and MaxExtensions must be ≥ 0.");
    }
}
