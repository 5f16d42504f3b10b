using System.Text;

namespace SltSharp.Engine.Tensors;

/// <summary>Helpers for row-major shapes: element counts, broadcasting (numpy rules), formatting for messages.</summary>
public static class TensorShape
{
    /// <summary>The largest rank a tensor may have. Fixed so that shape scratch space can live on the stack.</summary>
    public const int MaxRank = 8;

    /// <summary>The number of elements of a tensor of the given shape (1 for rank 0).</summary>
    public static int Size(ReadOnlySpan<int> shape)
    {
        int size = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Shape {Format(shape)} has a negative dimension; every dimension must be ≥ 0.", nameof(shape));
            }
            size = checked(size * d);
        }
        return size;
    }

    /// <summary>Formats a shape as <c>[2, 3, 4]</c> for error messages.</summary>
    public static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>
    /// Writes the numpy-broadcast shape of <paramref name="a"/> and <paramref name="b"/> into <paramref name="result"/>
    /// and returns its rank. Dimensions are aligned on the right; each pair must be equal or contain a 1.
    /// </summary>
    public static int Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> result)
    {
        int rank = Math.Max(a.Length, b.Length);
        if (rank > MaxRank)
        {
            throw new ArgumentException($"Rank {rank} exceeds the supported maximum of {MaxRank}.");
        }
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
            {
                throw new ArgumentException(
                    $"Shapes {Format(a)} and {Format(b)} do not broadcast: dimension {i} of the aligned shapes is {da} vs {db}; " +
                    "aligned from the right, each pair must be equal or one of them 1 (reshape an operand to insert size-1 axes).");
            }
            result[i] = da == 1 ? db : da;
        }
        return rank;
    }

    /// <summary>
    /// Row-major strides of <paramref name="shape"/> as seen from an output of rank <paramref name="outRank"/> into
    /// which it broadcasts: axes of size 1 (and missing leading axes) get stride 0.
    /// </summary>
    internal static void BroadcastStrides(ReadOnlySpan<int> shape, int outRank, Span<int> strides)
    {
        int offset = outRank - shape.Length;
        int stride = 1;
        for (int i = outRank - 1; i >= 0; i--)
        {
            int si = i - offset;
            if (si < 0)
            {
                strides[i] = 0;
                continue;
            }
            strides[i] = shape[si] == 1 ? 0 : stride;
            stride *= shape[si];
        }
    }

    /// <summary>Normalises a possibly negative axis index, with a clear error when it is out of range.</summary>
    internal static int NormalizeAxis(int axis, int rank)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), $"Axis {axis} is out of range for a tensor of rank {rank} (valid: {-rank}..{rank - 1}).");
        }
        return a;
    }
}
