using SltSharp.Engine.Linalg;

namespace SltSharp.Models.Tms;

/// <summary>
/// The exact population loss of the toy model of superposition (slt-reference §2c): data x = μ·eᵢ with i uniform over
/// the features and μ ~ U[0, 1], loss E‖x − ReLU(WᵀW·x + b)‖² (not halved), and its exact gradient.
/// </summary>
/// <remarks>
/// For input feature i, output j sees ReLU(μ·a + c) with a = G_ji (G = WᵀW) and c = b_j: the ReLU is active on one
/// sub-interval [p, q] of [0, 1] (bounded by the kink μ* = −c/a), so the squared error is a quadratic in μ on each
/// piece and integrates in closed form. The kink moves with (a, c), but the integrand is continuous across it, so
/// the derivative of the integral is the integral of the derivative (Leibniz's boundary terms cancel). Convention at
/// a = 0: the ReLU is active iff c &gt; 0 (ReLU'(0) = 0, as in every autodiff framework).
/// </remarks>
public static class TmsExactLoss
{
    /// <summary>The exact loss L(W, b).</summary>
    public static double Loss(TmsParameters p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return Evaluate(p, null, null);
    }

    /// <summary>The exact loss and its gradient with respect to W (row-major, like W) and b.</summary>
    public static double LossAndGradient(TmsParameters p, Span<double> gradientW, Span<double> gradientB)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (gradientW.Length != p.W.Length || gradientB.Length != p.B.Length)
        {
            throw new ArgumentException($"Gradient buffers must match W ({p.W.Length}) and b ({p.B.Length}).");
        }
        int nf = p.Features;
        double[] dG = new double[nf * nf];
        double[] dB = new double[nf];
        double loss = Evaluate(p, dG, dB);
        // G = WᵀW ⇒ ∂L/∂W = W·(D + Dᵀ) with D = ∂L/∂G.
        double[] sym = new double[nf * nf];
        for (int i = 0; i < nf; i++)
        {
            for (int j = 0; j < nf; j++)
            {
                sym[(i * nf) + j] = dG[(i * nf) + j] + dG[(j * nf) + i];
            }
        }
        Gemm.Multiply(false, false, p.Hidden, nf, nf, 1.0, p.W, nf, sym, nf, 0.0, gradientW, nf);
        dB.CopyTo(gradientB);
        return loss;
    }

    /// <summary>The exact loss and gradient in the flat layout (W row-major, then b).</summary>
    public static double LossAndGradient(TmsParameters p, Span<double> gradient)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (gradient.Length != p.ParameterCount)
        {
            throw new ArgumentException($"The flat gradient has {p.ParameterCount} entries; got {gradient.Length}.", nameof(gradient));
        }
        return LossAndGradient(p, gradient[..p.W.Length], gradient[p.W.Length..]);
    }

    private static double Evaluate(TmsParameters p, double[]? dG, double[]? dB)
    {
        int nf = p.Features;
        double[] g = new double[nf * nf];
        Gemm.Multiply(true, false, nf, nf, p.Hidden, 1.0, p.W, nf, p.W, nf, 0.0, g, nf);
        double total = 0;
        double scale = 1.0 / nf;
        for (int i = 0; i < nf; i++)
        {
            for (int j = 0; j < nf; j++)
            {
                double a = g[(j * nf) + i];
                double c = p.B[j];
                double delta = i == j ? 1.0 : 0.0;
                total += Term(a, c, delta, out double da, out double dc);
                if (dG is not null)
                {
                    dG[(j * nf) + i] += scale * da;
                    dB![j] += scale * dc;
                }
            }
        }
        return scale * total;
    }

    /// <summary>∫₀¹ (δ·μ − ReLU(a·μ + c))² dμ and its partial derivatives in a and c.</summary>
    internal static double Term(double a, double c, double delta, out double dA, out double dC)
    {
        double lo, hi; // the active interval [lo, hi] ⊂ [0, 1]; empty when lo >= hi
        if (a == 0)
        {
            (lo, hi) = c > 0 ? (0.0, 1.0) : (0.0, 0.0);
        }
        else if (a > 0)
        {
            lo = Math.Clamp(-c / a, 0.0, 1.0);
            hi = 1.0;
        }
        else
        {
            lo = 0.0;
            hi = Math.Clamp(-c / a, 0.0, 1.0);
        }
        if (hi <= lo)
        {
            dA = 0;
            dC = 0;
            return delta / 3.0;
        }
        double d1 = hi - lo;
        double d2 = (hi * hi) - (lo * lo);
        double d3 = ((hi * hi * hi) - (lo * lo * lo)) / 3.0;
        double alpha = delta - a;
        // Inactive part: the output is 0 and the error is δ·μ; active part: (α·μ − c)².
        double inactive = delta * ((1.0 / 3.0) - d3);
        double active = (alpha * alpha * d3) - (alpha * c * d2) + (c * c * d1);
        dA = -((2 * alpha * d3) - (c * d2));
        dC = (-alpha * d2) + (2 * c * d1);
        return inactive + active;
    }
}
