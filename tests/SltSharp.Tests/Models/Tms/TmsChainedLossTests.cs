using SltSharp.Engine.Random;
using SltSharp.Models.Tms;
using Xunit;

namespace SltSharp.Tests.Models.Tms;

public class TmsChainedLossTests
{
    private static double[] RandomParameters(int count, ulong seed, double std)
    {
        var w = new double[count];
        new Rng(seed, 7).FillGaussian(w.AsSpan(), std);
        return w;
    }

    private static int[] Batch(int chains, int m, int n, ulong seed)
    {
        var rng = new Rng(seed, 3);
        return [.. Enumerable.Range(0, chains * m).Select(_ => rng.NextInt(n))];
    }

    [Theory]
    [InlineData(2, 6, 1UL)]
    [InlineData(3, 5, 2UL)]
    public void HandGradientMatchesTheTape(int hidden, int features, ulong seed)
    {
        // The tape (TmsModel through EngineChainedLoss) is the independent reference: same data, same flat layout.
        var hand = TmsTask.CreateLoss<double>(400, seed, hidden, features);
        var tape = TmsTask.CreateEngineLoss<double>(400, seed, hidden, features);
        Assert.Equal(tape.ParameterCount, hand.ParameterCount);
        const int chains = 5, m = 60;
        // std 0.8 for W and b: a mix of active and inactive ReLUs (checked below), so both branches are compared.
        var w = RandomParameters(chains * hand.ParameterCount, seed, 0.8);
        var batch = Batch(chains, m, hand.SampleCount, seed);
        var (l1, g1) = (new double[chains], new double[w.Length]);
        var (l2, g2) = (new double[chains], new double[w.Length]);
        hand.Evaluate(w, chains, batch, l1, g1);
        tape.Evaluate(w, chains, batch, l2, g2);
        // Both sum the same ~m·F products in a different order: relative rounding ≈ 1e-15, tolerance 1e-12.
        for (int c = 0; c < chains; c++)
        {
            Assert.True(l1[c] > 0.01, "the random point must not fit the data exactly");
            Assert.Equal(l2[c], l1[c], 1e-12 * (1 + l2[c]));
        }
        int zeroBias = 0;
        for (int j = 0; j < w.Length; j++)
        {
            Assert.True(Math.Abs(g1[j] - g2[j]) <= 1e-12 * (1 + Math.Abs(g2[j])), $"parameter {j}: hand {g1[j]}, tape {g2[j]}");
            zeroBias += j % hand.ParameterCount >= hidden * features && g2[j] == 0 ? 1 : 0;
        }
        // Loss-only evaluation gives the same losses.
        var l3 = new double[chains];
        hand.Evaluate(w, chains, batch, l3, []);
        Assert.Equal(l1, l3);
        Assert.True(zeroBias < chains * features, "every bias gradient zero would mean every ReLU is off");
    }

    [Fact]
    public void HandGradientMatchesCentralDifferences()
    {
        var loss = TmsTask.CreateLoss<double>(300, seed: 4);
        const int chains = 2, m = 80;
        int p = loss.ParameterCount;
        var w = RandomParameters(chains * p, 11, 0.7);
        var batch = Batch(chains, m, loss.SampleCount, 5);
        var losses = new double[chains];
        var grad = new double[chains * p];
        loss.Evaluate(w, chains, batch, losses, grad);
        // Away from ReLU kinks (a random point hits none within ±h) the central difference error is
        // O(h²)·|third derivative| ≈ 1e-10 at h = 1e-5, far below the 1e-6 tolerance.
        const double h = 1e-5;
        var lp = new double[chains];
        var lm = new double[chains];
        for (int j = 0; j < chains * p; j++)
        {
            var wp = (double[])w.Clone();
            var wm = (double[])w.Clone();
            wp[j] += h;
            wm[j] -= h;
            loss.Evaluate(wp, chains, batch, lp, []);
            loss.Evaluate(wm, chains, batch, lm, []);
            int c = j / p;
            double fd = (lp[c] - lm[c]) / (2 * h);
            Assert.True(Math.Abs(fd - grad[j]) < 1e-6 * (1 + Math.Abs(fd)), $"parameter {j}: hand {grad[j]}, finite difference {fd}");
            Assert.Equal(losses[1 - c], lp[1 - c]); // the other chain is untouched
        }
    }

    [Fact]
    public void FloatAgreesWithDoubleAndAllocatesNothing()
    {
        var d = TmsTask.CreateLoss<double>(500, seed: 6);
        var f = TmsTask.CreateLoss<float>(500, seed: 6);
        const int chains = 3, m = 100;
        var w = RandomParameters(chains * d.ParameterCount, 9, 0.6);
        var wf = w.Select(v => (float)v).ToArray();
        var batch = Batch(chains, m, d.SampleCount, 7);
        var (ld, gd) = (new double[chains], new double[w.Length]);
        var (lf, gf) = (new float[chains], new float[w.Length]);
        d.Evaluate(w, chains, batch, ld, gd);
        f.Evaluate(wf, chains, batch, lf, gf);
        // float rounding of inputs and ~100-term sums: relative error ≲ 1e-5; tolerance 1e-4 of the scale.
        double scale = gd.Max(Math.Abs);
        for (int j = 0; j < w.Length; j++)
        {
            Assert.True(Math.Abs(gf[j] - gd[j]) <= 1e-4 * scale, $"parameter {j}: float {gf[j]}, double {gd[j]}");
        }
        for (int c = 0; c < chains; c++)
        {
            Assert.Equal(ld[c], lf[c], 1e-4 * ld[c]);
        }
        var replica = f.CreateReplica();
        var (lr, gr) = (new float[chains], new float[w.Length]);
        replica.Evaluate(wf, chains, batch, lr, gr);
        Assert.Equal(lf, lr);
        Assert.Equal(gf, gr);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 20; t++)
        {
            f.Evaluate(wf, chains, batch, lf, gf);
            f.Evaluate(wf, chains, batch, lf, []);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void BadInputIsRejectedWithAClearMessage()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TmsChainedLoss<double>(new double[10]));
        Assert.Contains("rows of 6", ex.Message, StringComparison.Ordinal);
        var loss = TmsTask.CreateLoss<double>(10, seed: 0);
        var bad = Assert.Throws<ArgumentException>(() => loss.Evaluate(new double[17], 1, [0], new double[1], []));
        Assert.Contains("chains·P", bad.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => loss.Evaluate(new double[18], 1, [10], new double[1], []));
    }
}
