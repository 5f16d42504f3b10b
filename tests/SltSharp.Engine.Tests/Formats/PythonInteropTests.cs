using System.Diagnostics;
using SltSharp.Engine.Formats;
using Xunit.Abstractions;

namespace SltSharp.Engine.Tests.Formats;

/// <summary>
/// Cross-checks against numpy through Debian's /usr/bin/python3. When python3 or numpy is missing each test writes
/// "SKIPPED: ..." to its output and returns (xunit v2 has no dynamic skip), hence the "_OrSkipWithoutNumpy" names.
/// </summary>
public sealed class PythonInteropTests(ITestOutputHelper output)
{
    private const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> MissingReason = new(FindMissingReason);

    private static string Script => Path.Combine(AppContext.BaseDirectory, "Formats", "python", "formats_interop.py");

    [Fact]
    public void NumpyReadsOurNpyNpzAndSafetensors_OrSkipWithoutNumpy()
    {
        if (Skip())
        {
            return;
        }
        using var folder = new TempFolder();
        NamedArray[] arrays = FormatTestData.InteropArrays();
        foreach (NamedArray a in arrays)
        {
            Npy.Write(folder.File(a.Name + ".npy"), a);
        }
        Npz.Write(folder.File("stored.npz"), arrays, compress: false);
        Npz.Write(folder.File("deflated.npz"), arrays, compress: true);
        Safetensors.Write(folder.File("ours.safetensors"), arrays,
            new Dictionary<string, string> { ["format"] = "pt", ["note"] = "caf\u00e9 \u2713" });
        (int code, string stdout, string stderr) = RunPython("check", folder.Path);
        Assert.True(code == 0, $"numpy check failed (exit {code}):\n{stdout}\n{stderr}");
        Assert.Contains("OK", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void WeReadNumpyAndPythonWrittenFiles_OrSkipWithoutNumpy()
    {
        if (Skip())
        {
            return;
        }
        using var folder = new TempFolder();
        (int code, string stdout, string stderr) = RunPython("write", folder.Path);
        Assert.True(code == 0, $"python writer failed (exit {code}):\n{stdout}\n{stderr}");
        NamedArray[] expected = FormatTestData.InteropArrays();

        foreach (NamedArray want in expected)
        {
            AssertSame(want, Npy.Read(folder.File(want.Name + ".npy")));
        }
        NamedArray half = Npy.Read(folder.File("half_f2.npy"));
        Assert.Equal([2, 3], half.GetShape());
        Assert.Equal(FormatTestData.ToFloats(FormatTestData.Eighths(6)), half.AsFloats());

        foreach (string archive in new[] { "stored.npz", "deflated.npz" })
        {
            IReadOnlyList<NamedArray> read = Npz.Read(folder.File(archive));
            Assert.Equal(expected.Length, read.Count);
            foreach (NamedArray want in expected)
            {
                AssertSame(want, read.Single(r => r.Name == want.Name));
            }
        }

        using SafetensorsFile st = SafetensorsFile.Open(folder.File("python.safetensors"));
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["step"] = "1200" }, st.Metadata);
        AssertSame(NamedArray.Create("w_f32", FormatTestData.ToFloats(FormatTestData.Rational(12)), 3, 4), st.Read("w_f32"));
        AssertSame(NamedArray.Create("w_f64", FormatTestData.Rational(24), 2, 3, 4), st.Read("w_f64"));
        AssertSame(NamedArray.Create("h_f16", FormatTestData.ToFloats(FormatTestData.Eighths(5)), 5), st.Read("h_f16"));
        AssertSame(NamedArray.Create("h_bf16", FormatTestData.ToFloats(FormatTestData.Eighths(8)), 2, 4), st.Read("h_bf16"));
        AssertSame(NamedArray.Create("labels_i32", FormatTestData.Int32s(7), 7), st.Read("labels_i32"));
        AssertSame(NamedArray.Create("tokens_i64", FormatTestData.Int64s(10), 2, 5), st.Read("tokens_i64"));
        Assert.Equal(FormatTestData.Eighths(8), st.Read<double>("h_bf16"));
    }

    [Fact]
    public void OurNpyBytesEqualNumpySaveBytes_OrSkipWithoutNumpy()
    {
        if (Skip())
        {
            return;
        }
        using var folder = new TempFolder();
        (int code, string stdout, string stderr) = RunPython("write", folder.Path);
        Assert.True(code == 0, $"python writer failed (exit {code}):\n{stdout}\n{stderr}");
        foreach (NamedArray a in FormatTestData.InteropArrays())
        {
            using var ours = new MemoryStream();
            Npy.Write(ours, a);
            byte[] theirs = File.ReadAllBytes(folder.File(a.Name + ".npy"));
            Assert.True(theirs.AsSpan().SequenceEqual(ours.ToArray()),
                $"{a.Name}: our .npy bytes differ from np.save's:\nours:   {System.Text.Encoding.Latin1.GetString(ours.ToArray()[..Math.Min(128, (int)ours.Length)])}\ntheirs: {System.Text.Encoding.Latin1.GetString(theirs[..Math.Min(128, theirs.Length)])}");
        }
    }

    private static void AssertSame(NamedArray want, NamedArray got)
    {
        Assert.Equal(want.Name, got.Name);
        Assert.Equal(want.DType, got.DType);
        Assert.Equal(want.GetShape(), got.GetShape());
        Assert.True(want.AsBytes().SequenceEqual(got.AsBytes()), $"{want.Name}: values differ");
    }

    private bool Skip()
    {
        if (MissingReason.Value is { } reason)
        {
            output.WriteLine($"SKIPPED: {reason}");
            return true;
        }
        return false;
    }

    private static string? FindMissingReason()
    {
        if (!File.Exists(Python))
        {
            return $"{Python} not found; install Debian's python3 and python3-numpy to run the numpy cross-checks.";
        }
        try
        {
            (int code, _, string err) = Run(Python, "-c \"import numpy\"");
            return code == 0 ? null : $"numpy is not importable from {Python}: {err.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"{Python} could not be started: {ex.Message}";
        }
    }

    private static (int Code, string Stdout, string Stderr) RunPython(string command, string folder) =>
        Run(Python, $"\"{Script}\" {command} \"{folder}\"");

    private static (int Code, string Stdout, string Stderr) Run(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments} did not finish within 60 s.");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
