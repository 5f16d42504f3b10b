using SltSharp.Estimators;
using SltSharp.Theory;
using Xunit.Abstractions;

namespace SltSharp.Tests.Estimators;

/// <summary>
/// The density-of-states fit on exact loss distributions (<see cref="NormalCrossingExact.PotentialLogGapDistribution"/>,
/// γ = 1): expected histograms ("Asimov data") at 5 temperatures over 2 decades, t = 10²…10⁴, each worth the number of
/// independent draws that gives the mean t·E[K] a standard error of 1% — the precision of a usual sampling run. The
/// expected deviance differences are then what a typical run sees.
/// </summary>
public class DensityOfStatesFitTests(ITestOutputHelper output)
{
    private const double BinWidth = 0.1;

    internal static DensityOfStatesResult FitExact(int[] powers, double[] temperatures, double relativePrecision, ITestOutputHelper? output = null)
    {
        var distributions = temperatures.Select(t => NormalCrossingExact.PotentialLogGapDistribution(powers, t, 1.0)).ToArray();
        double uLow = distributions.Min(d => d.U[0]), uHigh = distributions.Max(d => d.U[^1]);
        double start = Math.Floor(uLow / BinWidth) * BinWidth;
        int bins = (int)Math.Ceiling((uHigh - start) / BinWidth);
        var histograms = new List<LossHistogram>();
        for (int k = 0; k < temperatures.Length; k++)
        {
            var (u, p) = distributions[k];
            double t = temperatures[k];
            // x = t·K = t·e^(−u): its mean and variance fix how many independent draws give a 1% SE on the mean.
            double mean = 0, second = 0;
            for (int i = 0; i < u.Length; i++)
            {
                double x = t * Math.Exp(-u[i]);
                mean += p[i] * x;
                second += p[i] * x * x;
            }
            double draws = (second - (mean * mean)) / Math.Pow(relativePrecision * mean, 2);
            // The quadrature grid (spacing 0.1 in u) is not aligned with the bins: interpolate the density at bin centres.
            var counts = new double[bins];
            for (int j = 0; j < bins; j++)
            {
                double centre = start + ((j + 0.5) * BinWidth);
                int i = Array.BinarySearch(u, centre);
                i = i < 0 ? ~i : i;
                if (i <= 0 || i >= u.Length)
                {
                    continue;
                }
                double w = (centre - u[i - 1]) / (u[i] - u[i - 1]);
                counts[j] = (1 - w) * p[i - 1] + (w * p[i]);
            }
            double total = counts.Sum();
            for (int j = 0; j < bins; j++)
            {
                counts[j] = counts[j] * draws / total;
                if (counts[j] < 1e-9 * draws)
                {
                    counts[j] = 0; // far tails: no draw would land there
                }
            }
            histograms.Add(new LossHistogram(t, counts, draws));
        }
        var fit = DensityOfStatesFit.Fit(start, BinWidth, histograms);
        output?.WriteLine($"({string.Join(",", powers)}): {fit.Correction} m = {fit.Multiplicity} λ = {fit.Lambda:G4} [{fit.IntervalLow:G4}, {fit.IntervalHigh:G4}]; dev const {fit.Constant.Deviance:F1}, logs {string.Join(" ", fit.Logs.Select(l => $"m{l.Multiplicity}:{l.Deviance:F1}/λ{l.Lambda:G3}/c{l.Shape:G3}"))}, log+nuisance {fit.LogWithPower.Deviance:F1}/λ{fit.LogWithPower.Lambda:G4}, power {fit.Power.Deviance:F1} λ {fit.Power.Lambda:G4} a {fit.Power.Amplitude:G3} δ {fit.Power.Shape:G3}. {fit.Message}");
        return fit;
    }

    private static double[] Decades(double from, double to, int count) =>
        Enumerable.Range(0, count).Select(k => Math.Pow(10, from + ((to - from) * k / (count - 1)))).ToArray();

    private static readonly double[] TwoDecades = Decades(2, 4, 5);

