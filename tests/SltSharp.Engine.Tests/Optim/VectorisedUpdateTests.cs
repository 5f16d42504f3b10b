using SltSharp.Engine.Layers;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Optim;

/// <summary>
/// The optimisers update long parameter vectors with SIMD and the remainder (and sets shorter than a vector, as in
/// <see cref="OptimizerTests"/>, which pins the scalar path to torch.optim) element by element. Updates are
/// elementwise, so each of 37 parameters updated together must equal, bit for bit, the same parameter updated alone.
/// </summary>
public class VectorisedUpdateTests
{
    private sealed class Parameters : Module<double>
    {
        public Parameters(int count) => RegisterParameter("w", Initializer.Constant(0), count);
    }

    public static TheoryData<int> Kinds => [0, 1, 2, 3, 4];

    private static Optimizer<double> Make(int kind, ParameterSet<double> set) => kind switch
    {
        0 => new Sgd<double>(set, 0.1),
        1 => new Sgd<double>(set, 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01),
        2 => new Sgd<double>(set, 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true),
        3 => new Adam<double>(set, 0.1, 0.8, 0.95, 1e-6, weightDecay: 0.05),
        _ => new AdamW<double>(set, 0.1, 0.8, 0.95, 1e-6, weightDecay: 0.05),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_parameter_updates_as_if_alone(int kind)
    {
        const int n = 37, steps = 3;
        var p0 = new double[n];
        var grads = new double[steps * n];
        new Rng(5).FillGaussian(p0, 1.0);
        new Rng(6).FillGaussian(grads, 1.0);

        var all = new Parameters(n).Build(1, new Rng(0));
        p0.CopyTo(all.Values);
        var opt = Make(kind, all);
        for (int s = 0; s < steps; s++)
        {
            opt.ZeroGrad();
            grads.AsSpan(s * n, n).CopyTo(all.Gradients);
            opt.Step();
        }

        for (int i = 0; i < n; i++)
        {
            var one = new Parameters(1).Build(1, new Rng(0));
            one.Values[0] = p0[i];
            var single = Make(kind, one);
            for (int s = 0; s < steps; s++)
            {
                single.ZeroGrad();
                one.Gradients[0] = grads[(s * n) + i];
                single.Step();
            }
            Assert.Equal(one.Values[0], all.Values[i]);
        }
    }
}
