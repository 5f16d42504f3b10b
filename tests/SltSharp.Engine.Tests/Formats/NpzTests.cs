using System.IO.Compression;
using SltSharp.Engine.Formats;

namespace SltSharp.Engine.Tests.Formats;

public sealed class NpzTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTripKeepsOrderNamesAndValues(bool compress)
    {
        using var folder = new TempFolder();
        string path = folder.File("arrays.npz");
        NamedArray[] arrays = FormatTestData.InteropArrays();
        Npz.Write(path, arrays, compress);
        IReadOnlyList<NamedArray> read = Npz.Read(path);
        Assert.Equal(arrays.Select(a => a.Name), read.Select(a => a.Name));
        for (int i = 0; i < arrays.Length; i++)
        {
            Assert.True(arrays[i].ContentEquals(read[i]), arrays[i].Name);
        }
        using ZipArchive zip = ZipFile.OpenRead(path);
        Assert.All(zip.Entries, e => Assert.EndsWith(".npy", e.FullName, StringComparison.Ordinal));
        // Stored entries have equal sizes; the rational-valued doubles compress under deflate.
        ZipArchiveEntry big = zip.GetEntry("w_f8.npy")!;
        Assert.Equal(!compress, big.CompressedLength == big.Length);
    }

    [Fact]
    public void CorruptedStoredDataIsCaughtByTheCrc()
    {
        using var stream = new MemoryStream();
        Npz.Write(stream, [NamedArray.Create("w", FormatTestData.Rational(16))]);
        byte[] bytes = stream.ToArray();
        // Flip a bit in the last data byte of the only entry: the local header and .npy header stay intact.
        int dataEnd = FindCentralDirectory(bytes);
        bytes[dataEnd - 1] ^= 0x01;
        var ex = Assert.Throws<CheckpointFormatException>(() => Npz.Read(new MemoryStream(bytes), "flip.npz"));
        Assert.Equal("flip.npz", ex.FilePath);
        Assert.Equal("w", ex.TensorName);
    }

    [Fact]
    public void NonNpyEntriesDuplicatesAndGarbageAreTypedErrors()
    {
        Assert.Contains("not a named .npy array", Assert.Throws<CheckpointFormatException>(
            () => Npz.Read(Zip(("readme.txt", [1, 2, 3])), "a.npz")).Message, StringComparison.Ordinal);
        Assert.Contains("not a named .npy array", Assert.Throws<CheckpointFormatException>(
            () => Npz.Read(Zip((".npy", Npy(1))), "a.npz")).Message, StringComparison.Ordinal);
        var dup = Assert.Throws<CheckpointFormatException>(() => Npz.Read(Zip(("w.npy", Npy(1)), ("w.npy", Npy(2))), "a.npz"));
        Assert.Equal("w", dup.TensorName);
        Assert.Contains("two archive entries", dup.Message, StringComparison.Ordinal);
        var inner = Assert.Throws<CheckpointFormatException>(() => Npz.Read(Zip(("w.npy", [0x93, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])), "a.npz"));
        Assert.Equal("w", inner.TensorName);
        Assert.Contains("magic", inner.Message, StringComparison.Ordinal);
        Assert.Contains("zip archive is corrupt", Assert.Throws<CheckpointFormatException>(
            () => Npz.Read(new MemoryStream(new byte[100]), "zeros.npz")).Message, StringComparison.Ordinal);
        Assert.Empty(Npz.Read(Zip(), "empty.npz"));
    }

    [Fact]
    public void WriterRejectsDuplicateNames()
    {
        using var stream = new MemoryStream();
        Assert.Throws<ArgumentException>(() => Npz.Write(stream,
            [NamedArray.Create("w", new float[] { 1 }), NamedArray.Create("w", new float[] { 2 })]));
    }

    private static byte[] Npy(double value)
    {
        using var s = new MemoryStream();
        SltSharp.Engine.Formats.Npy.Write(s, NamedArray.Create("x", [value]));
        return s.ToArray();
    }

    private static MemoryStream Zip(params (string Name, byte[] Data)[] entries)
    {
        var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach ((string name, byte[] data) in entries)
            {
                using Stream e = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                e.Write(data);
            }
        }
        stream.Position = 0;
        return stream;
    }

    private static int FindCentralDirectory(byte[] bytes)
    {
        for (int i = bytes.Length - 4; i >= 0; i--)
        {
            if (bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x01 && bytes[i + 3] == 0x02)
            {
                return i;
            }
        }
        throw new InvalidOperationException("no central directory");
    }
}
