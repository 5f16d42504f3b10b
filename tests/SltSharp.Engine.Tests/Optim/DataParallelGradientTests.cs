using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Optim;

/// <summary>Tests that set or depend on OpenBLAS's process-wide thread count run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class OpenBlasThreadsCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "OpenBLAS threads";
}

/// <summary>
/// The data-parallel gradient must be the minibatch-mean gradient: against a closed form, against one tape over the
/// whole batch (to double rounding, since only the summation order differs), bit-identical across repeats, and
/// allocation-free after warm-up on every worker thread. In the OpenBLAS-threads collection: a test that changes
/// OpenBLAS's thread count in parallel would change the GEMM dispatch between repeats, and so the rounding.
/// </summary>
[Collection(OpenBlasThreadsCollection.Name)]
public class DataParallelGradientTests
{
    private static double[] Gaussian(int n, ulong seed)
    {
        var v = new double[n];
        new Rng(seed).FillGaussian<double>(v, 1.0);
        return v;
    }

    private static double MaxRelativeDifference(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double scale = 0, diff = 0;
        for (int i = 0; i < a.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(a[i]));
            diff = Math.Max(diff, Math.Abs(a[i] - b[i]));
        }
        return diff / scale;
    }

    /// <summary>
    /// One bias-free linear layer y = W·x under MSE (mean over m rows and o outputs) has the closed-form gradient
    /// ∂L/∂W = 2/(m·o) Σ_r (W·x_r − y_r)·x_rᵀ and loss (1/(m·o)) Σ (W·x − y)². Shards of 13, 13, 12 rows (uneven, so the
    /// count/rows weights matter) must reproduce both; double rounding over ~200 terms is ~1e-14 relative, 1e-11 leaves
    /// three orders of margin while a wrong shard weight (off by ≥ 2%) fails by nine.
    /// </summary>
    [Fact]
    public void Three_uneven_shards_give_the_closed_form_gradient_of_a_linear_layer()
    {
        int rows = 38, inputs = 200, outputs = 50;
        var layer = new Linear<double>(inputs, outputs, bias: false);
        var set = layer.Build(1, new Rng(1));
        var x = Gaussian(rows * inputs, 2);
        var y = Gaussian(rows * outputs, 3);
        using var step = new DataParallelGradient<double>(set, 3, (tape, _, start, count) => tape.MseLoss(
            layer.Forward(tape, tape.Input(x.AsSpan(start * inputs, count * inputs), count, inputs)),
            tape.Input(y.AsSpan(start * outputs, count * outputs), count, outputs)));

        double loss = step.Compute(rows)[0];
        Assert.Equal(3, step.LastWorkers);

        var w = set.Values;
        var expected = new double[w.Length];
        double expectedLoss = 0;
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double residual = -y[(r * outputs) + o];
                for (int i = 0; i < inputs; i++)
                {
                    residual += w[(o * inputs) + i] * x[(r * inputs) + i];
                }
                expectedLoss += residual * residual / (rows * outputs);
                for (int i = 0; i < inputs; i++)
                {
                    expected[(o * inputs) + i] += 2 * residual * x[(r * inputs) + i] / (rows * outputs);
                }
            }
        }
        Assert.True(MaxRelativeDifference(expected, set.Gradients) < 1e-11, $"gradient differs by {MaxRelativeDifference(expected, set.Gradients):G3}");
        Assert.Equal(expectedLoss, loss, expectedLoss * 1e-12);
    }

    /// <summary>
    /// A 2-layer transformer (attention, layer norm, GELU, cross-entropy over tokens) on 26 sequences: 3 workers (shards
    /// 9, 9, 8) against one tape over all 26. Only the summation order differs, so the gradients agree to double rounding
    /// (~1e-15 per operation, a few hundred accumulated; 1e-11 relative to the largest entry is far above that and far
    /// below any real error, e.g. a shard weighted 9/26 instead of 8/26 is a 10% change of its part).
    /// </summary>
    [Fact]
    public void Worker_shards_of_a_transformer_batch_match_one_tape_to_rounding()
    {
        const int batch = 26, length = 8, vocabulary = 16;
        var model = new DecoderTransformer<double>(vocabulary, length, modelDimension: 32, heads: 4, layers: 2);
        var set = model.Build(1, new Rng(1));
        var tokens = new int[batch * length];
        var targets = new int[tokens.Length];
        new Rng(2).FillIndices(tokens, vocabulary);
        new Rng(3).FillIndices(targets, vocabulary);

        var tape = new Tape<double>();
        var reference = model.Loss(tape, tokens, targets, batch, length);
        set.ZeroGradients();
        tape.Backward(reference);
        double referenceLoss = reference.Value[0];
        var referenceGradient = set.Gradients.ToArray();

        using var step = new DataParallelGradient<double>(set, 3, (t, _, start, count) => model.Loss(
            t, tokens.AsSpan(start * length, count * length), targets.AsSpan(start * length, count * length), count, length));
        double loss = step.Compute(batch)[0];
        Assert.Equal(3, step.LastWorkers);
        Assert.Equal(referenceLoss, loss, 1e-12 * referenceLoss);
        double difference = MaxRelativeDifference(referenceGradient, set.Gradients);
        Assert.True(difference < 1e-11, $"gradient differs by {difference:G3}");
        Assert.NotEqual(0.0, difference); // the test does compare different summation orders

        // Same workers, same inputs: bit for bit, whatever the timing (repeated to give a race a chance to show) and
        // however the JIT has compiled the kernels so far: the first calls run quick tier-0 code, later ones optimised
        // code, and the rounding must not change when the JIT tiers up (SimdRounding). The repeats span ~1.5 s, past
        // the tier-up of the kernels (call-count threshold 30 plus a 100 ms delay, then background compilation).
        loss = step.Compute(batch)[0];
        var first = set.Gradients.ToArray();
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; elapsed.ElapsedMilliseconds < 1500 || i < 20; i++)
        {
            Assert.Equal(loss, step.Compute(batch)[0]);
            Assert.True(first.AsSpan().SequenceEqual(set.Gradients), $"repeat {i} differs");
        }
    }

    /// <summary>Below the work gate one worker runs, and then the result is exactly the plain single-tape one.</summary>
    [Fact]
    public void Small_work_stays_on_one_thread_and_equals_the_plain_step_exactly()
    {
        var model = Sequential<double>.DeepLinear([5, 5, 5]);
        var set = model.Build(1, new Rng(1));
        var x = Gaussian(100 * 5, 2);
        var y = Gaussian(100 * 5, 3);
        var tape = new Tape<double>();
        var plain = tape.MseLoss(model.Forward(tape, tape.Input(x, 100, 5)), tape.Input(y, 100, 5));
        set.ZeroGradients();
        tape.Backward(plain);
        var expected = set.Gradients.ToArray();

        using var step = new DataParallelGradient<double>(set, 2, (t, _, start, count) => t.MseLoss(
            model.Forward(t, t.Input(x.AsSpan(start * 5, count * 5), count, 5)), t.Input(y.AsSpan(start * 5, count * 5), count, 5)));
        Assert.Equal(1, step.WorkersFor(100));
        Assert.Equal(plain.Value[0], step.Compute(100)[0]);
        Assert.Equal(1, step.LastWorkers);
        Assert.Equal(expected, set.Gradients.ToArray());
    }

    /// <summary>
    /// After warm-up a data-parallel DLN training step (compute + SGD) allocates nothing on any worker: each shard
    /// records its thread's allocation counter when it starts, and steps 4..11 must leave every counter unchanged.
    /// </summary>
    [Fact]
    public void A_data_parallel_step_allocates_nothing_after_warmup_on_any_thread()
    {
        int rows = 100, width = 50;
        var model = Sequential<float>.DeepLinear([width, width, width, width, width, width]);
        var set = model.Build(1, new Rng(1));
        var opt = new Sgd<float>(set, 1e-3);
        var x = new float[rows * width];
        var y = new float[rows * width];
        new Rng(2).FillGaussian<float>(x, 1f);
        new Rng(3).FillGaussian<float>(y, 1f);
        var allocated = new long[2];
        using var step = new DataParallelGradient<float>(set, 2, (tape, shard, start, count) =>
        {
            allocated[shard] = GC.GetAllocatedBytesForCurrentThread();
            return tape.MseLoss(model.Forward(tape, tape.Input(x.AsSpan(start * width, count * width), count, width)),
                tape.Input(y.AsSpan(start * width, count * width), count, width));
        });
        for (int i = 0; i < 3; i++)
        {
            step.Compute(rows);
            opt.Step();
        }
        Assert.Equal(2, step.LastWorkers);
        long workerBefore = allocated[1];
        long mainBefore = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 8; i++)
        {
            step.Compute(rows);
            opt.Step();
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - mainBefore);
        // The worker's counter is read when its shard starts, so this covers its steps 4..10 (the last backward excepted).
        Assert.Equal(workerBefore, allocated[1]);
    }

    [Fact]
    public void An_exception_on_a_worker_thread_reaches_the_caller()
    {
        var layer = new Linear<double>(100, 100, bias: false);
        var set = layer.Build(1, new Rng(1));
        var x = Gaussian(64 * 100, 2);
        using var step = new DataParallelGradient<double>(set, 2, (tape, shard, start, count) =>
            shard == 1 ? throw new InvalidDataException("shard 1 failed") : tape.Mean(layer.Forward(tape, tape.Input(x.AsSpan(start * 100, count * 100), count, 100))));
        var e = Assert.Throws<InvalidDataException>(() => step.Compute(64));
        Assert.Equal("shard 1 failed", e.Message);
    }
}
