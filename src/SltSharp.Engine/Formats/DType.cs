namespace SltSharp.Engine.Formats;

/// <summary>Element types that the checkpoint formats understand, named as safetensors names them.</summary>
/// <remarks>
/// A <see cref="NamedArray"/> only ever holds <see cref="F32"/>, <see cref="F64"/>, <see cref="I32"/> or
/// <see cref="I64"/>: half-precision data (<see cref="F16"/>, <see cref="BF16"/>) is upcast to float on read,
/// because no kernel in the engine computes in half precision.
/// </remarks>
public enum DType
{
    /// <summary>IEEE 754 binary16 (read only; upcast to <see cref="F32"/>).</summary>
    F16,

    /// <summary>bfloat16, the upper half of a binary32 (read only; upcast to <see cref="F32"/>).</summary>
    BF16,

    /// <summary>IEEE 754 binary32 (<see cref="float"/>).</summary>
    F32,

    /// <summary>IEEE 754 binary64 (<see cref="double"/>).</summary>
    F64,

    /// <summary>Signed 32-bit integer (<see cref="int"/>), e.g. class labels.</summary>
    I32,

    /// <summary>Signed 64-bit integer (<see cref="long"/>), e.g. token ids as numpy and torch store them.</summary>
    I64,
}

/// <summary>Facts about each <see cref="DType"/>: byte size, on-disk names, the .NET type it loads into.</summary>
public static class DTypeInfo
{
    /// <summary>Bytes per element as stored on disk.</summary>
    public static int SizeOf(DType dtype) => dtype switch
    {
        DType.F16 or DType.BF16 => 2,
        DType.F32 or DType.I32 => 4,
        DType.F64 or DType.I64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown DType."),
    };

    /// <summary>The dtype a stored dtype loads into: half precision widens to <see cref="DType.F32"/>.</summary>
    public static DType LoadedAs(DType stored) => stored is DType.F16 or DType.BF16 ? DType.F32 : stored;

    /// <summary>The safetensors header name ("F32", "BF16", ...).</summary>
    public static string SafetensorsName(DType dtype) => dtype switch
    {
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.F32 => "F32",
        DType.F64 => "F64",
        DType.I32 => "I32",
        DType.I64 => "I64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown DType."),
    };

    /// <summary>Parses a safetensors dtype name; false for names this library does not read.</summary>
    public static bool TryParseSafetensorsName(string name, out DType dtype)
    {
        switch (name)
        {
            case "F16": dtype = DType.F16; return true;
            case "BF16": dtype = DType.BF16; return true;
            case "F32": dtype = DType.F32; return true;
            case "F64": dtype = DType.F64; return true;
            case "I32": dtype = DType.I32; return true;
            case "I64": dtype = DType.I64; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>The little-endian numpy descr ("&lt;f4", ...). BF16 has none: numpy has no bfloat16.</summary>
    public static string NpyDescr(DType dtype) => dtype switch
    {
        DType.F16 => "<f2",
        DType.F32 => "<f4",
        DType.F64 => "<f8",
        DType.I32 => "<i4",
        DType.I64 => "<i8",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "numpy has no descr for this DType."),
    };

    /// <summary>The <see cref="DType"/> for a .NET element type, or throws for types the formats do not store.</summary>
    public static DType Of<T>()
    {
        if (typeof(T) == typeof(float))
        {
            return DType.F32;
        }
        if (typeof(T) == typeof(double))
        {
            return DType.F64;
        }
        if (typeof(T) == typeof(int))
        {
            return DType.I32;
        }
        if (typeof(T) == typeof(long))
        {
            return DType.I64;
        }
        throw new NotSupportedException(
            $"Element type {typeof(T).Name} cannot be stored in a checkpoint; use float, double, int or long.");
    }

    /// <summary>The .NET element type a loaded array of this dtype has.</summary>
    public static Type ClrType(DType dtype) => LoadedAs(dtype) switch
    {
        DType.F32 => typeof(float),
        DType.F64 => typeof(double),
        DType.I32 => typeof(int),
        DType.I64 => typeof(long),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown DType."),
    };
}
