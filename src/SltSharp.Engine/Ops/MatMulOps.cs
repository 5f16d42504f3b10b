using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Linalg;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Ops;

/// <summary>Matrix products through <see cref="Gemm"/>: batched matmul with transposes, and the fused linear map.</summary>
public static class MatMulOps
{
    /// <summary>
    /// alpha·op(a)·op(b) over the last two axes, where op transposes when asked. Leading (batch) axes must be equal, or
    /// one operand has none / only size-1 leading axes and is shared by every batch item (like a weight matrix).
    /// </summary>
    /// <example><c>tape.MatMul(q, k, transposeB: true, alpha: 1/√d)</c> gives attention scores [..., T, T].</example>
    public static Node<T> MatMul<T>(this Tape<T> tape, Node<T> a, Node<T> b, bool transposeA = false, bool transposeB = false, double alpha = 1.0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Rank < 2 || b.Rank < 2)
        {
            throw new ArgumentException($"MatMul needs operands of rank ≥ 2, got {TensorShape.Format(a.Shape)} and {TensorShape.Format(b.Shape)}; reshape vectors to [1, n] or [n, 1].");
        }
        int m = transposeA ? a.Dim(-1) : a.Dim(-2);
        int k = transposeA ? a.Dim(-2) : a.Dim(-1);
        int kb = transposeB ? b.Dim(-1) : b.Dim(-2);
        int n = transposeB ? b.Dim(-2) : b.Dim(-1);
        if (k != kb)
        {
            throw new ArgumentException($"MatMul inner dimensions differ: op(a) is {m}×{k} (a {TensorShape.Format(a.Shape)}, transposeA={transposeA}) but op(b) is {kb}×{n} (b {TensorShape.Format(b.Shape)}, transposeB={transposeB}).");
        }
        var aBatch = a.Shape[..^2];
        var bBatch = b.Shape[..^2];
        int batchA = TensorShape.Size(aBatch), batchB = TensorShape.Size(bBatch);
        ReadOnlySpan<int> batchShape;
        if (batchA == batchB && aBatch.SequenceEqual(bBatch))
        {
            batchShape = aBatch;
        }
        else if (batchB == 1)
        {
            batchShape = aBatch;
        }
        else if (batchA == 1)
        {
            batchShape = bBatch;
        }
        else
        {
            throw new ArgumentException($"MatMul batch axes {TensorShape.Format(aBatch)} and {TensorShape.Format(bBatch)} must be equal or one of them trivial.");
        }
        int batch = Math.Max(batchA, batchB);

