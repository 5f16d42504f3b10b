namespace SltSharp.Engine.Optim;

/// <summary>A learning rate as a function of the (0-based) step index.</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate to use for step <paramref name="step"/> (0 = the first step).</summary>
    public abstract double At(int step);

    /// <summary>The same rate at every step.</summary>
    public static LearningRateSchedule Constant(double learningRate) => new ConstantSchedule(learningRate);

    /// <summary>
    /// Linear warmup then cosine decay: lr(s) = peak·(s+1)/warmup for s &lt; warmup, then
    /// min + ½(peak − min)(1 + cos(π·(s − warmup)/(total − warmup))), and min once s ≥ total.
    /// </summary>
    public static LearningRateSchedule WarmupCosine(double peak, int warmupSteps, int totalSteps, double minimum = 0) =>
        new WarmupCosineSchedule(peak, warmupSteps, totalSteps, minimum);

    private sealed class ConstantSchedule(double learningRate) : LearningRateSchedule
    {
        public override double At(int step) => learningRate;
    }

    private sealed class WarmupCosineSchedule : LearningRateSchedule
    {
        private readonly double _peak, _minimum;
        private readonly int _warmup, _total;

        public WarmupCosineSchedule(double peak, int warmup, int total, double minimum)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(warmup);
            if (total <= warmup)
            {
                throw new ArgumentOutOfRangeException(nameof(total), $"Total steps ({total}) must exceed warmup steps ({warmup}).");
            }
            _peak = peak;
            _minimum = minimum;
            _warmup = warmup;
            _total = total;
        }

        public override double At(int step)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(step);
            if (step < _warmup)
            {
                return _peak * (step + 1) / _warmup;
            }
            if (step >= _total)
            {
                return _minimum;
            }
            double progress = (step - _warmup) / (double)(_total - _warmup);
            return _minimum + (0.5 * (_peak - _minimum) * (1 + Math.Cos(Math.PI * progress)));
        }
    }
}
