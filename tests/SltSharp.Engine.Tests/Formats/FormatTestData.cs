using System.Buffers.Binary;
using System.Text;
using SltSharp.Engine.Formats;

namespace SltSharp.Engine.Tests.Formats;

/// <summary>Value formulas shared with python/formats_interop.py, and a self-deleting temporary folder.</summary>
internal static class FormatTestData
{
    /// <summary>((7919 i) mod 1001 - 500) / 3 in double: correctly rounded division, so numpy and .NET agree bit for bit.</summary>
    public static double[] Rational(int n)
    {
        var r = new double[n];
        for (int i = 0; i < n; i++)
        {
            r[i] = (((long)i * 7919 % 1001) - 500) / 3.0;
        }
        return r;
    }

    /// <summary>Multiples of 1/8 in [-63/8, 63/8]: exact in binary16 and bfloat16.</summary>
    public static double[] Eighths(int n)
    {
        var r = new double[n];
        for (int i = 0; i < n; i++)
        {
            r[i] = (((long)i * 37 % 127) - 63) / 8.0;
        }
        return r;
    }

    public static int[] Int32s(int n)
    {
        var r = new int[n];
        for (int i = 0; i < n; i++)
        {
            r[i] = (int)(((long)i * 7919 % 20011) - 10005);
        }
        return r;
    }

    public static long[] Int64s(int n)
    {
        var r = new long[n];
        for (int i = 0; i < n; i++)
        {
            r[i] = (i * 2654435761000003L) - 2305843009213693951L;
        }
        return r;
    }

    public static float[] ToFloats(double[] values) => values.Select(v => (float)v).ToArray();

    /// <summary>A safetensors file from a literal header (unpadded) and buffer.</summary>
    public static byte[] HandBuiltSafetensors(string header, byte[] buffer)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var result = new byte[8 + json.Length + buffer.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)json.Length);
        json.CopyTo(result, 8);
        buffer.CopyTo(result, 8 + json.Length);
        return result;
    }

    /// <summary>Builds a .npy with any version and dict (padded with spaces and a newline to 64 bytes).</summary>
    public static byte[] NpyWithHeader(int version, string dict, byte[] data)
    {
        int preamble = version == 1 ? 10 : 12;
        int total = (preamble + dict.Length + 1 + 63) / 64 * 64;
        string padded = dict.PadRight(total - preamble - 1) + "\n";
        var result = new byte[total + data.Length];
        result[0] = 0x93;
        "NUMPY"u8.CopyTo(result.AsSpan(1));
        result[6] = (byte)version;
        if (version == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(8), (ushort)padded.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(8), (uint)padded.Length);
        }
        Encoding.UTF8.GetBytes(padded).CopyTo(result, preamble);
        data.CopyTo(result, total);
        return result;
    }

    /// <summary>The arrays of formats_interop.py's arrays(), same names, shapes, dtypes and values.</summary>
    public static NamedArray[] InteropArrays() =>
    [
        NamedArray.Create("w_f4", ToFloats(Rational(12)), 3, 4),
        NamedArray.Create("w_f8", Rational(24), 2, 3, 4),
        NamedArray.Create("labels_i4", Int32s(7), 7),
        NamedArray.Create("tokens_i8", Int64s(10), 2, 5),
        NamedArray.Create("scalar_f8", [Rational(3)[2]], Array.Empty<int>()),
        NamedArray.Create("empty_f4", Array.Empty<float>(), 0, 3),
    ];
}

/// <summary>A fresh folder under the system temp path, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sltsharp-formats-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder is harmless.
        }
    }
}
