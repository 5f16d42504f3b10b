using System.Numerics;
using SltSharp.Engine.Layers;

namespace SltSharp.Engine.Optim;

/// <summary>
/// <c>torch.optim.SGD</c>: g ← ∇ + wd·p; with momentum μ, b ← g on the first step and b ← μ·b + (1 − dampening)·g
/// after, and g ← g + μ·b (Nesterov) or g ← b; then p ← p − lr·g.
/// </summary>
public sealed class Sgd<T> : Optimizer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _momentumBuffer;

    /// <summary>Creates the optimizer.</summary>
    public Sgd(ParameterSet<T> parameters, double learningRate, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : base(parameters, learningRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(momentum);
        ArgumentOutOfRangeException.ThrowIfNegative(weightDecay);
        if (nesterov && (momentum <= 0 || dampening != 0))
        {
            throw new ArgumentException("Nesterov momentum requires momentum > 0 and zero dampening (as in torch.optim.SGD).", nameof(nesterov));
        }
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
        _momentumBuffer = momentum > 0 ? new T[parameters.Count] : [];
    }

    /// <summary>μ.</summary>
    public double Momentum { get; }

    /// <summary>Dampening of the momentum update.</summary>
    public double Dampening { get; }

    /// <summary>L2 penalty added to the gradient.</summary>
    public double WeightDecay { get; }

    /// <summary>Whether the Nesterov form is used.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void Update(Span<T> parameters, ReadOnlySpan<T> gradients, int step)
    {
        T lr = T.CreateTruncating(LearningRate), wd = T.CreateTruncating(WeightDecay);
        T mu = T.CreateTruncating(Momentum), damp = T.One - T.CreateTruncating(Dampening);
        bool first = step == 1;
        var buf = _momentumBuffer.AsSpan();
        for (int i = 0; i < parameters.Length; i++)
        {
            T g = gradients[i];
            if (WeightDecay != 0)
            {
                g += wd * parameters[i];
            }
            if (Momentum > 0)
            {
                buf[i] = first ? g : (mu * buf[i]) + (damp * g);
                g = Nesterov ? g + (mu * buf[i]) : buf[i];
            }
            parameters[i] -= lr * g;
        }
    }
}
