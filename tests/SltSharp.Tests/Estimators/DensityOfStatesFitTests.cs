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

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(1, 2)]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    [InlineData(0, 1)]
    public void Explore(int p1, int p2)
    {
        FitExact([p1, p2], Decades(2, 4, 5), 0.01, output);
    }
}
