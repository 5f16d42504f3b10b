namespace SltSharp.Models.Tms;

/// <summary>What the trained seeds of one training-set size look like at one training step.</summary>
/// <param name="N">Training-set size.</param>
/// <param name="Step">Training step (0 = initialisation).</param>
/// <param name="Seeds">Number of seeds counted.</param>
/// <param name="Counts">Seeds per k-gon type (<see cref="TmsClassifier.TypeName"/>, or <see cref="TmsClassifier.Other"/>).</param>
/// <param name="MedianLoss">Median over seeds of the exact population loss of their (W, b).</param>
public sealed record TmsCensusEntry(int N, int Step, int Seeds, IReadOnlyDictionary<string, int> Counts, double MedianLoss)
{
    /// <summary>Fraction of the seeds of type <paramref name="type"/> (0 when none).</summary>
    public double Fraction(string type) => Counts.TryGetValue(type, out int c) ? c / (double)Seeds : 0.0;
}

/// <summary>Counts the k-gon types of trained seeds per checkpoint step (the "dynamical" side of the TMS experiment).</summary>
public static class TmsCensus
{
    /// <summary>One entry per checkpoint step for the seeds trained on <paramref name="n"/> samples.</summary>
    /// <param name="n">Training-set size.</param>
    /// <param name="steps">The checkpoint steps, in the order of each seed's checkpoints.</param>
    /// <param name="seeds">The trained seeds.</param>
    public static IReadOnlyList<TmsCensusEntry> Tabulate(int n, IReadOnlyList<int> steps, IReadOnlyList<TmsTrainedSeed> seeds)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(seeds);
        if (seeds.Count == 0 || seeds.Any(s => s.Checkpoints.Count != steps.Count))
        {
            throw new ArgumentException($"Every seed needs one checkpoint per step ({steps.Count}).", nameof(seeds));
        }
        var entries = new List<TmsCensusEntry>(steps.Count);
        for (int i = 0; i < steps.Count; i++)
        {
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            var losses = new double[seeds.Count];
            for (int s = 0; s < seeds.Count; s++)
            {
                var p = seeds[s].Checkpoints[i];
                string type = TmsClassifier.Classify(p).Type;
                counts[type] = counts.GetValueOrDefault(type) + 1;
                losses[s] = TmsExactLoss.Loss(p);
            }
            Array.Sort(losses);
            double median = losses.Length % 2 == 1 ? losses[losses.Length / 2] : 0.5 * (losses[(losses.Length / 2) - 1] + losses[losses.Length / 2]);
            entries.Add(new TmsCensusEntry(n, steps[i], seeds.Count, counts, median));
        }
        return entries;
    }

    /// <summary>
    /// Sort key of a type for tables and legends: by number of active columns, then "+" count; "other" last.
    /// </summary>
    public static (int K, int Plus) Order(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        int dash = type.IndexOf("-gon", StringComparison.Ordinal);
        if (dash < 0)
        {
            return (int.MaxValue, 0);
        }
        string head = type[..dash];
        int plus = head.Count(ch => ch == '+');
        return int.TryParse(head.TrimEnd('+'), System.Globalization.CultureInfo.InvariantCulture, out int k) ? (k, plus) : (int.MaxValue, 0);
    }
}
