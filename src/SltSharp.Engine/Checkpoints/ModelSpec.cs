using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Checkpoints;

/// <summary>
/// A small JSON description of a built-in architecture, enough to rebuild the model a checkpoint belongs to.
/// </summary>
/// <remarks>
/// <para>Kinds and fields (snake_case, as in PyTorch configs; optional fields show their default):</para>
/// <list type="bullet">
/// <item><c>{"kind":"mlp","widths":[in,h1,...,out],"activation":"relu"|"gelu"|"gelu_tanh"|"tanh"|"sigmoid","bias":true}</c></item>
/// <item><c>{"kind":"dln","widths":[in,...,out],"bias":false}</c> (a deep linear network has no biases)</item>
/// <item><c>{"kind":"transformer","vocab":V,"context":T,"d_model":D,"heads":H,"layers":L,"mlp_width":4D,
/// "layer_norm":"pre"|"post","layer_norm_eps":1e-5,"unembed_bias":false}</c></item>
/// <item><c>{"kind":"tms","features":6,"hidden":2}</c> (described here, built by the science layer)</item>
/// </list>
/// <para>Parsing is strict: an unknown kind or field, a missing required field, a duplicated field, a value of the
/// wrong type or a non-positive size is a <see cref="ModelSpecException"/> naming the field.</para>
/// </remarks>
public abstract record ModelSpec
{
    private protected ModelSpec()
    {
    }

    /// <summary>The kinds <see cref="Parse"/> accepts.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["mlp", "dln", "transformer", "tms"];

    /// <summary>The JSON <c>kind</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>Parses and validates a JSON model spec.</summary>
    /// <exception cref="ModelSpecException">The text is not a valid spec; the message names the field.</exception>
    public static ModelSpec Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw new ModelSpecException(null, $"the text is not valid JSON ({ex.Message}).", ex);
        }
        using (document)
        {
            var fields = new SpecFields(document.RootElement);
            string kind = fields.RequiredString("kind");
            ModelSpec spec = kind switch
            {
                "mlp" => MlpSpec.Read(fields),
                "dln" => DeepLinearSpec.Read(fields),
                "transformer" => TransformerSpec.Read(fields),
                "tms" => TmsSpec.Read(fields),
                _ => throw new ModelSpecException("kind", $"unknown kind \"{kind}\"; expected one of {string.Join(", ", Kinds.Select(k => $"\"{k}\""))}."),
            };
            fields.RejectUnused(kind);
            return spec;
        }
    }

    /// <summary>The spec as compact JSON with every field written out (defaults included); <see cref="Parse"/> reads it back.</summary>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("kind", Kind);
            WriteFields(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Creates the (unbuilt) engine model this spec describes; its parameter keys are PyTorch state_dict names.</summary>
    /// <exception cref="NotSupportedException">The kind is built outside the engine (see <see cref="TmsSpec"/>).</exception>
    public abstract Module<T> CreateModule<T>()
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Creates the model and builds it with <paramref name="chains"/> chains initialised from <paramref name="rng"/>.</summary>
    public Module<T> Build<T>(int chains, Rng rng)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chains);
        Module<T> model = CreateModule<T>();
        model.Build(chains, rng);
        return model;
    }

    /// <inheritdoc/>
    public sealed override string ToString() => ToJson();

    /// <summary>Writes every field except <c>kind</c>.</summary>
    private protected abstract void WriteFields(Utf8JsonWriter writer);

    private protected static int[] CheckWidths(IReadOnlyList<int>? widths, string kindName)
    {
        if (widths is null)
        {
            throw new ModelSpecException("widths", $"missing; a {kindName} needs its layer widths [input, ..., output].");
        }
        if (widths.Count < 2)
        {
            throw new ModelSpecException("widths", $"has {widths.Count} entr{(widths.Count == 1 ? "y" : "ies")}; a {kindName} needs at least an input and an output width.");
        }
        for (int i = 0; i < widths.Count; i++)
        {
            CheckPositive(widths[i], $"widths[{i}]");
        }
        return [.. widths];
    }

    private protected static void CheckPositive(int value, string field)
    {
        if (value <= 0)
        {
            throw new ModelSpecException(field, $"must be a positive integer, got {value}.");
        }
    }

    private protected static void WriteInts(Utf8JsonWriter writer, string name, IReadOnlyList<int> values)
    {
        writer.WriteStartArray(name);
        foreach (int v in values)
        {
            writer.WriteNumberValue(v);
        }
        writer.WriteEndArray();
    }
}

/// <summary>
/// <c>nn.Sequential(Linear, act, Linear, ..., Linear)</c> (<see cref="Sequential{T}.Mlp"/>): keys "0.weight", "0.bias",
/// "2.weight", ... (activations take indices).
/// </summary>
public sealed record MlpSpec : ModelSpec
{
    private readonly int[] _widths;

