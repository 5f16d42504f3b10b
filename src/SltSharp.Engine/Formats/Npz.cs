using System.IO.Compression;

namespace SltSharp.Engine.Formats;

/// <summary>Reads and writes numpy .npz archives: a zip of .npy entries, stored or deflated.</summary>
public static class Npz
{
    /// <summary>
    /// Deflate cannot expand data by more than about 1032:1; a declared uncompressed size beyond this bound (plus
    /// slack for tiny entries) means a corrupt directory, and is refused before anything is allocated.
    /// </summary>
    private const long MaxDeflateRatio = 1040;

    /// <summary>Reads every array in <paramref name="path"/>, in archive order; names drop the ".npy" suffix.</summary>
    /// <exception cref="CheckpointFormatException">The archive or one of its entries is malformed or unsupported.</exception>
    public static IReadOnlyList<NamedArray> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.RandomAccess);
        return ReadCore(stream, path);
    }

    /// <summary>Reads every array of the .npz archive in a seekable <paramref name="stream"/>.</summary>
    public static IReadOnlyList<NamedArray> Read(Stream stream, string label = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(label);
        if (!stream.CanSeek)
        {
            throw new ArgumentException("The stream must be seekable (zip archives keep their directory at the end); copy it to a MemoryStream first.", nameof(stream));
        }
        return ReadCore(stream, label);
    }

    /// <summary>Writes <paramref name="arrays"/> to <paramref name="path"/> (replaced atomically).</summary>
    /// <param name="path">Destination file.</param>
    /// <param name="arrays">Arrays with distinct names; each becomes entry "name.npy".</param>
    /// <param name="compress">Deflate the entries (like <c>np.savez_compressed</c>) instead of storing them (<c>np.savez</c>).</param>
    public static void Write(string path, IEnumerable<NamedArray> arrays, bool compress = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(arrays);
        AtomicFile.Write(path, stream => Write(stream, arrays, compress));
    }

    /// <summary>Writes an .npz archive to <paramref name="destination"/>, streaming each array into its entry.</summary>
    public static void Write(Stream destination, IEnumerable<NamedArray> arrays, bool compress = false)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(arrays);
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var zip = new ZipArchive(destination, ZipArchiveMode.Create, leaveOpen: true);
        foreach (NamedArray array in arrays)
        {
            ArgumentNullException.ThrowIfNull(array, nameof(arrays));
            if (!names.Add(array.Name))
            {
                throw new ArgumentException($"Two arrays are called '{array.Name}'; .npz entry names must be unique.", nameof(arrays));
            }
            ZipArchiveEntry entry = zip.CreateEntry(array.Name + ".npy", compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using Stream entryStream = entry.Open();
            Npy.Write(entryStream, array);
        }
    }

    private static List<NamedArray> ReadCore(Stream stream, string path)
    {
        var result = new List<NamedArray>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;
        try
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                current = entry.FullName;
                if (!current.EndsWith(".npy", StringComparison.Ordinal) || current.Length == 4)
                {
                    throw new CheckpointFormatException(path, current,
                        "the archive entry is not a named .npy array; an .npz holds only 'name.npy' entries.");
                }
                string name = current[..^4];
                current = name;
                if (!names.Add(name))
                {
                    throw new CheckpointFormatException(path, name, "two archive entries have this name; the archive is corrupt.");
                }
                long declared = entry.Length;
                if (declared < 0 || declared > (entry.CompressedLength * MaxDeflateRatio) + 4096 || entry.CompressedLength > stream.Length)
                {
                    throw new CheckpointFormatException(path, name,
                        $"the entry declares {declared} bytes from {entry.CompressedLength} compressed bytes, impossible for a {stream.Length}-byte archive; the archive is corrupt.");
                }
                using Stream entryStream = entry.Open();
                using var crcStream = new Crc32Stream(entryStream);
                NamedArray array = Npy.ReadCore(crcStream, declared, path, name);
                if (crcStream.ReadByte() != -1)
                {
                    throw new CheckpointFormatException(path, name,
                        $"the entry holds more than its declared {declared} bytes; the archive is corrupt.");
                }
                if (crcStream.Crc != entry.Crc32)
                {
                    throw new CheckpointFormatException(path, name,
                        $"the entry's CRC-32 is {crcStream.Crc:X8} but the archive records {entry.Crc32:X8}; the data is corrupt.");
                }
                result.Add(array);
            }
        }
        catch (InvalidDataException ex)
        {
            throw new CheckpointFormatException(path, current, $"the zip archive is corrupt ({ex.Message}).", ex);
        }
        return result;
    }
}
