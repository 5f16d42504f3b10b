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

    [Theory]
    [InlineData(new[] { 3, 4, 2, 5 }, 6)]      // input narrower than the batch: the automatic choice is the product form
    [InlineData(new[] { 5, 6, 6, 6, 6, 4 }, 9)] // five layers, like the 5×50 benchmark network
    [InlineData(new[] { 4, 3 }, 7)]             // one layer: ∂L/∂W_0 = GᵀX directly
    public void DeepLinearNetworkProductFormEqualsLayeredForm(int[] widths, int m)
    {
        // The two evaluation orders compute the same loss and gradient; in double the only difference is rounding
        // (a few products of small matrices: relative 1e-12 is 10⁴ ulps of slack and still catches any wrong term).
        var (model, _) = DeepLinearNetwork<double>.CreateTeacherTask(widths, 1, 40, 5, 1.0);
        Assert.True(model.ProductFormIsCheaper(m, withGradient: true) || widths.Length == 2);
        const int chains = 3;
        int p = model.ParameterCount;
        var rng = new Rng(9);
        var w = new double[chains * p];
        rng.FillGaussian<double>(w, 0.7);
        var batch = new int[chains * m];
        rng.FillIndices(batch, model.SampleCount);
        var (lossLayered, gradLayered) = (new double[chains], new double[chains * p]);
        var (lossProduct, gradProduct) = (new double[chains], new double[chains * p]);
        model.Form = DeepLinearForm.Layered;
        model.Evaluate(w, chains, batch, lossLayered, gradLayered);
        model.Form = DeepLinearForm.Product;
        model.Evaluate(w, chains, batch, lossProduct, gradProduct);
        var forwardOnly = new double[chains];
        model.Evaluate(w, chains, batch, forwardOnly, []);
        for (int c = 0; c < chains; c++)
        {
            Assert.Equal(lossLayered[c], lossProduct[c], 1e-12 * lossLayered[c]);
            Assert.Equal(lossProduct[c], forwardOnly[c]);
        }
        double scale = gradLayered.Max(Math.Abs);
        for (int i = 0; i < gradLayered.Length; i++)
        {
            Assert.Equal(gradLayered[i], gradProduct[i], 1e-12 * scale);
        }
    }

    [Fact]
    public void DeepLinearNetworkChoosesTheCheaperForm()
    {
        // 5×50 at batch 100: product 2.0M multiply-adds against layered 3.5M; 10×100 at batch 100: equal, so layered.
        var narrow = new DeepLinearNetwork<float>([50, 50, 50, 50, 50, 50], new float[50], new float[50]);
        var square = new DeepLinearNetwork<float>([100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100], new float[100], new float[100]);
        Assert.True(narrow.ProductFormIsCheaper(100, withGradient: true));
        Assert.False(square.ProductFormIsCheaper(100, withGradient: true));
        Assert.False(narrow.ProductFormIsCheaper(20, withGradient: true));
    }
}
