using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Checkpoints;

public class ModelSpecTests
{
    [Fact]
    public void Parse_reads_every_kind_and_fills_defaults()
    {
        var mlp = Assert.IsType<MlpSpec>(ModelSpec.Parse("""{"kind":"mlp","widths":[3,16,2],"activation":"gelu"}"""));
        Assert.Equal([3, 16, 2], mlp.Widths);
        Assert.Equal(ActivationKind.Gelu, mlp.Activation);
        Assert.True(mlp.Bias);

        var dln = Assert.IsType<DeepLinearSpec>(ModelSpec.Parse("""{"kind":"dln","widths":[4,5,6],"bias":false}"""));
        Assert.Equal([4, 5, 6], dln.Widths);

        var tf = Assert.IsType<TransformerSpec>(ModelSpec.Parse("""{"kind":"transformer","vocab":11,"context":9,"d_model":12,"heads":3,"layers":2}"""));
        Assert.Equal((11, 9, 12, 3, 2), (tf.Vocabulary, tf.Context, tf.ModelDimension, tf.Heads, tf.Layers));
        Assert.Equal(48, tf.MlpWidth);
        Assert.Equal(LayerNormPlacement.Pre, tf.LayerNorm);
        Assert.Equal(1e-5, tf.LayerNormEpsilon);
        Assert.False(tf.UnembedBias);

        var tms = Assert.IsType<TmsSpec>(ModelSpec.Parse("""{"kind":"tms","features":6,"hidden":2}"""));
        Assert.Equal((6, 2), (tms.Features, tms.Hidden));
    }

    public static TheoryData<string> RoundTripSpecs =>
    [
        """{"kind":"mlp","widths":[3,16,16,2],"activation":"gelu_tanh","bias":false}""",
        """{"kind":"dln","widths":[2,3,4],"bias":false}""",
        """{"kind":"transformer","vocab":13,"context":8,"d_model":16,"heads":4,"layers":2,"mlp_width":24,"layer_norm":"post","layer_norm_eps":0.001,"unembed_bias":true}""",
        """{"kind":"tms","features":6,"hidden":2}""",
    ];

    [Theory]
    [MemberData(nameof(RoundTripSpecs))]
    public void ToJson_writes_the_canonical_form_and_parses_back_equal(string json)
    {
        ModelSpec spec = ModelSpec.Parse(json);
        Assert.Equal(json, spec.ToJson());
        Assert.Equal(spec, ModelSpec.Parse(spec.ToJson()));
        Assert.Equal(spec.GetHashCode(), ModelSpec.Parse(spec.ToJson()).GetHashCode());
    }

    [Fact]
    public void Specs_with_other_widths_are_not_equal()
    {
        Assert.NotEqual(new MlpSpec([2, 3, 1]), new MlpSpec([2, 4, 1]));
        Assert.NotEqual<ModelSpec>(new DeepLinearSpec([2, 3, 1]), new MlpSpec([2, 3, 1]));
        Assert.Equal(new DeepLinearSpec([2, 3, 1]), new DeepLinearSpec([2, 3, 1]));
    }

