using System.Numerics;
using System.Numerics.Tensors;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Ops;

/// <summary>Embedding lookup (a row gather) with scatter-add backward.</summary>
public static class EmbeddingOps
{
    /// <summary>
    /// Rows of <paramref name="weight"/> selected by <paramref name="indices"/> (like <c>nn.Embedding</c>): the result has
    /// shape <c>[...indexShape, D]</c>. With a chain axis, weight is [C, V, D], indexShape starts with C, and chain c's
    /// indices select from chain c's table. Indices are copied, so the caller's span may be reused.
    /// </summary>
    public static Node<T> Embedding<T>(this Tape<T> tape, Node<T> weight, ReadOnlySpan<int> indices, params ReadOnlySpan<int> indexShape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank is not (2 or 3))
        {
            throw new ArgumentException($"Embedding weight must be [V, D] or [C, V, D], got {TensorShape.Format(weight.Shape)}.", nameof(weight));
        }
        int groups = weight.Rank == 3 ? weight.Dim(0) : 1;
        int vocab = weight.Dim(-2), d = weight.Dim(-1);
        if (TensorShape.Size(indexShape) != indices.Length)
        {
            throw new ArgumentException($"{indices.Length} indices do not fill the index shape {TensorShape.Format(indexShape)}.", nameof(indices));
        }
        if (groups > 1 && (indexShape.Length == 0 || indexShape[0] != groups))
        {
            throw new ArgumentException($"Embedding weight {TensorShape.Format(weight.Shape)} has {groups} chains, so the index shape must start with {groups}; got {TensorShape.Format(indexShape)}.", nameof(indexShape));
        }
        if (indexShape.Length + 1 > TensorShape.MaxRank)
        {
            throw new ArgumentException($"Index rank {indexShape.Length} is too large.", nameof(indexShape));
        }
        Span<int> shape = stackalloc int[TensorShape.MaxRank];
        indexShape.CopyTo(shape);
        shape[indexShape.Length] = d;
        var node = tape.Record(EmbeddingOp<T>.Instance, shape[..(indexShape.Length + 1)], weight);
        int rows = indices.Length, rowsPerGroup = Math.Max(rows / groups, 1);
        var saved = node.IntAuxSpan(rows);
        ReadOnlySpan<T> w = weight.ValueSpan;
        var y = node.Value;
        for (int r = 0; r < rows; r++)
        {
            int idx = indices[r];
            if ((uint)idx >= (uint)vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), $"Embedding index {idx} at position {r} is outside the vocabulary [0, {vocab}).");
            }
            saved[r] = idx;
            int g = r / rowsPerGroup;
            w.Slice(((g * vocab) + idx) * d, d).CopyTo(y.Slice(r * d, d));
        }
        node.I0 = groups;
        node.I1 = rows;
        node.I2 = vocab;
        node.I3 = d;
        return node;
    }

    private sealed class EmbeddingOp<T> : Operation<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly EmbeddingOp<T> Instance = new();

        public override string Name => "Embedding";

        public override void Backward(Node<T> node)
        {
            int groups = node.I0, rows = node.I1, vocab = node.I2, d = node.I3, rowsPerGroup = Math.Max(rows / groups, 1);
            ReadOnlySpan<int> idx = node.IntAux.AsSpan(0, rows);
            ReadOnlySpan<T> g = node.GradSpan;
            var gw = node.A!.GradSpan;
            for (int r = 0; r < rows; r++)
            {
                int grp = r / rowsPerGroup;
                var target = gw.Slice(((grp * vocab) + idx[r]) * d, d);
                TensorPrimitives.Add(target, g.Slice(r * d, d), target);
            }
        }
    }
}
