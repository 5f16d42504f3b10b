using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Layers;

public class TrainingTests
{
    /// <summary>Three interleaved 2-D spirals (the classic CS231n data set): not linearly separable.</summary>
    private static (float[] X, int[] Y) Spiral(int perClass, int classes, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[perClass * classes * 2];
        var y = new int[perClass * classes];
        for (int c = 0; c < classes; c++)
        {
            for (int i = 0; i < perClass; i++)
            {
                int n = (c * perClass) + i;
                double r = i / (double)(perClass - 1);
                double theta = (c * 4.0) + (4.0 * r) + (0.2 * rng.NextGaussian());
                x[2 * n] = (float)(r * Math.Sin(theta));
                x[(2 * n) + 1] = (float)(r * Math.Cos(theta));
                y[n] = c;
            }
        }
        return (x, y);
    }

    [Fact]
    public void Two_layer_mlp_learns_spirals_in_float()
    {
        var (x, y) = Spiral(100, 3, 1);
        var model = Sequential<float>.Mlp([2, 100, 3]);
        var set = model.Build(1, new Rng(2));
        var opt = new Adam<float>(set, learningRate: 0.02);
        var tape = new Tape<float>();
        Node<float> logits = null!;
        for (int step = 0; step < 300; step++)
        {
            tape.Reset();
            logits = model.Forward(tape, tape.Input(x, 1, 300, 2));
            var loss = tape.CrossEntropy(logits, y);
            opt.ZeroGrad();
            tape.Backward(loss);
            opt.Step();
        }
        int correct = 0;
        var z = logits.Value;
        for (int n = 0; n < 300; n++)
        {
            int arg = 0;
            for (int k = 1; k < 3; k++)
            {
                if (z[(3 * n) + k] > z[(3 * n) + arg])
                {
                    arg = k;
                }
            }
            correct += arg == y[n] ? 1 : 0;
        }
        Assert.True(correct / 300.0 > 0.95, $"training accuracy {correct / 300.0:P1}");
    }

    [Fact]
    public void Same_seed_gives_bit_identical_training()
    {
        float[] Train()
        {
            var (x, y) = Spiral(20, 3, 5);
            var model = Sequential<float>.Mlp([2, 16, 3]);
            var set = model.Build(2, new Rng(9));
            var opt = new AdamW<float>(set, 0.01);
            var tape = new Tape<float>();
            var rng = new Rng(9, 1);
            var batch = new int[2 * 10];
            var targets = new int[batch.Length];
            for (int step = 0; step < 30; step++)
            {
                rng.FillIndices(batch, 60);
                for (int i = 0; i < batch.Length; i++)
                {
                    targets[i] = y[batch[i]];
                }
                tape.Reset();
                var loss = tape.CrossEntropy(model.Forward(tape, tape.InputRows(x, 2, batch, 2, 10, 2)), targets, 2);
                opt.ZeroGrad();
                tape.Backward(loss);
                opt.Step();
            }
            return set.Values.ToArray();
        }
        Assert.Equal(Train(), Train());
    }

    [Fact]
    public void Float_and_double_agree_to_float_precision()
    {
        // Same transformer weights and tokens in both precisions. Float rounding (2^-24 ≈ 6e-8 per operation)
        // accumulated through ~10 layers of sums of ≤ 64 terms stays below ~1e-5 relative; 1e-4 of the largest
        // gradient is a bound that a precision-dependent bug (a dropped term, a wrong cast) would exceed by orders.
        var md = new DecoderTransformer<double>(11, 6, 16, 2, 2);
        var mf = new DecoderTransformer<float>(11, 6, 16, 2, 2);
        var sd = md.Build(1, new Rng(4));
        var sf = mf.Build(1, new Rng(4));
        for (int i = 0; i < sd.Count; i++)
        {
            sd.Values[i] = sf.Values[i];
        }
        var tokens = new int[3 * 6];
        var targets = new int[3 * 6];
        new Rng(1).FillIndices(tokens, 11);
        new Rng(2).FillIndices(targets, 11);
        var td = new Tape<double>();
        var tf = new Tape<float>();
        var ld = md.Loss(td, tokens, targets, 3, 6);
        var lf = mf.Loss(tf, tokens, targets, 3, 6);
        td.Backward(ld);
        tf.Backward(lf);
        Assert.Equal(ld.Value[0], lf.Value[0], 1e-5 * ld.Value[0]);
        double max = 0;
        for (int i = 0; i < sd.Count; i++)
        {
            max = Math.Max(max, Math.Abs(sd.Gradients[i]));
        }
        for (int i = 0; i < sd.Count; i++)
        {
            Assert.True(Math.Abs(sd.Gradients[i] - sf.Gradients[i]) <= 1e-4 * max, $"coordinate {i}: {sd.Gradients[i]} vs {sf.Gradients[i]}");
        }
    }

    [Fact]
    public void Default_initialisation_matches_pytorch()
    {
        var linear = new Linear<double>(100, 200);
        linear.Build(1, new Rng(3));
        var w = linear.Weight.Value().ToArray();
        var b = linear.Bias!.Value().ToArray();
        // U(−1/√100, 1/√100): all within ±0.1; variance 0.1²/3. With 20000 draws the relative standard error of the
        // sample variance of a uniform is √(0.8/20000) ≈ 0.6%, so 4% is over 6 standard errors.
        Assert.All(w, v => Assert.InRange(v, -0.1, 0.1));
        Assert.All(b, v => Assert.InRange(v, -0.1, 0.1));
        Assert.Equal(0.01 / 3, w.Select(v => v * v).Average(), 0.04 * 0.01 / 3);
        var emb = new Embedding<double>(200, 100);
        emb.Build(1, new Rng(3));
        // N(0, 1): relative standard error of the variance √(2/20000) = 1%, so 5% is 5 standard errors.
        Assert.Equal(1.0, emb.Weight.Value().ToArray().Select(v => v * v).Average(), 0.05);
        var ln = new LayerNorm<double>(4);
        ln.Build(2, new Rng(3));
        Assert.Equal([1.0, 1, 1, 1], ln.Weight!.Value(1).ToArray());
        Assert.Equal([0.0, 0, 0, 0], ln.Bias!.Value(1).ToArray());
    }
}
