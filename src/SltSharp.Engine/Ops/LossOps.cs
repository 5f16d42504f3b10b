using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Ops;

/// <summary>
/// Losses with PyTorch's mean reduction, computed per chain: the result is a [C] node holding each chain's mean loss
/// (C = <c>chains</c>, 1 for an ordinary model). Backward of that node gives every chain the gradient of its own loss.
/// </summary>
public static class LossOps
{
    /// <summary>
    /// Mean squared error (<c>nn.MSELoss()</c>: mean over all elements) of <paramref name="prediction"/> against
    /// <paramref name="target"/> (same shape). With <paramref name="chains"/> = C the leading axis is the chain axis and
    /// the mean is taken per chain.
    /// </summary>
    public static Node<T> MseLoss<T>(this Tape<T> tape, Node<T> prediction, Node<T> target, int chains = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (!prediction.Shape.SequenceEqual(target.Shape))
        {
            throw new ArgumentException($"MSE prediction {TensorShape.Format(prediction.Shape)} and target {TensorShape.Format(target.Shape)} must have the same shape (no silent broadcasting, unlike a PyTorch warning).", nameof(target));
        }
        CheckChains(prediction, chains);
        var node = tape.Record(MseOp<T>.Instance, [chains], prediction, target);
        int per = prediction.Length / chains;
        var diff = node.AuxSpan(prediction.Length);
        TensorPrimitives.Subtract(prediction.ValueSpan, target.ValueSpan, diff);
        var y = node.Value;
        for (int c = 0; c < chains; c++)
        {
            var dc = diff.Slice(c * per, per);
            y[c] = TensorPrimitives.Dot<T>(dc, dc) / T.CreateTruncating(per);
        }
        return node;
    }

    /// <summary>
    /// Cross-entropy from logits [..., K] and integer class targets (one per row), averaged over rows
    /// (<c>nn.CrossEntropyLoss()</c>). With <paramref name="chains"/> = C the leading axis of the logits is the chain
    /// axis, targets are chain-major, and the mean is taken per chain. Targets are copied.
    /// </summary>
    public static Node<T> CrossEntropy<T>(this Tape<T> tape, Node<T> logits, ReadOnlySpan<int> targets, int chains = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(logits);
        int k = logits.Dim(-1), rows = logits.Length / k;
        if (targets.Length != rows)
        {
            throw new ArgumentException($"Cross-entropy needs one target per row: logits {TensorShape.Format(logits.Shape)} have {rows} rows but {targets.Length} targets were given.", nameof(targets));
        }
        CheckChains(logits, chains);
        var node = tape.Record(CrossEntropyOp<T>.Instance, [chains], logits);
        var saved = node.IntAuxSpan(rows);
        // Aux: log-sum-exp per row, then one row of scratch.
        var aux = node.AuxSpan(rows + k);
        var scratch = aux.Slice(rows, k);
        ReadOnlySpan<T> x = logits.ValueSpan;
        var y = node.Value;
        y.Clear();
        int perChain = rows / chains;
        for (int r = 0; r < rows; r++)
        {
            int t = targets[r];
            if ((uint)t >= (uint)k)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), $"Target {t} at row {r} is not a class index in [0, {k}).");
            }
            saved[r] = t;
            var xr = x.Slice(r * k, k);
            T lse = SoftmaxOps.LogSumExp(xr, scratch);
            aux[r] = lse;
            y[r / perChain] += lse - xr[t];
        }
        TensorPrimitives.Divide(y, T.CreateTruncating(perChain), y);
        node.I0 = chains;
        node.I1 = rows;
        node.I2 = k;
        return node;
    }

    private static void CheckChains<T>(Node<T> x, int chains)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chains);
        if (chains > 1 && (x.Rank < 2 || x.Dim(0) != chains))
        {
            throw new ArgumentException($"A per-chain loss over {chains} chains needs inputs of shape [{chains}, ...], got {TensorShape.Format(x.Shape)}.", nameof(chains));
        }
    }

    private sealed class MseOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly MseOp<T> Instance = new();

        public override string Name => "MseLoss";

        public override void Backward(Node<T> node)
        {
            var p = node.A!;
            var t = node.B!;
            int chains = node.Length, per = p.Length / chains;
            ReadOnlySpan<T> g = node.GradSpan;
            var diff = node.Aux.AsSpan(0, p.Length);
            for (int c = 0; c < chains; c++)
            {
                T scale = T.CreateTruncating(2) * g[c] / T.CreateTruncating(per);
                var dc = diff.Slice(c * per, per);
                if (p.RequiresGrad)
                {
                    var gp = p.GradSpan.Slice(c * per, per);
                    TensorPrimitives.MultiplyAdd(dc, scale, gp, gp);
                }
                if (t.RequiresGrad)
                {
                    var gt = t.GradSpan.Slice(c * per, per);
                    TensorPrimitives.MultiplyAdd(dc, -scale, gt, gt);
                }
            }
        }
    }

    private sealed class CrossEntropyOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly CrossEntropyOp<T> Instance = new();

        public override string Name => "CrossEntropy";

        public override void Backward(Node<T> node)
        {
            // d loss_c / d logits_r = (softmax(logits_r) − onehot(target_r)) / rowsPerChain.
            var logits = node.A!;
            int chains = node.I0, rows = node.I1, k = node.I2, perChain = rows / chains;
            ReadOnlySpan<T> x = logits.ValueSpan, g = node.GradSpan;
            ReadOnlySpan<int> targets = node.IntAux.AsSpan(0, rows);
            var lse = node.Aux.AsSpan(0, rows);
            var p = node.Aux.AsSpan(rows, k);
            var gx = logits.GradSpan;
            for (int r = 0; r < rows; r++)
            {
                T scale = g[r / perChain] / T.CreateTruncating(perChain);
                TensorPrimitives.Subtract(x.Slice(r * k, k), lse[r], p);
                TensorPrimitives.Exp(p, p);
                var gr = gx.Slice(r * k, k);
                TensorPrimitives.MultiplyAdd(p, scale, gr, gr);
                gr[targets[r]] -= scale;
            }
        }
    }
}
