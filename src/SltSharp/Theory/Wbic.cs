namespace SltSharp.Theory;

/// <summary>
/// Watanabe's widely applicable Bayesian information criterion (JMLR 2013; slt-reference §3):
/// WBIC = E_w^β[n·L_n(w)] at inverse temperature β = 1/ln n approximates the free energy n·L_n(w0) + λ·ln n, so
/// λ̂ = (WBIC − n·L_n(w0))/ln n.
/// </summary>
public static class Wbic
{
    /// <summary>β = 1/ln n, the inverse temperature at which WBIC is defined.</summary>
    public static double InverseTemperature(double n)
    {
        CheckN(n);
        return 1.0 / Math.Log(n);
    }

    /// <summary>WBIC = n · (mean of L_n over draws from the posterior tempered at β = 1/ln n).</summary>
    /// <exception cref="ArgumentException">When there are no draws or a loss is not finite.</exception>
    public static double FromDraws(ReadOnlySpan<double> lossesAtDraws, double n)
    {
        CheckN(n);
        if (lossesAtDraws.IsEmpty)
        {
            throw new ArgumentException("WBIC needs at least one draw from the tempered posterior.", nameof(lossesAtDraws));
        }
        double sum = 0;
        foreach (double l in lossesAtDraws)
        {
            if (!double.IsFinite(l))
            {
                throw new ArgumentException($"A draw has a non-finite loss ({l}); the sampler diverged. Lower the step size.", nameof(lossesAtDraws));
            }
            sum += l;
        }
        return n * sum / lossesAtDraws.Length;
    }

    /// <summary>λ̂ = (WBIC − n·L_n(w0))/ln n, with <paramref name="lossAtOptimum"/> = L_n(w0).</summary>
    public static double LearningCoefficient(double wbic, double n, double lossAtOptimum)
    {
        CheckN(n);
        return (wbic - (n * lossAtOptimum)) / Math.Log(n);
    }

    /// <summary>λ̂ from draws of L_n at β = 1/ln n: (n·mean(L_n) − n·L_n(w0))/ln n, with the difference taken per draw for accuracy.</summary>
    public static double LearningCoefficientFromDraws(ReadOnlySpan<double> lossesAtDraws, double n, double lossAtOptimum)
    {
        CheckN(n);
        if (lossesAtDraws.IsEmpty)
        {
            throw new ArgumentException("WBIC needs at least one draw from the tempered posterior.", nameof(lossesAtDraws));
        }
        double sum = 0;
        foreach (double l in lossesAtDraws)
        {
            sum += l - lossAtOptimum;
        }
        return n * (sum / lossesAtDraws.Length) / Math.Log(n);
    }

    private static void CheckN(double n)
    {
        if (!(n > 1) || !double.IsFinite(n))
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "The sample size n must be finite and greater than 1 (β = 1/ln n).");
        }
    }
}