    /// <summary>Creates and validates the spec.</summary>
    public MlpSpec(IReadOnlyList<int> widths, ActivationKind activation = ActivationKind.Relu, bool bias = true)
    {
        _widths = CheckWidths(widths, "MLP");
        if (!Enum.IsDefined(activation))
        {
            throw new ModelSpecException("activation", $"unknown activation {activation}.");
        }
        Activation = activation;
        Bias = bias;
    }

    /// <inheritdoc/>
    public override string Kind => "mlp";

    /// <summary>[input, hidden..., output].</summary>
    public IReadOnlyList<int> Widths => _widths;

    /// <summary>The nonlinearity between Linear layers.</summary>
    public ActivationKind Activation { get; }

    /// <summary>Whether the Linear layers have biases.</summary>
    public bool Bias { get; }

    /// <summary>The JSON names of <see cref="ActivationKind"/> values.</summary>
    public static string ActivationName(ActivationKind activation) => activation switch
    {
        ActivationKind.Relu => "relu",
        ActivationKind.Gelu => "gelu",
        ActivationKind.GeluTanh => "gelu_tanh",
        ActivationKind.Tanh => "tanh",
        ActivationKind.Sigmoid => "sigmoid",
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <inheritdoc/>
    public override Module<T> CreateModule<T>() => Sequential<T>.Mlp(_widths, Activation, Bias);

    /// <inheritdoc/>
    public bool Equals(MlpSpec? other) =>
        other is not null && _widths.AsSpan().SequenceEqual(other._widths) && Activation == other.Activation && Bias == other.Bias;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_widths.Length, _widths[0], _widths[^1], Activation, Bias);

    private protected override void WriteFields(Utf8JsonWriter writer)
    {
        WriteInts(writer, "widths", _widths);
        writer.WriteString("activation", ActivationName(Activation));
        writer.WriteBoolean("bias", Bias);
    }

    internal static MlpSpec Read(SpecFields fields)
    {
        int[] widths = fields.RequiredInts("widths");
        string name = fields.RequiredString("activation");
        ActivationKind? activation = Enum.GetValues<ActivationKind>().Select(a => (ActivationKind?)a).FirstOrDefault(a => ActivationName(a!.Value) == name);
        if (activation is null)
        {
            throw new ModelSpecException("activation", $"unknown activation \"{name}\"; expected one of {string.Join(", ", Enum.GetValues<ActivationKind>().Select(a => $"\"{ActivationName(a)}\""))}.");
        }
        return new MlpSpec(widths, activation.Value, fields.OptionalBool("bias", true));
    }
}

/// <summary>A deep linear network W_L···W_1·x (<see cref="Sequential{T}.DeepLinear"/>): keys "0.weight", "1.weight", ...</summary>
public sealed record DeepLinearSpec : ModelSpec
{
    private readonly int[] _widths;

    /// <summary>Creates and validates the spec.</summary>
    public DeepLinearSpec(IReadOnlyList<int> widths)
    {
        _widths = CheckWidths(widths, "deep linear network");
    }

    /// <inheritdoc/>
    public override string Kind => "dln";

    /// <summary>[input, hidden..., output].</summary>
    public IReadOnlyList<int> Widths => _widths;

    /// <inheritdoc/>
    public override Module<T> CreateModule<T>() => Sequential<T>.DeepLinear(_widths);

    /// <inheritdoc/>
    public bool Equals(DeepLinearSpec? other) => other is not null && _widths.AsSpan().SequenceEqual(other._widths);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_widths.Length, _widths[0], _widths[^1]);

    private protected override void WriteFields(Utf8JsonWriter writer)
    {
        WriteInts(writer, "widths", _widths);
        writer.WriteBoolean("bias", false);
    }

    internal static DeepLinearSpec Read(SpecFields fields)
    {
        int[] widths = fields.RequiredInts("widths");
        if (fields.OptionalBool("bias", false))
        {
            throw new ModelSpecException("bias", "a deep linear network has no biases; use \"bias\": false or kind \"mlp\".");
        }
        return new DeepLinearSpec(widths);
    }
}

