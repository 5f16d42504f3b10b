using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;

namespace SltSharp.Engine.Formats;

/// <summary>Writes safetensors files; read them with <see cref="SafetensorsFile"/>.</summary>
public static class Safetensors
{
    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/>, replacing it atomically: the data goes to a temporary
    /// file in the same folder, which is renamed over the target only when complete.
    /// </summary>
    /// <param name="path">Destination file.</param>
    /// <param name="tensors">Tensors with distinct, non-empty names (not "__metadata__").</param>
    /// <param name="metadata">Optional string map stored as <c>__metadata__</c>.</param>
    public static void Write(string path, IEnumerable<NamedArray> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, stream => Write(stream, tensors, metadata));
    }

    /// <summary>
    /// Writes a safetensors file to <paramref name="destination"/>, streaming each tensor's bytes straight from its array.
    /// </summary>
    /// <remarks>
    /// Tensors are laid out by element size, largest first (stable otherwise), and the header is padded with spaces
    /// to a multiple of 8 bytes, as the reference writer does: every tensor then starts at an offset aligned to its
    /// element size, so a mapped reader can view it in place.
    /// </remarks>
    public static void Write(Stream destination, IEnumerable<NamedArray> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(tensors);
        ElementCodec.EnsureLittleEndianHost();
        NamedArray[] ordered = tensors.ToArray();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (NamedArray t in ordered)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tensors));
            if (t.Name == "__metadata__")
            {
                throw new ArgumentException("A tensor cannot be called '__metadata__': safetensors reserves that key.", nameof(tensors));
            }
            if (!names.Add(t.Name))
            {
                throw new ArgumentException($"Two tensors are called '{t.Name}'; safetensors names must be unique.", nameof(tensors));
            }
        }
        // OrderBy is stable, so tensors of equal element size keep the caller's order.
        ordered = ordered.OrderByDescending(t => DTypeInfo.SizeOf(t.DType)).ToArray();

        var header = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (KeyValuePair<string, string> kv in metadata)
                {
                    json.WriteString(kv.Key, kv.Value ?? throw new ArgumentException($"Metadata value of '{kv.Key}' is null; safetensors metadata values are strings.", nameof(metadata)));
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (NamedArray t in ordered)
            {
                long bytes = (long)t.ElementCount * DTypeInfo.SizeOf(t.DType);
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", DTypeInfo.SafetensorsName(t.DType));
                json.WriteStartArray("shape");
                foreach (int d in t.Shape)
                {
                    json.WriteNumberValue(d);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padded = (header.WrittenCount + 7) / 8 * 8;
        Span<byte> lengthField = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthField, (ulong)padded);
        destination.Write(lengthField);
        destination.Write(header.WrittenSpan);
        for (int i = header.WrittenCount; i < padded; i++)
        {
            destination.WriteByte((byte)' ');
        }
        foreach (NamedArray t in ordered)
        {
            destination.Write(t.AsBytes());
        }
    }
}

/// <summary>Writes a file through a temporary sibling that is renamed over the target when complete.</summary>
internal static class AtomicFile
{
    internal static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: false);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
