using SltSharp.Estimators;
using SltSharp.Models;
using SltSharp.Theory;
using Xunit.Abstractions;

namespace SltSharp.Tests.Estimators;

/// <summary>
/// The multi-temperature fit on exact quadrature values (<see cref="NormalCrossingExact.PotentialLlc"/>, γ = 1,
/// t = 10² … 10⁸ every half decade) and the estimator with MALA on <see cref="NormalCrossingPotential{T}"/>.
/// </summary>
/// <remarks>
/// Exact values carry no noise, so the fit is given a standard error of 1% of each value: the precision a sampling run
/// reaches per temperature (NormalCrossingLlcTests demands MCSE ≤ 2%). The decision is made at that precision; at much
/// smaller SEs the neglected faster terms (t^(−1/k) for powers (k,k)) become visible and every model is rejected.
/// </remarks>
public class MultiTemperatureTests(ITestOutputHelper output)
{
    private const double RelativePrecision = 0.01;

    private static readonly double[] ExactTemperatures = Enumerable.Range(0, 13).Select(k => Math.Pow(10, 2 + (0.5 * k))).ToArray();

    // t = 10²…10¹², every half decade.
    private static readonly double[] WideTemperatures = Enumerable.Range(0, 21).Select(k => Math.Pow(10, 2 + (0.5 * k))).ToArray();

    private MultiTemperatureFitResult FitExact(int[] powers) => FitExact(powers, ExactTemperatures, RelativePrecision);