/// <summary>The decoder-only transformer (<see cref="DecoderTransformer{T}"/>).</summary>
public sealed record TransformerSpec : ModelSpec
{
    /// <summary>Creates and validates the spec; <paramref name="mlpWidth"/> 0 means 4·<paramref name="modelDimension"/>.</summary>
    public TransformerSpec(int vocabulary, int context, int modelDimension, int heads, int layers, int mlpWidth = 0,
        LayerNormPlacement layerNorm = LayerNormPlacement.Pre, double layerNormEpsilon = NormalizationOps.DefaultLayerNormEpsilon, bool unembedBias = false)
    {
        CheckPositive(vocabulary, "vocab");
        CheckPositive(context, "context");
        CheckPositive(modelDimension, "d_model");
        CheckPositive(heads, "heads");
        CheckPositive(layers, "layers");
        if (modelDimension % heads != 0)
        {
            throw new ModelSpecException("heads", $"{heads} heads do not divide d_model = {modelDimension}; pick a divisor.");
        }
        mlpWidth = mlpWidth == 0 ? 4 * modelDimension : mlpWidth;
        CheckPositive(mlpWidth, "mlp_width");
        if (!Enum.IsDefined(layerNorm))
        {
            throw new ModelSpecException("layer_norm", $"unknown placement {layerNorm}.");
        }
        if (!(layerNormEpsilon > 0) || !double.IsFinite(layerNormEpsilon))
        {
            throw new ModelSpecException("layer_norm_eps", $"must be a positive finite number, got {layerNormEpsilon.ToString("R", CultureInfo.InvariantCulture)}.");
        }
        Vocabulary = vocabulary;
        Context = context;
        ModelDimension = modelDimension;
        Heads = heads;
        Layers = layers;
        MlpWidth = mlpWidth;
        LayerNorm = layerNorm;
        LayerNormEpsilon = layerNormEpsilon;
        UnembedBias = unembedBias;
    }

    /// <inheritdoc/>
    public override string Kind => "transformer";

    /// <summary>V (<c>vocab</c>).</summary>
    public int Vocabulary { get; }

    /// <summary>Maximum sequence length (<c>context</c>).</summary>
    public int Context { get; }

    /// <summary>D (<c>d_model</c>).</summary>
    public int ModelDimension { get; }

    /// <summary>H (<c>heads</c>).</summary>
    public int Heads { get; }

    /// <summary>Number of blocks (<c>layers</c>).</summary>
    public int Layers { get; }

    /// <summary>Hidden width of each block's MLP (<c>mlp_width</c>).</summary>
    public int MlpWidth { get; }

    /// <summary>Pre- or post-LN (<c>layer_norm</c>: "pre" | "post").</summary>
    public LayerNormPlacement LayerNorm { get; }

    /// <summary>The variance floor of every LayerNorm (<c>layer_norm_eps</c>).</summary>
    public double LayerNormEpsilon { get; }

    /// <summary>Whether the readout has a bias (<c>unembed_bias</c>).</summary>
    public bool UnembedBias { get; }

    /// <inheritdoc/>
    public override Module<T> CreateModule<T>() =>
        new DecoderTransformer<T>(Vocabulary, Context, ModelDimension, Heads, Layers, MlpWidth, UnembedBias, LayerNorm, LayerNormEpsilon);

    private protected override void WriteFields(Utf8JsonWriter writer)
    {
        writer.WriteNumber("vocab", Vocabulary);
        writer.WriteNumber("context", Context);
        writer.WriteNumber("d_model", ModelDimension);
        writer.WriteNumber("heads", Heads);
        writer.WriteNumber("layers", Layers);
        writer.WriteNumber("mlp_width", MlpWidth);
        writer.WriteString("layer_norm", LayerNorm == LayerNormPlacement.Pre ? "pre" : "post");
        writer.WriteNumber("layer_norm_eps", LayerNormEpsilon);
        writer.WriteBoolean("unembed_bias", UnembedBias);
    }

    internal static TransformerSpec Read(SpecFields fields)
    {
        int vocab = fields.RequiredInt("vocab");
        int context = fields.RequiredInt("context");
        int dModel = fields.RequiredInt("d_model");
        int heads = fields.RequiredInt("heads");
        int layers = fields.RequiredInt("layers");
        int mlpWidth = fields.OptionalInt("mlp_width", 4 * dModel);
        string placement = fields.OptionalString("layer_norm", "pre");
        LayerNormPlacement layerNorm = placement switch
        {
            "pre" => LayerNormPlacement.Pre,
            "post" => LayerNormPlacement.Post,
            _ => throw new ModelSpecException("layer_norm", $"unknown placement \"{placement}\"; expected \"pre\" or \"post\"."),
        };
        double eps = fields.OptionalDouble("layer_norm_eps", NormalizationOps.DefaultLayerNormEpsilon);
        bool unembedBias = fields.OptionalBool("unembed_bias", false);
        return new TransformerSpec(vocab, context, dModel, heads, layers, mlpWidth, layerNorm, eps, unembedBias);
    }
}

