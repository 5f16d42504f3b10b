using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Autodiff;

/// <summary>
/// After warm-up a step reuses every node and buffer, so steps 3..10 must allocate exactly 0 bytes on this thread.
/// </summary>
/// <remarks>
/// Shapes are passed from variables, not literals: an all-constant <c>params ReadOnlySpan&lt;int&gt;</c> argument compiles to
/// RuntimeHelpers.CreateSpan, which allocates 72 bytes per call in unoptimised (Debug) code. The engine itself never
/// passes constant spans on a hot path for that reason.
/// </remarks>
public class AllocationTests
{
    private static long AllocatedDuringSteps(Action step)
    {
        step();
        step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 3; i <= 10; i++)
        {
            step();
        }
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Mlp_training_step_allocates_nothing_after_warmup()
    {
        int chains = 2, batch = 16, inputs = 20, classes = 5, n = 100;
        var model = Sequential<float>.Mlp([inputs, 32, 32, classes]);
        var set = model.Build(chains, new Rng(1));
        var opt = new Adam<float>(set, 1e-3);
        var tape = new Tape<float>();
        var data = new float[n * inputs];
        new Rng(2).FillGaussian<float>(data, 1f);
        var labels = new int[n];
        new Rng(3).FillIndices(labels, classes);
        var rows = new int[chains * batch];
        var targets = new int[rows.Length];
        var rng = new Rng(4);

        void Step()
        {
            rng.FillIndices(rows, n); // a fresh minibatch per chain each step
            for (int i = 0; i < rows.Length; i++)
            {
                targets[i] = labels[rows[i]];
            }
            tape.Reset();
            var x = tape.InputRows(data, inputs, rows, chains, batch, inputs);
            var loss = tape.CrossEntropy(model.Forward(tape, x), targets, chains);
            opt.ZeroGrad();
            tape.Backward(loss);
            opt.Step();
        }

        Assert.Equal(0, AllocatedDuringSteps(Step));
    }

    [Fact]
    public void Transformer_training_step_allocates_nothing_after_warmup()
    {
        var model = new DecoderTransformer<float>(vocabulary: 16, contextLength: 8, modelDimension: 16, heads: 2, layers: 2);
        var set = model.Build(2, new Rng(1));
        var opt = new AdamW<float>(set, 1e-3);
        var tape = new Tape<float>();
        var tokens = new int[2 * 4 * 8];
        var targets = new int[tokens.Length];
        var rng = new Rng(5);

        void Step()
        {
            rng.FillIndices(tokens, 16);
            rng.FillIndices(targets, 16);
            tape.Reset();
            var loss = model.Loss(tape, tokens, targets, 4, 8);
            opt.ZeroGrad();
            tape.Backward(loss);
            opt.Step();
        }

        Assert.Equal(0, AllocatedDuringSteps(Step));
    }
}
