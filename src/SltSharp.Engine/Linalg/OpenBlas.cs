using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace SltSharp.Engine.Linalg;

/// <summary>
/// Loader and thread control for OpenBLAS (Debian package libopenblas0-pthread). The library is loaded by name
/// ("libopenblas.so.0", then "libopenblas.so") and confirmed through the OpenBLAS-only symbol
/// <c>openblas_get_corename</c>; the generic libblas.so.3 is never used because it may be the slow reference BLAS.
/// </summary>
/// <remarks>
/// On CPUs with AVX-512, some OpenBLAS builds detect the core as Haswell and run AVX2 kernels. Unless the user has
/// set OPENBLAS_CORETYPE, the loader sets it to SkylakeX in the native environment before loading the library (it is
/// read once at load time), and only when the CPU really has AVX-512 F/BW/DQ/VL, because elsewhere those kernels
/// would fault.
/// </remarks>
public static partial class OpenBlas
{
    private const string LibraryAlias = "sltsharp-openblas";
    private static readonly string[] s_candidateNames =
        OperatingSystem.IsWindows() ? ["libopenblas.dll", "openblas.dll"]
        : OperatingSystem.IsMacOS() ? ["libopenblas.0.dylib", "libopenblas.dylib"]
        : ["libopenblas.so.0", "libopenblas.so"];

    private static IntPtr s_handle;

    private static readonly Lazy<LoadResult> s_load = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>True when OpenBLAS was found and confirmed.</summary>
    public static bool IsAvailable => s_load.Value.Handle != IntPtr.Zero;

    /// <summary>The library name that was loaded (e.g. "libopenblas.so.0"), or null.</summary>
    public static string? LibraryName => s_load.Value.Name;

    /// <summary>Why loading failed (null when it succeeded).</summary>
    public static string? LoadError => s_load.Value.Error;

    /// <summary>
    /// The kernel family OpenBLAS runs on this CPU (e.g. "SkylakeX", "Haswell"), from <c>openblas_get_corename</c>;
    /// null when OpenBLAS is not available.
    /// </summary>
    public static string? CoreName => IsAvailable ? Marshal.PtrToStringUTF8(NativeMethods.GetCoreName()) : null;

    /// <summary>The build configuration string from <c>openblas_get_config</c>, or null.</summary>
    public static string? Config => IsAvailable ? Marshal.PtrToStringUTF8(NativeMethods.GetConfig()) : null;

    /// <summary>
    /// The OPENBLAS_CORETYPE value the loader put into the environment (e.g. "SkylakeX"), or null when it left the
    /// environment alone (the user set it, or the CPU lacks AVX-512).
    /// </summary>
    public static string? CoreTypeOverride => s_load.Value.CoreTypeSet;

    /// <summary>Number of threads OpenBLAS uses for one call (1 when unavailable).</summary>
    public static int NumThreads => IsAvailable ? NativeMethods.GetNumThreads() : 1;

    private static volatile int s_cachedThreads;

    /// <summary>
    /// <see cref="NumThreads"/> without a native call per query (read once, then kept up to date by
    /// <see cref="SetNumThreads"/>): the GEMM dispatch consults it for every product.
    /// </summary>
    internal static int CachedNumThreads
    {
        get
        {
            int threads = s_cachedThreads;
            if (threads == 0)
            {
                threads = NumThreads;
                s_cachedThreads = threads;
            }
            return threads;
        }
    }

