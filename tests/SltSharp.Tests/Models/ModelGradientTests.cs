using SltSharp.Engine.Random;
using SltSharp.Models;
using SltSharp.Sampling;

namespace SltSharp.Tests.Models;

public class ModelGradientTests
{
    // Central differences in double with h = 1e-5 have truncation error O(h²·f''') ~ 1e-9 relative and rounding error
    // O(ε_mach/h) ~ 1e-11; 1e-6 relative tolerance leaves a wide margin for both.
    private static void CheckGradient(IChainedLoss<double> loss, int chains, int[] batch, ulong seed, double scale = 1.0)
    {
        int p = loss.ParameterCount;
        var w = new double[chains * p];
        new Rng(seed).FillGaussian(w.AsSpan(), scale);
        var losses = new double[chains];
        var grads = new double[chains * p];
        loss.Evaluate(w, chains, batch, losses, grads);
        var lp = new double[chains];
        var lm = new double[chains];
        const double h = 1e-5;
        for (int k = 0; k < chains * p; k++)
        {
            double saved = w[k];
            w[k] = saved + h;
            loss.Evaluate(w, chains, batch, lp, []);
            w[k] = saved - h;
            loss.Evaluate(w, chains, batch, lm, []);
            w[k] = saved;
            int c = k / p;
            double fd = (lp[c] - lm[c]) / (2 * h);
            Assert.True(Math.Abs(fd - grads[k]) <= 1e-6 * (1 + Math.Abs(fd)), $"coordinate {k}: analytic {grads[k]} vs finite difference {fd}");
            // Other chains must not see this coordinate.
            for (int other = 0; other < chains; other++)
            {
                if (other != c)
                {
                    Assert.Equal(losses[other], lp[other]);
                }
            }
        }
    }

    [Fact]
    public void NormalCrossingPotentialGradient()
    {
        CheckGradient(new NormalCrossingPotential<double>([1, 2, 0, 3]), 3, [0, 0, 0], 1);
        var loss = new NormalCrossingPotential<double>([1, 2]);
        var l = new double[1];
        loss.Evaluate([0.5, 2.0], 1, [0], l, []);
        Assert.Equal(0.25 * 16, l[0], 14);
    }

    [Fact]
    public void NormalCrossingDataModelGradientAndLoss()
    {
        var model = NormalCrossingDataModel<double>.CreateReferenceData([1, 2], 50, 7);
        CheckGradient(model, 2, [0, 3, 5, 7, 1, 2, 3, 4], 2);
        // The full-batch loss equals Syy − 2f·Sxy + f²·Sxx.
        double[] w = [0.7, -1.1];
        double f = 0.7 * 1.21;
        var all = Enumerable.Range(0, 50).ToArray();
        var l = new double[1];
        model.Evaluate(w, 1, all, l, []);
        Assert.Equal(model.Syy - (2 * f * model.Sxy) + (f * f * model.Sxx), l[0], 12);
    }

    [Fact]
    public void DeepLinearNetworkGradient()
    {
        var (model, teacher) = DeepLinearNetwork<double>.CreateTeacherTask([3, 4, 2, 5], 1, 20, 3, 1.0);
        CheckGradient(model, 3, [0, 1, 2, 3, 5, 6, 7, 8, 19, 18, 17, 16], 4, 0.5);
        // The teacher is a global minimum: L_n(teacher) = 0 up to rounding.
        var l = new double[1];
        model.Evaluate(teacher, 1, Enumerable.Range(0, 20).ToArray(), l, []);
        Assert.True(l[0] < 1e-20, $"teacher loss {l[0]}");
    }

    [Fact]
    public void DeepLinearNetworkMatchesDirectComputation()
    {
        // Two layers, one sample: L = ||y − W2·W1·x||² written out by hand.
        double[] x = [1, 2], y = [3];
        var model = new DeepLinearNetwork<double>([2, 2, 1], x, y);
        double[] w = [1, 0.5, -1, 2, 0.3, -0.7]; // W1 = [[1,0.5],[-1,2]], W2 = [[0.3,-0.7]]
        double h0 = 1 + 1.0, h1 = -1 + 4.0, o = (0.3 * h0) - (0.7 * h1);
        var l = new double[1];
        model.Evaluate(w, 1, [0], l, []);
        Assert.Equal((3 - o) * (3 - o), l[0], 12);
    }
}
