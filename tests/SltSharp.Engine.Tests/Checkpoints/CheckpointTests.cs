using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Formats;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Random;
using SltSharp.Engine.Tests.Formats;

namespace SltSharp.Engine.Tests.Checkpoints;

public class CheckpointTests
{
    private static readonly ModelSpec Dln234 = new DeepLinearSpec([2, 3, 4]);

    [Fact]
    public void Save_chain_then_load_broadcasts_it_bit_for_bit_to_every_chain()
    {
        using var folder = new TempFolder();
        var spec = new TransformerSpec(7, 5, 8, 2, 1, 12);
        var source = spec.Build<float>(3, new Rng(10));
        string path = folder.File("tf.safetensors");
        Checkpoint.Save(path, source.Parameters, spec, chain: 1, new Dictionary<string, string> { ["step"] = "400" });

        var target = spec.Build<float>(2, new Rng(99));
        Checkpoint.Load(path, target.Parameters);
        float[] want = new float[source.Parameters.CountPerChain];
        float[] got = new float[want.Length];
        source.Parameters.CopyChainTo(1, want);
        for (int c = 0; c < 2; c++)
        {
            target.Parameters.CopyChainTo(c, got);
            Assert.Equal(want, got);
        }

        using var file = SafetensorsFile.Open(path);
        Assert.Equal("400", file.Metadata["step"]);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(spec, ModelSpec.Parse(file.Metadata[Checkpoint.SpecMetadataKey]));
        Assert.Equal(source.Parameters.Parameters.Select(p => p.Name).Order(StringComparer.Ordinal), file.Entries.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.All(file.Entries, e => Assert.Equal(DType.F32, e.DType));
        Assert.Equal([24, 8], file.GetEntry("blocks.0.attn.qkv.weight").Shape);
    }

    [Fact]
    public void LoadModel_rebuilds_from_the_stored_spec_and_double_narrows_to_float_by_rounding()
    {
        using var folder = new TempFolder();
        var spec = new MlpSpec([3, 5, 2], ActivationKind.Tanh);
        var source = spec.Build<double>(1, new Rng(3));
        string path = folder.File("mlp.safetensors");
        Checkpoint.Save(path, source.Parameters, spec);
        Assert.Equal(spec, Checkpoint.ReadSpec(path));

        var (model, read) = Checkpoint.LoadModel<float>(path, chains: 2);
        Assert.Equal(spec, read);
        var layer = Assert.IsType<Sequential<float>>(model);
        Assert.Equal(ActivationKind.Tanh, Assert.IsType<Activation<float>>(layer.Layers[1]).Kind);
        foreach (Parameter<double> p in source.Parameters.Parameters)
        {
            float[] narrowed = p.Value(0).ToArray().Select(v => (float)v).ToArray();
            Assert.Equal(narrowed, model.Parameters[p.Name].Value(1).ToArray());
        }
        var (wide, _) = Checkpoint.LoadModel<double>(path);
        Assert.Equal(source.Parameters.Values.ToArray(), wide.Parameters.Values.ToArray());
    }

    [Fact]
    public void Missing_tensor_names_file_tensor_and_expected_shape()
    {
        using var folder = new TempFolder();
        string path = folder.File("small.safetensors");
        Checkpoint.Save(path, Dln234.Build<float>(1, new Rng(1)).Parameters, Dln234);
        var bigger = new DeepLinearSpec([2, 3, 4, 5]).Build<float>(1, new Rng(1));
        float[] before = bigger.Parameters.Values.ToArray();
        var ex = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path, bigger.Parameters));
        Assert.Equal(path, ex.FilePath);
        Assert.Equal("2.weight", ex.TensorName);
        Assert.Contains("missing", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[5, 4]", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, bigger.Parameters.Values.ToArray()); // nothing loaded on failure
    }

    [Fact]
    public void Unexpected_tensor_names_it_and_its_shape()
    {
        using var folder = new TempFolder();
        string path = folder.File("big.safetensors");
        Checkpoint.Save(path, new DeepLinearSpec([2, 3, 4, 5]).Build<float>(1, new Rng(1)).Parameters);
        var ex = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path, Dln234.Build<float>(1, new Rng(1)).Parameters));
        Assert.Equal("2.weight", ex.TensorName);
        Assert.Contains("unexpected", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[5, 4]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shape_mismatch_names_expected_and_actual_shapes()
    {
        using var folder = new TempFolder();
        string path = folder.File("wide.safetensors");
        Checkpoint.Save(path, new DeepLinearSpec([2, 6, 4]).Build<double>(1, new Rng(1)).Parameters);
        var ex = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path, Dln234.Build<double>(1, new Rng(1)).Parameters));
        Assert.Equal("0.weight", ex.TensorName);
        Assert.Contains("expects [3, 2], the file has [6, 2]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Integer_tensor_is_rejected_as_a_non_float_dtype()
    {
        using var folder = new TempFolder();
        string path = folder.File("ints.safetensors");
        Safetensors.Write(path, [NamedArray.Create("0.weight", new int[6], 3, 2), NamedArray.Create("1.weight", new float[12], 4, 3)]);
        var ex = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path, Dln234.Build<float>(1, new Rng(1)).Parameters));
        Assert.Equal("0.weight", ex.TensorName);
        Assert.Contains("I32", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadModel_without_or_with_a_bad_spec_says_so()
    {
        using var folder = new TempFolder();
        string bare = folder.File("bare.safetensors");
        Checkpoint.Save(bare, Dln234.Build<float>(1, new Rng(1)).Parameters);
        Assert.Null(Checkpoint.ReadSpec(bare));
        var ex = Assert.Throws<CheckpointFormatException>(() => Checkpoint.LoadModel<float>(bare));
        Assert.Contains(Checkpoint.SpecMetadataKey, ex.Message, StringComparison.Ordinal);

        string bad = folder.File("bad.safetensors");
        Safetensors.Write(bad, [NamedArray.Create("0.weight", new float[6], 3, 2)],
            new Dictionary<string, string> { [Checkpoint.SpecMetadataKey] = """{"kind":"dln","widths":[2,0]}""" });
        var ex2 = Assert.Throws<CheckpointFormatException>(() => Checkpoint.LoadModel<float>(bad));
        Assert.IsType<ModelSpecException>(ex2.InnerException);
        Assert.Contains("widths[1]", ex2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Save_rejects_a_missing_chain_and_the_reserved_metadata_key()
    {
        using var folder = new TempFolder();
        var ps = Dln234.Build<float>(2, new Rng(1)).Parameters;
        Assert.Throws<ArgumentOutOfRangeException>(() => Checkpoint.Save(folder.File("x.safetensors"), ps, chain: 2));
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(folder.File("x.safetensors"), ps,
            metadata: new Dictionary<string, string> { [Checkpoint.SpecMetadataKey] = "{}" }));
    }
}
