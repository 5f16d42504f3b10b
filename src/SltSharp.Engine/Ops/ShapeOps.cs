using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Ops;

/// <summary>Reshape (a zero-copy view), axis permutation and transpose (copies), and slicing along an axis.</summary>
public static class ShapeOps
{
    /// <summary>
    /// The same values with a new shape (row-major order unchanged; one dimension may be −1 and is inferred).
    /// A zero-copy view: its gradient aliases the source's.
    /// </summary>
    public static Node<T> Reshape<T>(this Tape<T> tape, Node<T> x, params ReadOnlySpan<int> shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        if (shape.Length > TensorShape.MaxRank)
        {
            throw new ArgumentException($"Rank {shape.Length} exceeds the supported maximum of {TensorShape.MaxRank}.", nameof(shape));
        }
        Span<int> resolved = stackalloc int[TensorShape.MaxRank];
        int inferred = -1, known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (inferred >= 0)
                {
                    throw new ArgumentException($"Reshape to {TensorShape.Format(shape)}: at most one dimension may be −1.", nameof(shape));
                }
                inferred = i;
            }
            else if (shape[i] < 0)
            {
                throw new ArgumentException($"Reshape to {TensorShape.Format(shape)}: dimensions must be ≥ 0 or −1.", nameof(shape));
            }
            else
            {
                known *= shape[i];
            }
            resolved[i] = shape[i];
        }
        if (inferred >= 0)
        {
            if (known == 0 || x.Length % known != 0)
            {
                throw new ArgumentException($"Cannot reshape {TensorShape.Format(x.Shape)} ({x.Length} elements) to {TensorShape.Format(shape)}.", nameof(shape));
            }
            resolved[inferred] = x.Length / known;
        }
        else if (known != x.Length)
        {
            throw new ArgumentException($"Cannot reshape {TensorShape.Format(x.Shape)} ({x.Length} elements) to {TensorShape.Format(shape)} ({known} elements).", nameof(shape));
        }
        return tape.RecordView(ViewOp<T>.Instance, resolved[..shape.Length], x, 0);
    }

    /// <summary>
    /// Reorders axes: axis i of the result is axis <c>permutation[i]</c> of <paramref name="x"/> (like
    /// <c>torch.permute</c>). The result is a contiguous copy.
    /// </summary>
    public static Node<T> Permute<T>(this Tape<T> tape, Node<T> x, params ReadOnlySpan<int> permutation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        int rank = x.Rank;
        if (permutation.Length != rank)
        {
            throw new ArgumentException($"Permutation {TensorShape.Format(permutation)} must list each of the {rank} axes of {TensorShape.Format(x.Shape)} once.", nameof(permutation));
        }
        Span<int> shape = stackalloc int[TensorShape.MaxRank];
        int seen = 0;
        for (int i = 0; i < rank; i++)
        {
            int p = TensorShape.NormalizeAxis(permutation[i], rank);
            if ((seen & (1 << p)) != 0)
            {
                throw new ArgumentException($"Permutation {TensorShape.Format(permutation)} repeats axis {p}.", nameof(permutation));
            }
            seen |= 1 << p;
            shape[i] = x.Dim(p);
        }
        var node = tape.Record(PermuteOp<T>.Instance, shape[..rank], x);
        for (int i = 0; i < rank; i++)
        {
            node.IntParams[i] = TensorShape.NormalizeAxis(permutation[i], rank);
        }
        PermuteOp<T>.Copy(node, forward: true);
        return node;
    }

    /// <summary>Swaps two axes (a contiguous copy, like <c>x.transpose(a, b).contiguous()</c>).</summary>
    public static Node<T> Transpose<T>(this Tape<T> tape, Node<T> x, int axis0 = -2, int axis1 = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        Span<int> perm = stackalloc int[TensorShape.MaxRank];
        for (int i = 0; i < x.Rank; i++)
        {
            perm[i] = i;
        }
        int a = TensorShape.NormalizeAxis(axis0, x.Rank), b = TensorShape.NormalizeAxis(axis1, x.Rank);
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(tape, x, perm[..x.Rank]);
    }

    /// <summary>
    /// Elements <c>start .. start+length</c> along <paramref name="axis"/> (like <c>torch.narrow</c>). A zero-copy view
    /// when every axis before <paramref name="axis"/> has size 1 (e.g. splitting a stacked [3, ...] tensor); a copy
    /// otherwise.
    /// </summary>
    public static Node<T> Narrow<T>(this Tape<T> tape, Node<T> x, int axis, int start, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        int ax = TensorShape.NormalizeAxis(axis, x.Rank);
        int size = x.Dim(ax);
        if (start < 0 || length < 0 || start + length > size)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow [{start}, {start + length}) is outside axis {ax} of size {size} in {TensorShape.Format(x.Shape)}.");
        }
        Span<int> shape = stackalloc int[TensorShape.MaxRank];
        x.Shape.CopyTo(shape);
        shape[ax] = length;
        int outer = TensorShape.Size(x.Shape[..ax]);
        int inner = TensorShape.Size(x.Shape[(ax + 1)..]);
        if (outer == 1)
        {
            return tape.RecordView(ViewOp<T>.Instance, shape[..x.Rank], x, start * inner);
        }
        var node = tape.Record(NarrowOp<T>.Instance, shape[..x.Rank], x);
        node.I0 = outer;
        node.I1 = size * inner;   // source stride per outer index
        node.I2 = start * inner;  // offset within it
        node.I3 = length * inner; // run length
        var src = x.ValueSpan;
        var dst = node.Value;
        for (int o = 0; o < outer; o++)
        {
            src.Slice((o * node.I1) + node.I2, node.I3).CopyTo(dst.Slice(o * node.I3, node.I3));
        }
        return node;
    }

    /// <summary>Views share storage and gradients with their source, so there is nothing to propagate.</summary>
    private sealed class ViewOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly ViewOp<T> Instance = new();

        public override string Name => "View";

        public override void Backward(Node<T> node)
        {
        }
    }

    private sealed class NarrowOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly NarrowOp<T> Instance = new();

        public override string Name => "Narrow";

        public override void Backward(Node<T> node)
        {
            var gx = node.A!.GradSpan;
            ReadOnlySpan<T> g = node.GradSpan;
            for (int o = 0; o < node.I0; o++)
            {
                var target = gx.Slice((o * node.I1) + node.I2, node.I3);
                TensorPrimitives.Add(target, g.Slice(o * node.I3, node.I3), target);
            }
        }
    }

    private sealed class PermuteOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly PermuteOp<T> Instance = new();

        public override string Name => "Permute";

        public override void Backward(Node<T> node) => Copy(node, forward: false);

        /// <summary>Forward: out ← x permuted. Backward: x.grad += out.grad un-permuted.</summary>
        public static void Copy(Node<T> node, bool forward)
        {
            var x = node.A!;
            int rank = node.Rank;
            Span<int> xStrides = stackalloc int[TensorShape.MaxRank];
            TensorShape.BroadcastStrides(x.Shape, rank, xStrides);
            // Size-1 axes have stride 0 from BroadcastStrides; harmless since their index is always 0.
            Span<int> srcStrides = stackalloc int[TensorShape.MaxRank];
            Span<int> outStrides = stackalloc int[TensorShape.MaxRank];
            for (int i = 0; i < rank; i++)
            {
                srcStrides[i] = xStrides[node.IntParams[i]];
            }
            TensorShape.BroadcastStrides(node.Shape, rank, outStrides);
            var kernel = new CopyKernel
            {
                Forward = forward,
                X = x.ValueArray,
                XOffset = x.ValueOffset,
                Out = node.ValueArray,
                OutOffset = node.ValueOffset,
            };
            if (!forward)
            {
                kernel.X = x.GradArray!;
                kernel.XOffset = x.GradOffset;
                kernel.Out = node.GradArray!;
                kernel.OutOffset = node.GradOffset;
            }
            StridedLoop.Run(ref kernel, node.Shape, srcStrides[..rank], outStrides[..rank], outStrides[..rank]);
        }

        private struct CopyKernel : IRunKernel
        {
            public bool Forward;
            public T[] X, Out;
            public int XOffset, OutOffset;

            public readonly void Run(int offset0, int stride0, int offset1, int stride1, int offset2, int stride2, int length)
            {
                int xs = XOffset + offset0, os = OutOffset + offset1;
                if (Forward)
                {
                    if (stride0 == 1 && stride1 == 1)
                    {
                        X.AsSpan(xs, length).CopyTo(Out.AsSpan(os, length));
                        return;
                    }
                    for (int i = 0; i < length; i++)
                    {
                        Out[os + (i * stride1)] = X[xs + (i * stride0)];
                    }
                }
                else
                {
                    if (stride0 == 1 && stride1 == 1)
                    {
                        var t = X.AsSpan(xs, length);
                        var src = Out.AsSpan(os, length);
                        if (length > 4 * Vector<T>.Count)
                        {
                            TensorPrimitives.Add(t, src, t);
                            return;
                        }
                        // Attention's head split leaves runs of head-dimension length (e.g. 16), thousands per step:
                        // for those TensorPrimitives' per-call setup costs more than the adds.
                        int i = 0;
                        if (Vector.IsHardwareAccelerated)
                        {
                            for (; i <= length - Vector<T>.Count; i += Vector<T>.Count)
                            {
                                (new Vector<T>(t[i..]) + new Vector<T>(src[i..])).CopyTo(t[i..]);
                            }
                        }
                        for (; i < length; i++)
                        {
                            t[i] += src[i];
                        }
                        return;
                    }
                    for (int i = 0; i < length; i++)
                    {
                        X[xs + (i * stride0)] += Out[os + (i * stride1)];
                    }
                }
            }
        }
    }
}
