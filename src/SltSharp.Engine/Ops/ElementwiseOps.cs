using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Ops;

/// <summary>Broadcasting arithmetic (numpy rules) and scalar affine maps.</summary>
public static class ElementwiseOps
{
    /// <summary>a + b with broadcasting.</summary>
    public static Node<T> Add<T>(this Tape<T> tape, Node<T> a, Node<T> b)
        where T : unmanaged, IFloatingPointIeee754<T> => Binary(tape, BinaryOp<T>.AddOp, a, b);

    /// <summary>a − b with broadcasting.</summary>
    public static Node<T> Subtract<T>(this Tape<T> tape, Node<T> a, Node<T> b)
        where T : unmanaged, IFloatingPointIeee754<T> => Binary(tape, BinaryOp<T>.SubtractOp, a, b);

    /// <summary>a ⊙ b (elementwise) with broadcasting.</summary>
    public static Node<T> Multiply<T>(this Tape<T> tape, Node<T> a, Node<T> b)
        where T : unmanaged, IFloatingPointIeee754<T> => Binary(tape, BinaryOp<T>.MultiplyOp, a, b);

    /// <summary>a ⊘ b (elementwise) with broadcasting.</summary>
    public static Node<T> Divide<T>(this Tape<T> tape, Node<T> a, Node<T> b)
        where T : unmanaged, IFloatingPointIeee754<T> => Binary(tape, BinaryOp<T>.DivideOp, a, b);

    /// <summary>scale·x + shift for scalars (both default to the identity).</summary>
    public static Node<T> Affine<T>(this Tape<T> tape, Node<T> x, double scale, double shift = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        var node = tape.Record(AffineOp<T>.Instance, x.Shape, x);
        node.D0 = scale;
        node.D1 = shift;
        var o = node.Value;
        if (shift == 0)
        {
            TensorPrimitives.Multiply(x.ValueSpan, T.CreateTruncating(scale), o);
        }
        else
        {
            TensorPrimitives.Multiply(x.ValueSpan, T.CreateTruncating(scale), o);
            TensorPrimitives.Add(o, T.CreateTruncating(shift), o);
        }
        return node;
    }

    /// <summary>s·x for a scalar s.</summary>
    public static Node<T> Scale<T>(this Tape<T> tape, Node<T> x, double s)
        where T : unmanaged, IFloatingPointIeee754<T> => Affine(tape, x, s);

    /// <summary>−x.</summary>
    public static Node<T> Negate<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => Affine(tape, x, -1.0);

