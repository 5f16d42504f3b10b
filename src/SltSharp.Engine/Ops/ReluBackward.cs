using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SltSharp.Engine.Ops;

/// <summary>The ReLU backward rule gx += g·[x &gt; 0] without a branch per element (the branchy loop mispredicts on
/// the random signs of pre-activations and was the MLP step's largest non-GEMM cost).</summary>
internal static class ReluBackward
{
    public static void Accumulate<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> gx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref T xr = ref MemoryMarshal.GetReference(x);
            ref T gr = ref MemoryMarshal.GetReference(g);
            ref T or = ref MemoryMarshal.GetReference(gx);
            for (; i <= x.Length - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                var positive = Vector512.GreaterThan(Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512<T>.Zero);
                var sum = Vector512.LoadUnsafe(ref or, (nuint)i) + (Vector512.LoadUnsafe(ref gr, (nuint)i) & positive);
                sum.StoreUnsafe(ref or, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            ref T xr = ref MemoryMarshal.GetReference(x);
            ref T gr = ref MemoryMarshal.GetReference(g);
            ref T or = ref MemoryMarshal.GetReference(gx);
            for (; i <= x.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var positive = Vector256.GreaterThan(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256<T>.Zero);
                var sum = Vector256.LoadUnsafe(ref or, (nuint)i) + (Vector256.LoadUnsafe(ref gr, (nuint)i) & positive);
                sum.StoreUnsafe(ref or, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            if (x[i] > T.Zero)
            {
                gx[i] += g[i];
            }
        }
    }
}
