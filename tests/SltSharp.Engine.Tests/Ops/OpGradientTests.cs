using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Ops;
using static SltSharp.Engine.Tests.GradientChecker;

namespace SltSharp.Engine.Tests.Ops;

/// <summary>Every differentiable op against finite differences (see <see cref="GradientChecker"/> for the tolerance).</summary>
public class OpGradientTests
{
    private static void Check(Func<Tape<double>, Node<double>[], Node<double>> f, params int[][] shapes) =>
        GradientChecker.Check(f, shapes.Select((s, i) => Values(s.Aggregate(1, (a, b) => a * b), (ulong)i + 1)).ToArray(), shapes);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Arithmetic_with_broadcasting(int kind)
    {
        Func<Tape<double>, Node<double>, Node<double>, Node<double>> op = kind switch
        {
            0 => (t, a, b) => t.Add(a, b),
            1 => (t, a, b) => t.Subtract(a, b),
            2 => (t, a, b) => t.Multiply(a, b),
            _ => (t, a, b) => t.Divide(a, b),
        };
        Check((t, v) => op(t, v[0], v[1]), [3, 1, 4], [5, 4]);     // both sides broadcast
        Check((t, v) => op(t, v[0], v[1]), [2, 3, 4], [4]);        // [C, B, F] with [F]
        Check((t, v) => op(t, v[0], v[1]), [4], [2, 3, 4]);        // scalar-like on the left
        Check((t, v) => op(t, v[0], v[1]), [2, 3, 1], [2, 1, 5]);  // outer product shape
        Check((t, v) => op(t, v[0], v[1]), [2, 3], [2, 3]);        // same shape fast path
        Check((t, v) => op(t, v[0], v[1]), [2, 1, 3], [1]);        // rank-1 scalar
    }

    [Fact]
    public void Broadcast_values_follow_numpy_rules()
    {
        var tape = new Tape<double>();
        var a = tape.Input([1, 2, 3], 3, 1);
        var b = tape.Input([10, 20], 2);
        var c = tape.Subtract(a, b);
        Assert.Equal([3, 2], c.Shape.ToArray());
        Assert.Equal([-9, -19, -8, -18, -7, -17], c.Value.ToArray());
        Assert.Throws<ArgumentException>(() => tape.Add(tape.Input([1, 2, 3], 3), tape.Input([1, 2], 2)));
    }

    [Fact]
    public void Same_node_twice_accumulates_both_paths()
    {
        Check((t, v) => t.Multiply(v[0], v[0]), [3, 4]);
        Check((t, v) => t.Add(t.Multiply(v[0], v[1]), t.Divide(v[0], v[1])), [2, 5], [5]);
    }

    [Fact]
    public void Affine_and_unary_functions()
    {
        Check((t, v) => t.Affine(v[0], -1.5, 0.25), [2, 3]);
        Check((t, v) => t.Exp(v[0]), [2, 3]);
        Check((t, v) => t.Log(t.Square(v[0])), [2, 3]);
        Check((t, v) => t.Tanh(v[0]), [7]);
        Check((t, v) => t.Sigmoid(v[0]), [7]);
        Check((t, v) => t.Relu(v[0]), [13]);
        Check((t, v) => t.Square(v[0]), [5]);
    }

    [Fact]
    public void Gelu_exact_and_tanh()
    {
        var inputs = new[] { Enumerable.Range(0, 41).Select(i => -6.05 + (0.3 * i)).ToArray() };
        GradientChecker.Check((t, v) => t.Gelu(v[0]), inputs, [[41]]);
        GradientChecker.Check((t, v) => t.Gelu(v[0], tanhApproximation: true), inputs, [[41]]);
    }

