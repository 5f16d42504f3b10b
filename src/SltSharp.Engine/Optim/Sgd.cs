using System.Numerics;
using System.Runtime.InteropServices;
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
    public override IReadOnlyList<KeyValuePair<string, T[]>> StateBuffers =>
        Momentum > 0 ? [new("momentum_buffer", _momentumBuffer)] : [];

    /// <inheritdoc/>
    protected override void Update(Span<T> parameters, ReadOnlySpan<T> gradients, int step)
    {
        T lr = T.CreateTruncating(LearningRate), wd = T.CreateTruncating(WeightDecay);
        T mu = T.CreateTruncating(Momentum), damp = T.One - T.CreateTruncating(Dampening);
        bool first = step == 1;
        // Hoisted so the loops carry no per-element property reads; the vector loop does the scalar loop's
        // arithmetic in the same order (no fused multiply-add), so results are bit-identical to it.
        bool decay = WeightDecay != 0, momentum = Momentum > 0, nesterov = Nesterov;
        var buf = _momentumBuffer.AsSpan();
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vlr = new Vector<T>(lr);
            var vwd = new Vector<T>(wd);
            var vmu = new Vector<T>(mu);
            var vdamp = new Vector<T>(damp);
            var pv = MemoryMarshal.Cast<T, Vector<T>>(parameters);
            var gv = MemoryMarshal.Cast<T, Vector<T>>(gradients);
            var bv = MemoryMarshal.Cast<T, Vector<T>>(buf);
            for (int j = 0; j < pv.Length; j++)
            {
                var g = gv[j];
                if (decay)
                {
                    g += vwd * pv[j];
                }
                if (momentum)
                {
                    bv[j] = first ? g : (vmu * bv[j]) + (vdamp * g);
                    g = nesterov ? g + (vmu * bv[j]) : bv[j];
                }
                pv[j] -= vlr * g;
            }
            i = pv.Length * Vector<T>.Count;
        }
        for (; i < parameters.Length; i++)
        {
            T g = gradients[i];
            if (decay)
            {
                g += wd * parameters[i];
            }
            if (momentum)
            {
                buf[i] = first ? g : (mu * buf[i]) + (damp * g);
                g = nesterov ? g + (mu * buf[i]) : buf[i];
            }
            parameters[i] -= lr * g;
        }
    }
}
