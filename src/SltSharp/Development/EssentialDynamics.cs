using MathNet.Numerics.LinearAlgebra;

namespace SltSharp.Development;

/// <summary>What <see cref="EssentialDynamics.Fit"/> found.</summary>
/// <param name="Projections">Per checkpoint (row), the coordinates in the leading principal components (column k = PC k+1).</param>
/// <param name="ExplainedVarianceRatio">Per component, its share of the total variance of the outputs across checkpoints.</param>
/// <param name="Components">The principal directions in output space (row k = PC k+1, unit length).</param>
/// <param name="Mean">The mean output vector over checkpoints, subtracted before the decomposition.</param>
public sealed record EssentialDynamicsResult(
    double[][] Projections,
    double[] ExplainedVarianceRatio,
    double[][] Components,
    double[] Mean);

/// <summary>
/// Essential dynamics (Hoogland et al., arXiv 2402.02364): principal component analysis of the model's outputs on a fixed
/// probe set across training checkpoints. The trajectory in the first few components shows the stages as turns and
/// cusps of a curve, independently of the LLC.
/// </summary>
/// <remarks>
/// The outputs of checkpoint k on all probe inputs are concatenated into one row; rows are centred by their mean over
/// checkpoints and decomposed by a thin SVD X = U·S·Vᵀ (through the eigenvectors of X·Xᵀ). Projections are U·S (the centred rows expressed in the
/// components), explained variance ratios are sᵢ² / Σ s². Each component's sign is fixed so that its largest
/// loading is positive: the trajectory is then a deterministic function of the outputs, not of the SVD routine.
/// </remarks>
public static class EssentialDynamics
{
    /// <summary>Fits the PCA.</summary>
    /// <param name="outputsPerCheckpoint">One output vector per checkpoint, all of one length (outputs on every probe
    /// input, concatenated in a fixed order).</param>
    /// <param name="components">How many leading components to keep (at least 1, at most min(checkpoints, output length)).</param>
    /// <exception cref="ArgumentException">Fewer than two checkpoints, ragged or non-finite outputs, or too many components.</exception>
    public static EssentialDynamicsResult Fit(double[][] outputsPerCheckpoint, int components)
    {
        ArgumentNullException.ThrowIfNull(outputsPerCheckpoint);
        int k = outputsPerCheckpoint.Length;
        if (k < 2)
        {
            throw new ArgumentException($"Essential dynamics needs the outputs of at least two checkpoints; got {k}.", nameof(outputsPerCheckpoint));
        }
        int d = outputsPerCheckpoint[0]?.Length ?? 0;
        if (d == 0)
        {
            throw new ArgumentException("The output vectors are empty; give the model's outputs on at least one probe input.", nameof(outputsPerCheckpoint));
        }
        for (int i = 0; i < k; i++)
        {
            double[] row = outputsPerCheckpoint[i] ?? throw new ArgumentException($"Checkpoint {i} has no outputs.", nameof(outputsPerCheckpoint));
            if (row.Length != d)
            {
                throw new ArgumentException($"Checkpoint {i} has {row.Length} outputs but checkpoint 0 has {d}; every checkpoint must be evaluated on the same probe set.", nameof(outputsPerCheckpoint));
            }
            if (row.Any(v => !double.IsFinite(v)))
            {
                throw new ArgumentException($"Checkpoint {i} has a non-finite output (the model diverged there?); drop it or fix training.", nameof(outputsPerCheckpoint));
            }
        }
        int maxComponents = Math.Min(k, d);
        if (components < 1 || components > maxComponents)
        {
            throw new ArgumentException($"components must lie in [1, {maxComponents}] (min of {k} checkpoints and {d} outputs); got {components}.", nameof(components));
        }

        var mean = new double[d];
        foreach (double[] row in outputsPerCheckpoint)
        {
            for (int j = 0; j < d; j++)
            {
                mean[j] += row[j] / k;
            }
        }
        var x = Matrix<double>.Build.Dense(k, d, (i, j) => outputsPerCheckpoint[i][j] - mean[j]);
        // The thin SVD through the k×k Gram matrix X·Xᵀ = U·S²·Uᵀ: there are far fewer checkpoints than outputs, and a
        // full SVD would build the d×d right factor. V's rows are then Xᵀ·u / s.
        var gram = x * x.Transpose();
        var evd = gram.Evd(Symmetricity.Symmetric);
        int[] order = [.. Enumerable.Range(0, k).OrderByDescending(i => evd.EigenValues[i].Real)];
        double[] s2 = [.. order.Select(i => Math.Max(0, evd.EigenValues[i].Real))];
        double total = s2.Sum();

        var projections = new double[k][];
        for (int i = 0; i < k; i++)
        {
            projections[i] = new double[components];
        }
        var ratios = new double[components];
        var directions = new double[components][];
        for (int c = 0; c < components; c++)
        {
            var u = evd.EigenVectors.Column(order[c]);
            double sv = Math.Sqrt(s2[c]);
            var v = x.TransposeThisAndMultiply(u);
            if (sv > 0)
            {
                v /= sv;
            }
            // Deterministic sign: the largest loading is positive.
            int largest = v.AbsoluteMaximumIndex();
            double sign = v[largest] < 0 ? -1 : 1;
            directions[c] = [.. v.Select(e => sign * e)];
            ratios[c] = total > 0 ? s2[c] / total : 0;
            for (int i = 0; i < k; i++)
            {
                projections[i][c] = sign * u[i] * sv;
            }
        }
        return new EssentialDynamicsResult(projections, ratios, directions, mean);
    }
}