    [Fact]
    public void Gelu_values_match_closed_forms()
    {
        var tape = new Tape<double>();
        var x = tape.Input([-3, -1, 0, 0.5, 2], 5);
        var exact = tape.Gelu(x).Value.ToArray();
        var approx = tape.Gelu(x, tanhApproximation: true).Value.ToArray();
        // x·Φ(x) with Φ from tabulated erf values: Φ(1) = 0.8413447460685429, Φ(0.5) = 0.6914624612740131,
        // Φ(2) = 0.9772498680518208, Φ(3) = 0.9986501019683699.
        double[] expected = [-3 * (1 - 0.9986501019683699), -(1 - 0.8413447460685429), 0, 0.5 * 0.6914624612740131, 2 * 0.9772498680518208];
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(expected[i], exact[i], 1e-15);
            // The tanh form differs from the exact one by less than 1e-3 everywhere (Hendrycks & Gimpel).
            Assert.InRange(Math.Abs(approx[i] - exact[i]), 0, 1e-3);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul_batched_with_transposes(bool ta, bool tb)
    {
        int m = 3, k = 4, n = 5;
        int[] aShape = ta ? [2, k, m] : [2, m, k];
        int[] bShape = tb ? [2, n, k] : [2, k, n];
        Check((t, v) => t.MatMul(v[0], v[1], ta, tb, alpha: 0.7), aShape, bShape);
        // Shared right operand (a weight) and shared left operand.
        Check((t, v) => t.MatMul(v[0], v[1], ta, tb), aShape, bShape[1..]);
        Check((t, v) => t.MatMul(v[0], v[1], ta, tb), aShape[1..], [3, .. bShape]);
    }

    [Fact]
    public void MatMul_values_are_a_matrix_product()
    {
        var tape = new Tape<double>();
        var a = tape.Input([1, 2, 3, 4, 5, 6], 2, 3);
        var b = tape.Input([7, 8, 9, 10, 11, 12], 3, 2);
        Assert.Equal([58, 64, 139, 154], tape.MatMul(a, b).Value.ToArray());
        Assert.Equal([1 * 1 + 4 * 4, 1 * 2 + 4 * 5, 1 * 3 + 4 * 6, 2 * 1 + 5 * 4, 2 * 2 + 5 * 5, 2 * 3 + 5 * 6, 3 * 1 + 6 * 4, 3 * 2 + 6 * 5, 3 * 3 + 6 * 6],
            tape.MatMul(a, a, transposeA: true).Value.ToArray());
    }

    [Fact]
    public void Linear_with_and_without_chains()
    {
        Check((t, v) => t.Linear(v[0], v[1], v[2]), [2, 3, 4], [5, 4], [5]);        // plain, 3-D input
        Check((t, v) => t.Linear(v[0], v[1]), [6, 4], [5, 4]);                      // no bias
        Check((t, v) => t.Linear(v[0], v[1], v[2]), [3, 2, 4], [3, 5, 4], [3, 5]);  // 3 chains, own weights
        Check((t, v) => t.Linear(v[0], v[1], v[2]), [3, 2, 2, 4], [3, 5, 4], [3, 5]);
    }

    [Fact]
    public void Shape_ops()
    {
        Check((t, v) => t.Multiply(t.Reshape(v[0], 3, -1), t.Reshape(v[1], 3, 4)), [2, 6], [12]);
        Check((t, v) => t.Permute(v[0], 2, 0, 3, 1), [2, 3, 4, 5]);
        Check((t, v) => t.Transpose(v[0]), [3, 4, 5]);
        Check((t, v) => t.Narrow(v[0], 1, 1, 2), [3, 4, 2]);  // copy
        Check((t, v) => t.Narrow(v[0], 0, 1, 2), [3, 4, 2]);  // view
        Check((t, v) => t.Add(t.Narrow(v[0], 0, 0, 1), t.Narrow(v[0], 0, 2, 1)), [3, 4]); // two views of one source
    }

    [Fact]
    public void Permute_values()
    {
        var tape = new Tape<double>();
        var x = tape.Input([0, 1, 2, 3, 4, 5], 1, 2, 3);
        var y = tape.Permute(x, 2, 0, 1);
        Assert.Equal([3, 1, 2], y.Shape.ToArray());
        Assert.Equal([0, 3, 1, 4, 2, 5], y.Value.ToArray());
    }

    [Fact]
    public void Reductions()
    {
        Check((t, v) => t.Sum(v[0]), [3, 4]);
        Check((t, v) => t.Mean(v[0]), [3, 4]);
        Check((t, v) => t.Sum(v[0], 1), [2, 3, 4]);
        Check((t, v) => t.Mean(v[0], -1, keepDim: true), [2, 3, 4]);
        Check((t, v) => t.Sum(v[0], 0), [2, 3, 4]);
        var tape = new Tape<double>();
        var s = tape.Sum(tape.Input([1, 2, 3, 4, 5, 6], 2, 3), 0);
        Assert.Equal([5, 7, 9], s.Value.ToArray());
    }

    [Fact]
    public void Softmax_and_log_softmax()
    {
        Check((t, v) => t.Softmax(v[0]), [3, 5]);
        Check((t, v) => t.LogSoftmax(v[0]), [2, 2, 5]);
        // Stability: logits around 1000 would overflow exp without the max shift.
        GradientChecker.Check((t, v) => t.LogSoftmax(v[0]), [Values(10, 3, offset: 1000)], [[2, 5]]);
        GradientChecker.Check((t, v) => t.Softmax(v[0]), [Values(10, 3, offset: -1000)], [[2, 5]]);
        var tape = new Tape<double>();
        var y = tape.Softmax(tape.Input([1000, 1000 + Math.Log(3)], 2)).Value;
        // 1000 + ln 3 is only representable to ~1e-13, which bounds the agreement.
        Assert.Equal(0.25, y[0], 1e-12);
        Assert.Equal(0.75, y[1], 1e-12);
    }

    [Fact]
    public void Causal_mask_then_softmax()
    {
        Check((t, v) => t.Softmax(t.CausalMask(v[0])), [2, 4, 4]);
        var tape = new Tape<double>();
        var w = tape.Softmax(tape.CausalMask(tape.Input([1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 3))).Value;
        Assert.Equal(1.0, w[0]);
        Assert.Equal(0.0, w[1]);
        Assert.Equal(0.0, w[2]);
        Assert.Equal(0.0, w[5]);
        Assert.Equal(1 / (1 + Math.E), w[3], 1e-15);
    }

    [Fact]
    public void Causal_attention_fused()
    {
        // Packed q/k/v [chains, batch, T, 3·D] with D = 6 split into 2 heads of 3, and a single group with 3 heads.
        Check((t, v) => t.CausalAttention(v[0], 2), [2, 1, 4, 18]);
        Check((t, v) => t.CausalAttention(v[0], 3), [5, 9]);
    }

    [Fact]
    public void Causal_attention_fused_equals_the_composition_of_its_parts()
    {
        // The unfused graph: split heads with Permute, scaled Q·Kᵀ, CausalMask, Softmax, ·V, merge heads.
        const int b = 3, t = 5, h = 2, dh = 4, d = h * dh;
        var x = Values(b * t * 3 * d, 4);
        var cotangent = Values(b * t * d, 5);
        var fusedTape = new Tape<double>();
        var fusedInput = fusedTape.Variable(x, b, t, 3 * d);
        var fused = fusedTape.CausalAttention(fusedInput, h);
        var composedTape = new Tape<double>();
        var composedInput = composedTape.Variable((double[])x.Clone(), b, t, 3 * d);
        var composed = Composed(composedTape, composedInput);
        Assert.Equal(composed.Shape.ToArray(), fused.Shape.ToArray());
        fusedTape.Backward(fused, cotangent);
        composedTape.Backward(composed, cotangent);
        // Same products summed in a different order: agreement to rounding (values and gradients are O(1)).
        for (int i = 0; i < fused.Length; i++)
        {
            Assert.Equal(composed.Value[i], fused.Value[i], 1e-13);
        }
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(composedInput.Grad[i], fusedInput.Grad[i], 1e-13);
        }

        static Node<double> Composed(Tape<double> tape, Node<double> qkv)
        {
            var split = tape.Permute(tape.Reshape(qkv, b, t, 3, h, dh), 2, 0, 3, 1, 4);
            var q = tape.Reshape(tape.Narrow(split, 0, 0, 1), b * h, t, dh);
            var k = tape.Reshape(tape.Narrow(split, 0, 1, 1), b * h, t, dh);
            var v = tape.Reshape(tape.Narrow(split, 0, 2, 1), b * h, t, dh);
            var weights = tape.Softmax(tape.CausalMask(tape.MatMul(q, k, transposeB: true, alpha: 1.0 / Math.Sqrt(dh))));
            var heads = tape.MatMul(weights, v);
            return tape.Reshape(tape.Permute(tape.Reshape(heads, b, h, t, dh), 0, 2, 1, 3), b, t, d);
        }
    }

    [Fact]
    public void Layer_norm()
    {
        Check((t, v) => t.LayerNorm(v[0], v[1], v[2]), [2, 3, 6], [6], [6]);
        Check((t, v) => t.LayerNorm(v[0], v[1], v[2]), [3, 2, 6], [3, 6], [3, 6]); // per-chain affine
        Check((t, v) => t.LayerNorm(v[0], null, null), [4, 6]);
        var tape = new Tape<double>();
        var y = tape.LayerNorm(tape.Input([1, 2, 3, 4], 4), null, null).Value;
        // mean 2.5, biased variance 1.25
        Assert.Equal(-1.5 / Math.Sqrt(1.25 + 1e-5), y[0], 1e-14);
    }

    [Fact]
    public void Embedding_gathers_and_scatters()
    {
        int[] idx = [2, 0, 2, 3, 1, 2];
        Check((t, v) => t.Embedding(v[0], idx, 2, 3), [4, 5]);
        Check((t, v) => t.Embedding(v[0], idx, 2, 3), [2, 4, 5]); // two chains, own tables
        var tape = new Tape<double>();
        var table = tape.Input([0, 1, 10, 11, 20, 21], 3, 2);
        Assert.Equal([20, 21, 0, 1], tape.Embedding(table, [2, 0], 2).Value.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => tape.Embedding(table, [3], 1));
    }

    [Fact]
    public void Cross_entropy_and_mse_per_chain()
    {
        int[] targets = [1, 0, 4, 2, 2, 3];
        Check((t, v) => t.CrossEntropy(v[0], targets), [6, 5]);
        Check((t, v) => t.CrossEntropy(v[0], targets, chains: 2), [2, 3, 5]);
        Check((t, v) => t.MseLoss(v[0], v[1]), [3, 4], [3, 4]);
        Check((t, v) => t.MseLoss(v[0], v[1], chains: 3), [3, 2, 2], [3, 2, 2]);
    }

    [Fact]
    public void Cross_entropy_matches_closed_form()
    {
        var tape = new Tape<double>();
        // Row 1: logits (0, ln 3) target 1 → −ln(3/4). Row 2: (2, 2) target 0 → ln 2. Mean like nn.CrossEntropyLoss.
        var loss = tape.CrossEntropy(tape.Input([0, Math.Log(3), 2, 2], 2, 2), [1, 0]);
        Assert.Equal((-Math.Log(0.75) + Math.Log(2)) / 2, loss.Value[0], 1e-15);
        var mse = tape.MseLoss(tape.Input([1, 2, 3, 4], 2, 2), tape.Input([0, 0, 0, 0], 2, 2), chains: 2);
        Assert.Equal([2.5, 12.5], mse.Value.ToArray());
    }
}
