using SltSharp.Models;
using SltSharp.Sampling;
using SltSharp.Theory;

namespace SltSharp.Cli.Commands;

/// <summary>Per-model defaults, chosen so that the default run ends with an ok or honest warn verdict within seconds.</summary>
internal sealed record ModelDefaults(int N, int BatchSize, int Burnin, int Draws, int Thinning);

/// <summary>What a command needs to know about a built-in model: its loss, w*, exact λ (if known), default ε, and
/// the exact value of the estimator at finite temperature (nβ, γ) where quadrature gives it.</summary>
internal sealed record BuiltinModel(
    string Description, IChainedLoss<double> Loss, double[] WStar, LearningCoefficient? Exact, double DefaultStepSize,
    Func<double, double, double>? ExactAtTemperature);

/// <summary>The built-in models the commands can sample: their loss, true parameter w*, exact λ and defaults.</summary>
internal static class BuiltinModels
{

    // DLN: Lau et al.'s setting scaled down (n = 1e4, batch 100); 5000 burn-in steps were needed for R-hat < 1.03
    // at 10×20×10. Normal crossing: n = 1000 is small, so full-batch gradients remove minibatch noise, which
    // otherwise dominates the pseudo-MALA acceptance and the estimate at this tiny λ.
    public static readonly ModelDefaults DeepLinearDefaults = new(10_000, 100, 5_000, 5_000, 5);
    public static readonly ModelDefaults NormalCrossingDefaults = new(1_000, 0, 5_000, 5_000, 5);

    public static BuiltinModel DeepLinear(int[] widths, int rank, int n, ulong seed)
    {
        if (widths.Length < 2)
        {
            throw new CliUsageException($"--widths needs at least two widths (input and output), e.g. --widths 10,20,10; got {widths.Length}.");
        }
        if (rank > widths.Min())
        {
            throw new CliUsageException($"--rank {rank} exceeds the narrowest layer ({widths.Min()}); the teacher's product can have rank at most {widths.Min()}.");
        }
        var (loss, teacher) = DeepLinearNetwork<double>.CreateTeacherTask(widths, rank, n, seed);
        // Inputs are U[-10,10] (variance 100/3), so nβ·L is large: small steps keep SGLD's discretisation bias low
        // (tests/SltSharp.Tests/Estimators/DeepLinearNetworkLlcTests.cs measured 5e-7 to 4e-6 as reliable).
        double step = rank == 0 ? 4e-6 : 5e-7;
        return new BuiltinModel($"deep linear network {string.Join("×", widths)}, teacher rank {rank}", loss, teacher,
            LearningCoefficients.DeepLinearNetwork(widths, rank), step, null);
    }

    public static BuiltinModel NormalCrossing(int[] powers, int n, ulong seed)
    {
        if (powers.All(p => p == 0))
        {
            throw new CliUsageException("--powers needs at least one positive power, e.g. --powers 1,2.");
        }
        var loss = NormalCrossingDataModel<double>.CreateReferenceData(powers, n, seed);
        return new BuiltinModel($"normal crossing y = x·Π w_i^p_i, powers ({string.Join(",", powers)})", loss, new double[powers.Length],
            LearningCoefficients.NormalCrossing(powers), 1e-3,
            (nBeta, gamma) => NormalCrossingExact.DataModelLlc(powers, loss.Sxx, loss.Sxy, nBeta, gamma));
    }
}
