using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;
using SltSharp.Theory;

namespace SltSharp.Models.Tms;

/// <summary>
/// A k-gon critical point of the toy model of superposition: k active columns l·(cos 2πj/k, sin 2πj/k) with a shared
/// bias b, some "+" features (zero column, positive bias), and the remaining features off (zero column and bias).
/// </summary>
/// <param name="K">Number of active columns.</param>
/// <param name="PlusCount">Number of "+" features.</param>
/// <param name="Length">l, the norm of every active column (found by minimising the exact loss).</param>
/// <param name="Bias">b, the shared bias of the active features (found by minimising the exact loss).</param>
/// <param name="PlusBias">The bias of each "+" feature (found by minimising; theory: 1/(2·features)); 0 when there are none.</param>
/// <param name="Parameters">The full (W, b).</param>
/// <param name="Loss">The exact population loss at the point.</param>
public sealed record TmsCriticalPoint(int K, int PlusCount, double Length, double Bias, double PlusBias, TmsParameters Parameters, double Loss)
{
    /// <summary>The type name, e.g. "5-gon" or "4++-gon".</summary>
    public string Type => TmsClassifier.TypeName(K, PlusCount);

    /// <summary>
    /// The free-energy description of this point for internal model selection: loss ℓ = <see cref="Loss"/>, the given λ,
    /// and (optionally) c = ½‖w‖², −ln of a standard normal prior density up to a constant shared by all points.
    /// </summary>
    public FreeEnergyTerms FreeEnergyTerms(double learningCoefficient, bool includeStandardNormalPrior = true) =>
        new(Loss, learningCoefficient, 1, includeStandardNormalPrior ? Parameters.HalfSquaredNorm() : 0.0);

    /// <summary>
    /// Theoretical learning coefficients from Chen et al. (arXiv 2310.06301) for the standard 2×6 model, where the
    /// paper gives them: 5-gon 7, 5+-gon 8.5, 6-gon 8.5. Null for other types.
    /// </summary>
    public static double? PublishedLearningCoefficient(int k, int plusCount) => (k, plusCount) switch
    {
        (5, 0) => 7.0,
        (5, 1) => 8.5,
        (6, 0) => 8.5,
        _ => null,
    };
}

/// <summary>Constructors for the k-gon critical points of the toy model of superposition (slt-reference §2c).</summary>
public static class TmsCriticalPoints
{
    /// <summary>
    /// The k-gon (with <paramref name="plusCount"/> "+" features) for W ∈ R^{2×features}: l, b and the "+" bias are found
    /// by minimising the exact loss over that three-parameter family (a coarse grid for the start, then BFGS with the
    /// exact gradient), not taken from a table.
    /// </summary>
    /// <param name="k">Active columns, 1 ≤ k ≤ features.</param>
    /// <param name="plusCount">"+" features, 0 ≤ plusCount ≤ features − k.</param>
    /// <param name="features">Number of features (6 in the standard model).</param>
    /// <param name="inactiveBias">
    /// Bias of the features that are off. Any value ≤ 0 gives the same loss (their output is ReLU(bias) = 0); at exactly 0
    /// the loss has a one-sided derivative −1/features in that bias (the direction that creates a "+"), so the point is
    /// critical only with the convention ReLU'(0) = 0. Pass a negative value for a point where the gradient vanishes
    /// two-sidedly. Default 0, which is the convention behind the published prior terms ½‖w‖².
    /// </param>
    /// <param name="rotation">Angle of the first active column (the loss is rotation invariant).</param>
    public static TmsCriticalPoint KGon(int k, int plusCount = 0, int features = 6, double inactiveBias = 0.0, double rotation = 0.0)
    {
        if (k < 1 || k > features)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"A k-gon of this model needs 1 ≤ k ≤ features ({features}).");
        }
        if (plusCount < 0 || k + plusCount > features)
        {
            throw new ArgumentOutOfRangeException(nameof(plusCount), plusCount, $"Need 0 ≤ plusCount ≤ features − k = {features - k}.");
        }
        if (inactiveBias > 0)
        {
            throw new ArgumentOutOfRangeException(nameof(inactiveBias), inactiveBias, "A positive bias on an off feature makes it a \"+\" feature; use plusCount instead.");
        }

        double FamilyLoss(double l, double b, double bp) => TmsExactLoss.Loss(Build(k, plusCount, features, l, b, bp, inactiveBias, rotation));

        // Coarse grid over (l, b): the family's loss has several local minima in l (e.g. l → 0 switches features off).
        double bestL = 1, bestB = 0, best = double.PositiveInfinity;
        double plusStart = plusCount > 0 ? 0.5 / features : 0.0;
        for (double l = 0.05; l <= 3.0; l += 0.05)
        {
            for (double b = -2.0; b <= 0.5; b += 0.05)
            {
                double v = FamilyLoss(l, b, plusStart);
                if (v < best)
                {
                    (best, bestL, bestB) = (v, l, b);
                }
            }
        }

        var objective = ObjectiveFunction.Gradient(x =>
        {
            var p = Build(k, plusCount, features, x[0], x[1], x[2], inactiveBias, rotation);
            double[] gw = new double[p.W.Length], gb = new double[p.B.Length];
            double loss = TmsExactLoss.LossAndGradient(p, gw, gb);
            // Chain rule onto the family: ∂/∂l along the unit directions of the active columns, ∂/∂b and ∂/∂b₊ summed.
            double dl = 0, db = 0, dbp = 0;
            for (int j = 0; j < k; j++)
            {
                double angle = rotation + (2 * Math.PI * j / k);
                dl += (gw[j] * Math.Cos(angle)) + (gw[features + j] * Math.Sin(angle));
                db += gb[j];
            }
            for (int j = k; j < k + plusCount; j++)
            {
                dbp += gb[j];
            }
            return (loss, Vector<double>.Build.Dense([dl, db, dbp]));
        });
        var minimizer = new BfgsMinimizer(1e-13, 1e-14, 1e-16, 2000);
        var result = minimizer.FindMinimum(objective, Vector<double>.Build.Dense([bestL, bestB, plusStart]));
        double lOpt = result.MinimizingPoint[0], bOpt = result.MinimizingPoint[1], bpOpt = plusCount > 0 ? result.MinimizingPoint[2] : 0.0;
        var parameters = Build(k, plusCount, features, lOpt, bOpt, bpOpt, inactiveBias, rotation);
        return new TmsCriticalPoint(k, plusCount, lOpt, bOpt, bpOpt, parameters, TmsExactLoss.Loss(parameters));
    }

    /// <summary>
    /// The point of the k-gon family with given l, b and "+" bias: active features 0..k−1, then the "+" features, then
    /// the features that are off.
    /// </summary>
    public static TmsParameters Build(int k, int plusCount, int features, double length, double bias, double plusBias, double inactiveBias = 0.0, double rotation = 0.0)
    {
        double[] w = new double[2 * features];
        double[] b = new double[features];
        for (int j = 0; j < features; j++)
        {
            if (j < k)
            {
                double angle = rotation + (2 * Math.PI * j / k);
                w[j] = length * Math.Cos(angle);
                w[features + j] = length * Math.Sin(angle);
                b[j] = bias;
            }
            else
            {
                b[j] = j < k + plusCount ? plusBias : inactiveBias;
            }
        }
        return new TmsParameters(2, features, w, b);
    }
}