        Span<int> shape = stackalloc int[TensorShape.MaxRank];
        batchShape.CopyTo(shape);
        shape[batchShape.Length] = m;
        shape[batchShape.Length + 1] = n;
        var node = tape.Record(MatMulOp<T>.Instance, shape[..(batchShape.Length + 2)], a, b);
        node.F0 = transposeA;
        node.F1 = transposeB;
        node.D0 = alpha;
        node.I0 = batch;
        node.I1 = batchA == 1 && batch > 1 ? 0 : m * k;
        node.I2 = batchB == 1 && batch > 1 ? 0 : k * n;
        node.I3 = k;
        Gemm.MultiplyBatched(batch, transposeA, transposeB, m, n, k, T.CreateTruncating(alpha),
            a.ValueSpan, a.Dim(-1), node.I1, b.ValueSpan, b.Dim(-1), node.I2, T.Zero, node.Value, n, m * n);
        return node;
    }

    /// <summary>
    /// The affine map of <c>nn.Linear</c>: y = x·Wᵀ + bias, with W stored [out, in] like PyTorch. With a chain axis,
    /// W is [C, out, in], bias is [C, out] and x is [C, ..., in]: chain c's rows use chain c's weights (one batched GEMM).
    /// </summary>
    public static Node<T> Linear<T>(this Tape<T> tape, Node<T> x, Node<T> weight, Node<T>? bias = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank is not (2 or 3))
        {
            throw new ArgumentException($"Linear weight must be [out, in] or [chains, out, in], got {TensorShape.Format(weight.Shape)}.", nameof(weight));
        }
        int groups = weight.Rank == 3 ? weight.Dim(0) : 1;
        int outFeatures = weight.Dim(-2), inFeatures = weight.Dim(-1);
        if (x.Rank < 1 || x.Dim(-1) != inFeatures)
        {
            throw new ArgumentException($"Linear input {TensorShape.Format(x.Shape)} must end in {inFeatures} features to match weight {TensorShape.Format(weight.Shape)}.", nameof(x));
        }
        if (groups > 1 && (x.Rank < 2 || x.Dim(0) != groups))
        {
            throw new ArgumentException($"Linear weight {TensorShape.Format(weight.Shape)} has {groups} chains, so the input must be [{groups}, ..., {inFeatures}], got {TensorShape.Format(x.Shape)}.", nameof(x));
        }
        if (bias is not null)
        {
            bool ok = bias.Rank == 1 ? groups == 1 && bias.Dim(0) == outFeatures : bias.Rank == 2 && bias.Dim(0) == groups && bias.Dim(1) == outFeatures;
            if (!ok)
            {
                throw new ArgumentException($"Linear bias {TensorShape.Format(bias.Shape)} does not match weight {TensorShape.Format(weight.Shape)}: expected [{outFeatures}] or [{groups}, {outFeatures}].", nameof(bias));
            }
        }
        int rows = x.Length / inFeatures / groups;

        Span<int> shape = stackalloc int[TensorShape.MaxRank];
        x.Shape.CopyTo(shape);
        shape[x.Rank - 1] = outFeatures;
        var node = tape.Record(LinearOp<T>.Instance, shape[..x.Rank], x, weight, bias);
        node.I0 = groups;
        node.I1 = rows;
        node.I2 = inFeatures;
        node.I3 = outFeatures;
        var y = node.Value;
        Gemm.MultiplyBatched(groups, false, true, rows, outFeatures, inFeatures, T.One,
            x.ValueSpan, inFeatures, rows * inFeatures, weight.ValueSpan, inFeatures, outFeatures * inFeatures,
            T.Zero, y, outFeatures, rows * outFeatures);
        if (bias is not null)
        {
            var bv = bias.ValueSpan;
            for (int g = 0; g < groups; g++)
            {
                var bg = bv.Slice(g * outFeatures, outFeatures);
                for (int r = 0; r < rows; r++)
                {
                    var row = y.Slice(((g * rows) + r) * outFeatures, outFeatures);
                    TensorPrimitives.Add(row, bg, row);
                }
            }
        }
        return node;
    }

    private sealed class MatMulOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly MatMulOp<T> Instance = new();

        public override string Name => "MatMul";

        public override void Backward(Node<T> node)
        {
            var a = node.A!;
            var b = node.B!;
            bool tA = node.F0, tB = node.F1;
            int batch = node.I0, strideA = node.I1, strideB = node.I2, k = node.I3;
            int m = node.Dim(-2), n = node.Dim(-1);
            int lda = a.Dim(-1), ldb = b.Dim(-1);
            int strideC = m * n;
            T alpha = T.CreateTruncating(node.D0);
            ReadOnlySpan<T> g = node.GradSpan, av = a.ValueSpan, bv = b.ValueSpan;

            if (a.RequiresGrad)
            {
                var ga = a.GradSpan;
                // d op(A) = α·dC·op(B)ᵀ; for a stored-transposed A the stored gradient is its transpose α·op(B)·dCᵀ.
                if (strideA == 0 && batch > 1)
                {
                    for (int i = 0; i < batch; i++)
                    {
                        GradA(tA, tB, m, n, k, alpha, g[(i * strideC)..], bv[(i * strideB)..], ldb, ga, lda);
                    }
                }
                else if (!tA)
                {
                    Gemm.MultiplyBatched(batch, false, !tB, m, k, n, alpha, g, n, strideC, bv, ldb, strideB, T.One, ga, lda, strideA);
                }
                else
                {
                    Gemm.MultiplyBatched(batch, tB, true, k, m, n, alpha, bv, ldb, strideB, g, n, strideC, T.One, ga, lda, strideA);
                }
            }

            if (b.RequiresGrad)
            {
                var gb = b.GradSpan;
                // d op(B) = α·op(A)ᵀ·dC; for a stored-transposed B the stored gradient is α·dCᵀ·op(A).
                if (strideB == 0 && batch > 1)
                {
                    for (int i = 0; i < batch; i++)
                    {
                        GradB(tA, tB, m, n, k, alpha, av[(i * strideA)..], lda, g[(i * strideC)..], gb, ldb);
                    }
                }
                else if (!tB)
                {
                    Gemm.MultiplyBatched(batch, !tA, false, k, n, m, alpha, av, lda, strideA, g, n, strideC, T.One, gb, ldb, strideB);
                }
                else
                {
                    Gemm.MultiplyBatched(batch, true, tA, n, k, m, alpha, g, n, strideC, av, lda, strideA, T.One, gb, ldb, strideB);
                }
            }
        }

        private static void GradA(bool tA, bool tB, int m, int n, int k, T alpha, ReadOnlySpan<T> g, ReadOnlySpan<T> b, int ldb, Span<T> ga, int lda)
        {
            if (!tA)
            {
                Gemm.Multiply(false, !tB, m, k, n, alpha, g, n, b, ldb, T.One, ga, lda);
            }
            else
            {
                Gemm.Multiply(tB, true, k, m, n, alpha, b, ldb, g, n, T.One, ga, lda);
            }
        }

        private static void GradB(bool tA, bool tB, int m, int n, int k, T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> g, Span<T> gb, int ldb)
        {
            if (!tB)
            {
                Gemm.Multiply(!tA, false, k, n, m, alpha, a, lda, g, n, T.One, gb, ldb);
            }
            else
            {
                Gemm.Multiply(true, tA, n, k, m, alpha, g, n, a, lda, T.One, gb, ldb);
            }
        }
    }

    private sealed class LinearOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly LinearOp<T> Instance = new();

        public override string Name => "Linear";

        public override void Backward(Node<T> node)
        {
            var x = node.A!;
            var w = node.B!;
            var bias = node.C;
            int groups = node.I0, rows = node.I1, inF = node.I2, outF = node.I3;
            ReadOnlySpan<T> g = node.GradSpan;
            if (x.RequiresGrad)
            {
                // dx_c = dy_c · W_c
                Gemm.MultiplyBatched(groups, false, false, rows, inF, outF, T.One, g, outF, rows * outF,
                    w.ValueSpan, inF, outF * inF, T.One, x.GradSpan, inF, rows * inF);
            }
            if (w.RequiresGrad)
            {
                // dW_c = dy_cᵀ · x_c
                Gemm.MultiplyBatched(groups, true, false, outF, inF, rows, T.One, g, outF, rows * outF,
                    x.ValueSpan, inF, rows * inF, T.One, w.GradSpan, inF, outF * inF);
            }
            if (bias is not null && bias.RequiresGrad)
            {
                var gb = bias.GradSpan;
                for (int c = 0; c < groups; c++)
                {
                    var gbc = gb.Slice(c * outF, outF);
                    for (int r = 0; r < rows; r++)
                    {
                        TensorPrimitives.Add(gbc, g.Slice(((c * rows) + r) * outF, outF), gbc);
                    }
                }
            }
        }
    }
}
