using System.Runtime.InteropServices;

namespace SltSharp.Engine.Formats;

/// <summary>
/// A named, shaped, C-ordered (row-major) array of float, double, int or long: the unit every checkpoint format
/// reads and writes.
/// </summary>
/// <remarks>
/// The array is held by reference, not copied: <see cref="Create{T}(string, T[], int[])"/> wraps the caller's array,
/// so writing parameters to a checkpoint costs no copy. A rank-0 shape (<c>[]</c>) is a scalar with one element.
/// </remarks>
public sealed class NamedArray
{
    private readonly Array _data;
    private readonly int[] _shape;

    private NamedArray(string name, int[] shape, DType dtype, Array data)
    {
        Name = name;
        _shape = shape;
        DType = dtype;
        _data = data;
    }

    /// <summary>The tensor name (safetensors key, .npz entry name without ".npy").</summary>
    public string Name { get; }

    /// <summary>The dimensions, outermost first. Empty for a scalar.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>The element type: <see cref="DType.F32"/>, <see cref="DType.F64"/>, <see cref="DType.I32"/> or <see cref="DType.I64"/>.</summary>
    public DType DType { get; }

    /// <summary>The number of elements (the product of <see cref="Shape"/>).</summary>
    public int ElementCount => _data.Length;

    /// <summary>The shape as a fresh array.</summary>
    public int[] GetShape() => (int[])_shape.Clone();

    /// <summary>
    /// Wraps <paramref name="data"/> (not copied) as a named array of shape <paramref name="shape"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, a dimension is negative, or the shape's element count
    /// differs from <c>data.Length</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double, int or long.</exception>
    public static NamedArray Create<T>(string name, T[] data, params int[] shape)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        if (name.Length == 0)
        {
            throw new ArgumentException("A tensor name must not be empty.", nameof(name));
        }
        DType dtype = DTypeInfo.Of<T>();
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException(
                    $"Tensor '{name}': shape [{string.Join(", ", shape)}] has a negative dimension.", nameof(shape));
            }
            count = checked(count * d);
        }
        if (count != data.Length)
        {
            throw new ArgumentException(
                $"Tensor '{name}': shape [{string.Join(", ", shape)}] holds {count} elements but the data has {data.Length}; " +
                "pass a shape whose product equals the data length.", nameof(shape));
        }
        return new NamedArray(name, (int[])shape.Clone(), dtype, data);
    }

    /// <summary>Wraps a one-dimensional array (shape <c>[data.Length]</c>).</summary>
    public static NamedArray Create<T>(string name, T[] data)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        return Create(name, data, data.Length);
    }

    /// <summary>Used by the readers after they have validated shape and length themselves.</summary>
    internal static NamedArray FromTrusted(string name, int[] shape, Array data, DType dtype) => new(name, shape, dtype, data);

    /// <summary>The stored array when it holds <typeparamref name="T"/>; no copy.</summary>
    /// <exception cref="InvalidOperationException">The array holds another element type.</exception>
    public T[] GetData<T>()
        where T : unmanaged
    {
        if (_data is T[] typed)
        {
            return typed;
        }
        throw new InvalidOperationException(
            $"Tensor '{Name}' holds {DType} data, not {typeof(T).Name}; call GetData<{DTypeInfo.ClrType(DType).Name}>() " +
            "or a converting accessor such as ToDoubles().");
    }

    /// <summary>The float data without copying (throws unless <see cref="DType"/> is F32).</summary>
    public float[] AsFloats() => GetData<float>();

    /// <summary>The double data without copying (throws unless <see cref="DType"/> is F64).</summary>
    public double[] AsDoubles() => GetData<double>();

    /// <summary>The int data without copying (throws unless <see cref="DType"/> is I32).</summary>
    public int[] AsInts() => GetData<int>();

    /// <summary>The long data without copying (throws unless <see cref="DType"/> is I64).</summary>
    public long[] AsLongs() => GetData<long>();

    /// <summary>A converted copy as doubles (exact for every dtype except I64 values beyond 2^53).</summary>
    public double[] ToDoubles()
    {
        var result = new double[_data.Length];
        switch (_data)
        {
            case float[] f:
                for (int i = 0; i < f.Length; i++)
                {
                    result[i] = f[i];
                }
                break;
            case double[] d:
                d.CopyTo(result, 0);
                break;
            case int[] n:
                for (int i = 0; i < n.Length; i++)
                {
                    result[i] = n[i];
                }
                break;
            case long[] l:
                for (int i = 0; i < l.Length; i++)
                {
                    result[i] = l[i];
                }
                break;
        }
        return result;
    }

    /// <summary>A converted copy as floats (rounds F64 and large integers to nearest).</summary>
    public float[] ToFloats()
    {
        var result = new float[_data.Length];
        switch (_data)
        {
            case float[] f:
                f.CopyTo(result, 0);
                break;
            case double[] d:
                for (int i = 0; i < d.Length; i++)
                {
                    result[i] = (float)d[i];
                }
                break;
            case int[] n:
                for (int i = 0; i < n.Length; i++)
                {
                    result[i] = n[i];
                }
                break;
            case long[] l:
                for (int i = 0; i < l.Length; i++)
                {
                    result[i] = l[i];
                }
                break;
        }
        return result;
    }

    /// <summary>The raw little-endian bytes of the data, as they are written to disk.</summary>
    public ReadOnlySpan<byte> AsBytes() => _data switch
    {
        float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
        double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
        int[] n => MemoryMarshal.AsBytes(n.AsSpan()),
        long[] l => MemoryMarshal.AsBytes(l.AsSpan()),
        _ => throw new InvalidOperationException("Unreachable: NamedArray holds an unsupported array type."),
    };

    /// <summary>Whether name, shape, dtype and every element's bits agree (NaN payloads included).</summary>
    public bool ContentEquals(NamedArray other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Name == other.Name && DType == other.DType && _shape.AsSpan().SequenceEqual(other._shape)
            && AsBytes().SequenceEqual(other.AsBytes());
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DType}[{string.Join(", ", _shape)}]";
}
