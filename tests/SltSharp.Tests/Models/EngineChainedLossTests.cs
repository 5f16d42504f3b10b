using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Random;
using SltSharp.Models;
using SltSharp.Models.Tms;
using Xunit;

namespace SltSharp.Tests.Models;

public class EngineChainedLossTests
{
    private static double[] RandomParameters(int count, ulong seed)
    {
        var w = new double[count];
        new Rng(seed, 7).FillGaussian(w.AsSpan(), 0.7);
        return w;
    }

    private static int[] Batch(int chains, int m, int n, ulong seed)
    {
        var rng = new Rng(seed, 3);
        return [.. Enumerable.Range(0, chains * m).Select(_ => rng.NextInt(n))];
    }

    [Fact]
    public void TmsGradientMatchesCentralDifferences()
    {
        var loss = TmsTask.CreateEngineLoss<double>(200, seed: 4);
        const int chains = 3, m = 50;
        int p = loss.ParameterCount;
        Assert.Equal(18, p);
        var w = RandomParameters(chains * p, 11);
        var batch = Batch(chains, m, loss.SampleCount, 5);
        var losses = new double[chains];
        var grad = new double[chains * p];
        loss.Evaluate(w, chains, batch, losses, grad);

        // The loss is piecewise quadratic-in-quartic; away from ReLU kinks (a random point hits none within ±h) the
        // central difference error is O(h²)·|third derivative| ≈ 1e-10 at h = 1e-5, far below the 1e-6 tolerance.
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
            Assert.True(Math.Abs(fd - grad[j]) < 1e-6 * (1 + Math.Abs(fd)), $"parameter {j}: autodiff {grad[j]}, finite difference {fd}");
            // Perturbing chain c leaves every other chain's loss unchanged.
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
    public void DeepLinearNetworkThroughTheEngineMatchesTheHandWrittenOne()
    {
        // Closed-form reference: DeepLinearNetwork's hand-derived backward pass, same data and flat layout
        // (each W_l [out, in] row-major, in layer order = Sequential's state_dict order).
        int[] widths = [4, 5, 3];
        var x = new double[64 * 4];
        var y = new double[64 * 3];
        new Rng(9, 1).FillUniform(x.AsSpan(), -1.0, 1.0);
        new Rng(9, 2).FillGaussian(y.AsSpan(), 1.0);
        var reference = new DeepLinearNetwork<double>(widths, x, y);
        var engine = new EngineChainedLoss<double>(() => Sequential<double>.DeepLinear(widths), x, 4, y, 3,
            (tape, prediction, target, chains) => tape.Scale(tape.MseLoss(prediction, target, chains), 3));
        Assert.Equal(reference.ParameterCount, engine.ParameterCount);

        const int chains = 2, m = 16;
        var w = RandomParameters(chains * engine.ParameterCount, 2);
        var batch = Batch(chains, m, 64, 8);
        var (l1, g1) = (new double[chains], new double[w.Length]);
        var (l2, g2) = (new double[chains], new double[w.Length]);
        reference.Evaluate(w, chains, batch, l1, g1);
        engine.Evaluate(w, chains, batch, l2, g2);
        for (int c = 0; c < chains; c++)
        {
            Assert.Equal(l1[c], l2[c], 1e-12 * (1 + l1[c]));
        }
        for (int j = 0; j < w.Length; j++)
        {
            Assert.Equal(g1[j], g2[j], 1e-11 * (1 + Math.Abs(g1[j])));
        }
    }

    [Fact]
    public void EvaluateAllocatesNothingAfterWarmUp()
    {
        var loss = TmsTask.CreateEngineLoss<double>(500, seed: 1);
        const int chains = 4, m = 32;
        var w = RandomParameters(chains * loss.ParameterCount, 3);
        var batch = Batch(chains, m, loss.SampleCount, 2);
        var losses = new double[chains];
        var grad = new double[w.Length];
        loss.Evaluate(w, chains, batch, losses, grad);
        loss.Evaluate(w, chains, batch, losses, grad);
        var single = new double[1];
        loss.Evaluate(w.AsSpan(0, loss.ParameterCount), 1, batch.AsSpan(0, m), single, []);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 50; t++)
        {
            loss.Evaluate(w, chains, batch, losses, grad);
            loss.Evaluate(w, chains, batch, losses, []);
            // Alternating chain counts reuse each count's model.
            loss.Evaluate(w.AsSpan(0, loss.ParameterCount), 1, batch.AsSpan(0, m), single, []);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void ReplicaIsBitIdenticalAndIndependent()
    {
        var loss = TmsTask.CreateEngineLoss<double>(300, seed: 2);
        var replica = loss.CreateReplica();
        const int chains = 2, m = 20;
        var w = RandomParameters(chains * loss.ParameterCount, 4);
        var batch = Batch(chains, m, loss.SampleCount, 6);
        var (l1, g1) = (new double[chains], new double[w.Length]);
        var (l2, g2) = (new double[chains], new double[w.Length]);
        loss.Evaluate(w, chains, batch, l1, g1);
        // A different evaluation on the original in between must not disturb the replica (separate buffers).
        loss.Evaluate(RandomParameters(w.Length, 99), chains, batch, new double[chains], new double[w.Length]);
        replica.Evaluate(w, chains, batch, l2, g2);
        Assert.Equal(l1, l2);
        Assert.Equal(g1, g2);
    }

    [Fact]
    public void BadInputIsRejectedWithAClearMessage()
    {
        var x = new double[10];
        var ex = Assert.Throws<ArgumentException>(() => new EngineChainedLoss<double>(() => new TmsModel<double>(), x, 6, x, 6,
            (tape, p, t, c) => tape.MseLoss(p, t, c)));
        Assert.Contains("rows of 6", ex.Message, StringComparison.Ordinal);
        var loss = TmsTask.CreateEngineLoss<double>(10, seed: 0);
        var bad = Assert.Throws<ArgumentException>(() => loss.Evaluate(new double[17], 1, [0], new double[1], []));
        Assert.Contains("chains·P", bad.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => loss.Evaluate(new double[18], 1, [10], new double[1], []));
    }
}
