using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace SltSharp.Engine.Formats;

/// <summary>Decodes stored little-endian elements into typed destinations, widening where the conversion is exact.</summary>
internal static class ElementCodec
{
    /// <summary>Elements per conversion chunk: keeps every byte span well under int.MaxValue for 8-byte types.</summary>
    internal const int ChunkElements = 1 << 26;

    /// <summary>
    /// Throws on big-endian hosts: every format here is little-endian and the readers copy bytes as they are.
    /// </summary>
    internal static void EnsureLittleEndianHost()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("SltSharp checkpoint formats require a little-endian host.");
        }
    }

    /// <summary>Whether data stored as <paramref name="stored"/> converts exactly into <typeparamref name="T"/>.</summary>
    internal static bool CanDecode<T>(DType stored)
    {
        if (typeof(T) == typeof(float))
        {
            return stored is DType.F32 or DType.F16 or DType.BF16;
        }
        if (typeof(T) == typeof(double))
        {
            return stored is DType.F64 or DType.F32 or DType.F16 or DType.BF16;
        }
        if (typeof(T) == typeof(int))
        {
            return stored is DType.I32;
        }
        if (typeof(T) == typeof(long))
        {
            return stored is DType.I64 or DType.I32;
        }
        return false;
    }

    /// <summary>Allocates the natural array for <paramref name="stored"/> data (half precision becomes float).</summary>
    internal static Array Allocate(DType stored, int count) => DTypeInfo.LoadedAs(stored) switch
    {
        DType.F32 => new float[count],
        DType.F64 => new double[count],
        DType.I32 => new int[count],
        DType.I64 => new long[count],
        _ => throw new ArgumentOutOfRangeException(nameof(stored), stored, "Unknown DType."),
    };

    /// <summary>Decodes <paramref name="src"/> (exactly <c>count * SizeOf(stored)</c> bytes) into the natural array.</summary>
    internal static void DecodeInto(ReadOnlySpan<byte> src, DType stored, Array destination)
    {
        switch (destination)
        {
            case float[] f: Decode(src, stored, f.AsSpan()); break;
            case double[] d: Decode(src, stored, d.AsSpan()); break;
            case int[] n: Decode(src, stored, n.AsSpan()); break;
            case long[] l: Decode(src, stored, l.AsSpan()); break;
            default: throw new ArgumentException("Unsupported destination array type.", nameof(destination));
        }
    }

    /// <summary>
    /// Decodes <c>dest.Length</c> elements stored as <paramref name="stored"/>. The caller has checked
    /// <see cref="CanDecode{T}"/> and that <c>src.Length == dest.Length * SizeOf(stored)</c>.
    /// </summary>
    internal static void Decode<T>(ReadOnlySpan<byte> src, DType stored, Span<T> dest)
        where T : unmanaged
    {
        if (DTypeInfo.Of<T>() == stored)
        {
            src.CopyTo(MemoryMarshal.AsBytes(dest));
            return;
        }
        if (typeof(T) == typeof(float))
        {
            DecodeToSingle(src, stored, MemoryMarshal.Cast<T, float>(dest));
        }
        else if (typeof(T) == typeof(double))
        {
            Span<double> d = MemoryMarshal.Cast<T, double>(dest);
            if (stored == DType.F32)
            {
                ReadOnlySpan<float> s = MemoryMarshal.Cast<byte, float>(src);
                for (int i = 0; i < d.Length; i++)
                {
                    d[i] = s[i];
                }
            }
            else
            {
                // Half precision: widen to float (exact) in the destination's upper half, then to double (exact).
                Span<float> tmp = MemoryMarshal.Cast<double, float>(d)[d.Length..];
                DecodeToSingle(src, stored, tmp);
                for (int i = 0; i < d.Length; i++)
                {
                    d[i] = tmp[i];
                }
            }
        }
        else if (typeof(T) == typeof(long) && stored == DType.I32)
        {
            Span<long> d = MemoryMarshal.Cast<T, long>(dest);
            ReadOnlySpan<int> s = MemoryMarshal.Cast<byte, int>(src);
            for (int i = 0; i < d.Length; i++)
            {
                d[i] = s[i];
            }
        }
        else
        {
            throw new InvalidOperationException($"Unreachable: no decoder from {stored} to {typeof(T).Name}.");
        }
    }

    private static void DecodeToSingle(ReadOnlySpan<byte> src, DType stored, Span<float> dest)
    {
        switch (stored)
        {
            case DType.F32:
                src.CopyTo(MemoryMarshal.AsBytes(dest));
                break;
            case DType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dest);
                break;
            case DType.BF16:
                ReadOnlySpan<ushort> s = MemoryMarshal.Cast<byte, ushort>(src);
                Span<uint> bits = MemoryMarshal.Cast<float, uint>(dest);
                for (int i = 0; i < s.Length; i++)
                {
                    bits[i] = (uint)s[i] << 16;
                }
                break;
            default:
                throw new InvalidOperationException($"Unreachable: {stored} does not decode to float.");
        }
    }

    /// <summary>The product of <paramref name="dims"/>; -1 when a dimension is negative or the product overflows.</summary>
    internal static long ElementCountOrMinusOne(ReadOnlySpan<long> dims)
    {
        foreach (long d in dims)
        {
            if (d < 0)
            {
                return -1;
            }
        }
        // A zero anywhere makes the product zero, even if the other dimensions alone would overflow.
        if (dims.Contains(0L))
        {
            return 0;
        }
        long count = 1;
        foreach (long d in dims)
        {
            if (count > long.MaxValue / d)
            {
                return -1;
            }
            count *= d;
        }
        return count;
    }
}
