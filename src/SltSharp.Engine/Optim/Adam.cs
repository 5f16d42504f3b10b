using System.Numerics;
using System.Runtime.InteropServices;
using SltSharp.Engine.Layers;

namespace SltSharp.Engine.Optim;

/// <summary>
/// <c>torch.optim.Adam</c> (and, with <see cref="DecoupledWeightDecay"/>, <c>torch.optim.AdamW</c>):
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
/// Adam adds wd·p to g (L2); AdamW instead multiplies p by (1 − lr·wd) before the update.
/// </summary>
public class Adam<T> : Optimizer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _m;
    private readonly T[] _v;

    /// <summary>Creates Adam with torch's defaults.</summary>
    public Adam(ParameterSet<T> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0)
        : this(parameters, learningRate, beta1, beta2, epsilon, weightDecay, decoupled: false)
    {
    }

    /// <summary>Creates Adam or AdamW.</summary>
    protected Adam(ParameterSet<T> parameters, double learningRate, double beta1, double beta2, double epsilon, double weightDecay, bool decoupled)
        : base(parameters, learningRate)
    {
        if (beta1 is < 0 or >= 1 || beta2 is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(beta1), $"Betas must lie in [0, 1), got ({beta1}, {beta2}).");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(epsilon);
        ArgumentOutOfRangeException.ThrowIfNegative(weightDecay);
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        DecoupledWeightDecay = decoupled;
        _m = new T[parameters.Count];
        _v = new T[parameters.Count];
    }

    /// <summary>β₁.</summary>
    public double Beta1 { get; }

    /// <summary>β₂.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Weight decay coefficient.</summary>
    public double WeightDecay { get; }

    /// <summary>True for AdamW.</summary>
    public bool DecoupledWeightDecay { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<KeyValuePair<string, T[]>> StateBuffers => [new("exp_avg", _m), new("exp_avg_sq", _v)];

    /// <inheritdoc/>
    protected override void Update(Span<T> parameters, ReadOnlySpan<T> gradients, int step)
    {
        double bc1 = 1 - Math.Pow(Beta1, step), bc2 = 1 - Math.Pow(Beta2, step);
        T b1 = T.CreateTruncating(Beta1), b2 = T.CreateTruncating(Beta2);
        T oneMinusB1 = T.One - b1, oneMinusB2 = T.One - b2;
        T stepSize = T.CreateTruncating(LearningRate / bc1);
        T sqrtBc2 = T.CreateTruncating(Math.Sqrt(bc2));
        T eps = T.CreateTruncating(Epsilon);
        T wd = T.CreateTruncating(WeightDecay);
        T decay = T.CreateTruncating(1 - (LearningRate * WeightDecay));
        var m = _m.AsSpan();
        var v = _v.AsSpan();
        // Hoisted flags; the vector loop repeats the scalar loop's arithmetic in the same order (no fused
        // multiply-add), so results are bit-identical to it.
        bool decoupled = WeightDecay != 0 && DecoupledWeightDecay, coupled = WeightDecay != 0 && !DecoupledWeightDecay;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vb1 = new Vector<T>(b1);
            var vb2 = new Vector<T>(b2);
            var v1b1 = new Vector<T>(oneMinusB1);
            var v1b2 = new Vector<T>(oneMinusB2);
            var vstep = new Vector<T>(stepSize);
            var vsqrt = new Vector<T>(sqrtBc2);
            var veps = new Vector<T>(eps);
            var vwd = new Vector<T>(wd);
            var vdecay = new Vector<T>(decay);
            var pv = MemoryMarshal.Cast<T, Vector<T>>(parameters);
            var gv = MemoryMarshal.Cast<T, Vector<T>>(gradients);
            var mv = MemoryMarshal.Cast<T, Vector<T>>(m);
            var vv = MemoryMarshal.Cast<T, Vector<T>>(v);
            for (int j = 0; j < pv.Length; j++)
            {
                var p = pv[j];
                var g = gv[j];
                if (decoupled)
                {
                    p *= vdecay;
                }
                else if (coupled)
                {
                    g += vwd * p;
                }
                var mj = (vb1 * mv[j]) + (v1b1 * g);
                var vj = (vb2 * vv[j]) + (v1b2 * g * g);
                mv[j] = mj;
                vv[j] = vj;
                var denom = (Vector.SquareRoot(vj) / vsqrt) + veps;
                pv[j] = p - (vstep * mj / denom);
            }
            i = pv.Length * Vector<T>.Count;
        }
        for (; i < parameters.Length; i++)
        {
            T p = parameters[i];
            T g = gradients[i];
            if (decoupled)
            {
                p *= decay;
            }
            else if (coupled)
            {
                g += wd * p;
            }
            m[i] = (b1 * m[i]) + (oneMinusB1 * g);
            v[i] = (b2 * v[i]) + (oneMinusB2 * g * g);
            T denom = (T.Sqrt(v[i]) / sqrtBc2) + eps;
            parameters[i] = p - (stepSize * m[i] / denom);
        }
    }
}

/// <summary><c>torch.optim.AdamW</c>: Adam with decoupled weight decay (default 0.01).</summary>
public sealed class AdamW<T> : Adam<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates AdamW with torch's defaults.</summary>
    public AdamW(ParameterSet<T> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 1e-2)
        : base(parameters, learningRate, beta1, beta2, epsilon, weightDecay, decoupled: true)
    {
    }
}
