using BenchmarkDotNet.Attributes;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Linalg;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Benchmarks;

/// <summary>
/// One training step (forward + backward + optimizer) of three reference models, in float. The same steps are timed in
/// PyTorch by benchmarks/compare/torch_training_step.py. Each step allocates nothing (see the memory columns).
/// The gradient is computed by <see cref="DataParallelGradient{T}"/> on <see cref="TrainThreads"/> workers, the path
/// `slt train` uses (PyTorch's side uses its 2 intra-op threads).
/// </summary>
/// <remarks>
/// <see cref="BlasThreads"/> sets OpenBLAS's thread count (1 and 2, matching `torch_training_step.py 1` and `2`;
/// ignored when OpenBLAS is absent). One thread is the setting for parallel chains, where each chain's worker owns a
/// core; all managed code runs on the calling thread either way.
/// </remarks>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private DataParallelGradient<float>? _step;
    private Sequential<float> _dln = null!;
    private Sequential<float> _mlp = null!;
    private DecoderTransformer<float> _transformer = null!;
    private Optimizer<float> _optimizer = null!;
    private float[] _x = [];
    private float[] _y = [];
    private int[] _labels = [];
    private int[] _tokens = [];
    private int[] _targets = [];
    private int _batch, _inputs, _outputs;

    /// <summary>OpenBLAS threads for the GEMMs it performs.</summary>
    [Params(1, 2)]
    public int BlasThreads { get; set; } = 1;

    /// <summary>Data-parallel workers of a step (0 = one per core); with more than one, OpenBLAS runs single-threaded.</summary>
    public int TrainThreads { get; set; }

    private void ApplyThreads()
    {
        if (OpenBlas.IsAvailable)
        {
            OpenBlas.SetNumThreads(BlasThreads);
        }
    }

    private void UseStep(ParameterSet<float> set, ShardLossFunction<float> loss)
    {
        _step?.Dispose();
        _step = new DataParallelGradient<float>(set, TrainThreads, loss);
    }

    /// <summary>Workers the last step used.</summary>
    public int LastWorkers => _step?.LastWorkers ?? 1;

    /// <summary>Stops the workers.</summary>
    [GlobalCleanup]
    public void Cleanup() => _step?.Dispose();

    /// <summary>(a) 5 bias-free Linear layers of width 50, batch 100, MSE, SGD.</summary>
    [GlobalSetup(Target = nameof(DeepLinearNetwork))]
    public void SetupDeepLinear()
    {
        ApplyThreads();
        _dln = Sequential<float>.DeepLinear([50, 50, 50, 50, 50, 50]);
        var set = _dln.Build(1, new Rng(1));
        _optimizer = new Sgd<float>(set, 1e-3);
        (_batch, _inputs, _outputs) = (100, 50, 50);
        _x = Gaussian(_batch * _inputs, 2);
        _y = Gaussian(_batch * _outputs, 3);
        UseStep(set, (tape, _, start, count) => tape.MseLoss(
            _dln.Forward(tape, tape.Input(_x.AsSpan(start * _inputs, count * _inputs), count, _inputs)),
            tape.Input(_y.AsSpan(start * _outputs, count * _outputs), count, _outputs)));
    }

    /// <summary>(a) 5-layer width-50 deep linear network, batch 100.</summary>
    [Benchmark]
    public float DeepLinearNetwork() => Finish();

    /// <summary>(b) MLP 784-256-256-10, batch 128, cross-entropy, SGD with momentum.</summary>
    [GlobalSetup(Target = nameof(Mlp))]
    public void SetupMlp()
    {
        ApplyThreads();
        _mlp = Sequential<float>.Mlp([784, 256, 256, 10]);
        var set = _mlp.Build(1, new Rng(1));
        _optimizer = new Sgd<float>(set, 1e-2, momentum: 0.9);
        (_batch, _inputs, _outputs) = (128, 784, 10);
        _x = Gaussian(_batch * _inputs, 2);
        _labels = new int[_batch];
        new Rng(3).FillIndices(_labels, _outputs);
        UseStep(set, (tape, _, start, count) => tape.CrossEntropy(
            _mlp.Forward(tape, tape.Input(_x.AsSpan(start * _inputs, count * _inputs), count, _inputs)),
            _labels.AsSpan(start, count)));
    }

    /// <summary>(b) MLP 784-256-256-10, batch 128.</summary>
    [Benchmark]
    public float Mlp() => Finish();

    /// <summary>(c) 2-layer transformer, d_model 64, 4 heads, context 16, vocab 64, batch 32, AdamW.</summary>
    [GlobalSetup(Target = nameof(Transformer))]
    public void SetupTransformer()
    {
        ApplyThreads();
        _transformer = new DecoderTransformer<float>(vocabulary: 64, contextLength: 16, modelDimension: 64, heads: 4, layers: 2);
        var set = _transformer.Build(1, new Rng(1));
        _optimizer = new AdamW<float>(set, 1e-3);
        _batch = 32;
        _tokens = new int[32 * 16];
        _targets = new int[32 * 16];
        new Rng(2).FillIndices(_tokens, 64);
        new Rng(3).FillIndices(_targets, 64);
        UseStep(set, (tape, _, start, count) => _transformer.Loss(
            tape, _tokens.AsSpan(start * 16, count * 16), _targets.AsSpan(start * 16, count * 16), count, 16));
    }

    /// <summary>(c) 2-layer transformer, batch 32 × context 16.</summary>
    [Benchmark]
    public float Transformer() => Finish();

    private float Finish()
    {
        float loss = _step!.Compute(_batch)[0];
        _optimizer.Step();
        return loss;
    }

    private static float[] Gaussian(int n, ulong seed)
    {
        var v = new float[n];
        new Rng(seed).FillGaussian(v, 1f);
        return v;
    }
}
