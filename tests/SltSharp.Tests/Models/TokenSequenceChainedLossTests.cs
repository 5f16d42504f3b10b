using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Random;
using SltSharp.Models;
using Xunit;

namespace SltSharp.Tests.Models;

public class TokenSequenceChainedLossTests
{
    private static DecoderTransformer<double> Tiny() => new(vocabulary: 5, contextLength: 4, modelDimension: 4, heads: 2, layers: 1, mlpHidden: 8);

    [Fact]
    public void Losses_are_each_chains_own_batch_and_gradients_match_central_differences()
    {
        const int n = 10, length = 4, chains = 2, m = 3;
        var rng = new Rng(21);
        int[] tokens = [.. Enumerable.Range(0, n * length).Select(_ => rng.NextInt(5))];
        int[] targets = [.. Enumerable.Range(0, n * length).Select(_ => rng.NextInt(5))];
        var loss = new TokenSequenceChainedLoss<double>(Tiny, tokens, targets, length);
        int p = loss.ParameterCount;
        var w = new double[chains * p];
        new Rng(22).FillGaussian(w.AsSpan(), 0.5);
        int[] batch = [7, 0, 3, 1, 1, 9]; // chain 0: sequences 7, 0, 3; chain 1: 1, 1, 9
        var losses = new double[chains];
        var grad = new double[chains * p];
        loss.Evaluate(w, chains, batch, losses, grad);

        // Chain 1's loss computed on its own from a single-chain model with the same weights and sequences.
        var single = Tiny();
        single.Build(1, new Rng(0));
        single.Parameters.CopyChainFrom(0, w.AsSpan(p, p));
        int[] x1 = [.. new[] { 1, 1, 9 }.SelectMany(i => tokens.Skip(i * length).Take(length))];
        int[] y1 = [.. new[] { 1, 1, 9 }.SelectMany(i => targets.Skip(i * length).Take(length))];
        double direct = single.Loss(new Tape<double>(), x1, y1, m, length).Value[0];
        Assert.Equal(direct, losses[1], 12);

        // Central differences on a spread of coordinates of both chains: the loss is smooth (softmax, GELU, layer
        // norm), so the O(h²) error at h = 1e-5 is ~1e-10, far below the 1e-6 tolerance.
        const double h = 1e-5;
        var lp = new double[chains];
        var lm = new double[chains];
        for (int j = 0; j < chains * p; j += 7)
        {
            var wp = (double[])w.Clone();
            var wm = (double[])w.Clone();
            wp[j] += h;
            wm[j] -= h;
            loss.Evaluate(wp, chains, batch, lp, []);
            loss.Evaluate(wm, chains, batch, lm, []);
            double fd = (lp[j / p] - lm[j / p]) / (2 * h);
            Assert.True(Math.Abs(fd - grad[j]) < 1e-6 * (1 + Math.Abs(fd)), $"parameter {j}: autodiff {grad[j]}, finite difference {fd}");
            Assert.Equal(losses[1 - (j / p)], lp[1 - (j / p)]); // the other chain is untouched
        }
    }

    [Fact]
    public void Token_ids_outside_the_vocabulary_and_sequences_beyond_the_context_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new TokenSequenceChainedLoss<double>(Tiny, [0, 1, 2, 5], [0, 1, 2, 3], 4));
        Assert.Contains("tokens[3] = 5", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new TokenSequenceChainedLoss<double>(Tiny, new int[10], new int[10], 5));
        Assert.Contains("context length 4", e.Message, StringComparison.Ordinal);
    }
}
