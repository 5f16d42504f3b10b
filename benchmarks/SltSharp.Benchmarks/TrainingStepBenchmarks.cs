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
/// </summary>
/// <remarks>
/// <see cref="BlasThreads"/> sets OpenBLAS's thread count (1 and 2, matching `torch_training_step.py 1` and `2`;
/// ignored when OpenBLAS is absent). One thread is the setting for parallel chains, where each chain's worker owns a
/// core; all managed code runs on the calling thread either way.
/// </remarks>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private readonly Tape<float> _tape = new();
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

    private void ApplyThreads()
    {
        if (OpenBlas.IsAvailable)
        {
            OpenBlas.SetNumThreads(BlasThreads);
        }
    }

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
    }

    /// <summary>(a) 5-layer width-50 deep linear network, batch 100.</summary>
    [Benchmark]
    public float DeepLinearNetwork()
    {
        _tape.Reset();
        var pred = _dln.Forward(_tape, _tape.Input(_x, _batch, _inputs));
        var loss = _tape.MseLoss(pred, _tape.Input(_y, _batch, _outputs));
        return Finish(loss);
    }

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
    }

    /// <summary>(b) MLP 784-256-256-10, batch 128.</summary>
    [Benchmark]
    public float Mlp()
    {
        _tape.Reset();
        var logits = _mlp.Forward(_tape, _tape.Input(_x, _batch, _inputs));
        return Finish(_tape.CrossEntropy(logits, _labels));
    }

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
    }

    /// <summary>(c) 2-layer transformer, batch 32 × context 16.</summary>
    [Benchmark]
    public float Transformer()
    {
        _tape.Reset();
        return Finish(_transformer.Loss(_tape, _tokens, _targets, _batch, 16));
    }

    private float Finish(Node<float> loss)
    {
        _optimizer.ZeroGrad();
        _tape.Backward(loss);
        _optimizer.Step();
        return loss.Value[0];
    }

    private static float[] Gaussian(int n, ulong seed)
    {
        var v = new float[n];
        new Rng(seed).FillGaussian(v, 1f);
        return v;
    }
}
