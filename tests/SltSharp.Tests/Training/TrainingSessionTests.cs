using SltSharp.Estimators;
using SltSharp.Store;
using SltSharp.Tests.Store;
using SltSharp.Training;

namespace SltSharp.Tests.Training;

public class TrainingSessionTests
{
    private static readonly TrainingTaskConfig Mlp = new() { Model = "mlp", Widths = [3, 8, 2], SampleCount = 200, DataSeed = 4, ProbeCount = 16 };

    private static readonly TrainingTaskConfig Dln = new()
    {
        Model = "dln", Widths = [4, 4, 4], SingularValues = [3, 1], SampleCount = 300, DataSeed = 2, InitScale = 0.05,
    };

    /// <summary>
    /// The strong resume test: 100 steps straight against 60 steps, save, a fresh session restored from the files, 40 more.
    /// Adam (whose moment buffers and bias-correction step count must be restored) on minibatches (whose draw must not
    /// depend on where the run stopped). Weights must agree exactly, not approximately.
    /// </summary>
    [Theory]
    [InlineData(OptimizerKind.Adam, 0.0, 32)]
    [InlineData(OptimizerKind.Sgd, 0.9, 16)]
    public void Resumed_training_equals_uninterrupted_training_bit_for_bit(OptimizerKind optimizer, double momentum, int batch)
    {
        using var folder = new TempFolder();
        var options = new TrainingOptions
        {
            Steps = 100, Schedule = CheckpointSchedule.Parse("linear:6"), Optimizer = optimizer, LearningRate = 0.01, Momentum = momentum,
            BatchSize = batch, Seed = 3,
        };
        var straight = new TrainingSession(TrainingTasks.Create(Mlp), options);
        straight.Run(null, null);

        var first = new TrainingSession(TrainingTasks.Create(Mlp), options);
        using (var cts = new CancellationTokenSource())
        {
            Assert.Throws<OperationCanceledException>(() => first.Run((step, _) => { if (step == 60) { cts.Cancel(); } }, null, cts.Token));
        }
        Assert.Equal(60, first.Step);
        string model = folder.File("step-60.safetensors"), state = folder.File("step-60.optim.safetensors");
        first.SaveCheckpoint(model, state);

        var resumed = new TrainingSession(TrainingTasks.Create(Mlp), options);
        Assert.NotEqual(first.FlatParameters(), resumed.FlatParameters()); // a fresh session is back at the initialisation
        resumed.Restore(60, model, state);
        resumed.Run(null, null);

        Assert.Equal(100, resumed.Step);
        Assert.Equal(straight.FlatParameters(), resumed.FlatParameters()); // exact double equality, element by element
        Assert.Equal(straight.Optimizer.StateBuffers.Select(b => b.Value), resumed.Optimizer.StateBuffers.Select(b => b.Value));
    }

