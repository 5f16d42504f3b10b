using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Ops;

/// <summary>Softmax and log-softmax over the last axis (max-shifted, so stable for large logits), and causal masking.</summary>
public static class SoftmaxOps
{
    /// <summary>Rows up to this length take the plain-loop path (see <see cref="Softmax{T}"/>).</summary>
    private const int ShortRow = 32;

    /// <summary>softmax over the last axis.</summary>
    public static Node<T> Softmax<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        var node = tape.Record(SoftmaxOp<T>.Instance, x.Shape, x);
        int n = x.Dim(-1), rows = x.Length / Math.Max(n, 1);
        ReadOnlySpan<T> xv = x.ValueSpan;
        var y = node.Value;
        if (n > ShortRow)
        {
            for (int r = 0; r < rows; r++)
            {
                SoftmaxRow(xv.Slice(r * n, n), y.Slice(r * n, n));
            }
            return node;
        }
        // Short rows (attention over a short context): per-row library calls cost more than the arithmetic, so shift
        // each row by its max in plain loops, exponentiate the whole tensor in one call, then normalise.
        for (int r = 0; r < rows; r++)
        {
            var xr = xv.Slice(r * n, n);
            var yr = y.Slice(r * n, n);
            T max = xr[0];
            for (int i = 1; i < n; i++)
            {
                max = T.Max(max, xr[i]);
            }
            for (int i = 0; i < n; i++)
            {
                yr[i] = xr[i] - max;
            }
        }
        TensorPrimitives.Exp(y, y);
        for (int r = 0; r < rows; r++)
        {
            var yr = y.Slice(r * n, n);
            T sum = T.Zero;
            for (int i = 0; i < n; i++)
            {
                sum += yr[i];
            }
            for (int i = 0; i < n; i++)
            {
                yr[i] /= sum;
            }
        }
        return node;
    }

    /// <summary>log-softmax over the last axis: x − max − log Σ exp(x − max).</summary>
    public static Node<T> LogSoftmax<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        var node = tape.Record(LogSoftmaxOp<T>.Instance, x.Shape, x);
        int n = x.Dim(-1), rows = x.Length / Math.Max(n, 1);
        ReadOnlySpan<T> xv = x.ValueSpan;
        var y = node.Value;
        for (int r = 0; r < rows; r++)
        {
            var xr = xv.Slice(r * n, n);
            var yr = y.Slice(r * n, n);
            T shift = LogSumExp(xr, yr);
            TensorPrimitives.Subtract(xr, shift, yr);
        }
        return node;
    }

    /// <summary>
    /// Causal mask for attention scores [..., T, T]: entries above the diagonal (key j later than query i) become −∞,
    /// so that a following softmax gives them weight exactly 0 (PyTorch's <c>masked_fill(mask, -inf)</c>).
    /// </summary>
    public static Node<T> CausalMask<T>(this Tape<T> tape, Node<T> scores)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Rank < 2 || scores.Dim(-1) != scores.Dim(-2))
        {
            throw new ArgumentException($"Causal masking needs square [..., T, T] scores, got {TensorShape.Format(scores.Shape)}.", nameof(scores));
        }
        var node = tape.Record(CausalMaskOp<T>.Instance, scores.Shape, scores);
        int t = scores.Dim(-1), blocks = scores.Length / (t * t);
        ReadOnlySpan<T> x = scores.ValueSpan;
        var y = node.Value;
        for (int b = 0; b < blocks; b++)
        {
            for (int i = 0; i < t; i++)
            {
                int row = ((b * t) + i) * t;
                x.Slice(row, i + 1).CopyTo(y.Slice(row, i + 1));
                y.Slice(row + i + 1, t - i - 1).Fill(T.NegativeInfinity);
            }
        }
        return node;
    }

    /// <summary>Writes exp(x − max) into <paramref name="scratch"/> and returns max + log Σ exp(x − max).</summary>
    internal static T LogSumExp<T>(ReadOnlySpan<T> x, Span<T> scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, scratch);
        TensorPrimitives.Exp(scratch, scratch);
        return max + T.Log(TensorPrimitives.Sum<T>(scratch));
    }

    internal static void SoftmaxRow<T>(ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        T sum = TensorPrimitives.Sum<T>(y);
        TensorPrimitives.Divide(y, sum, y);
    }

    private sealed class SoftmaxOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly SoftmaxOp<T> Instance = new();

        public override string Name => "Softmax";

        public override void Backward(Node<T> node)
        {
            // dx = y ⊙ (g − ⟨g, y⟩) row by row.
            int n = node.Dim(-1), rows = node.Length / Math.Max(n, 1);
            ReadOnlySpan<T> y = node.ValueSpan, g = node.GradSpan;
            var gx = node.A!.GradSpan;
            var t = node.AuxSpan(n);
            if (n <= ShortRow)
            {
                for (int r = 0; r < rows; r++)
                {
                    var yr = y.Slice(r * n, n);
                    var gr = g.Slice(r * n, n);
                    var gxr = gx.Slice(r * n, n);
                    T dot = T.Zero;
                    for (int i = 0; i < n; i++)
                    {
                        dot += gr[i] * yr[i];
                    }
                    for (int i = 0; i < n; i++)
                    {
                        gxr[i] += yr[i] * (gr[i] - dot);
                    }
                }
                return;
            }
            for (int r = 0; r < rows; r++)
            {
                var yr = y.Slice(r * n, n);
                var gr = g.Slice(r * n, n);
                var gxr = gx.Slice(r * n, n);
                T dot = TensorPrimitives.Dot(gr, yr);
                TensorPrimitives.Subtract(gr, dot, t);
                TensorPrimitives.MultiplyAdd(yr, t, gxr, gxr);
            }
        }
    }

    private sealed class LogSoftmaxOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly LogSoftmaxOp<T> Instance = new();

        public override string Name => "LogSoftmax";

        public override void Backward(Node<T> node)
        {
            // dx = g − softmax ⊙ Σg, with softmax = exp(y).
            int n = node.Dim(-1), rows = node.Length / Math.Max(n, 1);
            ReadOnlySpan<T> y = node.ValueSpan, g = node.GradSpan;
            var gx = node.A!.GradSpan;
            var t = node.AuxSpan(n);
            for (int r = 0; r < rows; r++)
            {
                var gr = g.Slice(r * n, n);
                var gxr = gx.Slice(r * n, n);
                TensorPrimitives.Exp(y.Slice(r * n, n), t);
                T sum = TensorPrimitives.Sum(gr);
                TensorPrimitives.Add(gxr, gr, gxr);
                TensorPrimitives.MultiplyAdd(t, -sum, gxr, gxr);
            }
        }
    }

    private sealed class CausalMaskOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly CausalMaskOp<T> Instance = new();

        public override string Name => "CausalMask";

        public override void Backward(Node<T> node)
        {
            int t = node.Dim(-1), blocks = node.Length / (t * t);
            ReadOnlySpan<T> g = node.GradSpan;
            var gx = node.A!.GradSpan;
            for (int b = 0; b < blocks; b++)
            {
                for (int i = 0; i < t; i++)
                {
                    int row = ((b * t) + i) * t;
                    var target = gx.Slice(row, i + 1);
                    TensorPrimitives.Add(target, g.Slice(row, i + 1), target);
                }
            }
        }
    }
}
