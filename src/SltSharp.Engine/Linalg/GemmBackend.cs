namespace SltSharp.Engine.Linalg;

/// <summary>Which implementation performs <see cref="Gemm"/> products.</summary>
public enum GemmBackend
{
    /// <summary>OpenBLAS when it is installed, the managed kernel otherwise (and for tiny products).</summary>
    Auto,

    /// <summary>The managed SIMD kernel (<see cref="ManagedGemm"/>).</summary>
    Managed,

    /// <summary>OpenBLAS through cblas (<see cref="OpenBlasGemm"/>); requires libopenblas0-pthread.</summary>
    OpenBlas,
}
