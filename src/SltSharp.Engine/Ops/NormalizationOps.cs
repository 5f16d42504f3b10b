using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Ops;

/// <summary>Layer normalisation over the last axis, with optional per-chain affine parameters.</summary>
public static class NormalizationOps
{
    /// <summary>PyTorch's default epsilon for <c>nn.LayerNorm</c>.</summary>
    public const double DefaultLayerNormEpsilon = 1e-5;

    /// <summary>
    /// y = (x − mean)/√(var + eps) · weight + bias over the last axis (biased variance, like <c>nn.LayerNorm</c>).
    /// weight and bias are [D], or [C, D] with x = [C, ..., D] so that each chain has its own; pass null for
    /// <c>elementwise_affine=False</c>.
    /// </summary>
    public static Node<T> LayerNorm<T>(this Tape<T> tape, Node<T> x, Node<T>? weight, Node<T>? bias, double epsilon = DefaultLayerNormEpsilon)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        int d = x.Dim(-1);
        int rows = x.Length / d;
        int groups = CheckAffine(weight, x, d, nameof(weight));
        int biasGroups = CheckAffine(bias, x, d, nameof(bias));
        if (weight is not null && bias is not null && groups != biasGroups)
        {
            throw new ArgumentException($"LayerNorm weight {TensorShape.Format(weight.Shape)} and bias {TensorShape.Format(bias.Shape)} disagree on the number of chains.", nameof(bias));
        }
        groups = Math.Max(groups, biasGroups);
        var node = tape.Record(LayerNormOp<T>.Instance, x.Shape, x, weight, bias);
        node.I0 = groups;
        node.I1 = rows;
        node.I2 = d;
        node.D0 = epsilon;
        // Aux: mean and 1/σ per row, then two rows of scratch for the backward pass.
        var aux = node.AuxSpan((2 * rows) + (2 * d));
        ReadOnlySpan<T> xv = x.ValueSpan;
        var y = node.Value;
        T eps = T.CreateTruncating(epsilon);
        T invD = T.One / T.CreateTruncating(d);
        int rowsPerGroup = rows / groups;
        for (int r = 0; r < rows; r++)
        {
            var xr = xv.Slice(r * d, d);
            var yr = y.Slice(r * d, d);
            T mean = TensorPrimitives.Sum(xr) * invD;
            TensorPrimitives.Subtract(xr, mean, yr);
            T variance = TensorPrimitives.Dot<T>(yr, yr) * invD;
            T rstd = T.One / T.Sqrt(variance + eps);
            TensorPrimitives.Multiply(yr, rstd, yr);
            aux[r] = mean;
            aux[rows + r] = rstd;
            int g = r / rowsPerGroup;
            if (weight is not null)
            {
                TensorPrimitives.Multiply(yr, weight.ValueSpan.Slice(g * d, d), yr);
            }
            if (bias is not null)
            {
                TensorPrimitives.Add(yr, bias.ValueSpan.Slice(g * d, d), yr);
            }
        }
        return node;
    }

    private static int CheckAffine<T>(Node<T>? p, Node<T> x, int d, string name)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (p is null)
        {
            return 1;
        }
        if ((p.Rank == 1 && p.Dim(0) == d) || (p.Rank == 2 && p.Dim(0) == 1 && p.Dim(1) == d))
        {
            return 1;
        }
        if (p.Rank == 2 && p.Dim(1) == d && x.Rank >= 2 && x.Dim(0) == p.Dim(0))
        {
            return p.Dim(0);
        }
        throw new ArgumentException($"LayerNorm {name} {TensorShape.Format(p.Shape)} must be [{d}] or [C, {d}] with input [C, ..., {d}]; input is {TensorShape.Format(x.Shape)}.", name);
    }

    private sealed class LayerNormOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly LayerNormOp<T> Instance = new();

        public override string Name => "LayerNorm";

        public override void Backward(Node<T> node)
        {
            var x = node.A!;
            var weight = node.B;
            var bias = node.C;
            int groups = node.I0, rows = node.I1, d = node.I2, rowsPerGroup = rows / groups;
            var aux = node.Aux.AsSpan(0, (2 * rows) + (2 * d));
            var xhat = aux.Slice(2 * rows, d);
            var t = aux.Slice((2 * rows) + d, d);
            ReadOnlySpan<T> xv = x.ValueSpan, g = node.GradSpan;
            T invD = T.One / T.CreateTruncating(d);
            for (int r = 0; r < rows; r++)
            {
                int grp = r / rowsPerGroup;
                var gr = g.Slice(r * d, d);
                T mean = aux[r], rstd = aux[rows + r];
                TensorPrimitives.Subtract(xv.Slice(r * d, d), mean, xhat);
                TensorPrimitives.Multiply(xhat, rstd, xhat);
                if (weight is not null && weight.RequiresGrad)
                {
                    var gw = weight.GradSpan.Slice(grp * d, d);
                    TensorPrimitives.MultiplyAdd(gr, xhat, gw, gw);
                }
                if (bias is not null && bias.RequiresGrad)
                {
                    var gb = bias.GradSpan.Slice(grp * d, d);
                    TensorPrimitives.Add(gb, gr, gb);
                }
                if (!x.RequiresGrad)
                {
                    continue;
                }
                // ĝ = g ⊙ w; dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)).
                if (weight is not null)
                {
                    TensorPrimitives.Multiply(gr, weight.ValueSpan.Slice(grp * d, d), t);
                }
                else
                {
                    gr.CopyTo(t);
                }
                T meanG = TensorPrimitives.Sum<T>(t) * invD;
                T meanGx = TensorPrimitives.Dot<T>(t, xhat) * invD;
                TensorPrimitives.Subtract(t, meanG, t);
                TensorPrimitives.MultiplyAdd(xhat, -meanGx, t, t);
                var gx = x.GradSpan.Slice(r * d, d);
                TensorPrimitives.MultiplyAdd(t, rstd, gx, gx);
            }
        }
    }
}
