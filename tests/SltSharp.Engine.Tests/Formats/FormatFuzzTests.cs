using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using SltSharp.Engine.Formats;
using SltSharp.Engine.Random;
using Xunit.Abstractions;

namespace SltSharp.Engine.Tests.Formats;

/// <summary>
/// Mutation fuzzing of the three readers: every mutated file must end in a <see cref="CheckpointFormatException"/> or
/// in a read whose data is self-consistent, with bounded time and allocation.
/// </summary>
public sealed class FormatFuzzTests(ITestOutputHelper output)
{
    private enum Format
    {
        Safetensors,
        Npy,
        Npz,
    }

    [Fact]
    public void MutatedCheckpointsFailTypedOrReadConsistently() => Fuzz(seed: 0x5EED_F022, casesPerFormat: 12_000);

    [Fact]
    [Trait("Category", "Slow")]
    public void MutatedCheckpointsFailTypedOrReadConsistently_ManyCases() => Fuzz(seed: 0xB16_F022, casesPerFormat: 200_000);

    private void Fuzz(ulong seed, int casesPerFormat)
    {
        // The loop runs on a worker so that a hang fails the test instead of stalling the run.
        var task = Task.Run(() => FuzzLoop(seed, casesPerFormat));
        Assert.True(task.Wait(TimeSpan.FromMinutes(10)), "The fuzz loop did not finish within 10 minutes: a reader hangs.");
        foreach (string line in task.Result)
        {
            output.WriteLine(line);
        }
    }

    private static List<string> FuzzLoop(ulong seed, int casesPerFormat)
    {
        var log = new List<string>();
        using var folder = new TempFolder();
        var seeds = new Dictionary<Format, byte[][]>
        {
            [Format.Safetensors] = SafetensorsSeeds(),
            [Format.Npy] = NpySeeds(),
            [Format.Npz] = NpzSeeds(),
        };
        foreach ((Format format, byte[][] files) in seeds)
        {
            var rng = new Rng(seed, (ulong)format);
            int typed = 0, succeeded = 0, mutatedButFine = 0;
            TimeSpan slowest = TimeSpan.Zero;
            var clock = Stopwatch.StartNew();
            for (int c = 0; c < casesPerFormat; c++)
            {
                byte[] original = files[rng.NextInt(files.Length)];
                (byte[] bytes, string mutation) = Mutate(format, original, rng);
                bool viaFile = rng.NextInt(8) == 0;
                string where = $"{format} case {c} (seed {seed:X}, {mutation}, {(viaFile ? "file" : "memory")}, {bytes.Length} bytes)";
                long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
                var caseClock = Stopwatch.StartNew();
                try
                {
                    ReadAndCheck(format, bytes, viaFile ? folder.File($"case.{format}") : null, where);
                    succeeded++;
                    if (!bytes.AsSpan().SequenceEqual(original))
                    {
                        mutatedButFine++;
                    }
                }
                catch (CheckpointFormatException ex)
                {
                    typed++;
                    // A typed error must say where it comes from.
                    Assert.False(string.IsNullOrEmpty(ex.FilePath), $"{where}: exception without FilePath");
                    Assert.Contains(ex.FilePath, ex.Message, StringComparison.Ordinal);
                }
                catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
                {
                    Assert.Fail($"{where}: untyped {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}\nbytes: {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 256)))}");
                }
                caseClock.Stop();
                slowest = caseClock.Elapsed > slowest ? caseClock.Elapsed : slowest;
                long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
                // Seeds are at most a few KB; a reader that trusts a corrupt size field allocates megabytes to
                // gigabytes. The bound leaves room for zip's buffers (about 64 KB per entry) and decoding.
                long budget = (64L * bytes.Length) + (2L << 20);
                Assert.True(allocated <= budget, $"{where}: allocated {allocated} bytes, over the {budget}-byte budget");
                Assert.True(caseClock.Elapsed < TimeSpan.FromSeconds(5), $"{where}: took {caseClock.Elapsed}");
            }
            log.Add($"{format}: {casesPerFormat} cases in {clock.Elapsed.TotalSeconds:F1} s: {typed} CheckpointFormatException, " +
                $"{succeeded} consistent reads ({mutatedButFine} of them mutated), slowest {slowest.TotalMilliseconds:F1} ms");
            // The fuzzer must actually reach both outcomes, or it is not exercising the validation.
            Assert.True(typed > casesPerFormat / 4, $"{format}: only {typed} typed failures; the mutations are too gentle.");
            Assert.True(mutatedButFine > 0, $"{format}: no mutated file was ever accepted; the check of successful reads never ran.");
        }
        return log;
    }

