using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Ops;

/// <summary>Sums and means over one axis or over all elements.</summary>
public static class ReductionOps
{
    /// <summary>The sum of all elements, as a rank-0 tensor.</summary>
    public static Node<T> Sum<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => ReduceAll(tape, x, mean: false);

    /// <summary>The mean of all elements, as a rank-0 tensor.</summary>
    public static Node<T> Mean<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => ReduceAll(tape, x, mean: true);

    /// <summary>The sum over <paramref name="axis"/>; the axis is kept with size 1 when <paramref name="keepDim"/>.</summary>
    public static Node<T> Sum<T>(this Tape<T> tape, Node<T> x, int axis, bool keepDim = false)
        where T : unmanaged, IFloatingPointIeee754<T> => ReduceAxis(tape, x, axis, keepDim, mean: false);

    /// <summary>The mean over <paramref name="axis"/>; the axis is kept with size 1 when <paramref name="keepDim"/>.</summary>
    public static Node<T> Mean<T>(this Tape<T> tape, Node<T> x, int axis, bool keepDim = false)
        where T : unmanaged, IFloatingPointIeee754<T> => ReduceAxis(tape, x, axis, keepDim, mean: true);

    private static Node<T> ReduceAll<T>(Tape<T> tape, Node<T> x, bool mean)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        var node = tape.Record(ReduceOp<T>.Instance, [], x);
        node.I0 = 1;        // outer
        node.I1 = x.Length; // reduced
        node.I2 = 1;        // inner
        node.F0 = mean;
        T s = TensorPrimitives.Sum<T>(x.ValueSpan);
        node.Value[0] = mean ? s / T.CreateTruncating(x.Length) : s;
        return node;
    }

    private static Node<T> ReduceAxis<T>(Tape<T> tape, Node<T> x, int axis, bool keepDim, bool mean)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        int ax = TensorShape.NormalizeAxis(axis, x.Rank);
        Span<int> shape = stackalloc int[TensorShape.MaxRank];
        int rank = 0;
        for (int i = 0; i < x.Rank; i++)
        {
            if (i != ax)
            {
                shape[rank++] = x.Dim(i);
            }
            else if (keepDim)
            {
                shape[rank++] = 1;
            }
        }
        var node = tape.Record(ReduceOp<T>.Instance, shape[..rank], x);
        int outer = TensorShape.Size(x.Shape[..ax]), n = x.Dim(ax), inner = TensorShape.Size(x.Shape[(ax + 1)..]);
        node.I0 = outer;
        node.I1 = n;
        node.I2 = inner;
        node.F0 = mean;
        ReadOnlySpan<T> xv = x.ValueSpan;
        var y = node.Value;
        T scale = mean ? T.One / T.CreateTruncating(n) : T.One;
        for (int o = 0; o < outer; o++)
        {
            var yo = y.Slice(o * inner, inner);
            if (inner == 1)
            {
                yo[0] = TensorPrimitives.Sum(xv.Slice(o * n, n)) * scale;
                continue;
            }
            yo.Clear();
            for (int j = 0; j < n; j++)
            {
                TensorPrimitives.Add(yo, xv.Slice(((o * n) + j) * inner, inner), yo);
            }
            if (mean)
            {
                TensorPrimitives.Multiply(yo, scale, yo);
            }
        }
        return node;
    }

    private sealed class ReduceOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly ReduceOp<T> Instance = new();

        public override string Name => "Reduce";

        public override void Backward(Node<T> node)
        {
            int outer = node.I0, n = node.I1, inner = node.I2;
            T scale = node.F0 ? T.One / T.CreateTruncating(n) : T.One;
            ReadOnlySpan<T> g = node.GradSpan;
            var gx = node.A!.GradSpan;
            for (int o = 0; o < outer; o++)
            {
                var go = g.Slice(o * inner, inner);
                for (int j = 0; j < n; j++)
                {
                    var target = gx.Slice(((o * n) + j) * inner, inner);
                    if (inner == 1)
                    {
                        target[0] += go[0] * scale;
                    }
                    else
                    {
                        TensorPrimitives.MultiplyAdd(go, scale, target, target);
                    }
                }
            }
        }
    }
}
