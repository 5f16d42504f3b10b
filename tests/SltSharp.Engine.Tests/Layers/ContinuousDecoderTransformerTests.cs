using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Layers;

public class ContinuousDecoderTransformerTests
{
    [Fact]
    public void Gradients_wrt_parameters_and_inputs_match_finite_differences()
    {
        // Two chains, so that the per-chain parameter blocks and the shared input projection path are both exercised.
        var model = new ContinuousDecoderTransformer<double>(tokenWidth: 3, outputWidth: 2, contextLength: 5, modelDimension: 8, heads: 2, layers: 2, mlpHidden: 12);
        var set = model.Build(2, new Rng(31));
        int c = 2, b = 2, t = 4;
        var x = GradientChecker.Values(c * b * t * 3, 7);
        var cotangent = GradientChecker.Values(c * b * t * 2, 8);
        var tape = new Tape<double>();
        GradientChecker.CheckModel(set, tape, () =>
        {
            var y = model.Forward(tape, tape.Input(x, c, b, t, 3));
            return tape.Sum(tape.Multiply(y, tape.Input(cotangent, c, b, t, 2)));
        }, coordinates: 200);
        GradientChecker.Check((tp, v) => model.Forward(tp, v[0]), [x], [[c, b, t, 3]], maxCoordinatesPerInput: 40);
    }

    [Fact]
    public void Flattened_rows_equal_the_four_dimensional_input_and_outputs_are_causal()
    {
        var model = new ContinuousDecoderTransformer<double>(3, 1, 6, 8, 2, 1, 16);
        model.Build(1, new Rng(2));
        var x = GradientChecker.Values(2 * 6 * 3, 3);
        var tape = new Tape<double>();
        var y4 = model.Forward(tape, tape.Input(x, 1, 2, 6, 3)).Value.ToArray();
        tape.Reset();
        var y3 = model.Forward(tape, tape.Input(x, 1, 2, 18)).Value.ToArray();
        // Same numbers up to rounding (the GEMM may block the two layouts differently).
        Assert.Equal(y4.Length, y3.Length);
        for (int i = 0; i < y4.Length; i++)
        {
            Assert.Equal(y4[i], y3[i], 1e-12);
        }
        // Changing the last token of sequence 0 changes only its last output.
        x[(5 * 3) + 1] += 0.5;
        tape.Reset();
        var changed = model.Forward(tape, tape.Input(x, 1, 2, 6, 3)).Value.ToArray();
        for (int i = 0; i < y4.Length; i++)
        {
            if (i == 5)
            {
                Assert.True(Math.Abs(y4[i] - changed[i]) > 1e-6, "the changed token's own output must move");
            }
            else
            {
                Assert.Equal(y4[i], changed[i], 1e-12);
            }
        }
    }

    [Fact]
    public void Parameter_names_and_count_follow_the_layout()
    {
        var model = new ContinuousDecoderTransformer<float>(5, 1, 16, 8, 2, 2, 12);
        var set = model.Build(1, new Rng(1));
        var names = set.Parameters.Select(p => p.Name).ToArray();
        Assert.Equal(["input.weight", "input.bias", "position_embedding.weight", "blocks.0.ln1.weight"], names[..4]);
        Assert.Equal(["ln_f.weight", "ln_f.bias", "readout.weight", "readout.bias"], names[^4..]);
        int block = 8 + 8 + (24 * 8) + 24 + 64 + 8 + 8 + 8 + (12 * 8) + 12 + (8 * 12) + 8;
        Assert.Equal((5 * 8) + 8 + (16 * 8) + (2 * block) + 16 + 8 + 1, set.CountPerChain);
    }

    [Fact]
    public void Bad_shapes_are_rejected_with_the_expected_shape()
    {
        var model = new ContinuousDecoderTransformer<double>(3, 1, 4, 8, 2, 1);
        model.Build(1, new Rng(1));
        var tape = new Tape<double>();
        var ex = Assert.Throws<ArgumentException>(() => model.Forward(tape, tape.Input(new double[10], 1, 1, 10)));
        Assert.Contains("whole tokens of 3", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tape, tape.Input(new double[15], 1, 1, 5, 3)));
    }
}