    [Theory]
    [InlineData("""{"kind":"cnn","widths":[1,2]}""", "kind", "unknown kind \"cnn\"")]
    [InlineData("""{"widths":[1,2]}""", "kind", "missing")]
    [InlineData("""{"kind":"mlp","widths":[3,2],"activation":"relu","dropout":0.1}""", "dropout", "unknown field for kind \"mlp\"")]
    [InlineData("""{"kind":"mlp","widths":[3,2]}""", "activation", "missing")]
    [InlineData("""{"kind":"mlp","widths":[3,2],"activation":"swish"}""", "activation", "unknown activation \"swish\"")]
    [InlineData("""{"kind":"mlp","widths":[3,0,2],"activation":"relu"}""", "widths[1]", "positive integer, got 0")]
    [InlineData("""{"kind":"mlp","widths":[3],"activation":"relu"}""", "widths", "at least an input and an output")]
    [InlineData("""{"kind":"mlp","widths":[3,2.5],"activation":"relu"}""", "widths[1]", "got 2.5")]
    [InlineData("""{"kind":"mlp","widths":"3,2","activation":"relu"}""", "widths", "array of positive integers")]
    [InlineData("""{"kind":"mlp","widths":[3,2],"activation":"relu","bias":"yes"}""", "bias", "true or false")]
    [InlineData("""{"kind":"mlp","widths":[3,2],"widths":[3,2],"activation":"relu"}""", "widths", "appears twice")]
    [InlineData("""{"kind":"dln","widths":[3,2],"bias":true}""", "bias", "no biases")]
    [InlineData("""{"kind":"transformer","vocab":11,"context":9,"d_model":12,"heads":5,"layers":2}""", "heads", "do not divide d_model = 12")]
    [InlineData("""{"kind":"transformer","vocab":11,"context":-9,"d_model":12,"heads":3,"layers":2}""", "context", "positive integer, got -9")]
    [InlineData("""{"kind":"transformer","vocab":11,"context":9,"d_model":12,"heads":3}""", "layers", "missing")]
    [InlineData("""{"kind":"transformer","vocab":11,"context":9,"d_model":12,"heads":3,"layers":1,"layer_norm":"sandwich"}""", "layer_norm", "\"pre\" or \"post\"")]
    [InlineData("""{"kind":"transformer","vocab":11,"context":9,"d_model":12,"heads":3,"layers":1,"layer_norm_eps":0}""", "layer_norm_eps", "positive finite")]
    [InlineData("""{"kind":"tms","features":6,"hidden":0}""", "hidden", "positive integer, got 0")]
    [InlineData("""{"kind":"tms","features":6,"hidden":2,"W":[1]}""", "W", "unknown field for kind \"tms\"")]
    public void Bad_specs_throw_a_typed_error_naming_the_field(string json, string field, string fragment)
    {
        var ex = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));
        Assert.Equal(field, ex.Field);
        Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
        Assert.Contains($"'{field}'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"kind\":\"mlp\",}")]
    [InlineData("[1,2]")]
    public void Non_object_or_invalid_json_throws_a_typed_error(string json)
    {
        var ex = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));
        Assert.Null(ex.Field);
    }

    [Fact]
    public void Build_gives_the_engine_models_with_state_dict_names_and_shapes()
    {
        var mlp = ModelSpec.Parse("""{"kind":"mlp","widths":[3,16,2],"activation":"relu"}""").Build<float>(2, new Rng(1));
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], mlp.Parameters.Parameters.Select(p => p.Name));
        Assert.Equal([16, 3], mlp.Parameters["0.weight"].Shape.ToArray());
        Assert.Equal(2, mlp.Chains);

        var dln = new DeepLinearSpec([4, 5, 3]).Build<double>(1, new Rng(1));
        Assert.Equal(["0.weight", "1.weight"], dln.Parameters.Parameters.Select(p => p.Name));

        // Closed-form parameter count of the decoder transformer: embeddings V·D + T·D; per block two LayerNorms (4D),
        // qkv 3D² + 3D, proj D² + D, MLP D·M + M + M·D + D; final LayerNorm 2D; unembedding V·D (+ V with bias).
        var spec = new TransformerSpec(13, 8, 16, 4, 2, 24, LayerNormPlacement.Post, 1e-3, unembedBias: true);
        var tf = Assert.IsType<DecoderTransformer<float>>(spec.Build<float>(1, new Rng(1)));
        int v = 13, t = 8, d = 16, m = 24, layers = 2;
        int perBlock = (4 * d) + (3 * d * d) + (3 * d) + (d * d) + d + (d * m) + m + (m * d) + d;
        Assert.Equal((v * d) + (t * d) + (layers * perBlock) + (2 * d) + (v * d) + v, tf.Parameters.CountPerChain);
        Assert.All(tf.Blocks, b => Assert.Equal(LayerNormPlacement.Post, b.Placement));
        Assert.Equal(1e-3, tf.LnF.Epsilon);
        Assert.Equal(1e-3, tf.Blocks[1].Ln2.Epsilon);
    }

    [Fact]
    public void Tms_spec_build_says_where_the_model_lives()
    {
        var ex = Assert.Throws<NotSupportedException>(() => new TmsSpec(6, 2).Build<double>(1, new Rng(1)));
        Assert.Contains("SltSharp.Models", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Post_layer_norm_transformer_gradient_matches_finite_differences()
    {
        var model = new DecoderTransformer<double>(vocabulary: 7, contextLength: 5, modelDimension: 8, heads: 2, layers: 2, mlpHidden: 12,
            placement: LayerNormPlacement.Post, layerNormEpsilon: 1e-3);
        var set = model.Build(1, new Rng(22));
        var rng = new Rng(5);
        int b = 2, t = 4;
        var tokens = new int[b * t];
        var targets = new int[b * t];
        rng.FillIndices(tokens, 7);
        rng.FillIndices(targets, 7);
        var tape = new Tape<double>();
        GradientChecker.CheckModel(set, tape, () => model.Loss(tape, tokens, targets, b, t), coordinates: 100);
    }
}