    /// <summary>
    /// Sets the number of threads OpenBLAS uses per call. Give it 1 when chains already run on separate threads, so that
    /// the two levels of parallelism do not oversubscribe the cores; results are bit-identical for a fixed thread count.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">threads &lt; 1.</exception>
    /// <exception cref="InvalidOperationException">OpenBLAS is not available.</exception>
    public static void SetNumThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        EnsureAvailable();
        NativeMethods.SetNumThreads(threads);
        s_cachedThreads = NativeMethods.GetNumThreads();
    }

    /// <summary>Throws a clear exception naming the package to install when OpenBLAS is absent.</summary>
    internal static void EnsureAvailable()
    {
        if (!IsAvailable)
        {
            throw new InvalidOperationException(
                $"The OpenBLAS GEMM backend was requested but OpenBLAS could not be loaded ({LoadError}). " +
                "Install it (Debian/Ubuntu: `apt-get install libopenblas0-pthread`) or use the managed backend " +
                "(unset SLTSHARP_BLAS or set SLTSHARP_BLAS=managed).");
        }
    }

    private sealed record LoadResult(IntPtr Handle, string? Name, string? Error, string? CoreTypeSet);

    private static LoadResult Load()
    {
        string? coreTypeSet = MaybeSetCoreType();
        var errors = new List<string>();
        foreach (string name in s_candidateNames)
        {
            if (!NativeLibrary.TryLoad(name, out IntPtr handle))
            {
                errors.Add($"{name}: not found");
                continue;
            }
            if (!NativeLibrary.TryGetExport(handle, "openblas_get_corename", out _))
            {
                // Some other BLAS registered under this name: not OpenBLAS, do not use it.
                NativeLibrary.Free(handle);
                errors.Add($"{name}: loaded but has no openblas_get_corename, so it is not OpenBLAS");
                continue;
            }
            s_handle = handle;
            try
            {
                NativeLibrary.SetDllImportResolver(typeof(OpenBlas).Assembly, ResolveOpenBlas);
            }
            catch (InvalidOperationException)
            {
                // Only one resolver per assembly is allowed; if some other code in SltSharp.Engine registered one
                // first, the imports below could not find OpenBLAS, so report it unavailable rather than crash later.
                s_handle = IntPtr.Zero;
                return new LoadResult(IntPtr.Zero, null, $"{name} loaded, but another DllImport resolver is already registered for SltSharp.Engine", coreTypeSet);
            }
            return new LoadResult(handle, name, null, coreTypeSet);
        }
        return new LoadResult(IntPtr.Zero, null, string.Join("; ", errors), coreTypeSet);
    }

    private static IntPtr ResolveOpenBlas(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == LibraryAlias ? s_handle : IntPtr.Zero;

    /// <summary>Sets OPENBLAS_CORETYPE=SkylakeX in the native environment when that is safe and the user has not chosen.</summary>
    private static string? MaybeSetCoreType()
    {
        const string Variable = "OPENBLAS_CORETYPE";
        const string Value = "SkylakeX";
        if (!OperatingSystem.IsLinux() || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable)))
        {
            return null;
        }
        if (!(Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported))
        {
            return null;
        }
        // Environment.SetEnvironmentVariable only changes .NET's copy; OpenBLAS reads the C environment via getenv.
        if (!NativeLibrary.TryLoad("libc.so.6", out IntPtr libc) || !NativeLibrary.TryGetExport(libc, "setenv", out IntPtr setenv))
        {
            return null;
        }
        int rc;
        unsafe
        {
            var fn = (delegate* unmanaged<byte*, byte*, int, int>)setenv;
            fixed (byte* name = "OPENBLAS_CORETYPE\0"u8)
            fixed (byte* value = "SkylakeX\0"u8)
            {
                rc = fn(name, value, 0);
            }
        }
        if (rc != 0)
        {
            return null;
        }
        Environment.SetEnvironmentVariable(Variable, Value);
        return Value;
    }

    /// <summary>Row-major cblas_sgemm / cblas_dgemm and the OpenBLAS extensions, bound through the resolver above.</summary>
    internal static unsafe partial class NativeMethods
    {
        public const int CblasRowMajor = 101;
        public const int CblasNoTrans = 111;
        public const int CblasTrans = 112;

        [LibraryImport(LibraryAlias, EntryPoint = "cblas_sgemm")]
        public static partial void Sgemm(
            int order, int transA, int transB, int m, int n, int k,
            float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

        [LibraryImport(LibraryAlias, EntryPoint = "cblas_dgemm")]
        public static partial void Dgemm(
            int order, int transA, int transB, int m, int n, int k,
            double alpha, double* a, int lda, double* b, int ldb, double beta, double* c, int ldc);

        [LibraryImport(LibraryAlias, EntryPoint = "openblas_get_corename")]
        public static partial IntPtr GetCoreName();

        [LibraryImport(LibraryAlias, EntryPoint = "openblas_get_config")]
        public static partial IntPtr GetConfig();

        [LibraryImport(LibraryAlias, EntryPoint = "openblas_get_num_threads")]
        public static partial int GetNumThreads();

        [LibraryImport(LibraryAlias, EntryPoint = "openblas_set_num_threads")]
        public static partial void SetNumThreads(int threads);
    }
}
