using System.Numerics;
using System.Numerics.Tensors;

namespace SltSharp.Sampling;

/// <summary>Vector pieces shared by the Langevin-type samplers.</summary>
internal static class Langevin
{
    /// <summary>
    /// Writes w − w* into <paramref name="diff"/> and the (masked) drift ∇U = nβ·∇L + γ·(w − w*) + λ_wd·w into
    /// <paramref name="drift"/>; returns U = nβ·L + (γ/2)·||w − w*||² + (λ_wd/2)·||w||².
    /// </summary>
    public static double PotentialAndDrift<T>(LocalizedPosterior posterior, ReadOnlySpan<T> w, ReadOnlySpan<T> anchor,
        ReadOnlySpan<T> gradient, double loss, T[]? mask, Span<T> diff, Span<T> drift)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Subtract(w, anchor, diff);
        double distanceSquared = double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(diff));
        TensorPrimitives.Multiply(diff, T.CreateTruncating(posterior.Localization), drift);
        TensorPrimitives.MultiplyAdd(gradient, T.CreateTruncating(posterior.NBeta), drift, drift);
        double u = (posterior.NBeta * loss) + (0.5 * posterior.Localization * distanceSquared);
        if (posterior.WeightDecay > 0)
        {
            TensorPrimitives.MultiplyAdd(w, T.CreateTruncating(posterior.WeightDecay), drift, drift);
            u += 0.5 * posterior.WeightDecay * double.CreateTruncating(TensorPrimitives.SumOfSquares(w));
        }
        if (mask is not null)
        {
            TensorPrimitives.Multiply(drift, mask, drift);
        }
        return u;
    }

    /// <summary>||w − w*||, using <paramref name="diff"/> as scratch.</summary>
    public static double Distance<T>(ReadOnlySpan<T> w, ReadOnlySpan<T> anchor, Span<T> diff)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Subtract(w, anchor, diff);
        return Math.Sqrt(double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(diff)));
    }

    /// <summary>min(1, exp(logRatio)), with NaN (an undefined ratio) mapped to 0.</summary>
    public static double AcceptanceFromLogRatio(double logRatio)
        => double.IsNaN(logRatio) ? 0.0 : logRatio >= 0 ? 1.0 : Math.Exp(logRatio);

    public static void ValidateBatch(ReadOnlySpan<int> batch, int chains)
    {
        if (batch.IsEmpty || batch.Length % chains != 0)
        {
            throw new ArgumentException($"The batch must hold m ≥ 1 indices per chain for {chains} chains; got {batch.Length} indices.", nameof(batch));
        }
    }

    public static void ValidateInfo(int infoLength, int chains)
    {
        if (infoLength < chains)
        {
            throw new ArgumentException($"info needs one entry per chain ({chains}), got {infoLength}.", "info");
        }
    }
}
