using System.Numerics;
using System.Numerics.Tensors;

namespace SltSharp.Engine.Tensors;

/// <summary>The four broadcasting arithmetic operations.</summary>
internal enum BinaryKind
{
    Add,
    Subtract,
    Multiply,
    Divide,
}

/// <summary>Broadcasting kernels over flat row-major buffers (numpy rules), built on <see cref="StridedLoop"/>.</summary>
internal static class Broadcasting<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>o = x ∘ y where x and y broadcast to <paramref name="outShape"/> and o is contiguous with that shape.</summary>
    public static void Binary(BinaryKind kind, ReadOnlySpan<int> outShape,
        T[] x, int xOffset, ReadOnlySpan<int> xShape, T[] y, int yOffset, ReadOnlySpan<int> yShape, T[] o, int oOffset)
    {
        int rank = outShape.Length;
        Span<int> sx = stackalloc int[TensorShape.MaxRank];
        Span<int> sy = stackalloc int[TensorShape.MaxRank];
        Span<int> so = stackalloc int[TensorShape.MaxRank];
        TensorShape.BroadcastStrides(xShape, rank, sx);
        TensorShape.BroadcastStrides(yShape, rank, sy);
        TensorShape.BroadcastStrides(outShape, rank, so);
        var kernel = new BinaryKernel { Kind = kind, X = x, XOffset = xOffset, Y = y, YOffset = yOffset, O = o, OOffset = oOffset };
        StridedLoop.Run(ref kernel, outShape, sx[..rank], sy[..rank], so[..rank]);
    }

    /// <summary>
    /// target += sign · (src summed over the axes along which <paramref name="targetShape"/> was broadcast to
    /// <paramref name="srcShape"/>): the adjoint of broadcasting.
    /// </summary>
    public static void AccumulateReduced(ReadOnlySpan<int> srcShape, T[] src, int srcOffset,
        T[] target, int targetOffset, ReadOnlySpan<int> targetShape, T sign)
    {
        int rank = srcShape.Length;
        Span<int> ss = stackalloc int[TensorShape.MaxRank];
        Span<int> st = stackalloc int[TensorShape.MaxRank];
        TensorShape.BroadcastStrides(srcShape, rank, ss);
        TensorShape.BroadcastStrides(targetShape, rank, st);
        var kernel = new AccumulateKernel { Src = src, SrcOffset = srcOffset, Target = target, TargetOffset = targetOffset, Sign = sign };
        StridedLoop.Run(ref kernel, srcShape, ss[..rank], ss[..rank], st[..rank]);
    }

    private struct BinaryKernel : IRunKernel
    {
        public BinaryKind Kind;
        public T[] X, Y, O;
        public int XOffset, YOffset, OOffset;

        public readonly void Run(int offset0, int stride0, int offset1, int stride1, int offset2, int stride2, int length)
        {
            var o = O.AsSpan(OOffset + offset2, length);
            if (stride0 == 1 && stride1 == 1)
            {
                var a = X.AsSpan(XOffset + offset0, length);
                var b = Y.AsSpan(YOffset + offset1, length);
                switch (Kind)
                {
                    case BinaryKind.Add: TensorPrimitives.Add(a, b, o); break;
                    case BinaryKind.Subtract: TensorPrimitives.Subtract(a, b, o); break;
                    case BinaryKind.Multiply: TensorPrimitives.Multiply(a, b, o); break;
                    default: TensorPrimitives.Divide(a, b, o); break;
                }
            }
            else if (stride0 == 1 && stride1 == 0)
            {
                var a = X.AsSpan(XOffset + offset0, length);
                T b = Y[YOffset + offset1];
                switch (Kind)
                {
                    case BinaryKind.Add: TensorPrimitives.Add(a, b, o); break;
                    case BinaryKind.Subtract: TensorPrimitives.Subtract(a, b, o); break;
                    case BinaryKind.Multiply: TensorPrimitives.Multiply(a, b, o); break;
                    default: TensorPrimitives.Divide(a, b, o); break;
                }
            }
            else if (stride0 == 0 && stride1 == 1)
            {
                T a = X[XOffset + offset0];
                var b = Y.AsSpan(YOffset + offset1, length);
                switch (Kind)
                {
                    case BinaryKind.Add: TensorPrimitives.Add(b, a, o); break;
                    case BinaryKind.Subtract: TensorPrimitives.Subtract(a, b, o); break;
                    case BinaryKind.Multiply: TensorPrimitives.Multiply(b, a, o); break;
                    default: TensorPrimitives.Divide(a, b, o); break;
                }
            }
            else
            {
                // Both operands constant along the run (or exotic strides): plain loop.
                for (int i = 0; i < length; i++)
                {
                    T a = X[XOffset + offset0 + (i * stride0)];
                    T b = Y[YOffset + offset1 + (i * stride1)];
                    o[i * stride2] = Kind switch
                    {
                        BinaryKind.Add => a + b,
                        BinaryKind.Subtract => a - b,
                        BinaryKind.Multiply => a * b,
                        _ => a / b,
                    };
                }
            }
        }
    }

    private struct AccumulateKernel : IRunKernel
    {
        public T[] Src, Target;
        public int SrcOffset, TargetOffset;
        public T Sign;

        public readonly void Run(int offset0, int stride0, int offset1, int stride1, int offset2, int stride2, int length)
        {
            if (stride0 == 1 && stride2 == 1)
            {
                var s = Src.AsSpan(SrcOffset + offset0, length);
                var t = Target.AsSpan(TargetOffset + offset2, length);
                if (Sign == T.One)
                {
                    TensorPrimitives.Add(t, s, t);
                }
                else
                {
                    TensorPrimitives.MultiplyAdd(s, Sign, t, t);
                }
            }
            else if (stride0 == 1 && stride2 == 0)
            {
                Target[TargetOffset + offset2] += Sign * TensorPrimitives.Sum<T>(Src.AsSpan(SrcOffset + offset0, length));
            }
            else
            {
                for (int i = 0; i < length; i++)
                {
                    Target[TargetOffset + offset2 + (i * stride2)] += Sign * Src[SrcOffset + offset0 + (i * stride0)];
                }
            }
        }
    }
}
