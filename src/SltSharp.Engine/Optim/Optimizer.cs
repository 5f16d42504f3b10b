using System.Numerics;
using SltSharp.Engine.Layers;

namespace SltSharp.Engine.Optim;

/// <summary>
/// A first-order optimizer over all parameters of all chains of a model (one flat buffer), following torch.optim's
/// update rules. State buffers are allocated once, so <see cref="Step"/> allocates nothing.
/// </summary>
public abstract class Optimizer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Binds the optimizer to <paramref name="parameters"/>.</summary>
    protected Optimizer(ParameterSet<T> parameters, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfNegative(learningRate);
        ParameterSet = parameters;
        LearningRate = learningRate;
    }

    /// <summary>The parameters being optimised.</summary>
    public ParameterSet<T> ParameterSet { get; }

    /// <summary>The learning rate used by the next <see cref="Step"/> (set it from a schedule each step if you use one).</summary>
    public double LearningRate { get; set; }

    /// <summary>Number of steps taken so far.</summary>
    public int StepCount { get; private set; }

    /// <summary>
    /// The optimizer's state buffers under torch's names (<c>exp_avg</c>, <c>exp_avg_sq</c>, <c>momentum_buffer</c>), each
    /// as long as <see cref="ParameterSet"/>'s flat values. These are the live arrays: saving them with
    /// <see cref="StepCount"/> and writing them back (see <see cref="RestoreStepCount"/>) resumes training bit for bit.
    /// </summary>
    public virtual IReadOnlyList<KeyValuePair<string, T[]>> StateBuffers => [];

    /// <summary>Sets the number of steps taken, after the state buffers were restored from a saved run (Adam's bias
    /// correction and SGD's first-step momentum depend on it).</summary>
    public void RestoreStepCount(int stepCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        StepCount = stepCount;
    }

    /// <summary>Zeroes the gradients (they accumulate across backward passes).</summary>
    public void ZeroGrad() => ParameterSet.ZeroGradients();

    /// <summary>Updates the parameters from their gradients.</summary>
    public void Step()
    {
        StepCount++;
        Update(ParameterSet.Values, ParameterSet.Gradients, StepCount);
    }

    /// <summary>Applies one update; <paramref name="step"/> counts from 1.</summary>
    protected abstract void Update(Span<T> parameters, ReadOnlySpan<T> gradients, int step);
}
