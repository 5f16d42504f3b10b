using SltSharp.Engine.Layers;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Optim;

/// <summary>
/// Three steps on p0 = (1, −2) with the fixed gradients below, against the parameters torch.optim (torch 1.13,
/// float64) produces for the same hyperparameters (script: benchmarks/compare/optim_reference.py). The updates are
/// closed-form, so agreement is to rounding (1e-12).
/// </summary>
public class OptimizerTests
{
    private static readonly double[][] Grads = [[0.5, 1.0], [-0.2, 0.3], [0.7, -0.4]];

    private sealed class TwoParameters : Module<double>
    {
        public TwoParameters() => W = RegisterParameter("w", Initializer.Constant(0), 2);

        public Parameter<double> W { get; }
    }

    private static void Run(Func<ParameterSet<double>, Optimizer<double>> make, double[][] expected)
    {
        var module = new TwoParameters();
        var set = module.Build(1, new Rng(0));
        set.Values[0] = 1;
        set.Values[1] = -2;
        var opt = make(set);
        for (int s = 0; s < Grads.Length; s++)
        {
            opt.ZeroGrad();
            Grads[s].CopyTo(set.Gradients);
            opt.Step();
            Assert.Equal(expected[s][0], set.Values[0], 1e-12);
            Assert.Equal(expected[s][1], set.Values[1], 1e-12);
        }
    }

    [Fact]
    public void Sgd_plain() => Run(p => new Sgd<double>(p, 0.1), [[0.95, -2.1], [0.97, -2.13], [0.9, -2.09]]);

    [Fact]
    public void Sgd_momentum_dampening_weight_decay() =>
        Run(p => new Sgd<double>(p, 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01),
            [[0.949, -2.098], [0.9202459, -2.2113118], [0.83053898869, -2.2753022393799998]]);

    [Fact]
    public void Sgd_nesterov() =>
        Run(p => new Sgd<double>(p, 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true),
            [[0.9031, -2.1862], [0.89807411, -2.31842622], [0.741657258191, -2.331992388182]]);

    [Fact]
    public void Adam_with_l2_weight_decay() =>
        Run(p => new Adam<double>(p, 0.1, 0.8, 0.95, 1e-6, weightDecay: 0.05),
            [[0.9000001818178512, -2.0999998888890126], [0.8603788303090681, -2.178992638939778], [0.7873867466774123, -2.194233649977109]]);

    [Fact]
    public void AdamW_with_decoupled_weight_decay() =>
        Run(p => new AdamW<double>(p, 0.1, 0.8, 0.95, 1e-6, weightDecay: 0.05),
            [[0.8950001999996, -2.0899999000001], [0.8610713435393609, -2.1632296210913236], [0.7881945960296993, -2.183422819134789]]);

    [Fact]
    public void Warmup_cosine_schedule()
    {
        var s = LearningRateSchedule.WarmupCosine(peak: 1.0, warmupSteps: 4, totalSteps: 14, minimum: 0.1);
        Assert.Equal(0.25, s.At(0), 1e-15);
        Assert.Equal(1.0, s.At(3), 1e-15);
        Assert.Equal(1.0, s.At(4), 1e-15);
        Assert.Equal(0.1 + (0.45 * (1 + Math.Cos(Math.PI / 2))), s.At(9), 1e-15); // halfway through the decay
        Assert.Equal(0.1, s.At(14), 1e-15);
        Assert.Equal(0.1, s.At(100), 1e-15);
        Assert.Equal(0.3, LearningRateSchedule.Constant(0.3).At(1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.WarmupCosine(1, 10, 10));
    }
}
