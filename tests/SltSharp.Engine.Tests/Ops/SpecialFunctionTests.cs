using SltSharp.Engine.Ops;

namespace SltSharp.Engine.Tests.Ops;

public class SpecialFunctionTests
{
    [Theory]
    // Reference values of erf from the C library's erf (glibc), an independent implementation.
    [InlineData(0.1, 0.1124629160182849)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(-0.3, -0.3286267594591274)]
    public void Erf_matches_reference_values(double x, double expected) =>
        Assert.Equal(expected, SpecialFunctions.Erf(x), 1e-15);

    [Fact]
    public void Erf_derivative_is_the_gaussian_everywhere()
    {
        // An independent check of the tabulated expansion: d erf/dx = (2/√π)e^{−x²}; central differences with
        // h = 1e-5 have truncation error ~h² ≈ 1e-10 (relative) and rounding ~1e-16/h ≈ 1e-11 (absolute), so
        // 1e-8 relative plus 1e-10 absolute is a tight bound.
        for (double x = -5.9; x < 5.9; x += 0.0137)
        {
            double h = 1e-5;
            double numeric = (SpecialFunctions.Erf(x + h) - SpecialFunctions.Erf(x - h)) / (2 * h);
            double exact = 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x);
            Assert.True(Math.Abs(numeric - exact) <= (1e-8 * exact) + 1e-10, $"x = {x}: {numeric} vs {exact}");
        }
        Assert.Equal(1.0, SpecialFunctions.Erf(7));
        Assert.Equal(-1.0, SpecialFunctions.Erf(-40));
    }
}
