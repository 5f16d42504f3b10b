using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Layers;

/// <summary>
/// C chains batched into one computation must equal C separate single-chain models. The per-chain computations use the
/// same kernels in the same order, so agreement is to the last bits; 1e-13 relative leaves room only for a GEMM backend
/// that blocks batched and single products differently, never for cross-talk between chains (which would be O(1)).
/// </summary>
public class ChainTests
{
    private const int Chains = 3;

    [Fact]
    public void Batched_mlp_chains_equal_separate_models()
    {
        var batched = Sequential<double>.Mlp([4, 6, 3]);
        var set = batched.Build(Chains, new Rng(8));
        int m = 5;
        var x = GradientChecker.Values(Chains * m * 4, 1);
        var targets = new int[Chains * m];
        new Rng(2).FillIndices(targets, 3);

        var tape = new Tape<double>();
        set.ZeroGradients();
        var loss = tape.CrossEntropy(batched.Forward(tape, tape.Input(x, Chains, m, 4)), targets, Chains);
        tape.Backward(loss);
        var losses = loss.Value.ToArray();
        var grads = new double[set.Count];
        set.CopyGradientChainsTo(grads);

        for (int c = 0; c < Chains; c++)
        {
            var single = Sequential<double>.Mlp([4, 6, 3]);
            var s1 = single.Build(1, new Rng(99));
            var w = new double[set.CountPerChain];
            set.CopyChainTo(c, w);
            s1.CopyChainFrom(0, w);
            var t1 = new Tape<double>();
            var l1 = t1.CrossEntropy(single.Forward(t1, t1.Input(x.AsSpan(c * m * 4, m * 4), 1, m, 4)), targets.AsSpan(c * m, m));
            t1.Backward(l1);
            AssertClose(l1.Value[0], losses[c]);
            for (int j = 0; j < s1.Count; j++)
            {
                AssertClose(s1.Gradients[j], grads[(c * set.CountPerChain) + j]);
            }
        }
    }

    [Fact]
    public void Batched_transformer_chains_equal_separate_models()
    {
        static DecoderTransformer<double> Make() => new(vocabulary: 6, contextLength: 4, modelDimension: 8, heads: 2, layers: 1, mlpHidden: 8);
        var batched = Make();
        var set = batched.Build(Chains, new Rng(3));
        int b = 2, t = 4, n = b * t;
        var tokens = new int[Chains * n];
        var targets = new int[Chains * n];
        new Rng(5).FillIndices(tokens, 6);
        new Rng(6).FillIndices(targets, 6);

        var tape = new Tape<double>();
        set.ZeroGradients();
        var loss = batched.Loss(tape, tokens, targets, b, t);
        tape.Backward(loss);
        var grads = new double[set.Count];
        set.CopyGradientChainsTo(grads);

        for (int c = 0; c < Chains; c++)
        {
            var single = Make();
            var s1 = single.Build(1, new Rng(99));
            var w = new double[set.CountPerChain];
            set.CopyChainTo(c, w);
            s1.CopyChainFrom(0, w);
            var t1 = new Tape<double>();
            var l1 = single.Loss(t1, tokens.AsSpan(c * n, n), targets.AsSpan(c * n, n), b, t);
            t1.Backward(l1);
            AssertClose(l1.Value[0], loss.Value[c]);
            for (int j = 0; j < s1.Count; j++)
            {
                AssertClose(s1.Gradients[j], grads[(c * set.CountPerChain) + j]);
            }
        }
    }

    [Fact]
    public void Chain_major_copies_round_trip_and_initialisation_is_per_chain()
    {
        var model = Sequential<float>.Mlp([3, 4, 2]);
        var set = model.Build(2, new Rng(17));
        // Chain c is initialised from rng.Split(c): chain 0 equals a single-chain model built from the same rng,
        // and chains differ from each other.
        var reference = Sequential<float>.Mlp([3, 4, 2]);
        var r = reference.Build(1, new Rng(17));
        var chain0 = new float[set.CountPerChain];
        var chain1 = new float[set.CountPerChain];
        set.CopyChainTo(0, chain0);
        set.CopyChainTo(1, chain1);
        Assert.Equal(r.Values.ToArray(), chain0);
        Assert.NotEqual(chain0, chain1);

        var all = new float[set.Count];
        set.CopyChainsTo(all);
        Assert.Equal(chain0, all[..set.CountPerChain]);
        Assert.Equal(chain1, all[set.CountPerChain..]);
        Array.Reverse(all);
        set.CopyChainsFrom(all);
        var back = new float[set.Count];
        set.CopyChainsTo(back);
        Assert.Equal(all, back);
        // Chain-major order within a chain: weight [4,3] then bias [4] of layer 0, then layer 2.
        Assert.Equal(set["0.weight"].Value(1).ToArray(), back[set.CountPerChain..(set.CountPerChain + 12)]);
        set.BroadcastChain(1);
        Assert.Equal(set["2.bias"].Value(1).ToArray(), set["2.bias"].Value(0).ToArray());
    }

    private static void AssertClose(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-13 * Math.Max(1, Math.Abs(expected)), $"{expected:R} vs {actual:R}");
}
