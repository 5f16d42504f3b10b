using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SltSharp.Store;

/// <summary>
/// Encodes numeric arrays as compact little-endian blobs (8 bytes per double, 4 per float), the layout numpy reads
/// with <c>np.frombuffer(blob, "&lt;f8")</c>, independent of the machine's byte order.
/// </summary>
public static class BlobCodec
{
    /// <summary>Little-endian IEEE-754 binary64 bytes of <paramref name="values"/>.</summary>
    /// <param name="values">The values.</param>
    public static byte[] EncodeDoubles(ReadOnlySpan<double> values)
    {
        var bytes = new byte[values.Length * sizeof(double)];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(bytes);
        }
        else
        {
            for (var i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * sizeof(double)), values[i]);
            }
        }

        return bytes;
    }

    /// <summary>Little-endian IEEE-754 binary32 bytes of <paramref name="values"/>.</summary>
    /// <param name="values">The values.</param>
    public static byte[] EncodeFloats(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(bytes);
        }
        else
        {
            for (var i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
            }
        }

        return bytes;
    }

    /// <summary>Decodes a blob written by <see cref="EncodeDoubles"/>.</summary>
    /// <param name="bytes">The blob.</param>
    /// <exception cref="FormatException">The length is not a multiple of 8.</exception>
    public static double[] DecodeDoubles(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length % sizeof(double) != 0)
        {
            throw new FormatException($"A double blob must have a multiple of 8 bytes, this one has {bytes.Length}.");
        }

        var values = new double[bytes.Length / sizeof(double)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * sizeof(double))..]);
        }

        return values;
    }

    /// <summary>Decodes a blob written by <see cref="EncodeFloats"/>.</summary>
    /// <param name="bytes">The blob.</param>
    /// <exception cref="FormatException">The length is not a multiple of 4.</exception>
    public static float[] DecodeFloats(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length % sizeof(float) != 0)
        {
            throw new FormatException($"A float blob must have a multiple of 4 bytes, this one has {bytes.Length}.");
        }

        var values = new float[bytes.Length / sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * sizeof(float))..]);
        }

        return values;
    }
}
