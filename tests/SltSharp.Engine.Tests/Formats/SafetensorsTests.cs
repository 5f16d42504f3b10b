using System.Buffers.Binary;
using System.Text;
using SltSharp.Engine.Formats;

namespace SltSharp.Engine.Tests.Formats;

public sealed class SafetensorsTests
{
    private static readonly Dictionary<string, string> Meta = new() { ["format"] = "pt", ["step"] = "42" };

    [Fact]
    public void WriterPadsHeaderToEightBytesAndAlignsEveryTensor()
    {
        using var stream = new MemoryStream();
        // A 3-element float first: written in the caller's order, the double after it would sit at offset 12.
        Safetensors.Write(stream, [
            NamedArray.Create("a", new float[] { 1, 2, 3 }),
            NamedArray.Create("b", new double[] { 4, 5 }),
            NamedArray.Create("c", new int[] { 6 }),
            NamedArray.Create("d", new long[] { 7 }),
        ], Meta);
        byte[] bytes = stream.ToArray();
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\",\"step\":\"42\"}", header, StringComparison.Ordinal);
        Assert.Equal(header.TrimEnd(' ').Length + (header.Length - header.TrimEnd(' ').Length), header.Length);
        Assert.EndsWith("}", header.TrimEnd(' '), StringComparison.Ordinal);

