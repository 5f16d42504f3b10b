namespace SltSharp.Models.Tms;

/// <summary>What <see cref="TmsClassifier.Classify"/> found.</summary>
/// <param name="Type">"k-gon" with one "+" per "+" feature (e.g. "5+-gon"), or "other".</param>
/// <param name="ActiveColumns">Columns whose norm passed the activity threshold.</param>
/// <param name="PlusColumns">Off features whose bias is positive enough to count as "+".</param>
/// <param name="MaxAngleError">Largest deviation (radians) of a gap between consecutive active columns from 2π/k.</param>
/// <param name="MaxNormSpread">Largest relative deviation of an active column norm from their mean.</param>
public sealed record TmsClassification(string Type, int ActiveColumns, int PlusColumns, double MaxAngleError, double MaxNormSpread)
{
    /// <summary>True when the weights form a regular k-gon (with or without "+" features).</summary>
    public bool IsKGon => Type != TmsClassifier.Other;
}

/// <summary>
/// Names the critical-point type of a 2-dimensional toy model of superposition from its weights: how many columns are
/// active, whether they form a regular polygon (up to rotation, reflection and permutation of features) and how many
/// off features carry a "+" bias.
/// </summary>
public static class TmsClassifier
{
    /// <summary>The type string for anything that is not a regular k-gon.</summary>
    public const string Other = "other";

    /// <summary>"k-gon" followed by one "+" per "+" feature before "-gon", e.g. (4, 2) → "4++-gon".</summary>
    public static string TypeName(int k, int plusCount) => $"{k}{new string('+', plusCount)}-gon";

    /// <summary>Classifies (W, b).</summary>
    /// <param name="parameters">The model; W must have two rows (angles are taken in the plane).</param>
    /// <param name="activeNormFraction">A column is active when its norm is at least this fraction of the largest norm.</param>
    /// <param name="angleTolerance">Allowed deviation (radians) of each gap between consecutive active columns from 2π/k.</param>
    /// <param name="normTolerance">Allowed relative spread of the active norms, and the largest norm of an off column relative to them.</param>
    /// <param name="plusBiasFraction">An off feature is "+" when its bias is at least this fraction of the optimal "+" bias 1/(2·features).</param>
    public static TmsClassification Classify(
        TmsParameters parameters,
        double activeNormFraction = 0.5,
        double angleTolerance = 0.15,
        double normTolerance = 0.2,
        double plusBiasFraction = 0.5)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Hidden != 2)
        {
            throw new ArgumentException($"The k-gon classifier works in a 2-dimensional hidden space; this model has {parameters.Hidden}.", nameof(parameters));
        }
        int nf = parameters.Features;
        double[] norms = [.. Enumerable.Range(0, nf).Select(parameters.ColumnNorm)];
        double maxNorm = norms.Max();
        if (!(maxNorm > 1e-8))
        {
            return new TmsClassification(Other, 0, 0, double.NaN, double.NaN);
        }

        var active = Enumerable.Range(0, nf).Where(j => norms[j] >= activeNormFraction * maxNorm).ToArray();
        var off = Enumerable.Range(0, nf).Except(active).ToArray();
        int k = active.Length;
        double meanNorm = active.Average(j => norms[j]);
        double spread = active.Max(j => Math.Abs(norms[j] - meanNorm)) / meanNorm;

        double[] angles = [.. active.Select(j => Math.Atan2(parameters.W[nf + j], parameters.W[j])).Order()];
        double maxAngleError = 0;
        for (int i = 0; i < k; i++)
        {
            double gap = i + 1 < k ? angles[i + 1] - angles[i] : angles[0] + (2 * Math.PI) - angles[k - 1];
            maxAngleError = Math.Max(maxAngleError, Math.Abs(gap - (2 * Math.PI / k)));
        }

        double plusThreshold = plusBiasFraction / (2.0 * nf);
        int plus = off.Count(j => parameters.B[j] >= plusThreshold);
        bool offColumnsSmall = off.All(j => norms[j] <= normTolerance * meanNorm);
        bool regular = spread <= normTolerance && maxAngleError <= angleTolerance && offColumnsSmall;
        return new TmsClassification(regular ? TypeName(k, plus) : Other, k, plus, maxAngleError, spread);
    }
}