    private static Node<T> Binary<T>(Tape<T> tape, BinaryOp<T> op, Node<T> a, Node<T> b)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        Span<int> shape = stackalloc int[TensorShape.MaxRank];
        int rank = TensorShape.Broadcast(a.Shape, b.Shape, shape);
        var node = tape.Record(op, shape[..rank], a, b);
        if (a.Shape.SequenceEqual(b.Shape))
        {
            var o = node.Value;
            switch (op.Kind)
            {
                case BinaryKind.Add: TensorPrimitives.Add(a.ValueSpan, b.ValueSpan, o); break;
                case BinaryKind.Subtract: TensorPrimitives.Subtract(a.ValueSpan, b.ValueSpan, o); break;
                case BinaryKind.Multiply: TensorPrimitives.Multiply(a.ValueSpan, b.ValueSpan, o); break;
                default: TensorPrimitives.Divide(a.ValueSpan, b.ValueSpan, o); break;
            }
        }
        else
        {
            Broadcasting<T>.Binary(op.Kind, node.Shape, a.ValueArray, a.ValueOffset, a.Shape, b.ValueArray, b.ValueOffset, b.Shape, node.ValueArray, node.ValueOffset);
        }
        return node;
    }

    private sealed class BinaryOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly BinaryOp<T> AddOp = new(BinaryKind.Add);
        public static readonly BinaryOp<T> SubtractOp = new(BinaryKind.Subtract);
        public static readonly BinaryOp<T> MultiplyOp = new(BinaryKind.Multiply);
        public static readonly BinaryOp<T> DivideOp = new(BinaryKind.Divide);

        private BinaryOp(BinaryKind kind) => Kind = kind;

        public BinaryKind Kind { get; }

        public override string Name => Kind.ToString();

        public override void Backward(Node<T> node)
        {
            var a = node.A!;
            var b = node.B!;
            var g = node.GradSpan;
            switch (Kind)
            {
                case BinaryKind.Add:
                case BinaryKind.Subtract:
                    if (a.RequiresGrad)
                    {
                        AccumulateInto(node, node.GradArray!, node.GradOffset, a, T.One);
                    }
                    if (b.RequiresGrad)
                    {
                        AccumulateInto(node, node.GradArray!, node.GradOffset, b, Kind == BinaryKind.Add ? T.One : -T.One);
                    }
                    break;
                case BinaryKind.Multiply:
                    if (a.RequiresGrad)
                    {
                        ProductInto(node, g, b, a);
                    }
                    if (b.RequiresGrad)
                    {
                        ProductInto(node, g, a, b);
                    }
                    break;
                default:
                    if (a.RequiresGrad)
                    {
                        // ∂(a/b)/∂a = 1/b
                        _ = node.AuxSpan(node.Length);
                        Broadcasting<T>.Binary(BinaryKind.Divide, node.Shape, node.GradArray!, node.GradOffset, node.Shape, b.ValueArray, b.ValueOffset, b.Shape, node.Aux, 0);
                        AccumulateInto(node, node.Aux, 0, a, T.One);
                    }
                    if (b.RequiresGrad)
                    {
                        // ∂(a/b)/∂b = −(a/b)/b = −out/b
                        var t = node.AuxSpan(node.Length);
                        TensorPrimitives.Multiply(g, node.ValueSpan, t);
                        Broadcasting<T>.Binary(BinaryKind.Divide, node.Shape, node.Aux, 0, node.Shape, b.ValueArray, b.ValueOffset, b.Shape, node.Aux, 0);
                        AccumulateInto(node, node.Aux, 0, b, -T.One);
                    }
                    break;
            }
        }

        /// <summary>input.grad += reduce(g ⊙ other).</summary>
        private static void ProductInto(Node<T> node, ReadOnlySpan<T> g, Node<T> other, Node<T> input)
        {
            if (input.Length == node.Length && other.Length == node.Length)
            {
                var gi = input.GradSpan;
                TensorPrimitives.MultiplyAdd(g, other.ValueSpan, gi, gi);
                return;
            }
            _ = node.AuxSpan(node.Length);
            Broadcasting<T>.Binary(BinaryKind.Multiply, node.Shape, node.GradArray!, node.GradOffset, node.Shape, other.ValueArray, other.ValueOffset, other.Shape, node.Aux, 0);
            AccumulateInto(node, node.Aux, 0, input, T.One);
        }

        /// <summary>input.grad += sign · (src reduced to the input's shape).</summary>
        private static void AccumulateInto(Node<T> node, T[] src, int srcOffset, Node<T> input, T sign)
        {
            if (input.Length == node.Length)
            {
                var gi = input.GradSpan;
                var s = src.AsSpan(srcOffset, node.Length);
                if (sign == T.One)
                {
                    TensorPrimitives.Add(gi, s, gi);
                }
                else
                {
                    TensorPrimitives.MultiplyAdd(s, sign, gi, gi);
                }
                return;
            }
            Broadcasting<T>.AccumulateReduced(node.Shape, src, srcOffset, input.GradArray!, input.GradOffset, input.Shape, sign);
        }
    }

    private sealed class AffineOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly AffineOp<T> Instance = new();

        public override string Name => "Affine";

        public override void Backward(Node<T> node)
        {
            var gx = node.A!.GradSpan;
            TensorPrimitives.MultiplyAdd(node.GradSpan, T.CreateTruncating(node.D0), gx, gx);
        }
    }
}
