using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Layers;

public class ModelGradientTests
{
    [Fact]
    public void Attention_layer_gradients_wrt_input_and_parameters()
    {
        var attn = new CausalSelfAttention<double>(modelDimension: 8, heads: 2);
        var set = attn.Build(2, new Rng(5));
        var x = GradientChecker.Values(2 * 2 * 3 * 8, 9);
        var tape = new Tape<double>();
        var cotangent = GradientChecker.Values(x.Length, 10);
        // Parameters: scalar loss Σ r ⊙ attn(x) through the model checker.
        GradientChecker.CheckModel(set, tape, () =>
        {
            var y = attn.Forward(tape, tape.Input(x, 2, 2, 3, 8));
            return tape.Sum(tape.Multiply(y, tape.Input(cotangent, 2, 2, 3, 8)));
        }, coordinates: 80);
        // Input.
        GradientChecker.Check((t, v) => attn.Forward(t, v[0]), [x], [[2, 2, 3, 8]]);
    }

    [Fact]
    public void Attention_is_causal()
    {
        // Changing the last position's input must leave earlier outputs unchanged.
        var attn = new CausalSelfAttention<double>(8, 2);
        attn.Build(1, new Rng(1));
        var x = GradientChecker.Values(4 * 8, 2);
        var tape = new Tape<double>();
        var y1 = attn.Forward(tape, tape.Input(x, 1, 1, 4, 8)).Value.ToArray();
        for (int i = 24; i < 32; i++)
        {
            x[i] += 1;
        }
        tape.Reset();
        var y2 = attn.Forward(tape, tape.Input(x, 1, 1, 4, 8)).Value.ToArray();
        Assert.Equal(y1[..24], y2[..24]);
        Assert.NotEqual(y1[24..], y2[24..]);
    }

    [Fact]
    public void Whole_transformer_loss_gradient_spot_check()
    {
        var model = new DecoderTransformer<double>(vocabulary: 7, contextLength: 5, modelDimension: 8, heads: 2, layers: 2, mlpHidden: 12);
        var set = model.Build(1, new Rng(21));
        var rng = new Rng(4);
        int b = 2, t = 4;
        var tokens = new int[b * t];
        var targets = new int[b * t];
        rng.FillIndices(tokens, 7);
        rng.FillIndices(targets, 7);
        var tape = new Tape<double>();
        GradientChecker.CheckModel(set, tape, () => model.Loss(tape, tokens, targets, b, t), coordinates: 150);
    }

    [Fact]
    public void Transformer_parameter_names_follow_state_dict_order()
    {
        var model = new DecoderTransformer<float>(7, 5, 8, 2, 2, 12);
        var set = model.Build(3, new Rng(1));
        var names = set.Parameters.Select(p => p.Name).ToArray();
        Assert.Equal("token_embedding.weight", names[0]);
        Assert.Equal("position_embedding.weight", names[1]);
        Assert.Equal(["blocks.0.ln1.weight", "blocks.0.ln1.bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
            "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.ln2.weight", "blocks.0.ln2.bias",
            "blocks.0.mlp.fc.weight", "blocks.0.mlp.fc.bias", "blocks.0.mlp.proj.weight", "blocks.0.mlp.proj.bias"], names[2..14]);
        Assert.Equal(["ln_f.weight", "ln_f.bias", "unembed.weight"], names[^3..]);
        Assert.Equal([24, 8], set["blocks.1.attn.qkv.weight"].Shape.ToArray());
        int perChain = 7 * 8 + 5 * 8 + (2 * (8 + 8 + (24 * 8) + 24 + 64 + 8 + 8 + 8 + (12 * 8) + 12 + (8 * 12) + 8)) + 16 + (7 * 8);
        Assert.Equal(perChain, set.CountPerChain);
        Assert.Equal(3 * perChain, set.Count);
    }
}
