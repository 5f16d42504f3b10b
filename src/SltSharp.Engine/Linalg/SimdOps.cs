using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SltSharp.Engine.Linalg;

/// <summary>
/// Rounding that does not depend on how a method was compiled. The JIT's first, quick tier may leave the
/// <c>MultiplyAddEstimate</c> and <c>VectorNNN.Sum</c> intrinsics to their managed fallbacks (unfused multiply-add,
/// lanes summed in another order) while optimised code fuses and pairs them, so the same call could round differently
/// before and after tier-up and the same seed would not give bit-identical results. Here the multiply-add is fused
/// exactly when the hardware has FMA (a fixed property of the machine), and horizontal sums run in a fixed order.
/// </summary>
public static class SimdRounding
{
    /// <summary>Whether multiply-adds are fused: where the hardware does it in one instruction.</summary>
    public static bool Fused => Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;

    /// <summary>The lanes of <paramref name="v"/> summed one after another, lane 0 first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T SumLanes<T>(Vector128<T> v)
        where T : unmanaged
    {
        T sum = v.GetElement(0);
        for (int i = 1; i < Vector128<T>.Count; i++)
        {
            sum = Add(sum, v.GetElement(i));
        }
        return sum;
    }

    /// <summary>The lanes of <paramref name="v"/> summed one after another, lane 0 first (what <c>Vector.Sum</c> does
    /// only in some tiers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T SumLanes<T>(System.Numerics.Vector<T> v)
        where T : unmanaged
    {
        T sum = v[0];
        for (int i = 1; i < System.Numerics.Vector<T>.Count; i++)
        {
            sum = Add(sum, v[i]);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Add<T>(T x, T y)
        where T : unmanaged => (Vector128.CreateScalarUnsafe(x) + Vector128.CreateScalarUnsafe(y)).ToScalar();
}

/// <summary>
/// The handful of vector operations the GEMM micro-kernel needs, abstracted over the register width so that one kernel
/// source serves Vector512, Vector256 and Vector128. Implementations are structs: the JIT specialises generic code per
/// struct type argument and inlines these static members, so the abstraction costs nothing at run time.
/// </summary>
/// <typeparam name="TVec">The vector register type (e.g. <c>Vector512&lt;float&gt;</c>).</typeparam>
/// <typeparam name="T">The element type (float or double).</typeparam>
internal unsafe interface ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged
{
    /// <summary>Lanes per register.</summary>
    static abstract int Count { get; }

    /// <summary>Short name for reports.</summary>
    static abstract string Name { get; }

    static abstract TVec Zero { get; }

    static abstract TVec Load(T* p);

    static abstract void Store(T* p, TVec v);

    /// <summary>Reads the first <paramref name="count"/> lanes (0 &lt; count &lt; Count); other lanes are zero and
    /// the memory behind them is not touched.</summary>
    static abstract TVec LoadPartial(T* p, int count);

    /// <summary>Writes only the first <paramref name="count"/> lanes.</summary>
    static abstract void StorePartial(T* p, TVec v, int count);

    static abstract TVec Broadcast(T x);

    /// <summary>a·b + c, fused where the hardware has FMA.</summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec c);

    static abstract TVec Multiply(TVec a, TVec b);

    /// <summary>Sum of the lanes.</summary>
    static abstract T Sum(TVec v);
}

/// <summary>AVX-512 (or any 512-bit) implementation; masked loads and stores for edges when AVX-512F is present.</summary>
internal readonly unsafe struct Simd512<T> : ISimdOps<Vector512<T>, T>
    where T : unmanaged
{
    public static int Count => Vector512<T>.Count;

    public static string Name => "Vector512";

    public static Vector512<T> Zero => Vector512<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(T* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T* p, Vector512<T> v) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LoadPartial(T* p, int count)
    {
        if (Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float))
            {
                var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
                return Avx512F.MaskLoad((float*)p, mask, Vector512<float>.Zero).As<float, T>();
            }
            if (typeof(T) == typeof(double))
            {
                var mask = Vector512.LessThan(Vector512<long>.Indices, Vector512.Create((long)count)).AsDouble();
                return Avx512F.MaskLoad((double*)p, mask, Vector512<double>.Zero).As<double, T>();
            }
        }
        // No stackalloc here: it would stop the JIT from inlining this method.
        var v = Vector512<T>.Zero;
        for (int i = 0; i < count; i++)
        {
            v = v.WithElement(i, p[i]);
        }
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(T* p, Vector512<T> v, int count)
    {
        if (Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float))
            {
                var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
                Avx512F.MaskStore((float*)p, mask, v.As<T, float>());
                return;
            }
            if (typeof(T) == typeof(double))
            {
                var mask = Vector512.LessThan(Vector512<long>.Indices, Vector512.Create((long)count)).AsDouble();
                Avx512F.MaskStore((double*)p, mask, v.As<T, double>());
                return;
            }
        }
        for (int i = 0; i < count; i++)
        {
            p[i] = v.GetElement(i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Broadcast(T x) => Vector512.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAdd(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(float))
        {
            return SimdRounding.Fused ? Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>() : (a * b) + c;
        }
        if (typeof(T) == typeof(double))
        {
            return SimdRounding.Fused ? Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>() : (a * b) + c;
        }
        return (a * b) + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Multiply(Vector512<T> a, Vector512<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector512<T> v) => Simd256<T>.Sum(v.GetLower() + v.GetUpper());
}

/// <summary>AVX2 (or any 256-bit) implementation; AVX masked loads and stores for edges.</summary>
internal readonly unsafe struct Simd256<T> : ISimdOps<Vector256<T>, T>
    where T : unmanaged
{
    public static int Count => Vector256<T>.Count;

    public static string Name => "Vector256";

    public static Vector256<T> Zero => Vector256<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(T* p) => Vector256.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T* p, Vector256<T> v) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LoadPartial(T* p, int count)
    {
        if (Avx.IsSupported)
        {
            if (typeof(T) == typeof(float))
            {
                var mask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();
                return Avx.MaskLoad((float*)p, mask).As<float, T>();
            }
            if (typeof(T) == typeof(double))
            {
                var mask = Vector256.LessThan(Vector256<long>.Indices, Vector256.Create((long)count)).AsDouble();
                return Avx.MaskLoad((double*)p, mask).As<double, T>();
            }
        }
        // No stackalloc here: it would stop the JIT from inlining this method.
        var v = Vector256<T>.Zero;
        for (int i = 0; i < count; i++)
        {
            v = v.WithElement(i, p[i]);
        }
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(T* p, Vector256<T> v, int count)
    {
        if (Avx.IsSupported)
        {
            if (typeof(T) == typeof(float))
            {
                var mask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();
                Avx.MaskStore((float*)p, mask, v.As<T, float>());
                return;
            }
            if (typeof(T) == typeof(double))
            {
                var mask = Vector256.LessThan(Vector256<long>.Indices, Vector256.Create((long)count)).AsDouble();
                Avx.MaskStore((double*)p, mask, v.As<T, double>());
                return;
            }
        }
        for (int i = 0; i < count; i++)
        {
            p[i] = v.GetElement(i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Broadcast(T x) => Vector256.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (typeof(T) == typeof(float))
        {
            return SimdRounding.Fused ? Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>() : (a * b) + c;
        }
        if (typeof(T) == typeof(double))
        {
            return SimdRounding.Fused ? Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>() : (a * b) + c;
        }
        return (a * b) + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Multiply(Vector256<T> a, Vector256<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector256<T> v) => Simd128<T>.Sum(v.GetLower() + v.GetUpper());
}

/// <summary>128-bit implementation (SSE, Arm AdvSimd): the portable last resort before scalar code.</summary>
internal readonly unsafe struct Simd128<T> : ISimdOps<Vector128<T>, T>
    where T : unmanaged
{
    public static int Count => Vector128<T>.Count;

    public static string Name => "Vector128";

    public static Vector128<T> Zero => Vector128<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Load(T* p) => Vector128.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T* p, Vector128<T> v) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> LoadPartial(T* p, int count)
    {
        // No stackalloc here: it would stop the JIT from inlining this method.
        var v = Vector128<T>.Zero;
        for (int i = 0; i < count; i++)
        {
            v = v.WithElement(i, p[i]);
        }
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(T* p, Vector128<T> v, int count)
    {
        for (int i = 0; i < count; i++)
        {
            p[i] = v.GetElement(i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Broadcast(T x) => Vector128.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> MultiplyAdd(Vector128<T> a, Vector128<T> b, Vector128<T> c)
    {
        if (typeof(T) == typeof(float))
        {
            return SimdRounding.Fused ? Vector128.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>() : (a * b) + c;
        }
        if (typeof(T) == typeof(double))
        {
            return SimdRounding.Fused ? Vector128.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>() : (a * b) + c;
        }
        return (a * b) + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Multiply(Vector128<T> a, Vector128<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector128<T> v) => SimdRounding.SumLanes(v);
}
