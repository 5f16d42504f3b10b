using SltSharp.Development;
using SltSharp.Engine.Random;

namespace SltSharp.Tests.Development;

public class EssentialDynamicsTests
{
    /// <summary>
    /// A trajectory that lives in a known 2-D plane of R^200: outputs_k = c + a_k·e1 + b_k·e2 with orthonormal e1, e2
    /// and var(a) &gt; var(b), uncorrelated over checkpoints. PCA must find exactly that plane: two components explain all
    /// the variance, and the projections are (a − ā, b − b̄) up to the sign of each component.
    /// </summary>
    [Fact]
    public void Recovers_a_trajectory_in_a_known_two_dimensional_subspace()
    {
        const int d = 200, k = 40;
        var rng = new Rng(5);
        var (e1, e2) = OrthonormalPair(d, rng);
        var offset = Enumerable.Range(0, d).Select(_ => rng.NextGaussian()).ToArray();
        // A curved path (a stage-like turn): a sweeps widely, b bends; centred and made exactly uncorrelated so the
        // principal axes are e1 and e2 themselves.
        double[] a = [.. Enumerable.Range(0, k).Select(i => 3.0 * Math.Cos(Math.PI * i / (k - 1)))];
        double[] b = [.. Enumerable.Range(0, k).Select(i => Math.Sin(Math.PI * i / (k - 1)))];
        Center(a);
        Center(b);
        double ab = Dot(a, b) / Dot(a, a);
        for (int i = 0; i < k; i++)
        {
            b[i] -= ab * a[i];
        }
        var outputs = Enumerable.Range(0, k).Select(i => Enumerable.Range(0, d).Select(j => offset[j] + (a[i] * e1[j]) + (b[i] * e2[j])).ToArray()).ToArray();

        var result = EssentialDynamics.Fit(outputs, 3);

        Assert.Equal(1.0, result.ExplainedVarianceRatio[0] + result.ExplainedVarianceRatio[1], 10);
        Assert.True(result.ExplainedVarianceRatio[2] < 1e-12, $"third component explains {result.ExplainedVarianceRatio[2]}");
        Assert.Equal(Dot(a, a) / (Dot(a, a) + Dot(b, b)), result.ExplainedVarianceRatio[0], 10);
        foreach (var (truth, c) in new[] { (a, 0), (b, 1) })
        {
            double sign = Math.Sign(result.Projections[0][c] * truth[0]);
            for (int i = 0; i < k; i++)
            {
                Assert.Equal(truth[i], sign * result.Projections[i][c], 9);
            }
        }
        // The components are the plane's axes (up to sign), and the mean is the mean output.
        Assert.Equal(1.0, Math.Abs(Dot(result.Components[0], e1)), 9);
        Assert.Equal(1.0, Math.Abs(Dot(result.Components[1], e2)), 9);
        for (int j = 0; j < d; j++)
        {
            Assert.Equal(offset[j], result.Mean[j], 9);
        }
    }

    [Fact]
    public void Sign_of_each_component_is_fixed_by_its_largest_loading()
    {
        var rng = new Rng(9);
        var outputs = Enumerable.Range(0, 10).Select(_ => Enumerable.Range(0, 30).Select(_ => rng.NextGaussian()).ToArray()).ToArray();
        var result = EssentialDynamics.Fit(outputs, 4);
        foreach (var v in result.Components)
        {
            double largest = v.MaxBy(Math.Abs);
            Assert.True(largest > 0);
            Assert.Equal(1.0, Dot(v, v), 10);
        }
        // Ratios are sorted and sum to at most 1.
        for (int c = 1; c < 4; c++)
        {
            Assert.True(result.ExplainedVarianceRatio[c] <= result.ExplainedVarianceRatio[c - 1]);
        }
        Assert.True(result.ExplainedVarianceRatio.Sum() <= 1 + 1e-12);
    }

    [Fact]
    public void Bad_input_is_named()
    {
        Assert.Contains("at least two checkpoints", Assert.Throws<ArgumentException>(() => EssentialDynamics.Fit([[1, 2]], 1)).Message);
        Assert.Contains("same probe set", Assert.Throws<ArgumentException>(() => EssentialDynamics.Fit([[1, 2], [1]], 1)).Message);
        Assert.Contains("components must lie in [1, 2]", Assert.Throws<ArgumentException>(() => EssentialDynamics.Fit([[1, 2, 3], [1, 2, 4]], 3)).Message);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => EssentialDynamics.Fit([[1, 2], [double.NaN, 1]], 1)).Message);
    }

    private static (double[] E1, double[] E2) OrthonormalPair(int d, Rng rng)
    {
        var e1 = Enumerable.Range(0, d).Select(_ => rng.NextGaussian()).ToArray();
        var e2 = Enumerable.Range(0, d).Select(_ => rng.NextGaussian()).ToArray();
        Scale(e1, 1 / Math.Sqrt(Dot(e1, e1)));
        double p = Dot(e1, e2);
        for (int j = 0; j < d; j++)
        {
            e2[j] -= p * e1[j];
        }
        Scale(e2, 1 / Math.Sqrt(Dot(e2, e2)));
        return (e1, e2);
    }

    private static void Center(double[] v)
    {
        double m = v.Average();
        for (int i = 0; i < v.Length; i++)
        {
            v[i] -= m;
        }
    }

    private static void Scale(double[] v, double s)
    {
        for (int i = 0; i < v.Length; i++)
        {
            v[i] *= s;
        }
    }

    private static double Dot(double[] x, double[] y) => x.Zip(y, (p, q) => p * q).Sum();
}
