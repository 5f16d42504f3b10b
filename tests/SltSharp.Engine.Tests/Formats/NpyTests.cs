using System.Buffers.Binary;
using System.Text;
using SltSharp.Engine.Formats;

namespace SltSharp.Engine.Tests.Formats;

public sealed class NpyTests
{
    private static readonly byte[] ThreeInts = [1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 3, 0, 0, 0];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ReadsEveryHeaderVersion(int version)
    {
        byte[] bytes = FormatTestData.NpyWithHeader(version, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", ThreeInts);
        NamedArray a = Npy.Read(new MemoryStream(bytes), "v");
        Assert.Equal(DType.I32, a.DType);
        Assert.Equal([3], a.GetShape());
        Assert.Equal([1, -2, 3], a.AsInts());
    }

    [Theory]
    [InlineData("{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (3,)}")]
    [InlineData("{'shape': (3L,), 'fortran_order': False, 'descr': '<i4'}")]
    [InlineData("{ 'descr' : '<i4' ,\n 'fortran_order' : False , 'shape' : ( 3 , ) , }")]
    public void AcceptsEverySpellingNumpyHasWritten(string dict)
    {
        byte[] bytes = FormatTestData.NpyWithHeader(1, dict, ThreeInts);
        Assert.Equal([1, -2, 3], Npy.Read(new MemoryStream(bytes), "v").AsInts());
    }

    [Fact]
    public void OldSixteenByteAlignedHeadersAreAccepted()
    {
        // Older numpy versions padded the preamble to 16 bytes, not 64: the reader must not insist on 64.
        string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
        int total = (10 + dict.Length + 1 + 15) / 16 * 16;
        byte[] bytes = [0x93, .. "NUMPY"u8, 1, 0, 0, 0, .. Encoding.ASCII.GetBytes(dict.PadRight(total - 11) + "\n"), .. ThreeInts];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)(total - 10));
        Assert.Equal(0, total % 16);
        Assert.NotEqual(0, total % 64);
        Assert.Equal([1, -2, 3], Npy.Read(new MemoryStream(bytes), "v").AsInts());
    }

    [Fact]
    public void HalfPrecisionWidensToFloat()
    {
        byte[] bytes = FormatTestData.NpyWithHeader(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }",
            [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0xFF, 0x7B]);
        NamedArray a = Npy.Read(new MemoryStream(bytes), "h");
        Assert.Equal(DType.F32, a.DType);
        Assert.Equal([1f, -2f, MathF.Pow(2, -24), 65504f], a.AsFloats());
    }

    [Fact]
    public void WriterPadsToSixtyFourBytesAndSwitchesToVersionTwoForHugeHeaders()
    {
        using var small = new MemoryStream();
        Npy.Write(small, NamedArray.Create("x", new double[] { 1.5, -2 }));
        byte[] s = small.ToArray();
        Assert.Equal(1, s[6]);
        int preamble = 10 + BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(8));
        Assert.Equal(0, preamble % 64);
        Assert.Equal((byte)'\n', s[preamble - 1]);
        Assert.Equal(preamble + 16, s.Length);

        // 22 000 dimensions of size 1 need a 66 000-character dict, beyond version 1's 16-bit length.
        int[] shape = Enumerable.Repeat(1, 22_000).ToArray();
        NamedArray wide = NamedArray.Create("wide", new float[] { 42 }, shape);
        using var big = new MemoryStream();
        Npy.Write(big, wide);
        byte[] b = big.ToArray();
        Assert.Equal(2, b[6]);
        Assert.Equal(0L, (12L + BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(8))) % 64);
        big.Position = 0;
        Assert.True(wide.ContentEquals(Npy.Read(big, "wide")));
    }

    [Fact]
    public void FileReadNamesTheArrayAfterTheFile()
    {
        using var folder = new TempFolder();
        string path = folder.File("labels.npy");
        Npy.Write(path, NamedArray.Create("ignored", FormatTestData.Int64s(6), 2, 3));
        NamedArray a = Npy.Read(path);
        Assert.Equal("labels", a.Name);
        Assert.Equal(FormatTestData.Int64s(6), a.AsLongs());
        Assert.Equal([2, 3], a.GetShape());
    }

    public static TheoryData<string, string> MalformedDicts() => new()
    {
        { "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", "big-endian" },
        { "{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", "Fortran" },
        { "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", "'<c8' is not supported" },
        { "{'descr': '<f4', 'shape': (3,), }", "lacks 'fortran_order'" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", "unexpected key 'extra'" },
        { "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", "appears twice" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", "one-element tuple" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", "non-negative integer" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "beyond the 64-bit range" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", "element count beyond" },
        { "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }", "True or False" },
        { "{'descr': '<f4, 'fortran_order': False, 'shape': (3,), }", "expected ',' or '}'" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x", "text after its dict" },
        { "['<f4', False, (3,)]", "expected '{'" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), ", "expected a quoted string" },
        { "{'descr': 'a\\'b', 'fortran_order': False, 'shape': (3,), }", "escape sequence" },
    };

    [Theory]
    [MemberData(nameof(MalformedDicts))]
    public void MalformedHeadersFailWithTypedErrors(string dict, string fragment)
    {
        using var folder = new TempFolder();
        string path = folder.File("bad.npy");
        File.WriteAllBytes(path, FormatTestData.NpyWithHeader(1, dict, ThreeInts));
        var ex = Assert.Throws<CheckpointFormatException>(() => Npy.Read(path));
        Assert.Equal(path, ex.FilePath);
        Assert.Equal("bad", ex.TensorName);
        Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PreambleAndLengthProblemsAreTypedErrors()
    {
        byte[] good = FormatTestData.NpyWithHeader(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", ThreeInts);
        Assert.Contains("shorter than the 10-byte", Read(good[..7]), StringComparison.Ordinal);
        byte[] magic = (byte[])good.Clone();
        magic[1] = (byte)'X';
        Assert.Contains("magic", Read(magic), StringComparison.Ordinal);
        byte[] version = (byte[])good.Clone();
        version[6] = 4;
        Assert.Contains("version 4.0 is not supported", Read(version), StringComparison.Ordinal);
        byte[] headerPastEnd = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(headerPastEnd.AsSpan(8), 60000);
        Assert.Contains("the file is truncated", Read(headerPastEnd), StringComparison.Ordinal);
        Assert.Contains("the data is truncated", Read(good[..^1]), StringComparison.Ordinal);
        Assert.Contains("belong to nothing", Read([.. good, 0]), StringComparison.Ordinal);
        byte[] v2Huge = FormatTestData.NpyWithHeader(2, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", ThreeInts);
        BinaryPrimitives.WriteUInt32LittleEndian(v2Huge.AsSpan(8), 3_000_000_000);
        Assert.Contains("over the 1048576-byte limit", Read(v2Huge), StringComparison.Ordinal);
        byte[] v3BadUtf8 = FormatTestData.NpyWithHeader(3, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", ThreeInts);
        v3BadUtf8[13] = 0xC3; // a lead byte followed by "'" is not UTF-8
        Assert.Contains("not valid UTF-8", Read(v3BadUtf8), StringComparison.Ordinal);
    }

    [Fact]
    public void NonSeekableStreamsAreRefusedBecauseTheirLengthCannotBoundAllocation()
    {
        Assert.Throws<ArgumentException>(() => Npy.Read(new NonSeekable(new byte[64]), "x"));
    }

    private static string Read(byte[] bytes) =>
        Assert.Throws<CheckpointFormatException>(() => Npy.Read(new MemoryStream(bytes), "x", "test.npy")).Message;

    private sealed class NonSeekable(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
