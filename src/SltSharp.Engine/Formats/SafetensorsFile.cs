using System.Buffers;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;
using System.Text.Unicode;

namespace SltSharp.Engine.Formats;

/// <summary>
/// A safetensors file opened for reading: the header is parsed and validated up front, tensor data is read on demand
/// from a memory mapping (or from caller-supplied memory), so a large checkpoint is never copied whole.
/// </summary>
/// <remarks>
/// <para>Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then one data buffer. The JSON maps
/// each tensor name to <c>{"dtype", "shape", "data_offsets": [begin, end)}</c> relative to the buffer, plus an optional
/// <c>"__metadata__"</c> object of strings.</para>
/// <para>Validation is strict: the tensors must tile the data buffer exactly (no overlaps, no holes, nothing after the
/// last tensor), each byte range must match dtype × shape, and the header must hold nothing else. Everything wrong
/// is reported as a <see cref="CheckpointFormatException"/>.</para>
/// <para>The mapping assumes the file is not modified while open. Instances are not thread-safe for Dispose, but
/// concurrent reads of different tensors are fine.</para>
/// </remarks>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Largest header accepted. Real headers are kilobytes; the bound keeps a corrupt length field from
    /// causing a huge parse.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    private readonly Dictionary<string, SafetensorsEntry> _byName;
    private readonly SafetensorsEntry[] _entries;
    private readonly Dictionary<string, string> _metadata;
    private readonly long _dataStart;
    private readonly long _length;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private MemoryHandle _pin;
    private byte* _base;

    private SafetensorsFile(string filePath, byte* basePointer, long length, MemoryMappedFile? map,
        MemoryMappedViewAccessor? view, MemoryHandle pin)
    {
        FilePath = filePath;
        _base = basePointer;
        _length = length;
        _map = map;
        _view = view;
        _pin = pin;
        // On a parse failure the factory methods, which own the mapping or pin, release it.
        (_entries, _metadata, _dataStart) = ParseHeader(filePath, new ReadOnlySpan<byte>(basePointer, (int)Math.Min(length, 8 + MaxHeaderBytes)), length);
        _byName = new Dictionary<string, SafetensorsEntry>(_entries.Length, StringComparer.Ordinal);
        foreach (SafetensorsEntry e in _entries)
        {
            _byName.Add(e.Name, e);
        }
    }

    /// <summary>The path this file was opened from (or the label given to <see cref="FromMemory"/>).</summary>
    public string FilePath { get; }

    /// <summary>The <c>__metadata__</c> string map (empty when the file has none), in file order.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    /// <summary>The tensor entries in header order.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries => _entries;

    /// <summary>Byte offset of the data buffer within the file (8 + header length).</summary>
    public long DataStart => _dataStart;

    /// <summary>
    /// Opens and validates <paramref name="path"/> and maps it read-only. Dispose the result to unmap it.
    /// </summary>
    /// <exception cref="CheckpointFormatException">The file is not a valid safetensors file.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ElementCodec.EnsureLittleEndianHost();
        FileInfo info = new(path);
        long length = info.Exists ? info.Length : throw new FileNotFoundException($"Safetensors file '{path}' does not exist.", path);
        if (length < 8)
        {
            throw new CheckpointFormatException(path, null,
                $"the file is {length} bytes long, shorter than the 8-byte header length field; it is truncated or not a safetensors file.");
        }
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            p += view.PointerOffset;
            return new SafetensorsFile(path, p, length, map, view, default);
        }
        catch
        {
            if (acquired)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }
            view?.Dispose();
            map?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Validates safetensors bytes already in memory (e.g. a received buffer or a test case). The memory is pinned
    /// until the result is disposed and must not change meanwhile.
    /// </summary>
    /// <param name="bytes">The whole file's bytes.</param>
    /// <param name="label">Names the source in error messages.</param>
    public static SafetensorsFile FromMemory(ReadOnlyMemory<byte> bytes, string label = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(label);
        ElementCodec.EnsureLittleEndianHost();
        if (bytes.Length < 8)
        {
            throw new CheckpointFormatException(label, null,
                $"the data is {bytes.Length} bytes long, shorter than the 8-byte header length field; it is truncated or not safetensors.");
        }
        MemoryHandle pin = bytes.Pin();
        try
        {
            return new SafetensorsFile(label, (byte*)pin.Pointer, bytes.Length, null, null, pin);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    /// <summary>Reads every tensor of the file at <paramref name="path"/> (F16/BF16 upcast to F32), in header order.</summary>
    public static IReadOnlyList<NamedArray> ReadAll(string path, out IReadOnlyDictionary<string, string> metadata)
    {
        using SafetensorsFile file = Open(path);
        metadata = new Dictionary<string, string>(file._metadata, StringComparer.Ordinal);
        return file.ReadAll();
    }

    /// <summary>Whether a tensor called <paramref name="name"/> is present.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of tensor <paramref name="name"/>.</summary>
    /// <exception cref="CheckpointFormatException">No such tensor.</exception>
    public SafetensorsEntry GetEntry(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name, out SafetensorsEntry? entry))
        {
            return entry;
        }
        string some = string.Join(", ", _entries.Take(10).Select(e => $"'{e.Name}'"));
        throw new CheckpointFormatException(FilePath, name,
            $"no tensor of that name; the file has {_entries.Length} tensors ({some}{(_entries.Length > 10 ? ", ..." : "")}). Check the name or the checkpoint.");
    }

    /// <summary>
    /// The stored little-endian bytes of tensor <paramref name="name"/>, straight from the mapping (no copy). Valid only
    /// until this file is disposed.
    /// </summary>
    /// <exception cref="CheckpointFormatException">No such tensor, or it is larger than a span can address (2 GiB).</exception>
    public ReadOnlySpan<byte> GetRawBytes(string name)
    {
        SafetensorsEntry e = GetEntry(name);
        if (e.ByteCount > int.MaxValue)
        {
            throw new CheckpointFormatException(FilePath, name,
                $"the tensor has {e.ByteCount} bytes, more than one span can address; read it with Read or CopyTo instead.");
        }
        return new ReadOnlySpan<byte>(Base + _dataStart + e.DataBegin, (int)e.ByteCount);
    }

    /// <summary>Copies tensor <paramref name="name"/> into <paramref name="destination"/>, widening where exact
    /// (F16/BF16/F32 into float or double, I32 into long).</summary>
    /// <exception cref="CheckpointFormatException">No such tensor, the element count differs from the destination
    /// length, or the stored dtype does not convert exactly into <typeparamref name="T"/>.</exception>
    public void CopyTo<T>(string name, Span<T> destination)
        where T : unmanaged
    {
        SafetensorsEntry e = GetEntry(name);
        if (!ElementCodec.CanDecode<T>(e.DType))
        {
            throw new CheckpointFormatException(FilePath, name,
                $"the tensor is stored as {e.DType}, which does not convert exactly to {typeof(T).Name}; read it as {DTypeInfo.ClrType(e.DType).Name}.");
        }
        if (e.ElementCount != destination.Length)
        {
            throw new CheckpointFormatException(FilePath, name,
                $"the tensor has {e.ElementCount} elements (shape [{string.Join(", ", e.Shape)}]) but the destination holds {destination.Length}; the checkpoint does not match the model.");
        }
        int size = DTypeInfo.SizeOf(e.DType);
        byte* src = Base + _dataStart + e.DataBegin;
        for (int start = 0; start < destination.Length; start += ElementCodec.ChunkElements)
        {
            int n = Math.Min(ElementCodec.ChunkElements, destination.Length - start);
            ElementCodec.Decode(new ReadOnlySpan<byte>(src + ((long)start * size), n * size), e.DType, destination.Slice(start, n));
        }
    }

    /// <summary>Reads tensor <paramref name="name"/> into a new array of <typeparamref name="T"/> (see <see cref="CopyTo{T}"/>).</summary>
    public T[] Read<T>(string name)
        where T : unmanaged
    {
        SafetensorsEntry e = GetEntry(name);
        CheckLoadable(e);
        if (!ElementCodec.CanDecode<T>(e.DType))
        {
            // Same message as CopyTo, before allocating.
            CopyTo(name, Span<T>.Empty);
        }
        var result = new T[e.ElementCount];
        CopyTo(name, result.AsSpan());
        return result;
    }

    /// <summary>Reads tensor <paramref name="name"/> as a <see cref="NamedArray"/> of its natural type (F16/BF16 become F32).</summary>
    public NamedArray Read(string name)
    {
        SafetensorsEntry e = GetEntry(name);
        int[] shape = CheckLoadable(e);
        Array data = ElementCodec.Allocate(e.DType, (int)e.ElementCount);
        switch (data)
        {
            case float[] f: CopyTo(name, f.AsSpan()); break;
            case double[] d: CopyTo(name, d.AsSpan()); break;
            case int[] n: CopyTo(name, n.AsSpan()); break;
            case long[] l: CopyTo(name, l.AsSpan()); break;
        }
        return NamedArray.FromTrusted(name, shape, data, DTypeInfo.LoadedAs(e.DType));
    }

    /// <summary>Reads every tensor in header order.</summary>
    public IReadOnlyList<NamedArray> ReadAll()
    {
        var result = new NamedArray[_entries.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = Read(_entries[i].Name);
        }
        return result;
    }

    /// <summary>Unmaps the file (or unpins the memory).</summary>
    public void Dispose() => Release();

    private byte* Base
    {
        get
        {
            ObjectDisposedException.ThrowIf(_base == null, this);
            return _base;
        }
    }

    private void Release()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _view = null;
        }
        _map?.Dispose();
        _map = null;
        _pin.Dispose();
        _pin = default;
        _base = null;
    }

    private int[] CheckLoadable(SafetensorsEntry e)
    {
        if (e.ElementCount > Array.MaxLength)
        {
            throw new CheckpointFormatException(FilePath, e.Name,
                $"the tensor has {e.ElementCount} elements, more than one .NET array can hold ({Array.MaxLength}); split it when saving.");
        }
        var shape = new int[e.Shape.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            if (e.Shape[i] > int.MaxValue)
            {
                throw new CheckpointFormatException(FilePath, e.Name,
                    $"dimension {i} is {e.Shape[i]}, beyond the int range of NamedArray shapes.");
            }
            shape[i] = (int)e.Shape[i];
        }
        return shape;
    }

    private static (SafetensorsEntry[] Entries, Dictionary<string, string> Metadata, long DataStart) ParseHeader(
        string path, ReadOnlySpan<byte> prefix, long fileLength)
    {
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
        {
            throw new CheckpointFormatException(path, null,
                $"the header length field says {headerLength} bytes, over the {MaxHeaderBytes}-byte limit; the file is corrupt or not safetensors.");
        }
        if (8 + (long)headerLength > fileLength)
        {
            throw new CheckpointFormatException(path, null,
                $"the header length field says {headerLength} bytes but only {fileLength - 8} follow; the file is truncated.");
        }
        ReadOnlySpan<byte> json = prefix.Slice(8, (int)headerLength);
        if (json.Length == 0 || json[0] != (byte)'{')
        {
            throw new CheckpointFormatException(path, null,
                "the header does not start with '{'; the file is corrupt or not safetensors.");
        }
        if (!Utf8.IsValid(json))
        {
            throw new CheckpointFormatException(path, null, "the header is not valid UTF-8; the file is corrupt.");
        }
        long dataStart = 8 + (long)headerLength;
        long bufferLength = fileLength - dataStart;
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            ParseJson(path, json, bufferLength, entries, metadata);
        }
        catch (JsonException ex)
        {
            throw new CheckpointFormatException(path, null,
                $"the header is not valid JSON ({ex.Message}); the file is corrupt.", ex);
        }
        CheckTiling(path, entries, bufferLength);
        return (entries.ToArray(), metadata, dataStart);
    }

    private static void ParseJson(string path, ReadOnlySpan<byte> json, long bufferLength,
        List<SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Disallow,
            AllowTrailingCommas = false,
            MaxDepth = 4,
        });
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Expect(ref reader, JsonTokenType.StartObject, path, null, "the header must be a JSON object");
        while (true)
        {
            Advance(ref reader, path, null);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }
            string key = reader.GetString()!;
            if (!seen.Add(key))
            {
                throw new CheckpointFormatException(path, key, "the name appears twice in the header; the file is corrupt.");
            }
            if (key == MetadataKey)
            {
                ParseMetadata(ref reader, path, metadata);
            }
            else
            {
                entries.Add(ParseEntry(ref reader, path, key, bufferLength));
            }
        }
        if (reader.Read())
        {
            throw new CheckpointFormatException(path, null, "the header has content after its JSON object; the file is corrupt.");
        }
    }

    private static void ParseMetadata(ref Utf8JsonReader reader, string path, Dictionary<string, string> metadata)
    {
        Expect(ref reader, JsonTokenType.StartObject, path, MetadataKey, "__metadata__ must be an object of strings");
        while (true)
        {
            Advance(ref reader, path, MetadataKey);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return;
            }
            string key = reader.GetString()!;
            Advance(ref reader, path, MetadataKey);
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new CheckpointFormatException(path, MetadataKey,
                    $"metadata value of '{key}' is {reader.TokenType}, not a string; safetensors metadata maps strings to strings.");
            }
            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw new CheckpointFormatException(path, MetadataKey, $"metadata key '{key}' appears twice; the file is corrupt.");
            }
        }
    }

    private static SafetensorsEntry ParseEntry(ref Utf8JsonReader reader, string path, string name, long bufferLength)
    {
        if (name.Length == 0)
        {
            throw new CheckpointFormatException(path, name, "a tensor has an empty name; give every tensor a name when saving.");
        }
        Expect(ref reader, JsonTokenType.StartObject, path, name, "a tensor entry must be an object {dtype, shape, data_offsets}");
        string? dtypeName = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        while (true)
        {
            Advance(ref reader, path, name);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }
            string field = reader.GetString()!;
            switch (field)
            {
                case "dtype" when dtypeName is null:
                    Expect(ref reader, JsonTokenType.String, path, name, "dtype must be a string");
                    dtypeName = reader.GetString()!;
                    break;
                case "shape" when shape is null:
                    shape = ReadIntegers(ref reader, path, name, "shape");
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ReadIntegers(ref reader, path, name, "data_offsets");
                    break;
                case "dtype" or "shape" or "data_offsets":
                    throw new CheckpointFormatException(path, name, $"field '{field}' appears twice; the file is corrupt.");
                default:
                    throw new CheckpointFormatException(path, name,
                        $"unknown field '{field}' (expected only dtype, shape, data_offsets); the file is corrupt or from an unsupported writer.");
            }
        }
        if (dtypeName is null || shape is null || offsets is null)
        {
            string missing = dtypeName is null ? "dtype" : shape is null ? "shape" : "data_offsets";
            throw new CheckpointFormatException(path, name, $"the entry lacks '{missing}'; the file is corrupt.");
        }
        if (!DTypeInfo.TryParseSafetensorsName(dtypeName, out DType dtype))
        {
            throw new CheckpointFormatException(path, name,
                $"dtype '{dtypeName}' is not supported (supported: F16, BF16, F32, F64, I32, I64); convert the tensor before saving.");
        }
        if (offsets.Count != 2)
        {
            throw new CheckpointFormatException(path, name, $"data_offsets has {offsets.Count} numbers, not 2 [begin, end); the file is corrupt.");
        }
        long begin = offsets[0], end = offsets[1];
        if (end < begin)
        {
            throw new CheckpointFormatException(path, name, $"data_offsets [{begin}, {end}) end before they begin; the file is corrupt.");
        }
        if (end > bufferLength)
        {
            throw new CheckpointFormatException(path, name,
                $"data_offsets [{begin}, {end}) run past the end of the {bufferLength}-byte data buffer; the file is truncated or corrupt.");
        }
        long[] dims = shape.ToArray();
        long count = ElementCodec.ElementCountOrMinusOne(dims);
        if (count < 0)
        {
            throw new CheckpointFormatException(path, name,
                $"shape [{string.Join(", ", dims)}] has a negative dimension or its element count overflows; the file is corrupt.");
        }
        long size = DTypeInfo.SizeOf(dtype);
        if (count > long.MaxValue / size || count * size != end - begin)
        {
            throw new CheckpointFormatException(path, name,
                $"shape [{string.Join(", ", dims)}] of {dtype} needs {(count > long.MaxValue / size ? "more than 2^63" : (count * size).ToString())} bytes but data_offsets [{begin}, {end}) span {end - begin}; the file is corrupt.");
        }
        return new SafetensorsEntry(name, dtype, dims, count, begin, end);
    }

    private static List<long> ReadIntegers(ref Utf8JsonReader reader, string path, string name, string field)
    {
        Expect(ref reader, JsonTokenType.StartArray, path, name, $"{field} must be an array of integers");
        var values = new List<long>();
        while (true)
        {
            Advance(ref reader, path, name);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                return values;
            }
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v))
            {
                throw new CheckpointFormatException(path, name,
                    $"{field} holds a {reader.TokenType} that is not an integer in the 64-bit range; the file is corrupt.");
            }
            if (v < 0)
            {
                throw new CheckpointFormatException(path, name, $"{field} holds the negative number {v}; the file is corrupt.");
            }
            values.Add(v);
        }
    }

    private static void CheckTiling(string path, List<SafetensorsEntry> entries, long bufferLength)
    {
        var sorted = entries.ToArray();
        Array.Sort(sorted, static (a, b) =>
            a.DataBegin != b.DataBegin ? a.DataBegin.CompareTo(b.DataBegin) : a.DataEnd.CompareTo(b.DataEnd));
        long expected = 0;
        SafetensorsEntry? previous = null;
        foreach (SafetensorsEntry e in sorted)
        {
            if (e.DataBegin < expected)
            {
                throw new CheckpointFormatException(path, e.Name,
                    $"data_offsets [{e.DataBegin}, {e.DataEnd}) overlap tensor '{previous!.Name}' [{previous.DataBegin}, {previous.DataEnd}); the file is corrupt.");
            }
            if (e.DataBegin > expected)
            {
                throw new CheckpointFormatException(path, e.Name,
                    $"data_offsets [{e.DataBegin}, {e.DataEnd}) leave a hole of {e.DataBegin - expected} bytes after offset {expected}; the tensors must tile the data buffer, so the file is corrupt.");
            }
            expected = e.DataEnd;
            previous = e;
        }
        if (expected != bufferLength)
        {
            throw new CheckpointFormatException(path, null,
                $"the tensors cover {expected} bytes of the {bufferLength}-byte data buffer; {bufferLength - expected} bytes at the end belong to no tensor, so the file is corrupt or was appended to.");
        }
    }

    private static void Advance(ref Utf8JsonReader reader, string path, string? name)
    {
        if (!reader.Read())
        {
            throw new CheckpointFormatException(path, name, "the header JSON ends early; the file is truncated or corrupt.");
        }
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string path, string? name, string what)
    {
        Advance(ref reader, path, name);
        if (reader.TokenType != type)
        {
            throw new CheckpointFormatException(path, name, $"{what}, but found {reader.TokenType}; the file is corrupt.");
        }
    }
}