    private static void ReadAndCheck(Format format, byte[] bytes, string? path, string where)
    {
        if (path is not null)
        {
            File.WriteAllBytes(path, bytes);
        }
        switch (format)
        {
            case Format.Safetensors:
                using (SafetensorsFile file = path is null ? SafetensorsFile.FromMemory(bytes, "fuzz") : SafetensorsFile.Open(path))
                {
                    CheckSafetensors(file, bytes, where);
                }
                break;
            case Format.Npy:
                NamedArray array = path is null ? Npy.Read(new MemoryStream(bytes), "fuzz") : Npy.Read(path);
                CheckShape(array, where);
                CheckNpyData(array, bytes, where);
                CheckRoundTrip([array], where);
                break;
            case Format.Npz:
                IReadOnlyList<NamedArray> arrays = path is null ? Npz.Read(new MemoryStream(bytes), "fuzz") : Npz.Read(path);
                foreach (NamedArray a in arrays)
                {
                    CheckShape(a, where);
                }
                Assert.Equal(arrays.Count, arrays.Select(a => a.Name).Distinct().Count());
                CheckRoundTrip(arrays, where);
                break;
        }
    }

    /// <summary>The data must be the file's tail: byte for byte, or as binary16 values widened to float.</summary>
    private static void CheckNpyData(NamedArray array, byte[] bytes, string where)
    {
        ReadOnlySpan<byte> data = array.AsBytes();
        if (data.Length <= bytes.Length && data.SequenceEqual(bytes.AsSpan(bytes.Length - data.Length)))
        {
            return;
        }
        Assert.True(array.DType == DType.F32, $"{where}: data is not the file's tail");
        ReadOnlySpan<Half> half = MemoryMarshal.Cast<byte, Half>(bytes.AsSpan(bytes.Length - (2 * array.ElementCount)));
        float[] values = array.AsFloats();
        for (int i = 0; i < values.Length; i++)
        {
            float expected = (float)half[i];
            Assert.True(expected.Equals(values[i]), $"{where}: element {i} is {values[i]}, not the stored half {expected}");
        }
    }

    private static void CheckSafetensors(SafetensorsFile file, byte[] bytes, string where)
    {
        long covered = 0;
        foreach (SafetensorsEntry e in file.Entries)
        {
            covered += e.ByteCount;
            Assert.Equal(e.ElementCount * DTypeInfo.SizeOf(e.DType), e.ByteCount);
            Assert.Equal(e.ElementCount, e.Shape.Aggregate(1L, (p, d) => p * d));
        }
        Assert.True(covered == bytes.Length - file.DataStart, $"{where}: tensors cover {covered} of {bytes.Length - file.DataStart} buffer bytes");
        IReadOnlyList<NamedArray> all = file.ReadAll();
        foreach (NamedArray a in all)
        {
            CheckShape(a, where);
            SafetensorsEntry e = file.GetEntry(a.Name);
            if (e.DType == a.DType)
            {
                Assert.True(a.AsBytes().SequenceEqual(file.GetRawBytes(a.Name)), $"{where}: '{a.Name}' differs from its stored bytes");
            }
        }
        using var copy = new MemoryStream();
        Safetensors.Write(copy, all, file.Metadata);
        using SafetensorsFile again = SafetensorsFile.FromMemory(copy.ToArray(), "fuzz-rewrite");
        Assert.Equal(file.Metadata, again.Metadata);
        foreach (NamedArray a in all)
        {
            Assert.True(a.ContentEquals(again.Read(a.Name)), $"{where}: '{a.Name}' does not survive a rewrite");
        }
    }

    private static void CheckShape(NamedArray a, string where)
    {
        long product = a.Shape.Aggregate(1L, (p, d) => p * d);
        Assert.True(product == a.ElementCount, $"{where}: '{a.Name}' shape product {product} != {a.ElementCount} elements");
        Assert.True(a.AsBytes().Length == a.ElementCount * DTypeInfo.SizeOf(a.DType), $"{where}: '{a.Name}' byte length");
    }