    /// <summary>
    /// `slt train --threads 2` on a model big enough to split (4800 parameters × 100 rows) trains the same weights as one
    /// thread up to double rounding: the two differ only in the summation order of the minibatch mean (≈1e-16 relative per
    /// step; over 20 small SGD steps that stays far below 1e-10), and repeating the 2-thread run is bit-identical.
    /// </summary>
    [Fact]
    public void Two_data_parallel_threads_train_like_one_up_to_rounding_and_reproduce_exactly()
    {
        var config = new TrainingTaskConfig { Model = "dln", Widths = [40, 40, 40, 40], SingularValues = [3, 1], SampleCount = 400, DataSeed = 2, InitScale = 0.5 };
        var options = new TrainingOptions { Steps = 20, Schedule = CheckpointSchedule.Parse("linear:2"), LearningRate = 0.01, BatchSize = 100, Seed = 1 };
        double[] Train(int threads)
        {
            using var session = new TrainingSession(TrainingTasks.Create(config), options with { Threads = threads });
            session.Run(null, null);
            return session.FlatParameters();
        }
        var one = Train(1);
        var two = Train(2);
        double scale = one.Max(Math.Abs), diff = one.Zip(two, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(diff < 1e-10 * scale, $"1 vs 2 threads differ by {diff / scale:G3} (relative)");
        Assert.NotEqual(one, two); // the 2-thread run did split the batch (another summation order)
        Assert.Equal(two, Train(2));
    }

    [Fact]
    public void Training_lowers_the_loss_and_the_deep_linear_network_learns_its_larger_mode_first()
    {
        var task = TrainingTasks.Create(Dln);
        var session = new TrainingSession(task, new TrainingOptions { Steps = 1500, Schedule = CheckpointSchedule.Parse("log:8"), LearningRate = 0.02 });
        var losses = new List<(long Step, double Loss)>();
        var checkpoints = new List<long>();
        session.Run((s, l) => losses.Add((s, l)), checkpoints.Add);
        Assert.Equal(session.CheckpointSteps, checkpoints);
        // The initial loss is the teacher's energy Σ s² = 10 (E‖Wx‖² = ‖W‖²_F for x ~ N(0, I)), up to sampling error
        // of the 300 inputs (relative ≈ √(2/300·…) ≈ 10%) and the small initial product.
        Assert.InRange(losses[0].Loss, 8.0, 12.0);
        // Learning both modes drives the loss to ~0; after only the first mode it is ≈ s₂² = 1 — a plateau in between.
        Assert.True(losses[^1].Loss < 1e-3, $"final loss {losses[^1].Loss}");
        Assert.Contains(losses, p => p.Loss is > 0.8 and < 1.2);
    }

    [Fact]
    public void Sampling_loss_of_the_deep_linear_network_equals_the_training_loss_at_a_checkpoint()
    {
        // The hand-written DLN (used for sampling) and the engine model (used for training) must see the same flat layout.
        var task = TrainingTasks.Create(Dln);
        var session = new TrainingSession(task, new TrainingOptions { Steps = 50, Schedule = CheckpointSchedule.Parse("linear:2"), LearningRate = 0.02 });
        session.Run(null, null);
        double viaSampler = LlcEstimator.FullDataLoss(task.CreateSamplingLoss(), session.FlatParameters());
        Assert.Equal(session.FullLoss(), viaSampler, 1e-12 * Math.Max(1, viaSampler));
    }

    [Fact]
    public void Probe_outputs_are_the_model_outputs_on_the_probe_set()
    {
        var task = TrainingTasks.Create(Dln with { ProbeCount = 5 });
        var session = new TrainingSession(task, new TrainingOptions { Steps = 10, Schedule = CheckpointSchedule.Parse("linear:2") });
        var w = session.FlatParameters();
        var outputs = task.ProbeOutputs(w);
        Assert.Equal(5 * 4, outputs.Length);
        // y = W2·W1·x by hand, for probe 3, output 1.
        double expected = 0;
        for (int h = 0; h < 4; h++)
        {
            double hidden = 0;
            for (int i = 0; i < 4; i++)
            {
                hidden += w[(h * 4) + i] * task.ProbeInputs[(3 * 4) + i];
            }
            expected += w[16 + (1 * 4) + h] * hidden;
        }
        Assert.Equal(expected, outputs[(3 * 4) + 1], 12);
    }

    [Fact]
    public void Recorder_resumes_a_killed_run_and_ends_with_the_same_checkpoints_and_metrics()
    {
        using var folder = new TempFolder();
        var options = new TrainingOptions { Steps = 100, Schedule = CheckpointSchedule.Parse("linear:6"), Optimizer = OptimizerKind.Adam, BatchSize = 20, LogEvery = 5 };

        using var reference = SqliteResultsStore.Open(folder.File("a/slt.db"));
        var straight = TrainingRecorder.Run(reference, Mlp, options, "demo", "test");
        Assert.Null(straight.ResumedFromStep);
        Assert.Equal(100, straight.StepsTrained);

        using var store = SqliteResultsStore.Open(folder.File("b/slt.db"));
        using (var cts = new CancellationTokenSource())
        {
            // Killed at step 70: checkpoints 0..60 are saved, metrics 65 and 70 were not yet flushed.
            Assert.Throws<OperationCanceledException>(() =>
                TrainingRecorder.Run(store, Mlp, options, "demo", "test", (step, _) => { if (step == 70) { cts.Cancel(); } }, cts.Token));
        }
        Assert.Equal(RunStatus.Interrupted, store.ListRuns().Single().Status);
        Assert.Equal([0L, 20, 40, 60], store.Checkpoints(1).Select(c => c.Step));

        var resumed = TrainingRecorder.Run(store, Mlp, options, "demo", "test");
        Assert.Equal(60, resumed.ResumedFromStep);
        Assert.Equal(40, resumed.StepsTrained);
        Assert.Equal(RunStatus.Completed, resumed.Run.Status);
        Assert.Single(store.ListRuns());
        Assert.Equal(straight.Checkpoints.Select(c => (c.Step, c.Sha256, c.Path)), resumed.Checkpoints.Select(c => (c.Step, c.Sha256, c.Path)));
        Assert.Equal(reference.Metrics(1), store.Metrics(1));
        Assert.Equal(21, store.Metrics(1).Count); // steps 0, 5, ..., 100: none duplicated by the resume
        Assert.True(File.Exists(folder.File("b/demo/checkpoints/step-000000100.safetensors")));

        // A third run of the same command has nothing left to do.
        var again = TrainingRecorder.Run(store, Mlp, options, "demo", "test");
        Assert.Equal(0, again.StepsTrained);
        Assert.Equal(straight.FinalLoss, again.FinalLoss);
    }

    /// <summary>
    /// `slt train --threads` is stored with the run (as the gradient split it implies) without becoming part of the run's
    /// identity: a resume with another count continues the same run and says that it now rounds differently; a resume with
    /// the same count says nothing. The 4800-parameter DLN with batches of 100 splits over 2 threads (work 4.8e5 ≥ 2^18).
    /// </summary>
    [Fact]
    public void Recorder_stores_the_gradient_split_and_warns_when_a_resume_uses_another()
    {
        using var folder = new TempFolder();
        var config = new TrainingTaskConfig { Model = "dln", Widths = [40, 40, 40, 40], SingularValues = [3, 1], SampleCount = 400, DataSeed = 2, InitScale = 0.5 };
        var options = new TrainingOptions { Steps = 10, Schedule = CheckpointSchedule.Parse("linear:2"), LearningRate = 0.01, BatchSize = 100, Seed = 1 };
        using var store = SqliteResultsStore.Open(folder.File("slt.db"));
        var first = TrainingRecorder.Run(store, config, options with { Threads = 2 }, "split", "test");
        Assert.Null(first.Warning);
        Assert.Contains($"\"{TrainingRecorder.GradientShardsKey}\":2", first.Run.ConfigJson, StringComparison.Ordinal);

        var same = TrainingRecorder.Run(store, config, options with { Threads = 2 }, "split", "test");
        Assert.Equal(10, same.ResumedFromStep);
        Assert.Null(same.Warning);

        var other = TrainingRecorder.Run(store, config, options with { Threads = 1 }, "split", "test");
        Assert.Equal(first.Run.Id, other.Run.Id); // the same run, not a new one
        Assert.Single(store.ListRuns());
        Assert.NotNull(other.Warning);
        Assert.Contains("--threads 2", other.Warning, StringComparison.Ordinal);
    }
}