        using SafetensorsFile file = SafetensorsFile.FromMemory(bytes);
        Assert.Equal(8 + (long)n, file.DataStart);
        foreach (SafetensorsEntry e in file.Entries)
        {
            Assert.Equal(0, (file.DataStart + e.DataBegin) % DTypeInfo.SizeOf(e.DType));
        }
        Assert.Equal(["b", "d", "a", "c"], file.Entries.Select(e => e.Name));
        Assert.Equal([1f, 2f, 3f], file.Read<float>("a"));
        Assert.Equal([4.0, 5.0], file.Read<double>("b"));
        Assert.Equal([6], file.Read<int>("c"));
        Assert.Equal([7L], file.Read<long>("d"));
        Assert.Equal([6L], file.Read<long>("c"));
        Assert.Equal([1.0, 2.0, 3.0], file.Read<double>("a"));
    }

    [Fact]
    public void FileRoundTripKeepsShapesValuesAndMetadata()
    {
        using var folder = new TempFolder();
        string path = folder.File("model.safetensors");
        NamedArray w = NamedArray.Create("w", FormatTestData.ToFloats(FormatTestData.Rational(24)), 2, 3, 4);
        NamedArray s = NamedArray.Create("s", [float.NaN], Array.Empty<int>());
        NamedArray e = NamedArray.Create("e", Array.Empty<double>(), 4, 0);
        Safetensors.Write(path, [w, s, e], Meta);
        Assert.Single(Directory.GetFiles(folder.Path)); // no temporary file left behind

        IReadOnlyList<NamedArray> read = SafetensorsFile.ReadAll(path, out IReadOnlyDictionary<string, string> metadata);
        Assert.Equal(Meta, metadata);
        Assert.True(w.ContentEquals(read.Single(r => r.Name == "w")));
        Assert.True(s.ContentEquals(read.Single(r => r.Name == "s")));
        Assert.True(e.ContentEquals(read.Single(r => r.Name == "e")));
        Assert.Empty(read.Single(r => r.Name == "s").Shape);
    }

    [Fact]
    public void HalfPrecisionWidensExactly()
    {
        // binary16: 1, -2, 2^-24 (smallest subnormal), +inf, -65504 (most negative finite), NaN.
        // bfloat16: 1, -2, +inf, 2^-133 (smallest subnormal: float bits 0x00010000).
        byte[] bytes = FormatTestData.HandBuiltSafetensors(
            """{"h":{"dtype":"F16","shape":[6],"data_offsets":[0,12]},"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[12,20]}}""",
            [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C, 0xFF, 0xFB, 0x00, 0x7E,
             0x80, 0x3F, 0x00, 0xC0, 0x80, 0x7F, 0x01, 0x00]);
        using SafetensorsFile file = SafetensorsFile.FromMemory(bytes);
        NamedArray h = file.Read("h");
        Assert.Equal(DType.F32, h.DType);
        Assert.Equal(DType.F16, file.GetEntry("h").DType);
        float[] hv = h.AsFloats();
        Assert.Equal([1f, -2f, MathF.Pow(2, -24), float.PositiveInfinity, -65504f], hv[..5]);
        Assert.True(float.IsNaN(hv[5]));
        NamedArray b = file.Read("b");
        Assert.Equal([2, 2], b.GetShape());
        Assert.Equal([1f, -2f, float.PositiveInfinity, MathF.Pow(2, -133)], b.AsFloats());
        Assert.Equal([1.0, -2.0, double.PositiveInfinity, Math.Pow(2, -133)], file.Read<double>("b"));
    }

    [Fact]
    public void ReadingAsANarrowerOrWrongTypeIsRefusedWithTheRightAccessor()
    {
        using var stream = new MemoryStream();
        Safetensors.Write(stream, [NamedArray.Create("w", new double[] { 1, 2 }), NamedArray.Create("t", new long[] { 3 })]);
        using SafetensorsFile file = SafetensorsFile.FromMemory(stream.ToArray(), "mem.safetensors");
        var ex = Assert.Throws<CheckpointFormatException>(() => file.Read<float>("w"));
        Assert.Equal("w", ex.TensorName);
        Assert.Contains("read it as Double", ex.Message, StringComparison.Ordinal);
        Assert.Throws<CheckpointFormatException>(() => file.Read<int>("t"));
        var lengthEx = Assert.Throws<CheckpointFormatException>(() => file.CopyTo("w", new double[3].AsSpan()));
        Assert.Contains("destination holds 3", lengthEx.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<CheckpointFormatException>(() => file.Read("nope"));
        Assert.Equal("nope", missing.TensorName);
        Assert.Equal("mem.safetensors", missing.FilePath);
        Assert.Contains("'w'", missing.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => file.Read("w").AsFloats());
    }

    [Fact]
    public void DisposedFileRefusesReads()
    {
        using var stream = new MemoryStream();
        Safetensors.Write(stream, [NamedArray.Create("w", new float[] { 1 })]);
        SafetensorsFile file = SafetensorsFile.FromMemory(stream.ToArray());
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.Read("w"));
        file.Dispose(); // idempotent
    }

    [Fact]
    public void WriterRejectsDuplicateAndReservedNames()
    {
        using var stream = new MemoryStream();
        Assert.Throws<ArgumentException>(() => Safetensors.Write(stream,
            [NamedArray.Create("w", new float[] { 1 }), NamedArray.Create("w", new float[] { 2 })]));
        Assert.Throws<ArgumentException>(() => Safetensors.Write(stream, [NamedArray.Create("__metadata__", new float[] { 1 })]));
    }

    [Fact]
    public void RewritingAMappedFileReplacesItAtomically()
    {
        using var folder = new TempFolder();
        string path = folder.File("ckpt.safetensors");
        Safetensors.Write(path, [NamedArray.Create("w", new float[] { 1, 2 })]);
        using SafetensorsFile old = SafetensorsFile.Open(path);
        Safetensors.Write(path, [NamedArray.Create("w", new float[] { 3, 4, 5 })]);
        // The open mapping still sees the old, complete file; a new open sees the new one.
        Assert.Equal([1f, 2f], old.Read<float>("w"));
        using SafetensorsFile fresh = SafetensorsFile.Open(path);
        Assert.Equal([3f, 4f, 5f], fresh.Read<float>("w"));
    }

    [Fact]
    public void ReadingOneTensorOfALargeFileCopiesOnlyThatTensor()
    {
        using var folder = new TempFolder();
        string path = folder.File("big.safetensors");
        var big = new float[6_000_000]; // 24 MB
        var small = new float[1000];
        big[^1] = 7;
        small[0] = 3;
        Safetensors.Write(path, [NamedArray.Create("big", big), NamedArray.Create("small", small)]);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        long before = GC.GetAllocatedBytesForCurrentThread();
        float[] s = file.Read<float>("small");
        long smallCost = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(3f, s[0]);
        // 4 KB of data plus the array header and the name lookup; a whole-file copy would be 24 MB.
        Assert.True(smallCost < 16_000, $"reading a 4 KB tensor allocated {smallCost} bytes");
        before = GC.GetAllocatedBytesForCurrentThread();
        float[] b = file.Read<float>("big");
        long bigCost = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(7f, b[^1]);
        Assert.InRange(bigCost, 24_000_000, 24_100_000);
    }

    public static TheoryData<string, string?, string> MalformedCases() => new()
    {
        // header JSON | tensor named in the error (null: file-level) | message fragment
        { """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} trailing""", null, "not valid JSON" },
        { """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},}""", null, "not valid JSON" },
        { """[1,2]""", null, "does not start with '{'" },
        { """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", "w", "appears twice" },
        { """{"__metadata__":{"a":1},"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", "__metadata__", "not a string" },
        { """{"__metadata__":{"a":"x","a":"y"},"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", "__metadata__", "twice" },
        { """{"w":{"dtype":"BOOL","shape":[16],"data_offsets":[0,16]}}""", "w", "dtype 'BOOL' is not supported" },
        { """{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}""", "w", "needs 12 bytes" },
        { """{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}""", "w", "negative number -4" },
        { """{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}""", "w", "overflows" },
        { """{"w":{"dtype":"F32","shape":[4.0],"data_offsets":[0,16]}}""", "w", "not an integer" },
        { """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,32]}}""", "w", "run past the end" },
        { """{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", "w", "end before they begin" },
        { """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}}""", "w", "not 2" },
        { """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", "b", "overlap tensor 'a'" },
        { """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", "b", "hole of 4 bytes" },
        { """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""", null, "4 bytes at the end belong to no tensor" },
        { """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"extra":1}}""", "w", "unknown field 'extra'" },
        { """{"w":{"dtype":"F32","data_offsets":[0,16]}}""", "w", "lacks 'shape'" },
        { """{"w":{"dtype":"F32","shape":[4],"shape":[4],"data_offsets":[0,16]}}""", "w", "appears twice" },
        { """{"":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", "", "empty name" },
        { """{"w":[1,2]}""", "w", "must be an object" },
        { """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}""", null, "not valid JSON" },
        { """{"w":{"dtype":"F32","shape":[[[[4]]]],"data_offsets":[0,16]}}""", "w", "not an integer" },
    };

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void MalformedHeadersFailWithTypedErrorsNamingFileTensorAndProblem(string header, string? tensor, string fragment)
    {
        using var folder = new TempFolder();
        string path = folder.File("bad.safetensors");
        File.WriteAllBytes(path, FormatTestData.HandBuiltSafetensors(header, new byte[16]));
        var ex = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(tensor, ex.TensorName);
        Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedAndOversizedHeadersAreRejectedBeforeParsing()
    {
        Assert.Contains("shorter than the 8-byte", Assert.Throws<CheckpointFormatException>(
            () => SafetensorsFile.FromMemory(new byte[5])).Message, StringComparison.Ordinal);
        var huge = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(huge, 1UL << 40);
        Assert.Contains("over the 100000000-byte limit", Assert.Throws<CheckpointFormatException>(
            () => SafetensorsFile.FromMemory(huge)).Message, StringComparison.Ordinal);
        BinaryPrimitives.WriteUInt64LittleEndian(huge, 100);
        Assert.Contains("only 56 follow", Assert.Throws<CheckpointFormatException>(
            () => SafetensorsFile.FromMemory(huge)).Message, StringComparison.Ordinal);
        byte[] badUtf8 = FormatTestData.HandBuiltSafetensors("{\"w\u00e9\":1}", []);
        badUtf8[11] = 0xFF; // break the two-byte sequence of é
        Assert.Contains("not valid UTF-8", Assert.Throws<CheckpointFormatException>(
            () => SafetensorsFile.FromMemory(badUtf8)).Message, StringComparison.Ordinal);
        using var folder = new TempFolder();
        File.WriteAllBytes(folder.File("empty.safetensors"), []);
        Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(folder.File("empty.safetensors")));
        Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Open(folder.File("missing.safetensors")));
    }

    [Fact]
    public void ZeroSizedTensorsMayShareAnOffset()
    {
        byte[] bytes = FormatTestData.HandBuiltSafetensors(
            """{"e1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"e2":{"dtype":"F64","shape":[0,3],"data_offsets":[0,0]},"w":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}""",
            [9, 0, 0, 0]);
        using SafetensorsFile file = SafetensorsFile.FromMemory(bytes);
        Assert.Empty(file.Read<float>("e1"));
        Assert.Equal([0, 3], file.Read("e2").GetShape());
        Assert.Equal([9], file.Read<int>("w"));
    }
}