    private static void CheckRoundTrip(IReadOnlyList<NamedArray> arrays, string where)
    {
        using var copy = new MemoryStream();
        Npz.Write(copy, arrays);
        copy.Position = 0;
        IReadOnlyList<NamedArray> again = Npz.Read(copy, "fuzz-rewrite");
        Assert.Equal(arrays.Count, again.Count);
        for (int i = 0; i < arrays.Count; i++)
        {
            Assert.True(arrays[i].ContentEquals(again[i]), $"{where}: '{arrays[i].Name}' does not survive a rewrite");
        }
    }

    // ---------------------------------------------------------------- seeds

    private static byte[][] SafetensorsSeeds()
    {
        var a = new MemoryStream();
        Safetensors.Write(a, [
            NamedArray.Create("layer.0.weight", FormatTestData.ToFloats(FormatTestData.Rational(12)), 3, 4),
            NamedArray.Create("layer.0.bias", FormatTestData.Rational(3), 3),
            NamedArray.Create("labels", FormatTestData.Int32s(5), 5),
            NamedArray.Create("tokens", FormatTestData.Int64s(4), 2, 2),
            NamedArray.Create("scalar", [1.5f], Array.Empty<int>()),
            NamedArray.Create("empty", Array.Empty<double>(), 0, 2),
        ], new Dictionary<string, string> { ["format"] = "pt", ["step"] = "100" });
        // Half-precision tensors, which our writer never produces: a hand-built header and buffer.
        byte[] half = FormatTestData.HandBuiltSafetensors(
            """{"__metadata__":{"k":"v"},"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]}}""",
            [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C, 0x80, 0x3F, 0x00, 0xC0, 0x80, 0x7F]);
        var single = new MemoryStream();
        Safetensors.Write(single, [NamedArray.Create("w", FormatTestData.Rational(6), 2, 3)]);
        return [a.ToArray(), half, single.ToArray()];
    }

    private static byte[][] NpySeeds()
    {
        var seeds = new List<byte[]>();
        foreach (NamedArray a in FormatTestData.InteropArrays())
        {
            var s = new MemoryStream();
            Npy.Write(s, a);
            seeds.Add(s.ToArray());
        }
        seeds.Add(FormatTestData.NpyWithHeader(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", new byte[32]));
        seeds.Add(FormatTestData.NpyWithHeader(3, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]));
        seeds.Add(FormatTestData.NpyWithHeader(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C]));
        return [.. seeds];
    }

    private static byte[][] NpzSeeds()
    {
        NamedArray[] arrays = FormatTestData.InteropArrays()[..4];
        var stored = new MemoryStream();
        Npz.Write(stored, arrays, compress: false);
        var deflated = new MemoryStream();
        Npz.Write(deflated, arrays, compress: true);
        return [stored.ToArray(), deflated.ToArray()];
    }

