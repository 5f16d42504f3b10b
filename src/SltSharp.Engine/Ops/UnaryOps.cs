using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using SltSharp.Engine.Autodiff;

namespace SltSharp.Engine.Ops;

/// <summary>Elementwise functions: exp, log, tanh, sigmoid, ReLU, GELU (exact erf form and tanh approximation).</summary>
public static class UnaryOps
{
    /// <summary>e^x.</summary>
    public static Node<T> Exp<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => Unary(tape, UnaryOp<T>.ExpOp, x);

    /// <summary>Natural logarithm.</summary>
    public static Node<T> Log<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => Unary(tape, UnaryOp<T>.LogOp, x);

    /// <summary>Hyperbolic tangent.</summary>
    public static Node<T> Tanh<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => Unary(tape, UnaryOp<T>.TanhOp, x);

    /// <summary>Logistic sigmoid 1/(1+e^{−x}).</summary>
    public static Node<T> Sigmoid<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => Unary(tape, UnaryOp<T>.SigmoidOp, x);

    /// <summary>max(x, 0); the derivative at 0 is taken as 0, like PyTorch.</summary>
    public static Node<T> Relu<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => Unary(tape, UnaryOp<T>.ReluOp, x);

    /// <summary>x².</summary>
    public static Node<T> Square<T>(this Tape<T> tape, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => Unary(tape, UnaryOp<T>.SquareOp, x);

    /// <summary>
    /// GELU. Default: the exact form x·Φ(x) = ½x(1 + erf(x/√2)) (PyTorch's <c>nn.GELU()</c>); with
    /// <paramref name="tanhApproximation"/>: ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (<c>nn.GELU(approximate="tanh")</c>).
    /// </summary>
    public static Node<T> Gelu<T>(this Tape<T> tape, Node<T> x, bool tanhApproximation = false)
        where T : unmanaged, IFloatingPointIeee754<T> => Unary(tape, tanhApproximation ? UnaryOp<T>.GeluTanhOp : UnaryOp<T>.GeluOp, x);

    private static Node<T> Unary<T>(Tape<T> tape, UnaryOp<T> op, Node<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        var node = tape.Record(op, x.Shape, x);
        op.Forward(x.ValueSpan, node.Value);
        return node;
    }

    private enum Kind
    {
        Exp,
        Log,
        Tanh,
        Sigmoid,
        Relu,
        Square,
        Gelu,
        GeluTanh,
    }

    private sealed class UnaryOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly UnaryOp<T> ExpOp = new(Kind.Exp);
        public static readonly UnaryOp<T> LogOp = new(Kind.Log);
        public static readonly UnaryOp<T> TanhOp = new(Kind.Tanh);
        public static readonly UnaryOp<T> SigmoidOp = new(Kind.Sigmoid);
        public static readonly UnaryOp<T> ReluOp = new(Kind.Relu);
        public static readonly UnaryOp<T> SquareOp = new(Kind.Square);
        public static readonly UnaryOp<T> GeluOp = new(Kind.Gelu);
        public static readonly UnaryOp<T> GeluTanhOp = new(Kind.GeluTanh);

        private const double SqrtTwoOverPi = 0.79788456080286535588;
        private const double GeluCubic = 0.044715;

        private readonly Kind _kind;

        private UnaryOp(Kind kind) => _kind = kind;

        public override string Name => _kind.ToString();

        public void Forward(ReadOnlySpan<T> x, Span<T> y)
        {
            switch (_kind)
            {
                case Kind.Exp: TensorPrimitives.Exp(x, y); break;
                case Kind.Log: TensorPrimitives.Log(x, y); break;
                case Kind.Tanh: TensorPrimitives.Tanh(x, y); break;
                case Kind.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
                case Kind.Relu: TensorPrimitives.Max(x, T.Zero, y); break;
                case Kind.Square: TensorPrimitives.Multiply(x, x, y); break;
                case Kind.Gelu:
                    if (typeof(T) == typeof(float))
                    {
                        GeluSingle.Forward(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y));
                        break;
                    }
                    for (int i = 0; i < x.Length; i++)
                    {
                        double v = double.CreateTruncating(x[i]);
                        y[i] = T.CreateTruncating(v * SpecialFunctions.NormalCdf(v));
                    }
                    break;
                default:
                    for (int i = 0; i < x.Length; i++)
                    {
                        double v = double.CreateTruncating(x[i]);
                        y[i] = T.CreateTruncating(0.5 * v * (1.0 + Math.Tanh(SqrtTwoOverPi * (v + (GeluCubic * v * v * v)))));
                    }
                    break;
            }
        }

        public override void Backward(Node<T> node)
        {
            var input = node.A!;
            ReadOnlySpan<T> x = input.ValueSpan, y = node.ValueSpan, g = node.GradSpan;
            var gx = input.GradSpan;
            switch (_kind)
            {
                case Kind.Exp:
                    TensorPrimitives.MultiplyAdd(g, y, gx, gx);
                    break;
                case Kind.Log:
                    for (int i = 0; i < gx.Length; i++)
                    {
                        gx[i] += g[i] / x[i];
                    }
                    break;
                case Kind.Tanh:
                    for (int i = 0; i < gx.Length; i++)
                    {
                        gx[i] += g[i] * (T.One - (y[i] * y[i]));
                    }
                    break;
                case Kind.Sigmoid:
                    for (int i = 0; i < gx.Length; i++)
                    {
                        gx[i] += g[i] * y[i] * (T.One - y[i]);
                    }
                    break;
                case Kind.Relu:
                    ReluBackward.Accumulate(x, g, gx);
                    break;
                case Kind.Square:
                    for (int i = 0; i < gx.Length; i++)
                    {
                        gx[i] += T.CreateTruncating(2) * x[i] * g[i];
                    }
                    break;
                case Kind.Gelu:
                    if (typeof(T) == typeof(float))
                    {
                        GeluSingle.BackwardAccumulate(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(g), MemoryMarshal.Cast<T, float>(gx));
                        break;
                    }
                    for (int i = 0; i < gx.Length; i++)
                    {
                        double v = double.CreateTruncating(x[i]);
                        double d = SpecialFunctions.NormalCdf(v) + (v * SpecialFunctions.NormalPdf(v));
                        gx[i] += g[i] * T.CreateTruncating(d);
                    }
                    break;
                default:
                    for (int i = 0; i < gx.Length; i++)
                    {
                        double v = double.CreateTruncating(x[i]);
                        double th = Math.Tanh(SqrtTwoOverPi * (v + (GeluCubic * v * v * v)));
                        double d = (0.5 * (1.0 + th)) + (0.5 * v * (1.0 - (th * th)) * SqrtTwoOverPi * (1.0 + (3.0 * GeluCubic * v * v)));
                        gx[i] += g[i] * T.CreateTruncating(d);
                    }
                    break;
            }
        }
    }
}
