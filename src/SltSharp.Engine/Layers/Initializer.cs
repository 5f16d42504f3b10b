using System.Numerics;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Layers;

/// <summary>How a parameter tensor is filled when a model is initialised (PyTorch's defaults are provided).</summary>
public abstract class Initializer
{
    /// <summary>Fills one chain's copy of a parameter.</summary>
    public abstract void Fill<T>(Span<T> values, Rng rng)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Uniform on [low, high).</summary>
    public static Initializer Uniform(double low, double high) => new UniformInitializer(low, high);

    /// <summary>Normal with the given mean and standard deviation (<c>nn.Embedding</c>: N(0, 1)).</summary>
    public static Initializer Normal(double mean = 0, double std = 1) => new NormalInitializer(mean, std);

    /// <summary>Every element equal to <paramref name="value"/>.</summary>
    public static Initializer Constant(double value) => new ConstantInitializer(value);

    /// <summary>
    /// PyTorch's <c>nn.Linear</c> default for weight and bias: kaiming_uniform(a = √5) on the weight gives
    /// bound = √(2/(1+a²))·√(3/fan_in) = 1/√fan_in, and the bias uses the same bound: U(−1/√fan_in, 1/√fan_in).
    /// </summary>
    public static Initializer LinearDefault(int fanIn)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fanIn);
        double bound = 1.0 / Math.Sqrt(fanIn);
        return new UniformInitializer(-bound, bound);
    }

    private sealed class UniformInitializer(double low, double high) : Initializer
    {
        public override void Fill<T>(Span<T> values, Rng rng) => rng.FillUniform(values, T.CreateTruncating(low), T.CreateTruncating(high));
    }

    private sealed class NormalInitializer(double mean, double std) : Initializer
    {
        public override void Fill<T>(Span<T> values, Rng rng)
        {
            rng.FillGaussian(values, T.CreateTruncating(std));
            if (mean != 0)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(values, T.CreateTruncating(mean), values);
            }
        }
    }

    private sealed class ConstantInitializer(double value) : Initializer
    {
        public override void Fill<T>(Span<T> values, Rng rng) => values.Fill(T.CreateTruncating(value));
    }
}