    // Measured: λ = 0.4994, 0.2487, 0.1665 (−0.1%, −0.5%, −0.1%); m = 3 raises the deviance by 4.0, 18.5, 45; the power
    // model gains nothing over the log (ΔAIC −2, −2, −11). The fit of the means at the same precision calls all three
    // Ambiguous (MultiTemperatureTests).
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    public void MultiplicityIsDecidedFromExactDistributionsAtOnePercentOverTwoDecades(int p1, int p2)
    {
        int[] powers = [p1, p2];
        var truth = LearningCoefficients.NormalCrossing(powers);
        var fit = FitExact(powers, TwoDecades, 0.01, output);
        Assert.Equal(TemperatureCorrection.Multiplicity, fit.Correction);
        Assert.Equal(truth.Multiplicity, fit.Multiplicity);
        Assert.InRange(fit.Lambda, 0.98 * truth.Lambda, 1.02 * truth.Lambda); // the issue's 2% on exact values
        Assert.InRange(truth.Lambda, fit.IntervalLow, fit.IntervalHigh);
    }

    // Measured: λ = 0.2508, 0.1671, 0.1697 (+0.3%, +0.3%, +1.8%), δ = 0.21, 0.22, 0.061 (true 1/4, 1/6, 1/12); the best
    // log with its nuisance term has ΔAIC = 13, 13, 11 and would say λ 13%, 10%, 14% high.
    [Theory]
    [InlineData(1, 2)]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    public void CloseExponentIsDecidedFromExactDistributionsAtOnePercentOverTwoDecades(int p1, int p2)
    {
        int[] powers = [p1, p2];
        var truth = LearningCoefficients.NormalCrossing(powers);
        Assert.Equal(1, truth.Multiplicity);
        var fit = FitExact(powers, TwoDecades, 0.01, output);
        Assert.Equal(TemperatureCorrection.CloseExponent, fit.Correction);
        Assert.Null(fit.Multiplicity);
        Assert.InRange(fit.Lambda, 0.98 * truth.Lambda, 1.02 * truth.Lambda);
        Assert.InRange(truth.Lambda, fit.IntervalLow, fit.IntervalHigh);
        // The reason the decision matters: the multiplicity reading of the same data is far off.
        Assert.True(fit.LogWithPower.Lambda > 1.08 * truth.Lambda, $"log λ {fit.LogWithPower.Lambda}");
    }

    [Fact]
    public void RegularMinimumNeedsNoCorrection()
    {
        var fit = FitExact([0, 1], TwoDecades, 0.01, output);
        Assert.Equal(TemperatureCorrection.None, fit.Correction);
        Assert.InRange(fit.Lambda, 0.495, 0.505);
        Assert.InRange(0.5, fit.IntervalLow, fit.IntervalHigh);
    }

    // The oracle itself: the mean of t·e^(−u) over the distribution is the quadrature's t·E[K] (same integrals, a
    // different assembly of them: grid reversal and weights).
    [Theory]
    [InlineData(1, 1, 100)]
    [InlineData(2, 3, 1e4)]
    public void LogGapDistributionHasTheExactMean(int p1, int p2, double t)
    {
        int[] powers = [p1, p2];
        var (u, p) = NormalCrossingExact.PotentialLogGapDistribution(powers, t, 1.0);
        Assert.Equal(1.0, p.Sum(), 12);
        Assert.True(u.Zip(u.Skip(1)).All(x => x.Second > x.First));
        double mean = u.Select((v, i) => p[i] * t * Math.Exp(-v)).Sum();
        Assert.Equal(NormalCrossingExact.PotentialLlc(powers, t, 1.0), mean, 10);
    }

    [Fact]
    public void NonPositiveGapsAreRejectedWithTheReason()
    {
        var e = Assert.Throws<ArgumentException>(() => DensityOfStatesFit.FitDraws([100, 1000], [[0.01, 0.02], [0.001, -1e-5]], [2, 2]));
        Assert.Contains("K = L − L(w*) > 0", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => DensityOfStatesFit.FitDraws([100, 1000], [[0.01, 0.02]], [2, 2]));
        Assert.Contains("one of each per temperature", e.Message, StringComparison.Ordinal);
    }
}
