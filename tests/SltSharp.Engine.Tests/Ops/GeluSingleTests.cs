using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Ops;
using Xunit;

namespace SltSharp.Engine.Tests.Ops;

/// <summary>The vectorised float GELU against the double-precision exact GELU (erf to ~1e−16).</summary>
public class GeluSingleTests
{
    [Fact]
    public void Float_gelu_and_its_derivative_match_the_double_reference()
    {
        // 1 003 points over [−10, 10] (not a multiple of the vector width, so the scalar tail runs too).
        int n = 1003;
        var xs = new float[n];
        for (int i = 0; i < n; i++)
        {
            xs[i] = -10f + (20f * i / (n - 1));
        }
        var tape = new Tape<float>();
        var x = tape.Variable(xs, n);
        var y = tape.Gelu(x);
        tape.Backward(y);
        var values = y.Value.ToArray();
        var slopes = x.Grad.ToArray();
        for (int i = 0; i < n; i++)
        {
            double v = xs[i];
            double cdf = SpecialFunctions.NormalCdf(v);
            double exact = v * cdf;
            double slope = cdf + (v * SpecialFunctions.NormalPdf(v));
            // Φ carries the erfc fit's 1.2e−7 relative error plus float rounding of z² inside exp (|z²| ≤ 50 here,
            // so ≈ 50·6e−8 = 3e−6 relative in the far tail); 1e−5 relative or 1e−6 absolute is a few times that
            // and far below any plausible bug (a wrong coefficient or branch is off by ≥ 1e−3).
            Assert.True(Math.Abs(values[i] - exact) <= Math.Max(1e-6, 1e-5 * Math.Abs(exact)), $"GELU({v}) = {values[i]}, expected {exact}");
            Assert.True(Math.Abs(slopes[i] - slope) <= Math.Max(1e-6, 1e-5 * Math.Abs(slope)), $"GELU'({v}) = {slopes[i]}, expected {slope}");
        }
    }
}
