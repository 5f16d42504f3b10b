using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Random;
using SltSharp.Experiments.Icl;
using SltSharp.Models;

namespace SltSharp.Tests.Experiments;

public class IclTransformerTests
{
    private static readonly IclModelShape Small = new(ModelDimension: 8, Heads: 2, Layers: 2, MlpHidden: 16);

    [Fact]
    public void Prediction_k_sees_x_k_and_earlier_pairs_but_not_y_k()
    {
        var dist = new IclTaskDistribution(2, 3, 0.125, null, 1);
        var batch = dist.Sample(1, new Rng(3));
        var model = new IclTransformer<double>(2, 3, Small);
        model.Build(1, new Rng(4));
        double[] Predict()
        {
            var (tokens, _) = IclTaskDistribution.Encode<double>(batch);
            var tape = new Tape<double>();
            return model.Forward(tape, tape.Input(tokens, 1, 1, tokens.Length)).Value.ToArray();
        }
        var before = Predict();
        Assert.Equal(3, before.Length);
        batch.Y[1] += 1.0;   // y_2 (index 1): invisible to predictions 1 and 2, visible to prediction 3
        var after = Predict();
        Assert.Equal(before[0], after[0], 12);
        Assert.Equal(before[1], after[1], 12);
        Assert.True(Math.Abs(before[2] - after[2]) > 1e-6);
    }

    [Fact]
    public void Head_masks_partition_the_attention_weights()
    {
        var loss = new EngineChainedLoss<double>(() => new IclTransformer<double>(2, 3, Small), new double[18], 18, new double[3], 3,
            (t, p, y, c) => SltSharp.Engine.Ops.LossOps.MseLoss(t, p, y, c));
        var masks = IclTransformer<double>.HeadMasks(loss.ParameterLayout, Small);
        Assert.Equal(["l0h0", "l0h1", "l1h0", "l1h1"], masks.Select(m => m.Label));
        int d = 8, dh = 4;
        // Each head: its q, k, v rows (weights and biases) and its output-projection columns.
        int perHead = (3 * dh * d) + (3 * dh) + (d * dh);
        Assert.All(masks, m => Assert.Equal(perHead, m.Mask.Count(b => b)));
        var union = new int[loss.ParameterCount];
        foreach (var (_, mask) in masks)
        {
            for (int i = 0; i < mask.Length; i++)
            {
                union[i] += mask[i] ? 1 : 0;
            }
        }
        Assert.All(union, u => Assert.InRange(u, 0, 1));
        // All heads of a layer together: the whole qkv weight and bias and the proj weight (not the proj bias).
        Assert.Equal(2 * ((3 * d * d) + (3 * d) + (d * d)), union.Sum());
        int offset = 0;
        foreach (var (name, shape) in loss.ParameterLayout)
        {
            int size = shape.Aggregate(1, (a, v) => a * v);
            bool attention = name.EndsWith("attn.qkv.weight", StringComparison.Ordinal) || name.EndsWith("attn.qkv.bias", StringComparison.Ordinal)
                || name.EndsWith("attn.proj.weight", StringComparison.Ordinal);
            Assert.All(union.AsSpan(offset, size).ToArray(), u => Assert.Equal(attention ? 1 : 0, u));
            offset += size;
        }
    }

    [Fact]
    public void Log_spaced_steps_include_both_ends_and_are_increasing()
    {
        var steps = IclExperiment.LogSpacedSteps(10, 1000, 3).ToArray();
        Assert.Equal([10, 100, 1000], steps);
        Assert.Equal([1, 5], IclExperiment.LogSpacedSteps(1, 5, 1).ToArray());
    }
}
