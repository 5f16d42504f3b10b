using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace SltSharp.Engine.Formats;

/// <summary>Reads and writes numpy .npy arrays (format versions 1, 2 and 3; little-endian; C order).</summary>
/// <remarks>
/// Supported dtypes: &lt;f4, &lt;f8, &lt;i4, &lt;i8 both ways, and &lt;f2 read (upcast to float). Reading copies the
/// file once, straight into the result array. The data must be exactly as long as the header says: truncated
/// files and trailing bytes are both errors.
/// </remarks>
public static class Npy
{
    /// <summary>Largest header accepted; numpy itself refuses headers over 10 000 bytes by default.</summary>
    public const int MaxHeaderBytes = 1 << 20;

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the array in <paramref name="path"/>; its name is the file name without extension.</summary>
    /// <exception cref="CheckpointFormatException">The file is not a valid, supported .npy array.</exception>
    public static NamedArray Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.SequentialScan);
        return ReadCore(stream, stream.Length, path, Path.GetFileNameWithoutExtension(path));
    }

    /// <summary>
    /// Reads one .npy array from the current position of a seekable <paramref name="stream"/> to its end.
    /// </summary>
    /// <param name="stream">A seekable stream; the array must extend exactly to the stream's end.</param>
    /// <param name="name">Name given to the result.</param>
    /// <param name="label">Names the source in error messages.</param>
    public static NamedArray Read(Stream stream, string name, string label = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(label);
        if (!stream.CanSeek)
        {
            throw new ArgumentException("The stream must be seekable so that its length bounds the allocation; copy it to a MemoryStream first.", nameof(stream));
        }
        return ReadCore(stream, stream.Length - stream.Position, label, name);
    }

    /// <summary>Writes <paramref name="array"/> to <paramref name="path"/> (replaced atomically).</summary>
    public static void Write(string path, NamedArray array)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(array);
        AtomicFile.Write(path, stream => Write(stream, array));
    }

    /// <summary>
    /// Writes <paramref name="array"/> as .npy (version 1 unless the header needs more than 65 535 bytes, then 2),
    /// the header padded so the data starts on a 64-byte boundary, as numpy does.
    /// </summary>
    public static void Write(Stream destination, NamedArray array)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(array);
        ElementCodec.EnsureLittleEndianHost();
        string dict = NpyHeader.Format(array.DType, array.Shape);
        // dict + '\n' + padding; v1 has a 10-byte preamble (u16 length), v2 has 12 (u32 length).
        int preamble = dict.Length + 1 + 10 <= ushort.MaxValue ? 10 : 12;
        int total = (preamble + dict.Length + 1 + 63) / 64 * 64;
        int headerLength = total - preamble;
        byte[] buffer = new byte[total];
        Magic.CopyTo(buffer);
        buffer[6] = preamble == 10 ? (byte)1 : (byte)2;
        buffer[7] = 0;
        if (preamble == 10)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(8), (ushort)headerLength);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(8), (uint)headerLength);
        }
        int written = Encoding.ASCII.GetBytes(dict, buffer.AsSpan(preamble));
        buffer.AsSpan(preamble + written, total - preamble - written - 1).Fill((byte)' ');
        buffer[total - 1] = (byte)'\n';
        destination.Write(buffer);
        destination.Write(array.AsBytes());
    }

    /// <summary>
    /// Reads one array occupying exactly <paramref name="available"/> bytes of <paramref name="stream"/>; allocates
    /// only after checking the header's byte count against <paramref name="available"/>.
    /// </summary>
    internal static NamedArray ReadCore(Stream stream, long available, string path, string name)
    {
        ElementCodec.EnsureLittleEndianHost();
        Span<byte> prefix = stackalloc byte[12];
        if (available < 10)
        {
            throw new CheckpointFormatException(path, name,
                $"the data is {available} bytes long, shorter than the 10-byte .npy preamble; it is truncated or not .npy.");
        }
        ReadExactly(stream, prefix[..10], path, name);
        if (!prefix[..6].SequenceEqual(Magic))
        {
            throw new CheckpointFormatException(path, name, "the data does not start with the .npy magic '\\x93NUMPY'; it is not a .npy array.");
        }
        byte major = prefix[6], minor = prefix[7];
        if (major is not (1 or 2 or 3) || minor != 0)
        {
            throw new CheckpointFormatException(path, name,
                $".npy format version {major}.{minor} is not supported (1.0, 2.0, 3.0 are); the file is corrupt or from a newer numpy.");
        }
        long headerLength;
        int preamble;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]);
            preamble = 10;
        }
        else
        {
            if (available < 12)
            {
                throw new CheckpointFormatException(path, name, "the .npy preamble is truncated.");
            }
            ReadExactly(stream, prefix[10..12], path, name);
            headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]);
            preamble = 12;
        }
        if (headerLength > MaxHeaderBytes)
        {
            throw new CheckpointFormatException(path, name,
                $"the .npy header length field says {headerLength} bytes, over the {MaxHeaderBytes}-byte limit; the file is corrupt.");
        }
        if (preamble + headerLength > available)
        {
            throw new CheckpointFormatException(path, name,
                $"the .npy header length field says {headerLength} bytes but only {available - preamble} follow; the file is truncated.");
        }
        byte[] headerBytes = new byte[headerLength];
        ReadExactly(stream, headerBytes, path, name);
        string text;
        if (major == 3)
        {
            try
            {
                text = new UTF8Encoding(false, true).GetString(headerBytes);
            }
            catch (DecoderFallbackException ex)
            {
                throw new CheckpointFormatException(path, name, "the version-3 .npy header is not valid UTF-8; the file is corrupt.", ex);
            }
        }
        else
        {
            text = Encoding.Latin1.GetString(headerBytes);
        }
        NpyHeader header = NpyHeader.Parse(text, path, name);

        int size = DTypeInfo.SizeOf(header.DType);
        long dataAvailable = available - preamble - headerLength;
        if (header.ElementCount > long.MaxValue / size || header.ElementCount * size != dataAvailable)
        {
            string need = header.ElementCount > long.MaxValue / size ? "more than 2^63" : (header.ElementCount * size).ToString();
            string problem = header.ElementCount > long.MaxValue / size || header.ElementCount * size > dataAvailable
                ? "the data is truncated"
                : "bytes follow the array that belong to nothing, so the file is corrupt";
            throw new CheckpointFormatException(path, name,
                $"shape ({string.Join(", ", header.Shape)}) of {header.DType} needs {need} data bytes but {dataAvailable} are present; {problem}.");
        }
        if (header.ElementCount > Array.MaxLength)
        {
            throw new CheckpointFormatException(path, name,
                $"the array has {header.ElementCount} elements, more than one .NET array can hold ({Array.MaxLength}).");
        }
        var shape = new int[header.Shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            if (header.Shape[i] > int.MaxValue)
            {
                throw new CheckpointFormatException(path, name, $"dimension {i} is {header.Shape[i]}, beyond the int range of NamedArray shapes.");
            }
            shape[i] = (int)header.Shape[i];
        }
        Array data = ElementCodec.Allocate(header.DType, (int)header.ElementCount);
        switch (data)
        {
            case float[] f: ReadElements(stream, header.DType, f.AsSpan(), path, name); break;
            case double[] d: ReadElements(stream, header.DType, d.AsSpan(), path, name); break;
            case int[] n: ReadElements(stream, header.DType, n.AsSpan(), path, name); break;
            case long[] l: ReadElements(stream, header.DType, l.AsSpan(), path, name); break;
        }
        return NamedArray.FromTrusted(name, shape, data, DTypeInfo.LoadedAs(header.DType));
    }

    private static void ReadElements<T>(Stream stream, DType stored, Span<T> destination, string path, string name)
        where T : unmanaged
    {
        int size = DTypeInfo.SizeOf(stored);
        if (DTypeInfo.Of<T>() == stored)
        {
            // Same representation: read straight into the result, in chunks that keep byte spans addressable.
            for (int start = 0; start < destination.Length; start += ElementCodec.ChunkElements)
            {
                int n = Math.Min(ElementCodec.ChunkElements, destination.Length - start);
                ReadExactly(stream, MemoryMarshal.AsBytes(destination.Slice(start, n)), path, name);
            }
            return;
        }
        const int chunk = 1 << 16;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunk * size);
        try
        {
            for (int start = 0; start < destination.Length; start += chunk)
            {
                int n = Math.Min(chunk, destination.Length - start);
                Span<byte> bytes = buffer.AsSpan(0, n * size);
                ReadExactly(stream, bytes, path, name);
                ElementCodec.Decode(bytes, stored, destination.Slice(start, n));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path, string name)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException ex)
        {
            throw new CheckpointFormatException(path, name, "the data ends before the array does; the file is truncated.", ex);
        }
    }
}
