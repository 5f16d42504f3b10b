namespace SltSharp.Theory;

/// <summary>A learning coefficient λ (real log canonical threshold) with its multiplicity m.</summary>
/// <param name="Lambda">The learning coefficient λ.</param>
/// <param name="Multiplicity">The multiplicity m (the power of ln n in the free energy is m − 1).</param>
public readonly record struct LearningCoefficient(double Lambda, int Multiplicity);

/// <summary>
/// Exact learning coefficients of reduced-rank regression and deep linear networks (Aoyagi), and of
/// normal-crossing potentials.
/// </summary>
public static class LearningCoefficients
{
    /// <summary>
    /// Aoyagi's learning coefficient of reduced-rank regression y = B·A·x with input dimension
    /// <paramref name="input"/> (M), hidden width <paramref name="hidden"/> (H), output dimension
    /// <paramref name="output"/> (N) and true rank <paramref name="rank"/> (r).
    /// </summary>
    public static LearningCoefficient ReducedRankRegression(int input, int hidden, int output, int rank)
    {
        ValidateWidth(input, nameof(input));
        ValidateWidth(hidden, nameof(hidden));
        ValidateWidth(output, nameof(output));
        ValidateRank(rank, Math.Min(input, Math.Min(hidden, output)));
        long m = input, h = hidden, n = output, r = rank;
        if (m + h < n + r)
        {
            return new(((h * m) - (h * r) + (n * r)) / 2.0, 1);
        }
        if (n + h < m + r)
        {
            return new(((h * n) - (h * r) + (m * r)) / 2.0, 1);
        }
        if (m + n < h + r)
        {
            return new(m * n / 2.0, 1);
        }
        long numerator = (2 * (h + r) * (m + n)) - ((m - n) * (m - n)) - ((h + r) * (h + r));
        bool odd = ((m + h + n + r) & 1) == 1;
        return odd ? new((numerator + 1) / 8.0, 2) : new(numerator / 8.0, 1);
    }

    /// <summary>
    /// Aoyagi's learning coefficient (Neural Networks 172:106132, 2024, Theorem 1) of a deep linear network
    /// y = W_L···W_1·x with layer widths H_1..H_{L+1} (input first; the result is symmetric under reversal) whose
    /// true product has rank <paramref name="rank"/>.
    /// </summary>
    /// <remarks>
    /// With M_s = H_s − r, the theorem needs the subset Σ (|Σ| = ℓ + 1) with max_Σ M &lt; min_{∉Σ} M,
    /// Σ_Σ M ≥ ℓ·max_Σ M and Σ_Σ M &lt; ℓ·min_{∉Σ} M. Because of the first condition Σ is a prefix of M sorted
    /// ascending that does not split tied values, so prefixes are tried in order of length.
    /// λ is computed as an exact integer numerator over 4ℓ so that the value is exact for every ℓ.
    /// </remarks>
    public static LearningCoefficient DeepLinearNetwork(ReadOnlySpan<int> widths, int rank)
    {
        if (widths.Length < 2)
        {
            throw new ArgumentException(
                $"A deep linear network needs at least 2 widths (input and output), got {widths.Length}.", nameof(widths));
        }
        int minWidth = int.MaxValue;
        for (int i = 0; i < widths.Length; i++)
        {
            ValidateWidth(widths[i], nameof(widths));
            minWidth = Math.Min(minWidth, widths[i]);
        }
        ValidateRank(rank, minWidth);

        long r = rank;
        long[] sorted = new long[widths.Length];
        for (int i = 0; i < widths.Length; i++)
        {
            sorted[i] = widths[i] - r;
        }
        Array.Sort(sorted);

        for (int size = 2; size <= sorted.Length; size++)
        {
            long ell = size - 1;
            long maxIn = sorted[size - 1];
            bool hasOutside = size < sorted.Length;
            long minOut = hasOutside ? sorted[size] : long.MaxValue;
            if (hasOutside && maxIn >= minOut)
            {
                continue; // would split a tie (condition i)
            }
            long s = 0;
            for (int i = 0; i < size; i++)
            {
                s += sorted[i];
            }
            if (s < ell * maxIn)
            {
                continue; // condition ii
            }
            if (hasOutside && s >= ell * minOut)
            {
                continue; // condition iii
            }

            long mBar = (s + ell - 1) / ell; // ceil(S/ℓ); S ≥ 0 here
            long a = s - ((mBar - 1) * ell);
            long pairSum = 0;
            for (int i = 0; i < size; i++)
            {
                for (int j = i + 1; j < size; j++)
                {
                    pairSum += sorted[i] * sorted[j];
                }
            }
            long h1 = widths[0], hLast = widths[^1];
            // 4ℓ·λ = 2ℓ(−r² + r(H_1 + H_{L+1})) + a(ℓ − a) − (ℓ − 1)S² + 2ℓ·Σ_{i<j} M_i M_j
            long numerator = (2 * ell * ((-r * r) + (r * (h1 + hLast)))) + (a * (ell - a)) - ((ell - 1) * s * s) + (2 * ell * pairSum);
            return new(numerator / (4.0 * ell), checked((int)((a * (ell - a)) + 1)));
        }
        throw new InvalidOperationException(
            $"No subset satisfies Aoyagi's conditions for widths ({string.Join(",", widths.ToArray())}) and rank {rank}; this should not happen.");
    }

    /// <summary>
    /// The learning coefficient of the normal-crossing potential K(w) = Π_j w_j^{2k_j} under a prior density
    /// ∝ Π_j |w_j|^{h_j} (pass an empty <paramref name="priorPowers"/> for a prior that is positive at 0):
    /// λ = min over j with k_j &gt; 0 of (h_j + 1)/(2k_j), multiplicity = number of j attaining it.
    /// </summary>
    public static LearningCoefficient NormalCrossing(ReadOnlySpan<int> powers, ReadOnlySpan<int> priorPowers = default)
    {
        if (!priorPowers.IsEmpty && priorPowers.Length != powers.Length)
        {
            throw new ArgumentException(
                $"priorPowers has {priorPowers.Length} entries but powers has {powers.Length}; give one per coordinate or none.",
                nameof(priorPowers));
        }
        double best = double.PositiveInfinity;
        int multiplicity = 0;
        for (int j = 0; j < powers.Length; j++)
        {
            if (powers[j] < 0 || (!priorPowers.IsEmpty && priorPowers[j] < 0))
            {
                throw new ArgumentException("Powers of a normal-crossing potential must be ≥ 0.", nameof(powers));
            }
            if (powers[j] == 0)
            {
                continue;
            }
            int h = priorPowers.IsEmpty ? 0 : priorPowers[j];
            double candidate = (h + 1) / (2.0 * powers[j]);
            // Candidates are ratios of small integers, so a relative gap below 1e-12 means exact equality.
            if (multiplicity > 0 && Math.Abs(candidate - best) < 1e-12 * best)
            {
                multiplicity++;
            }
            else if (candidate < best)
            {
                best = candidate;
                multiplicity = 1;
            }
        }
        if (multiplicity == 0)
        {
            throw new ArgumentException("At least one power must be positive; K would be constant.", nameof(powers));
        }
        return new(best, multiplicity);
    }

    private static void ValidateWidth(int width, string name)
    {
        if (width < 1)
        {
            throw new ArgumentOutOfRangeException(name, width, "Layer widths must be ≥ 1.");
        }
    }

    private static void ValidateRank(int rank, int maxRank)
    {
        if (rank < 0 || rank > maxRank)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"The true rank must lie in [0, {maxRank}] (the smallest width).");
        }
    }
}
