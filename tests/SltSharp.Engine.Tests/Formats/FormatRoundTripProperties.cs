using FsCheck;
using FsCheck.Fluent;
using SltSharp.Engine.Formats;

namespace SltSharp.Engine.Tests.Formats;

/// <summary>Property tests: any shape and any bit pattern survive every format unchanged.</summary>
public sealed class FormatRoundTripProperties
{
    /// <summary>Random name, rank 0..4, dims 0..5, a random dtype and raw random bits (NaN payloads, -0, subnormals).</summary>
    private static Gen<NamedArray> ArrayGen(string name) =>
        from rank in Gen.Choose(0, 4)
        from shape in Gen.ArrayOf(Gen.Choose(0, 5), rank)
        from dtype in Gen.Elements(DType.F32, DType.F64, DType.I32, DType.I64)
        from seed in ArbMap.Default.GeneratorFor<ulong>()
        select Build(name, shape, dtype, seed);

    private static Gen<NamedArray[]> ArraysGen =>
        from count in Gen.Choose(1, 5)
        from arrays in Gen.CollectToArray(Enumerable.Range(0, count), i => ArrayGen($"t{i}.w"))
        select arrays;

    private static NamedArray Build(string name, int[] shape, DType dtype, ulong seed)
    {
        int n = shape.Aggregate(1, (p, d) => p * d);
        var rng = new SltSharp.Engine.Random.Rng(seed);
        var bytes = new byte[n * DTypeInfo.SizeOf(dtype)];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)rng.NextUInt64();
        }
        return dtype switch
        {
            DType.F32 => NamedArray.Create(name, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray(), shape),
            DType.F64 => NamedArray.Create(name, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(bytes).ToArray(), shape),
            DType.I32 => NamedArray.Create(name, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(bytes).ToArray(), shape),
            _ => NamedArray.Create(name, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(bytes).ToArray(), shape),
        };
    }

    private static bool AllEqual(IReadOnlyList<NamedArray> expected, IReadOnlyList<NamedArray> actual) =>
        expected.Count == actual.Count && expected.Zip(actual).All(p => p.First.ContentEquals(p.Second));

    [Fact]
    public void SafetensorsRoundTripsAnyArraysAndMetadata()
    {
        Gen<Dictionary<string, string>> metaGen =
            from keys in Gen.ArrayOf(ArbMap.Default.GeneratorFor<NonNull<string>>())
            from values in Gen.ArrayOf(ArbMap.Default.GeneratorFor<NonNull<string>>(), keys.Length)
            select keys.Zip(values).DistinctBy(kv => kv.First.Get)
                .ToDictionary(kv => kv.First.Get, kv => kv.Second.Get, StringComparer.Ordinal);
        Prop.ForAll(Arb.From(ArraysGen), Arb.From(metaGen), (arrays, metadata) =>
        {
            using var stream = new MemoryStream();
            Safetensors.Write(stream, arrays, metadata);
            using SafetensorsFile file = SafetensorsFile.FromMemory(stream.ToArray());
            // The writer reorders by element size; compare by name.
            return file.Entries.Count == arrays.Length
                && arrays.All(a => a.ContentEquals(file.Read(a.Name)))
                && file.Metadata.Count == metadata.Count
                && metadata.All(kv => file.Metadata.TryGetValue(kv.Key, out string? v) && v == kv.Value);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void NpyRoundTripsAnyArray()
    {
        Prop.ForAll(Arb.From(ArrayGen("x")), array =>
        {
            using var stream = new MemoryStream();
            Npy.Write(stream, array);
            stream.Position = 0;
            bool aligned = (stream.Length - array.AsBytes().Length) % 64 == 0;
            return aligned && array.ContentEquals(Npy.Read(stream, "x"));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void NpzRoundTripsAnyArraysStoredOrDeflated()
    {
        Prop.ForAll(Arb.From(ArraysGen), ArbMap.Default.ArbFor<bool>(), (arrays, compress) =>
        {
            using var stream = new MemoryStream();
            Npz.Write(stream, arrays, compress);
            stream.Position = 0;
            return AllEqual(arrays, Npz.Read(stream));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void HalfPrecisionReadsAgreeWithDotNetHalfForEveryBitPattern()
    {
        // All 65 536 binary16 and bfloat16 patterns at once: the property is exhaustive, so no sampling is needed.
        var bits = new byte[65536 * 2];
        for (int i = 0; i < 65536; i++)
        {
            bits[2 * i] = (byte)i;
            bits[(2 * i) + 1] = (byte)(i >> 8);
        }
        byte[] file = FormatTestData.HandBuiltSafetensors(
            """{"h":{"dtype":"F16","shape":[65536],"data_offsets":[0,131072]},"b":{"dtype":"BF16","shape":[65536],"data_offsets":[131072,262144]}}""",
            [.. bits, .. bits]);
        using SafetensorsFile st = SafetensorsFile.FromMemory(file);
        float[] h = st.Read<float>("h");
        double[] hd = st.Read<double>("h");
        float[] b = st.Read<float>("b");
        for (int i = 0; i < 65536; i++)
        {
            float expectedHalf = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            Assert.True(expectedHalf.Equals(h[i]), $"F16 {i:X4}: {h[i]} != {expectedHalf}");
            Assert.True(((double)expectedHalf).Equals(hd[i]), $"F16 {i:X4} as double");
            Assert.Equal((uint)i << 16, BitConverter.SingleToUInt32Bits(b[i]));
        }
    }
}
