namespace SltSharp.Engine.Formats;

/// <summary>One tensor's header entry in a safetensors file: what is stored where, before any data is read.</summary>
public sealed class SafetensorsEntry
{
    private readonly long[] _shape;

    internal SafetensorsEntry(string name, DType dtype, long[] shape, long elementCount, long dataBegin, long dataEnd)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        ElementCount = elementCount;
        DataBegin = dataBegin;
        DataEnd = dataEnd;
    }

    /// <summary>The tensor name (the header key).</summary>
    public string Name { get; }

    /// <summary>The dtype as stored (F16 and BF16 are upcast to F32 when read).</summary>
    public DType DType { get; }

    /// <summary>The dimensions as stored, outermost first.</summary>
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>The product of <see cref="Shape"/>.</summary>
    public long ElementCount { get; }

    /// <summary>Start of the tensor's bytes, relative to the start of the data buffer (after the header).</summary>
    public long DataBegin { get; }

    /// <summary>End (exclusive) of the tensor's bytes, relative to the start of the data buffer.</summary>
    public long DataEnd { get; }

    /// <summary>The number of stored bytes.</summary>
    public long ByteCount => DataEnd - DataBegin;

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DType}[{string.Join(", ", _shape)}] @ [{DataBegin}, {DataEnd})";
}
