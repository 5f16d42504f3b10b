using System.Globalization;

namespace SltSharp.Training;

/// <summary>How checkpoints are spread over training.</summary>
public enum CheckpointSpacing
{
    /// <summary>Evenly spaced steps.</summary>
    Linear,

    /// <summary>Log-spaced steps: stages happen on a log time scale (Hoogland et al.), so early training gets as many
    /// checkpoints per decade as late training.</summary>
    Log,
}

/// <summary>
/// The training steps at which checkpoints are saved: K distinct steps from 0 (the initialisation) to the last step,
/// both included.
/// </summary>
/// <param name="Spacing">Linear or log spacing.</param>
/// <param name="Count">K, the number of checkpoints (≥ 2).</param>
public sealed record CheckpointSchedule(CheckpointSpacing Spacing, int Count)
{
    /// <summary>Parses <c>linear:K</c> or <c>log:K</c>.</summary>
    /// <exception cref="FormatException">The text is not of that form; the message shows the accepted forms.</exception>
    public static CheckpointSchedule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split(':', 2, StringSplitOptions.TrimEntries);
        CheckpointSpacing? spacing = parts[0].ToLowerInvariant() switch
        {
            "linear" or "lin" => CheckpointSpacing.Linear,
            "log" => CheckpointSpacing.Log,
            _ => null,
        };
        if (spacing is null || parts.Length != 2
            || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int count) || count < 2)
        {
            throw new FormatException($"A checkpoint schedule is 'linear:K' or 'log:K' with K ≥ 2 checkpoints (e.g. log:20); got '{text}'.");
        }
        return new CheckpointSchedule(spacing.Value, count);
    }

    /// <summary>The checkpoint steps for a run of <paramref name="totalSteps"/> steps, strictly increasing, from 0 to
    /// <paramref name="totalSteps"/>.</summary>
    /// <remarks>
    /// Log spacing puts step 0 first and K − 1 steps geometrically between 1 and the last step. Rounding to whole steps
    /// makes early values collide (1, 1, 2, ...); they are pushed apart to consecutive steps, so there are always exactly
    /// K checkpoints (the earliest ones one step apart).
    /// </remarks>
    /// <exception cref="ArgumentException">More checkpoints than steps + 1.</exception>
    public long[] Steps(long totalSteps)
    {
        if (totalSteps < 1)
        {
            throw new ArgumentException($"Training needs at least one step; got {totalSteps}.", nameof(totalSteps));
        }
        if (Count < 2 || Count > totalSteps + 1)
        {
            throw new ArgumentException($"{Count} checkpoints do not fit in {totalSteps} steps (at most steps + 1 = {totalSteps + 1}, at least 2); use fewer checkpoints or more steps.", nameof(totalSteps));
        }
        var steps = new long[Count];
        if (Spacing == CheckpointSpacing.Linear)
        {
            for (int i = 0; i < Count; i++)
            {
                steps[i] = (long)Math.Round(totalSteps * (double)i / (Count - 1));
            }
            return steps;
        }
        // steps[0] = 0; steps[1..K-1] geometric over [1, total].
        int m = Count - 1;
        for (int i = 1; i <= m; i++)
        {
            steps[i] = m == 1 ? totalSteps : (long)Math.Round(Math.Exp(Math.Log(totalSteps) * (i - 1) / (m - 1)));
        }
        steps[^1] = totalSteps;
        for (int i = 1; i < Count; i++)
        {
            steps[i] = Math.Max(steps[i], steps[i - 1] + 1);
        }
        // Pushing forward can overshoot the end when K is close to the number of steps; pull back from the last.
        steps[^1] = totalSteps;
        for (int i = Count - 2; i >= 1; i--)
        {
            steps[i] = Math.Min(steps[i], steps[i + 1] - 1);
        }
        return steps;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{(Spacing == CheckpointSpacing.Log ? "log" : "linear")}:{Count.ToString(CultureInfo.InvariantCulture)}";
}