    private MultiTemperatureFitResult FitExact(int[] powers, double[] temperatures, double relativePrecision)
    {
        var y = temperatures.Select(t => NormalCrossingExact.PotentialLlc(powers, t, 1.0)).ToArray();
        var fit = MultiTemperatureFit.Fit(temperatures, y, y.Select(v => relativePrecision * v).ToArray());
        output.WriteLine($"({string.Join(",", powers)}): {fit.Correction}, λ = {fit.Lambda:G4} in [{fit.IntervalLow:G4}, {fit.IntervalHigh:G4}], log λ = {fit.Log.Lambda:G4} m = {fit.Multiplicity} (real {fit.MultiplicityReal:G3}), power λ = {fit.Power.Lambda:G4} δ = {fit.Power.Shape:G3}; AIC log {fit.Log.Aic:G3} power {fit.Power.Aic:G3}. {fit.Message}");
        return fit;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    public void LogFitRecoversLambdaAndMultiplicityOnExactValues(int p1, int p2)
    {
        int[] powers = [p1, p2];
        var truth = LearningCoefficients.NormalCrossing(powers);
        Assert.Equal(2, truth.Multiplicity);
        var fit = FitExact(powers);
        Assert.Equal(2, fit.Log.Amplitude + 1, 12);
        Assert.Equal(2, fit.Multiplicity);
        Assert.InRange(fit.Log.Lambda, truth.Lambda * 0.98, truth.Lambda * 1.02); // the issue's 2% on exact values
        Assert.True(fit.LogSupported, fit.Message);
        Assert.InRange(truth.Lambda, fit.IntervalLow, fit.IntervalHigh);
        // At this precision the decision is (honestly) Ambiguous: a power law with δ ≈ 0.1 fits as well.
        Assert.NotEqual(TemperatureCorrection.CloseExponent, fit.Correction);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    public void CloseExponentIsFlaggedAndTheIntervalHoldsLambda(int p1, int p2)
    {
        int[] powers = [p1, p2];
        var truth = LearningCoefficients.NormalCrossing(powers);
        var fit = FitExact(powers);
        Assert.True(fit.PowerLawSupported, fit.Message);
        Assert.NotEqual(TemperatureCorrection.Multiplicity, fit.Correction);
        Assert.InRange(truth.Lambda, fit.IntervalLow, fit.IntervalHigh);
        // The log fit alone is off by 15–25% here (slt-reference §1b): the reason the decision exists.
        Assert.True(Math.Abs((fit.Log.Lambda / truth.Lambda) - 1) > 0.10, $"log λ {fit.Log.Lambda}");
    }

    // At 1% over six decades the log and a slow power law are the same curve for (k,k) (see MultiTemperatureFit's
    // remarks); at 0.2% over ten decades the evidence is decisive, so the decision must be Multiplicity with m = 2 and
    // λ within the issue's 2% (measured: within 0.2%). 0.2% is the precision of the exact values' stand-in SE, not of
    // the quadrature (which is exact to ~1e-12).
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    public void MultiplicityIsDecidedWithEnoughPrecisionAndRange(int p1, int p2)
    {
        int[] powers = [p1, p2];
        var truth = LearningCoefficients.NormalCrossing(powers);
        var fit = FitExact(powers, WideTemperatures, 0.002);
        Assert.Equal(TemperatureCorrection.Multiplicity, fit.Correction);
        Assert.Equal(2, fit.Multiplicity);
        Assert.InRange(fit.Lambda, truth.Lambda * 0.98, truth.Lambda * 1.02);
        Assert.InRange(truth.Lambda, fit.IntervalLow, fit.IntervalHigh);
    }

    // The same precision and range for a close second exponent: (1,2) and (1,3) must be decided CloseExponent with λ
    // within 2%; (2,3) has δ = 1/12, which ten decades cannot separate from a log (ΔAIC ≈ 1), so it must NOT be called a
    // multiplicity, must say so, and its interval must hold λ.
    [Theory]
    [InlineData(1, 2)]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    public void CloseExponentIsDecidedOrHonestlyAmbiguousWithEnoughPrecision(int p1, int p2)
    {
        int[] powers = [p1, p2];
        var truth = LearningCoefficients.NormalCrossing(powers);
        var fit = FitExact(powers, WideTemperatures, 0.002);
        Assert.NotEqual(TemperatureCorrection.Multiplicity, fit.Correction);
        Assert.True(fit.PowerLawSupported, fit.Message);
        Assert.InRange(truth.Lambda, fit.IntervalLow, fit.IntervalHigh);
        if (p1 == 1)
        {
            Assert.Equal(TemperatureCorrection.CloseExponent, fit.Correction);
            Assert.InRange(fit.Lambda, truth.Lambda * 0.98, truth.Lambda * 1.02);
        }
        else
        {
            Assert.Equal(TemperatureCorrection.Ambiguous, fit.Correction);
            Assert.Contains("cannot be told apart", fit.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void RegularCaseNeedsNoCorrection()
    {
        var fit = FitExact([0, 1]);
        Assert.Equal(TemperatureCorrection.None, fit.Correction);
        Assert.Equal(0.5, fit.Lambda, 3);
        Assert.InRange(0.5, fit.IntervalLow, fit.IntervalHigh);
    }

    [Fact]
    public void BadInputNamesTheProblem()
    {
        double[] t = [1e2, 1e3, 1e4, 1e5];
        double[] y = [0.3, 0.35, 0.4, 0.42];
        var e = Assert.Throws<ArgumentException>(() => MultiTemperatureFit.Fit(t, y, [0.01, 0.01, 0.0, 0.01]));
        Assert.Contains("se[2]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => MultiTemperatureFit.Fit(t.AsSpan(0, 3), y.AsSpan(0, 3), [0.01, 0.01, 0.01]));
        Assert.Contains("at least 4", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiTemperatureEstimator.Temperatures(0.5, 3, 5));
    }

    // Acceptances as measured on (1,3) at nβ = 3162 (8 chains × 40k draws, seed 25, before the pilot used the median):
    // seven healthy chains at 0.941–0.957 and one stuck at 0.454. Median 0.9485, limit 3 × 0.0515 = 0.1545 on the
    // rejection rate, so only the chain at 0.454 (rejection 0.546) is flagged; 0.85 (rejection 0.15) is not.
    [Fact]
    public void StuckChainIsTheOneWhoseAcceptanceCollapsed()
    {
        double[] measured = [0.957, 0.941, 0.947, 0.951, 0.454, 0.956, 0.952, 0.945];
        Assert.Equal(new[] { 4 }, MultiTemperatureEstimator.StuckChains(measured));
        Assert.Empty(MultiTemperatureEstimator.StuckChains([0.957, 0.941, 0.947, 0.951, 0.85, 0.956, 0.952, 0.945]));
        // A diverged chain (NaN) is neither flagged nor counted in the median.
        Assert.Equal(new[] { 2 }, MultiTemperatureEstimator.StuckChains([0.95, double.NaN, 0.3, 0.96, 0.94]));
        // At acceptance ≈ 1 the rejection floor 0.05 applies: 0.9 (rejection 0.1 < 0.15) is not stuck, 0.8 is.
        Assert.Empty(MultiTemperatureEstimator.StuckChains([0.999, 0.998, 0.9, 0.999]));
        Assert.Equal(new[] { 2 }, MultiTemperatureEstimator.StuckChains([0.999, 0.998, 0.8, 0.999]));
        // Half collapsed is the step's fault, not a chain's: the median (0.575) drops with them and none is flagged.
        // Fewer than 3 chains have no median to judge by.
        Assert.Empty(MultiTemperatureEstimator.StuckChains([0.95, 0.95, 0.2, 0.2]));
        Assert.Empty(MultiTemperatureEstimator.StuckChains([0.95, 0.2]));
    }

    // The run-level re-tune: mean chain acceptance 0.8 at target 0.95 is rejection 0.2 > 3 × 0.05, so ε shrinks by
    // (0.05/0.2)^(2/3) = 0.25^(2/3); 0.9 (rejection 0.1) is within the band; at target 0.99 a run accepting 0.5 would
    // ask for (0.01/0.5)^(2/3) = 0.074 and is held at the factor-10 limit. A diverged chain's NaNs are left out.
    [Fact]
    public void RetunedStepFollowsTheRunsOwnAcceptance()
    {
        static SltSharp.Sampling.SamplingResult Run(double[] chainAcceptance, bool lastDiverged = false) => SltSharp.Sampling.SamplingResult.FromChains(
            [.. chainAcceptance.Select(_ => new double[] { 1, 1 })],
            [.. chainAcceptance.Select(a => new[] { double.NaN, a })],
            [.. chainAcceptance.Select(_ => new double[2])],
            [.. chainAcceptance.Select(_ => new double[2])],
            [.. chainAcceptance.Select((_, c) => lastDiverged && c == chainAcceptance.Length - 1 ? "diverged" : null)],
            0, TimeSpan.Zero);
        Assert.Equal(1e-3 * Math.Pow(0.25, 2.0 / 3.0), MultiTemperatureEstimator.RetunedStep(Run([0.7, 0.8, 0.9]), 1e-3, 0.95)!.Value, 15);
        Assert.Null(MultiTemperatureEstimator.RetunedStep(Run([0.9, 0.9, 0.9]), 1e-3, 0.95));
        Assert.Equal(1e-4, MultiTemperatureEstimator.RetunedStep(Run([0.5, 0.5]), 1e-3, 0.99)!.Value, 15);
        Assert.Null(MultiTemperatureEstimator.RetunedStep(Run([0.95, 0.95, 0.1], lastDiverged: true), 1e-3, 0.95));
    }

    [Fact]
    public void TemperaturesAreLogSpacedOverTheDecades()
    {
        var t = MultiTemperatureEstimator.Temperatures(100, 3, 4);
        Assert.Equal([100, 1000, 10000, 100000], t.Select(v => Math.Round(v, 6)).ToArray());
    }
}

/// <summary>The estimator end to end: MALA on normal-crossing potentials, decided from the loss distributions.</summary>
public class MultiTemperatureSamplingTests(ITestOutputHelper output)
{
    [Fact]
    public void MalaRecoversLambdaAndMultiplicityForPowersOneOne() => Check(1, 1, 21);

    [Fact]
    public void MalaFlagsTheCloseExponentForPowersOneTwo() => Check(1, 2, 24, draws: 20_000);

    // All six cases on three seeds each (the test's own seed and 1, 2), at full size. Seed 25 for (1,3) is the run that
    // came out Ambiguous before the pilot judged by the median chain (one chain stuck at nβ 3162); (1,2) on seed 1 had
    // a chain stuck at nβ 1000 that the run sampled again (asserted below through ReplacedChains).
    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(1, 1, 1)]
    [InlineData(1, 1, 2)]
    [InlineData(2, 2, 22)]
    [InlineData(2, 2, 1)]
    [InlineData(2, 2, 2)]
    [InlineData(3, 3, 23)]
    [InlineData(3, 3, 1)]
    [InlineData(3, 3, 2)]
    [InlineData(1, 2, 24)]
    [InlineData(1, 2, 1)]
    [InlineData(1, 2, 2)]
    [InlineData(1, 3, 25)]
    [InlineData(1, 3, 1)]
    [InlineData(1, 3, 2)]
    [InlineData(2, 3, 26)]
    [InlineData(2, 3, 1)]
    [InlineData(2, 3, 2)]
    public void MalaDecidesEveryCaseOnSeveralSeeds(int p1, int p2, ulong seed)
    {
        var result = Check(p1, p2, seed);
        if ((p1, p2, seed) == (1, 2, 1))
        {
            Assert.Equal(new[] { 5 }, result.PerTemperature[2].ReplacedChains);
        }
    }

    private MultiTemperatureResult Check(int p1, int p2, ulong seed, int draws = 40_000)
    {
        // 8 chains × 40k draws per temperature (20k in the default suite's close-exponent run), thinning 4, nβ = 10²…10⁴ at
        // 5 temperatures. ε at nβ = 100 starts at 2e-3·min(p)² (the arms' transverse width scales as t^(−1/(2·min p)))
        // and the estimator's pilot tunes it per temperature to acceptance 0.95 (judged by the median pilot chain, ε
        // non-increasing in nβ); a run's chain whose acceptance collapses is sampled again. At the untuned rule
        // (acceptance 0.99) the bulk ESS was 5–13k of 320k draws per temperature and the close cases came out Ambiguous;
        // tuned, it is 25–130k and all six are decided on every seed listed (docs/sampling-and-llc.md has the table).
        // Tolerances: m exact and the decision right (Multiplicity for (k,k), CloseExponent for the others), λ within
        // the issue's 10% of the asymptotic value, and the reported interval must hold λ. On exact distributions at 1%
        // (DensityOfStatesFitTests) λ is within 1.8% and the decisions have ΔAIC ≥ 10, so 10% leaves room for the
        // sampling noise of one run (measured here: −0.7% to +1.1%, profile intervals ±0.6–2%). The interval stands for
        // ±2 SE, so on a random seed it misses about 1 run in 20; these fixed seeds hold it with room (table).
        int[] powers = [p1, p2];
        var truth = LearningCoefficients.NormalCrossing(powers);
        var model = new NormalCrossingPotential<double>(powers);
        var options = new LlcOptions { Sampler = SamplerKind.Mala, StepSize = 2e-3 * Math.Min(p1, p2) * Math.Min(p1, p2), Localization = 1, Chains = 8, Burnin = 5_000, Draws = draws, Thinning = 4, Seed = seed, Threads = 2 };
        var result = MultiTemperatureEstimator.Estimate(model, new double[2], options, new MultiTemperatureOptions { Temperatures = 5, MinNBeta = 100, Decades = 2 });
        foreach (var e in result.PerTemperature)
        {
            output.WriteLine($"nβ {e.NBeta:G4} ε {e.StepSize:G3}: {e.Lambda:F4} ± {e.StandardError:F4} (exact {NormalCrossingExact.PotentialLlc(powers, e.NBeta, 1):F4}, acceptance {e.Run.Diagnostics.MeanAcceptance:F2}, bulk ESS {e.Run.Diagnostics.BulkEss:F0})");
        }
        var fit = result.Fit;
        var dos = fit.DensityOfStates;
        Assert.NotNull(dos);
        output.WriteLine($"{fit.Correction} ({fit.DecidedBy}): λ = {fit.Lambda:F4} in [{fit.IntervalLow:F4}, {fit.IntervalHigh:F4}], m {fit.Multiplicity}; deviances const {dos.Constant.Deviance:F1}, logs {string.Join(" ", dos.Logs.Select(l => $"m{l.Multiplicity}:{l.Deviance:F1}/λ{l.Lambda:G4}"))}, log+nuisance {dos.LogWithPower.Deviance:F1}/λ{dos.LogWithPower.Lambda:G4}, power {dos.Power.Deviance:F1}/λ{dos.Power.Lambda:G4}/δ{dos.Power.Shape:G3}. Means-only log λ {fit.Log.Lambda:F4}. {fit.Message}");
        Assert.Equal("loss distributions", fit.DecidedBy);
        if (truth.Multiplicity == 2)
        {
            Assert.Equal(TemperatureCorrection.Multiplicity, fit.Correction);
            Assert.Equal(2, fit.Multiplicity);
        }
        else
        {
            // The issue's demand for close exponents: detected and said so, with an interval that holds λ and is
            // informative (the log-only answer is 12–18% high here, so an interval reaching 25% is not).
            Assert.Equal(TemperatureCorrection.CloseExponent, fit.Correction);
            Assert.Null(fit.Multiplicity);
            Assert.Contains("close", fit.Message, StringComparison.Ordinal);
            Assert.True(fit.PowerLawSupported, fit.Message);
            Assert.InRange(fit.IntervalHigh, truth.Lambda, 1.25 * truth.Lambda);
        }
        Assert.InRange(fit.Lambda, 0.9 * truth.Lambda, 1.1 * truth.Lambda);
        Assert.InRange(truth.Lambda, fit.IntervalLow, fit.IntervalHigh);
        for (int k = 1; k < result.PerTemperature.Count; k++)
        {
            Assert.True(result.PerTemperature[k].StepSize <= result.PerTemperature[k - 1].StepSize, $"ε rose from nβ {result.PerTemperature[k - 1].NBeta:G4} to {result.PerTemperature[k].NBeta:G4}");
        }
        foreach (var e in result.PerTemperature)
        {
            // No stuck chain is left in what the fit used, and every replacement is named in the message.
            var acceptance = e.Run.SurvivingChains.Select(c => e.Run.Sampling.Acceptances[c].Where(double.IsFinite).Average()).ToArray();
            Assert.Empty(MultiTemperatureEstimator.StuckChains(acceptance));
            if (e.ReplacedChains.Count > 0)
            {
                Assert.Contains($"{e.NBeta:G4} (chain {string.Join(", ", e.ReplacedChains)})", fit.Message, StringComparison.Ordinal);
            }
        }
        return result;
    }
}
