namespace SltSharp.Experiments.Icl;

/// <summary>
/// The two Bayes predictors of in-context linear regression (Raventós et al.), for every position of every sequence:
/// the prediction of y_k from the context (x_j, y_j), j &lt; k, and the query x_k, as t̂ᵀx_k with t̂ a posterior mean.
/// </summary>
public static class IclBaselines
{
    /// <summary>
    /// Ridge (the posterior mean of t under the prior N(0, I) and Gaussian noise σ²): t̂ = (XᵀX + σ²I)⁻¹Xᵀy over the
    /// context. This is the Bayes-optimal predictor when tasks are drawn from N(0, I) (M = ∞). Empty context: 0.
    /// </summary>
    /// <param name="batch">Sequences.</param>
    /// <param name="noiseVariance">σ² (the ridge penalty).</param>
    /// <returns>Predictions [count, K].</returns>
    public static double[] Ridge(IclBatch batch, double noiseVariance)
    {
        ArgumentNullException.ThrowIfNull(batch);
        CheckVariance(noiseVariance);
        int d = batch.Dimension, k = batch.Pairs;
        var predictions = new double[batch.Count * k];
        var a = new double[d * d];
        var b = new double[d];
        var chol = new double[d * d];
        var t = new double[d];
        for (int s = 0; s < batch.Count; s++)
        {
            Array.Clear(a);
            Array.Clear(b);
            for (int i = 0; i < d; i++)
            {
                a[(i * d) + i] = noiseVariance;
            }
            for (int j = 0; j < k; j++)
            {
                var x = batch.X.AsSpan(((s * k) + j) * d, d);
                SolveSpd(a, b, chol, t, d);
                predictions[(s * k) + j] = Dot(t, x);
                // Then the pair (x_j, y_j) joins the context of the later positions.
                double y = batch.Y[(s * k) + j];
                for (int r = 0; r < d; r++)
                {
                    b[r] += y * x[r];
                    for (int c = 0; c < d; c++)
                    {
                        a[(r * d) + c] += x[r] * x[c];
                    }
                }
            }
        }
        return predictions;
    }

    /// <summary>
    /// dMMSE (the posterior mean of t over the M training tasks, uniform prior, Gaussian likelihood with variance σ²):
    /// weights w_m ∝ exp(−Σ_j (y_j − t_mᵀx_j)² / (2σ²)) over the context, t̂ = Σ_m w_m t_m. The Bayes-optimal
    /// predictor on the training distribution of task diversity M. Empty context: the mean task.
    /// </summary>
    /// <param name="batch">Sequences.</param>
    /// <param name="tasks">The M tasks, row-major M×D.</param>
    /// <param name="noiseVariance">σ².</param>
    /// <returns>Predictions [count, K].</returns>
    public static double[] Dmmse(IclBatch batch, ReadOnlySpan<double> tasks, double noiseVariance)
    {
        ArgumentNullException.ThrowIfNull(batch);
        CheckVariance(noiseVariance);
        int d = batch.Dimension, k = batch.Pairs;
        if (tasks.Length == 0 || tasks.Length % d != 0)
        {
            throw new ArgumentException($"tasks must hold M ≥ 1 rows of D = {d} values; got {tasks.Length} values.", nameof(tasks));
        }
        int m = tasks.Length / d;
        var predictions = new double[batch.Count * k];
        var logWeight = new double[m];
        var weight = new double[m];
        var t = new double[d];
        for (int s = 0; s < batch.Count; s++)
        {
            Array.Clear(logWeight);
            for (int j = 0; j < k; j++)
            {
                var x = batch.X.AsSpan(((s * k) + j) * d, d);
                // Softmax with the maximum subtracted: after a few pairs the log-weights differ by hundreds.
                double max = double.NegativeInfinity;
                for (int i = 0; i < m; i++)
                {
                    max = Math.Max(max, logWeight[i]);
                }
                double total = 0;
                for (int i = 0; i < m; i++)
                {
                    weight[i] = Math.Exp(logWeight[i] - max);
                    total += weight[i];
                }
                Array.Clear(t);
                for (int i = 0; i < m; i++)
                {
                    var task = tasks.Slice(i * d, d);
                    for (int r = 0; r < d; r++)
                    {
                        t[r] += weight[i] / total * task[r];
                    }
                }
                predictions[(s * k) + j] = Dot(t, x);
                double y = batch.Y[(s * k) + j];
                for (int i = 0; i < m; i++)
                {
                    double residual = y - Dot(tasks.Slice(i * d, d), x);
                    logWeight[i] -= residual * residual / (2 * noiseVariance);
                }
            }
        }
        return predictions;
    }

    /// <summary>Mean over all entries of (a − b)²: the distance between two predictors on a probe set.</summary>
    public static double MeanSquaredDistance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length || a.Length == 0)
        {
            throw new ArgumentException($"Both prediction sets must have the same non-zero length; got {a.Length} and {b.Length}.", nameof(b));
        }
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double e = a[i] - b[i];
            sum += e * e;
        }
        return sum / a.Length;
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }
        return s;
    }

    /// <summary>Solves A·t = b for symmetric positive definite A (D×D, D small) by Cholesky.</summary>
    private static void SolveSpd(double[] a, double[] b, double[] l, double[] t, int d)
    {
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = a[(i * d) + j];
                for (int p = 0; p < j; p++)
                {
                    sum -= l[(i * d) + p] * l[(j * d) + p];
                }
                l[(i * d) + j] = i == j ? Math.Sqrt(sum) : sum / l[(j * d) + j];
            }
        }
        for (int i = 0; i < d; i++)
        {
            double sum = b[i];
            for (int p = 0; p < i; p++)
            {
                sum -= l[(i * d) + p] * t[p];
            }
            t[i] = sum / l[(i * d) + i];
        }
        for (int i = d - 1; i >= 0; i--)
        {
            double sum = t[i];
            for (int p = i + 1; p < d; p++)
            {
                sum -= l[(p * d) + i] * t[p];
            }
            t[i] = sum / l[(i * d) + i];
        }
    }

    private static void CheckVariance(double noiseVariance)
    {
        if (!(noiseVariance > 0) || !double.IsFinite(noiseVariance))
        {
            throw new ArgumentOutOfRangeException(nameof(noiseVariance), noiseVariance, "The noise variance σ² must be a positive finite number.");
        }
    }
}