    // ---------------------------------------------------------------- mutations

    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, (byte)'{', (byte)'}', (byte)'"', (byte)'\'',
        (byte)',', (byte)':', (byte)'[', (byte)']', (byte)'(', (byte)')', (byte)'-', (byte)'9', (byte)'0', (byte)' ', 0xC3, 0xE2];

    private static readonly string[] JsonFragments = ["-1", "0", "1", "7", "99999999999", "18446744073709551616", "1e3", "2.5",
        "\"F16\"", "\"BF16\"", "\"F32\"", "\"F64\"", "\"I32\"", "\"I64\"", "\"BOOL\"", "\"U8\"", "null", "true", "[]", "{}", "[0,0]",
        "\"x\":1,", "\"__metadata__\"", "\"shape\"", "\"dtype\"", "\"data_offsets\"", "\"layer.0.bias\"", "\"\"", "\"\\u0000\""];

    private static readonly string[] NpyFragments = ["'<f4'", "'<f8'", "'<f2'", "'<i4'", "'<i8'", "'>f4'", "'|u1'", "'<c8'",
        "True", "False", "(", ")", "()", "(3,)", "(3)", "(0,)", "(2, 2)", "(4294967296, 4294967296)", "-1", "9", "0", "'shape': (1,), ",
        "'descr'", "'extra': 1, ", "\"", "{", "}", "L"];

    private static (byte[] Bytes, string Mutation) Mutate(Format format, byte[] original, Rng rng)
    {
        byte[] b = (byte[])original.Clone();
        if (b.Length == 0)
        {
            return ([(byte)rng.NextInt(256)], "one byte from nothing");
        }
        int kind = rng.NextInt(10);
        switch (kind)
        {
            case 0:
            {
                int flips = 1 + rng.NextInt(4);
                for (int i = 0; i < flips; i++)
                {
                    b[rng.NextInt(b.Length)] ^= (byte)(1 << rng.NextInt(8));
                }
                return (b, $"{flips} bit flips");
            }
            case 1:
            {
                int pos = PickPosition(format, b, rng);
                b[pos] = rng.NextInt(2) == 0 ? Interesting[rng.NextInt(Interesting.Length)] : (byte)rng.NextInt(256);
                return (b, $"byte {pos} replaced");
            }
            case 2:
            {
                int length = rng.NextInt(b.Length);
                return (b[..length], $"truncated to {length}");
            }
            case 3:
            {
                int pos = PickPosition(format, b, rng);
                byte[] insert = new byte[1 + rng.NextInt(16)];
                for (int i = 0; i < insert.Length; i++)
                {
                    insert[i] = rng.NextInt(2) == 0 ? Interesting[rng.NextInt(Interesting.Length)] : (byte)rng.NextInt(256);
                }
                return ([.. b[..pos], .. insert, .. b[pos..]], $"{insert.Length} bytes inserted at {pos}");
            }
            case 4:
            {
                int pos = rng.NextInt(b.Length);
                int count = 1 + rng.NextInt(Math.Min(16, b.Length - pos));
                return ([.. b[..pos], .. b[(pos + count)..]], $"{count} bytes deleted at {pos}");
            }
            case 5:
                return LengthFieldEdit(format, b, rng);
            case 6 or 7:
                try
                {
                    return format switch
                    {
                        Format.Safetensors => JsonEdit(b, rng),
                        Format.Npy => NpyDictEdit(b, rng),
                        _ => NpzEntryEdit(b, rng),
                    };
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidDataException or IndexOutOfRangeException or OverflowException)
                {
                    // A structured edit of an already-mangled file (stacked mutations) may not parse: flip a bit instead.
                    b[rng.NextInt(b.Length)] ^= 0x10;
                    return (b, "structured edit impossible; bit flip");
                }
            default:
            {
                // Several stacked mutations of the kinds above.
                (byte[] x, string m1) = Mutate(format, b, rng);
                if (x.Length == 0)
                {
                    return (x, m1);
                }
                (byte[] y, string m2) = Mutate(format, x, rng);
                return (y, $"{m1}; then {m2}");
            }
        }
    }

    /// <summary>Biased toward the header, where the interesting structure is.</summary>
    private static int PickPosition(Format format, byte[] b, Rng rng)
    {
        if (format == Format.Safetensors && b.Length > 8 && rng.NextInt(3) > 0)
        {
            long n = Math.Min((long)BinaryPrimitives.ReadUInt64LittleEndian(b), b.Length - 8);
            return 8 + rng.NextInt((int)Math.Max(1, n));
        }
        if (format == Format.Npy && b.Length > 10 && rng.NextInt(3) > 0)
        {
            return rng.NextInt(Math.Min(b.Length, 128));
        }
        return rng.NextInt(b.Length);
    }

    private static (byte[], string) LengthFieldEdit(Format format, byte[] b, Rng rng)
    {
        if (format == Format.Safetensors && b.Length >= 8)
        {
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(b);
            ulong edited = rng.NextInt(4) switch
            {
                0 => n + (ulong)rng.NextInt(17) - 8,
                1 => (ulong)rng.NextInt(b.Length + 16),
                2 => 1UL << rng.NextInt(64),
                _ => rng.NextUInt64(),
            };
            BinaryPrimitives.WriteUInt64LittleEndian(b, edited);
            return (b, $"header length {n} -> {edited}");
        }
        if (format == Format.Npy && b.Length >= 12)
        {
            if (rng.NextInt(3) == 0)
            {
                b[6] = (byte)rng.NextInt(5);
                return (b, $"npy version -> {b[6]}");
            }
            int field = rng.NextInt(2) == 0 ? BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(8)) : 0;
            int edited = rng.NextInt(2) == 0 ? field + rng.NextInt(17) - 8 : rng.NextInt(65536);
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(8), (ushort)Math.Clamp(edited, 0, 65535));
            return (b, $"npy header length -> {edited}");
        }
        if (format == Format.Npz && b.Length >= 4)
        {
            // Zip size fields: edit a 4-byte little-endian word somewhere in the local or central headers.
            int pos = rng.NextInt(Math.Max(1, b.Length - 4));
            uint edited = rng.NextInt(2) == 0 ? BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(pos)) + (uint)rng.NextInt(9) - 4 : (uint)rng.NextUInt64();
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(pos), edited);
            return (b, $"word at {pos} -> {edited}");
        }
        return (b, "no-op length edit");
    }

    private static (byte[], string) JsonEdit(byte[] b, Rng rng)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(b);
        string json = Encoding.UTF8.GetString(b, 8, n);
        byte[] data = b[(8 + n)..];
        string edited = ReplaceRandomToken(json, JsonFragments, rng, "{}[],:\"");
        // Recompute the length field so the edit reaches the JSON and layout validation.
        return (FormatFuzzTestsHelpers.Concat(FormatTestData.HandBuiltSafetensors(edited, []), data), "json edit");
    }

    private static (byte[], string) NpyDictEdit(byte[] b, Rng rng)
    {
        int version = b[6];
        int preamble = version == 1 ? 10 : 12;
        int n = version == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(8)) : (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(8));
        string dict = Encoding.UTF8.GetString(b, preamble, n).TrimEnd();
        string edited = ReplaceRandomToken(dict, NpyFragments, rng, "{}(),:'");
        return (FormatTestData.NpyWithHeader(version, edited, b[(preamble + n)..]), "npy dict edit");
    }

    /// <summary>Mutates one .npy inside the archive and re-zips it, so the .npy validation runs behind zip.</summary>
    private static (byte[], string) NpzEntryEdit(byte[] b, Rng rng)
    {
        var entries = new List<(string Name, byte[] Data)>();
        using (var zip = new ZipArchive(new MemoryStream(b), ZipArchiveMode.Read))
        {
            foreach (ZipArchiveEntry e in zip.Entries)
            {
                using Stream s = e.Open();
                var m = new MemoryStream();
                s.CopyTo(m);
                entries.Add((e.FullName, m.ToArray()));
            }
        }
        int victim = rng.NextInt(entries.Count);
        (byte[] mutated, string mutation) = rng.NextInt(3) == 0
            ? (entries[victim].Data, "entry renamed")
            : Mutate(Format.Npy, entries[victim].Data, rng);
        string name = mutation == "entry renamed"
            ? rng.NextInt(2) == 0 ? entries[(victim + 1) % entries.Count].Name : "x.txt"
            : entries[victim].Name;
        entries[victim] = (name, mutated);
        var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach ((string entryName, byte[] data) in entries)
            {
                ZipArchiveEntry e = zip.CreateEntry(entryName, rng.NextInt(2) == 0 ? CompressionLevel.NoCompression : CompressionLevel.Fastest);
                using Stream s = e.Open();
                s.Write(data);
            }
        }
        return (output.ToArray(), $"npz entry {victim}: {mutation}");
    }

    private static string ReplaceRandomToken(string text, string[] fragments, Rng rng, string separators)
    {
        if (text.Length == 0)
        {
            return fragments[rng.NextInt(fragments.Length)];
        }
        // Pick a span: either a run between separators (a number, a name, a word) or a single character.
        int start = rng.NextInt(text.Length);
        int end = start + 1;
        if (rng.NextInt(3) > 0)
        {
            while (start > 0 && !separators.Contains(text[start - 1], StringComparison.Ordinal))
            {
                start--;
            }
            while (end < text.Length && !separators.Contains(text[end], StringComparison.Ordinal))
            {
                end++;
            }
        }
        string replacement = rng.NextInt(5) == 0 ? "" : fragments[rng.NextInt(fragments.Length)];
        if (rng.NextInt(6) == 0)
        {
            // Duplicate a span instead, e.g. a whole key-value pair.
            replacement = text[start..end] + text[start..end];
        }
        return string.Concat(text.AsSpan(0, start), replacement, text.AsSpan(end));
    }
}

internal static class FormatFuzzTestsHelpers
{
    public static byte[] Concat(byte[] a, byte[] b)
    {
        var r = new byte[a.Length + b.Length];
        a.CopyTo(r, 0);
        b.CopyTo(r, a.Length);
        return r;
    }
}