/// <summary>
/// The toy model of superposition f(x) = ReLU(WᵀWx + b), W [hidden, features], b [features] (keys "W", "b").
/// </summary>
/// <remarks>
/// The TMS model lives in the science layer (SltSharp.Models), which the engine does not reference, so
/// <see cref="CreateModule{T}"/> throws; build the model from <see cref="Features"/> and <see cref="Hidden"/> there.
/// </remarks>
public sealed record TmsSpec : ModelSpec
{
    /// <summary>Creates and validates the spec.</summary>
    public TmsSpec(int features, int hidden)
    {
        CheckPositive(features, "features");
        CheckPositive(hidden, "hidden");
        Features = features;
        Hidden = hidden;
    }

    /// <inheritdoc/>
    public override string Kind => "tms";

    /// <summary>Number of input features (6 in the standard TMS).</summary>
    public int Features { get; }

    /// <summary>Hidden width (2 in the standard TMS).</summary>
    public int Hidden { get; }

    /// <inheritdoc/>
    public override Module<T> CreateModule<T>() => throw new NotSupportedException(
        "The TMS model is not an engine model: SltSharp.Engine cannot build kind \"tms\". Build it with the TMS engine model " +
        $"of the science layer (SltSharp.Models) from features = {Features} and hidden = {Hidden}.");

    private protected override void WriteFields(Utf8JsonWriter writer)
    {
        writer.WriteNumber("features", Features);
        writer.WriteNumber("hidden", Hidden);
    }

    internal static TmsSpec Read(SpecFields fields) => new(fields.RequiredInt("features"), fields.RequiredInt("hidden"));
}

/// <summary>Typed, tracked access to the fields of a spec object, so that unused (unknown) fields can be rejected.</summary>
internal sealed class SpecFields
{
    private readonly Dictionary<string, JsonElement> _fields = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public SpecFields(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ModelSpecException(null, $"the spec must be a JSON object like {{\"kind\": \"mlp\", ...}}, got {root.ValueKind}.");
        }
        foreach (JsonProperty property in root.EnumerateObject())
        {
            if (!_fields.TryAdd(property.Name, property.Value))
            {
                throw new ModelSpecException(property.Name, "appears twice; give each field once.");
            }
        }
    }

    public string RequiredString(string name)
    {
        JsonElement e = Required(name, "a string");
        return e.ValueKind == JsonValueKind.String ? e.GetString()! : throw WrongType(name, "a string", e);
    }

    public string OptionalString(string name, string fallback) => Has(name) ? RequiredString(name) : fallback;

    public int RequiredInt(string name)
    {
        JsonElement e = Required(name, "a positive integer");
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int value))
        {
            throw WrongType(name, "a positive integer", e);
        }
        if (value <= 0)
        {
            throw new ModelSpecException(name, $"must be a positive integer, got {value}.");
        }
        return value;
    }

    public int OptionalInt(string name, int fallback) => Has(name) ? RequiredInt(name) : fallback;

    public double OptionalDouble(string name, double fallback)
    {
        if (!Has(name))
        {
            return fallback;
        }
        JsonElement e = Required(name, "a number");
        return e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double value) ? value : throw WrongType(name, "a number", e);
    }

    public bool OptionalBool(string name, bool fallback)
    {
        if (!Has(name))
        {
            return fallback;
        }
        JsonElement e = Required(name, "true or false");
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(name, "true or false", e),
        };
    }

    public int[] RequiredInts(string name)
    {
        JsonElement e = Required(name, "an array of positive integers");
        if (e.ValueKind != JsonValueKind.Array)
        {
            throw WrongType(name, "an array of positive integers", e);
        }
        var values = new int[e.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in e.EnumerateArray())
        {
            string field = $"{name}[{i}]";
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out values[i]))
            {
                throw WrongType(field, "a positive integer", item);
            }
            if (values[i] <= 0)
            {
                throw new ModelSpecException(field, $"must be a positive integer, got {values[i]}.");
            }
            i++;
        }
        return values;
    }

    public void RejectUnused(string kind)
    {
        foreach (string name in _fields.Keys)
        {
            if (!_used.Contains(name))
            {
                throw new ModelSpecException(name, $"unknown field for kind \"{kind}\"; the fields of this kind are {string.Join(", ", _used.Order(StringComparer.Ordinal).Select(n => $"\"{n}\""))}. Remove it or check its spelling.");
            }
        }
    }

    private bool Has(string name)
    {
        _used.Add(name);
        return _fields.ContainsKey(name);
    }

    private JsonElement Required(string name, string what)
    {
        _used.Add(name);
        return _fields.TryGetValue(name, out JsonElement e) && e.ValueKind != JsonValueKind.Null
            ? e
            : throw new ModelSpecException(name, $"missing; it must be {what}.");
    }

    private static ModelSpecException WrongType(string name, string what, JsonElement e) =>
        new(name, $"must be {what}, got {(e.ValueKind == JsonValueKind.String ? $"\"{e.GetString()}\"" : e.GetRawText())}.");
}
