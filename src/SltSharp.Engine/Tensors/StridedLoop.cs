namespace SltSharp.Engine.Tensors;

/// <summary>
/// A kernel applied to one innermost run of a strided iteration over up to three operands. It receives, for each
/// operand, the element offset where the run starts and the stride between consecutive elements of the run.
/// </summary>
/// <remarks>Implemented by structs so that the loop is specialised by the JIT and allocates nothing.</remarks>
internal interface IRunKernel
{
    void Run(int offset0, int stride0, int offset1, int stride1, int offset2, int stride2, int length);
}

/// <summary>
/// Iterates over a multi-dimensional index space with per-operand strides, calling a kernel once per innermost run.
/// Axes of size 1 are dropped and adjacent axes that are contiguous for every operand are merged first, so that runs
/// are as long as possible (a same-shape elementwise op is a single run).
/// </summary>
internal static class StridedLoop
{
    public static void Run<TKernel>(ref TKernel kernel, ReadOnlySpan<int> dims, ReadOnlySpan<int> strides0, ReadOnlySpan<int> strides1, ReadOnlySpan<int> strides2)
        where TKernel : struct, IRunKernel
    {
        Span<int> d = stackalloc int[TensorShape.MaxRank];
        Span<int> s0 = stackalloc int[TensorShape.MaxRank];
        Span<int> s1 = stackalloc int[TensorShape.MaxRank];
        Span<int> s2 = stackalloc int[TensorShape.MaxRank];

        // Collapse from the innermost axis outwards.
        int rank = 0;
        for (int i = dims.Length - 1; i >= 0; i--)
        {
            int n = dims[i];
            if (n == 0)
            {
                return;
            }
            if (n == 1)
            {
                continue;
            }
            if (rank > 0)
            {
                int j = rank - 1; // current outermost collapsed axis (stored innermost-first)
                if (strides0[i] == s0[j] * d[j] && strides1[i] == s1[j] * d[j] && strides2[i] == s2[j] * d[j])
                {
                    d[j] *= n;
                    continue;
                }
            }
            d[rank] = n;
            s0[rank] = strides0[i];
            s1[rank] = strides1[i];
            s2[rank] = strides2[i];
            rank++;
        }

        if (rank == 0)
        {
            kernel.Run(0, 1, 0, 1, 0, 1, 1);
            return;
        }

        int innerLength = d[0], i0 = s0[0], i1 = s1[0], i2 = s2[0];
        if (rank == 1)
        {
            kernel.Run(0, i0, 0, i1, 0, i2, innerLength);
            return;
        }

        Span<int> counter = stackalloc int[TensorShape.MaxRank];
        counter.Clear();
        int o0 = 0, o1 = 0, o2 = 0;
        while (true)
        {
            kernel.Run(o0, i0, o1, i1, o2, i2, innerLength);
            int axis = 1;
            while (true)
            {
                counter[axis]++;
                o0 += s0[axis];
                o1 += s1[axis];
                o2 += s2[axis];
                if (counter[axis] < d[axis])
                {
                    break;
                }
                o0 -= s0[axis] * d[axis];
                o1 -= s1[axis] * d[axis];
                o2 -= s2[axis] * d[axis];
                counter[axis] = 0;
                axis++;
                if (axis == rank)
                {
                    return;
                }
            }
        }
    }
}
