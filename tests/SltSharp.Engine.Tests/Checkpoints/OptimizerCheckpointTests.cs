using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Formats;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Checkpoints;

public sealed class OptimizerCheckpointTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("slt-optim-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Adam_state_round_trips_exactly_and_a_mismatched_file_is_refused_unchanged()
    {
        var set = Sequential<double>.Mlp([3, 4, 2]).Build(1, new Rng(1));
        var adam = new Adam<double>(set);
        var rng = new Rng(2);
        for (int step = 0; step < 3; step++)
        {
            rng.FillGaussian(set.Gradients, 1.0);
            adam.Step();
        }
        string path = Path.Combine(_folder, "adam.safetensors");
        OptimizerCheckpoint.Save(path, adam);

        var restored = new Adam<double>(set);
        OptimizerCheckpoint.Load(path, restored);
        Assert.Equal(3, restored.StepCount);
        Assert.Equal(adam.StateBuffers.Select(b => b.Value), restored.StateBuffers.Select(b => b.Value));

        var sgd = new Sgd<double>(set, 0.1, momentum: 0.9);
        var e = Assert.Throws<CheckpointFormatException>(() => OptimizerCheckpoint.Load(path, sgd));
        Assert.Contains("not 'Sgd`1'", e.Message);
        Assert.Equal(0, sgd.StepCount);

        var other = new Adam<double>(Sequential<double>.Mlp([3, 5, 2]).Build(1, new Rng(1)));
        Assert.Contains("another model", Assert.Throws<CheckpointFormatException>(() => OptimizerCheckpoint.Load(path, other)).Message);
        Assert.All(other.StateBuffers, b => Assert.All(b.Value, v => Assert.Equal(0.0, v)));
    }
}
